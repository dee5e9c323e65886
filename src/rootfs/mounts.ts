/** Preparing the rootfs and applying `mounts`, all targets resolved inside the rootfs. */
import fs from 'node:fs';
import { atStep, RuntimeError, step } from '../errors.js';
import type { MountPlan } from '../config/plan.js';
import { MNT_DETACH, MOUNT_ATTR, mountAttrs, MS, O, RESOLVE } from '../sys/constants.js';
import { SysError, type Sys } from '../sys/types.js';
import { components, fdPath, mkdirAllInRoot, mountAt, openInRoot, withFd } from './resolve.js';
import { parseMountinfo } from './mountinfo.js';
import { sourceAtItsTurn } from './idmap.js';

/** Flags that need a second, remounting pass on a bind mount. */
const BIND_REMOUNT_FLAGS = MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.NOATIME | MS.NODIRATIME | MS.RELATIME | MS.STRICTATIME | MS.NOSYMFOLLOW;

/** A host cgroup directory to show inside the container at `/sys/fs/cgroup/<name>`. */
export interface CgroupMountSource {
  name: string;
  hostPath: string;
}

/**
 * Makes `/` a slave (or as configured) and the rootfs a mount point of its
 * own. The mount table is read after the first step, which may have made
 * the rootfs' parent shared (rootfsPropagation "shared").
 */
export function prepareRoot(sys: Sys, rootfs: string, rootPropagation: number, mountinfo: () => string): void {
  sys.mount(null, '/', null, rootPropagation, null);
  makeParentMountPrivate(sys, rootfs, mountinfo());
  sys.mount(rootfs, rootfs, 'bind', MS.BIND | MS.REC, null);
}

/**
 * pivot_root refuses a new root whose parent mount is shared, and the bind
 * of the rootfs fails (EINVAL) on an unbindable one (rootfsPropagation
 * "unbindable"): either is made private (runc: rootfsParentMountPrivate,
 * which in 1.3.6 does so whatever the parent's propagation, so that
 * "unbindable" runs; 1.1.5 did it only for a shared one). A slave parent
 * stays one here.
 */
export function makeParentMountPrivate(sys: Sys, rootfs: string, mountinfo: string): void {
  let best: { point: string; blocks: boolean } | undefined;
  for (const m of parseMountinfo(mountinfo)) {
    const point = m.mountPoint;
    // The mount that holds the rootfs (the rootfs itself if it is a mount point).
    const inside = point === '/' || rootfs === point || rootfs.startsWith(point + '/');
    if (inside && (!best || point.length >= best.point.length)) best = { point, blocks: m.optional.some((o) => o.startsWith('shared:') || o === 'unbindable') };
  }
  if (best?.blocks) sys.mount(null, best.point, null, MS.PRIVATE, null);
}

function isDirectorySource(source: string, sourceFd?: number): boolean {
  try {
    return (sourceFd === undefined ? fs.statSync(source) : fs.fstatSync(sourceFd)).isDirectory();
  } catch (err) {
    throw new RuntimeError('mount', `source ${source}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory (ENOENT)' : (err as Error).message}`);
  }
}

function applyPropagation(sys: Sys, rootFd: number, dest: string, propagation: number[]): void {
  for (const p of propagation) withFd(sys, openInRoot(sys, rootFd, dest), (fd) => sys.mount(null, fdPath(fd), null, p, null));
}

export function applyBindMount(sys: Sys, rootFd: number, m: MountPlan, sourceFd?: number): void {
  const dir = isDirectorySource(m.source, sourceFd);
  withFd(sys, mkdirAllInRoot(sys, rootFd, m.destination, { file: !dir }), (fd) => {
    if (sourceFd === undefined) sys.mount(m.source, fdPath(fd), null, MS.BIND | (m.flags & MS.REC), null);
    else sys.moveMount(sourceFd, fd);
  });
  // As runc 1.2+: a bind with any option beyond bind/rbind, a clearing one
  // ("rw", "dev") included, gets exactly the flags asked for, the source's
  // own (a "ro" or "noexec" source) cleared; a bind with none keeps the
  // source's. The atime mode the options leave unnamed stays the source's
  // (the kernel keeps it on a remount that names none). runc 1.1.5 remounted
  // only when a flag was set, so "bind,rw" of a "ro" source stayed ro there.
  if (m.flags & ~(MS.BIND | MS.REC | MS.REMOUNT) || m.clearedFlags) {
    // The first fd points under the new mount; the remount needs the mount itself.
    withFd(sys, openInRoot(sys, rootFd, m.destination), (fd) => remountBind(sys, fd, m.flags & BIND_REMOUNT_FLAGS, m.clearedFlags));
  }
  applyPropagation(sys, rootFd, m.destination, m.propagation);
}

/**
 * The MS_* flags the kernel locks on a mount copied into a less privileged
 * user namespace (MNT_LOCK_READONLY, _NODEV, _NOSUID, _NOEXEC, _ATIME).
 */
const LOCKABLE_FLAGS = MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.NOATIME | MS.NODIRATIME | MS.RELATIME | MS.STRICTATIME;
/** The access-time modes, one of which a mount has (strictatime when statfs shows neither of the others). */
const ATIME_MODES = MS.NOATIME | MS.RELATIME | MS.STRICTATIME;
const ATIME_FLAGS = ATIME_MODES | MS.NODIRATIME;
/** statfs(2)'s ST_* flags (calculate_f_flags) and the MS_* flag each stands for. */
const ST_TO_MS: [number, number][] = [
  [1, MS.RDONLY], [2, MS.NOSUID], [4, MS.NODEV], [8, MS.NOEXEC], [16, MS.SYNCHRONOUS], [64, MS.MANDLOCK],
  [1024, MS.NOATIME], [2048, MS.NODIRATIME], [4096, MS.RELATIME], [0x2000, MS.NOSYMFOLLOW],
];

/** A mount's flags as MS_* from its statfs, as runc's statfsToMountFlags. */
function statfsMountFlags(stFlags: number): number {
  let flags = 0;
  for (const [st, ms] of ST_TO_MS) if (stFlags & st) flags |= ms;
  return flags & ATIME_MODES ? flags : flags | MS.STRICTATIME;
}

const FLAG_NAMES: [number, string][] = [
  [MS.RDONLY, 'ro'], [MS.NOSUID, 'nosuid'], [MS.NODEV, 'nodev'], [MS.NOEXEC, 'noexec'], [MS.NOATIME, 'noatime'],
  [MS.NODIRATIME, 'nodiratime'], [MS.RELATIME, 'relatime'], [MS.STRICTATIME, 'strictatime'],
];
const flagNames = (flags: number) => FLAG_NAMES.filter(([f]) => flags & f).map(([, n]) => n).join(',');

/**
 * Remounts a bind with `flags`. A bind in a user namespace is a copy of a
 * mount whose lockable flags the kernel has locked (nosuid on a source under
 * /run, say), and a remount that would clear one fails (EPERM): then, as
 * runc 1.2+ does (and mount(8) for "remount,bind"), the source's locked
 * flags are applied with the ones asked for, unless the options cleared one
 * of them explicitly ("rw" of a "ro" source) or asked for another atime
 * than the source's: those stay errors, the mount would not be the one
 * asked for.
 */
function remountBind(sys: Sys, fd: number, flags: number, clearedFlags: number): void {
  let first: unknown;
  try {
    sys.mount(null, fdPath(fd), null, flags | MS.BIND | MS.REMOUNT, null);
    return;
  } catch (err) {
    if (!(err instanceof SysError && err.code === 'EPERM')) throw err;
    first = err;
  }
  const reason = (first as Error).message;
  const source = statfsMountFlags(sys.fstatfs(fd).flags);
  const locked = source & clearedFlags & LOCKABLE_FLAGS;
  if (locked) throw new RuntimeError('remount', `cannot clear locked flags ${flagNames(locked)}: ${reason}`);
  if (flags & ATIME_FLAGS && (flags & ATIME_FLAGS) !== (source & ATIME_FLAGS)) {
    throw new RuntimeError('remount', `cannot change locked atime flags ${flagNames(source & ATIME_FLAGS)}: ${reason}`);
  }
  const inherited = source & LOCKABLE_FLAGS;
  step(`remount with locked flags ${flagNames(inherited)} re-applied`, () => sys.mount(null, fdPath(fd), null, flags | inherited | MS.BIND | MS.REMOUNT, null));
}

function applyCgroupMount(sys: Sys, rootFd: number, m: MountPlan, cgroups: CgroupMountSource[], unified: boolean): void {
  const ro = m.flags & MS.RDONLY;
  if (unified) {
    // Only the mount point now: cgroup2 shows the hierarchy from the
    // mounter's cgroup namespace, which the init enters only once it is in
    // the container's cgroup, after its setup (mountCgroup2, from init).
    sys.close(mkdirAllInRoot(sys, rootFd, m.destination));
    return;
  }
  // cgroup v1: a tmpfs with the container's own directory of each hierarchy bound in, as runc does.
  withFd(sys, mkdirAllInRoot(sys, rootFd, m.destination), (fd) => sys.mount('tmpfs', fdPath(fd), 'tmpfs', MS.NOSUID | MS.NODEV | MS.NOEXEC, 'mode=755'));
  for (const c of cgroups) {
    const sub = `${m.destination}/${c.name}`;
    withFd(sys, mkdirAllInRoot(sys, rootFd, sub), (fd) => sys.mount(c.hostPath, fdPath(fd), null, MS.BIND | MS.REC, null));
    withFd(sys, openInRoot(sys, rootFd, sub), (fd) => sys.mount(null, fdPath(fd), null, MS.BIND | MS.REMOUNT | MS.NOSUID | MS.NODEV | MS.NOEXEC | ro, null));
  }
  // Co-mounted controllers ("cpu,cpuacct") are also reachable by each name, as runc links them.
  withFd(sys, openInRoot(sys, rootFd, m.destination), (dirFd) => {
    for (const c of cgroups) {
      if (!c.name.includes(',')) continue;
      for (const alias of c.name.split(',')) if (!cgroups.some((o) => o.name === alias)) sys.symlinkat(c.name, dirFd, alias);
    }
  });
  // As runc: "ro" makes the hierarchies read-only; the tmpfs holding them stays writable.
}

/** mount(2)'s data string ("a=b,c") as fsconfig's options. */
function fsOptions(data: string): Record<string, string | true> {
  const options: Record<string, string | true> = {};
  for (const o of data.split(',').filter(Boolean)) {
    const eq = o.indexOf('=');
    if (eq < 0) options[o] = true;
    else options[o.slice(0, eq)] = o.slice(eq + 1);
  }
  return options;
}

/**
 * A detached copy of the host's cgroup2 mount, for when cgroup2 cannot be
 * mounted: in a user namespace without a cgroup namespace of its own the
 * kernel refuses it (EPERM), and runc binds the host's /sys/fs/cgroup
 * instead. Taken before the root switch, while /sys/fs/cgroup is the host's.
 */
export function hostCgroup2Copy(sys: Sys): number | undefined {
  try {
    return withFd(sys, sys.open('/sys/fs/cgroup', O.PATH | O.DIRECTORY | O.CLOEXEC), (fd) => sys.openTree(fd, false));
  } catch {
    return undefined;
  }
}

/** The cgroup v2 mounts the setup left for later (see applyCgroupMount), made in the final root. */
export function mountCgroup2(sys: Sys, rootFd: number, mounts: MountPlan[], hostCopy?: number): void {
  for (const m of mounts.filter((x) => !x.bind && x.type === 'cgroup')) {
    step(`mount cgroup2 on ${m.destination}`, () =>
      withFd(sys, openInRoot(sys, rootFd, m.destination), (fd) => {
        try {
          mountAt(sys, 'cgroup2', { source: m.source || 'cgroup', ...fsOptions(m.data) }, mountAttrs(m.flags), fd);
        } catch (err) {
          if (hostCopy === undefined || !(err instanceof SysError && (err.code === 'EPERM' || err.code === 'EBUSY'))) throw err;
          sys.moveMount(hostCopy, fd);
          withFd(sys, openInRoot(sys, rootFd, m.destination), (mnt) => sys.mountSetattr(mnt, mountAttrs(m.flags), 0, false));
        }
      }),
    );
  }
}

/**
 * Copies the directory open at `srcFd` into `dst`, keeping owners, modes
 * and symlinks as they are. The copy runs before pivot_root, where a path
 * resolves on the host, and whoever can write the source (a shared volume,
 * a user's directory) may swap an entry for a symlink while it runs: so
 * every entry is opened under its parent's fd with O_PATH|O_NOFOLLOW (a
 * symlink is then the link itself), judged by fstat of that fd, copied
 * from that fd and walked from it, never looked up by path again. An entry
 * that changes under the copy is skipped.
 */
export function copyTree(srcFd: number, dst: string): void {
  for (const name of fs.readdirSync(fdPath(srcFd))) {
    const at = `${fdPath(srcFd)}/${name}`;
    let fd: number;
    try {
      fd = fs.openSync(at, O.PATH | O.NOFOLLOW | O.CLOEXEC);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // gone meanwhile
      throw err;
    }
    try {
      copyEntry(fd, at, `${dst}/${name}`);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** One entry of copyTree, open (O_PATH) at `fd`; `at` names it under its parent's fd, for readlink alone. */
function copyEntry(fd: number, at: string, to: string): void {
  const st = fs.fstatSync(fd);
  if (st.isSymbolicLink()) {
    let target: string;
    try {
      // readlink does not follow the last component; the rest is our parent's fd.
      target = fs.readlinkSync(at);
    } catch (err) {
      if (['EINVAL', 'ENOENT'].includes((err as NodeJS.ErrnoException).code ?? '')) return; // no longer a symlink
      throw err;
    }
    fs.symlinkSync(target, to);
    fs.lchownSync(to, st.uid, st.gid);
    return;
  }
  if (st.isDirectory()) {
    fs.mkdirSync(to);
    copyTree(fd, to);
  } else if (st.isFile()) {
    // Reopened through the fd: the same inode, whatever the name holds now.
    fs.copyFileSync(fdPath(fd), to);
  } else {
    return; // devices, fifos and sockets are not copied (runc skips them too)
  }
  fs.chownSync(to, st.uid, st.gid);
  fs.chmodSync(to, st.mode & 0o7777);
}

/**
 * tmpcopyup: the tmpfs is mounted on a staging directory, filled with a copy
 * of what it will cover, then moved into place (runc's order).
 */
function applyCopyUpTmpfs(sys: Sys, rootFd: number, m: MountPlan): void {
  const staging = fs.mkdtempSync('/tmp/.ocirun-copyup-');
  let mounted = false;
  try {
    sys.mount(m.source, staging, 'tmpfs', m.flags & ~MS.RDONLY, m.data || null);
    mounted = true;
    withFd(sys, mkdirAllInRoot(sys, rootFd, m.destination), (fd) => {
      // The tmpfs root takes the owner and mode of what it covers, as under runc.
      const st = fs.statSync(fdPath(fd));
      fs.chmodSync(staging, st.mode & 0o7777);
      fs.chownSync(staging, st.uid, st.gid);
      copyTree(fd, staging);
      sys.mount(staging, fdPath(fd), null, MS.MOVE, null);
      mounted = false;
    });
    if (m.flags & MS.RDONLY) withFd(sys, openInRoot(sys, rootFd, m.destination), (fd) => sys.mount(null, fdPath(fd), null, MS.REMOUNT | m.flags, m.data || null));
  } catch (err) {
    // The copy's error is the one to report (ENOSPC, not the cleanup's
    // EBUSY): a tmpfs still on the staging directory is detached first, so
    // that the directory goes too.
    try {
      if (mounted) sys.umount2(staging, MNT_DETACH);
      fs.rmdirSync(staging);
    } catch {
      /* best effort, under the error being thrown */
    }
    throw err;
  }
  fs.rmdirSync(staging);
}

/**
 * As runc: a read-only tmpfs, or /dev, is mounted writable and made
 * read-only only after the root switch (finishReadonlyMounts), so that the
 * devices, /dev/pts, /dev/shm and the console can be made in it first.
 */
const readonlyLater = (m: MountPlan) => !m.bind && !m.copyUp && (m.flags & MS.RDONLY) !== 0 && (m.type === 'tmpfs' || components(m.destination).join('/') === 'dev');

/** The second half of readonlyLater, from the new root. */
export function finishReadonlyMounts(sys: Sys, newRootFd: number, mounts: MountPlan[]): void {
  for (const m of mounts.filter(readonlyLater)) {
    withFd(sys, openInRoot(sys, newRootFd, m.destination), (fd) => sys.mountSetattr(fd, MOUNT_ATTR.RDONLY, 0, false));
  }
}

export function applyFilesystemMount(sys: Sys, rootFd: number, m: MountPlan): void {
  if (m.copyUp) {
    applyCopyUpTmpfs(sys, rootFd, m);
    applyPropagation(sys, rootFd, m.destination, m.propagation);
    return;
  }
  if (m.type === 'proc' || m.type === 'sysfs') {
    // proc and sysfs on a symlink would let masked paths miss them (CVE-2019-19921).
    try {
      sys.close(sys.openat2(rootFd, components(m.destination).join('/') || '.', O.PATH | O.CLOEXEC, RESOLVE.IN_ROOT | RESOLVE.NO_SYMLINKS));
    } catch (err) {
      if ((err as { code?: string }).code === 'ELOOP') throw new RuntimeError('mount', `${m.destination}: ${m.type} must be mounted on ordinary directory, not a symlink (ELOOP)`);
    }
  }
  const flags = readonlyLater(m) ? m.flags & ~MS.RDONLY : m.flags;
  const data = m.type === 'tmpfs' ? tmpfsData(sys, rootFd, m) : m.data;
  withFd(sys, mkdirAllInRoot(sys, rootFd, m.destination), (fd) => sys.mount(m.source, fdPath(fd), m.type, flags, data || null));
  applyPropagation(sys, rootFd, m.destination, m.propagation);
}

/**
 * A tmpfs on a directory that exists takes its mode (a "mode=" of the
 * options, coming later, still wins), as runc 1.3.6 does (runc#4971); on
 * one it makes, the tmpfs default (1777). runc 1.1.5 always left the default.
 */
function tmpfsData(sys: Sys, rootFd: number, m: MountPlan): string {
  let fd: number;
  try {
    fd = openInRoot(sys, rootFd, m.destination);
  } catch (err) {
    if (err instanceof SysError && err.code === 'ENOENT') return m.data;
    throw err;
  }
  const mode = withFd(sys, fd, (f) => fs.fstatSync(f).mode & 0o7777);
  return [`mode=${mode.toString(8).padStart(4, '0')}`, m.data].filter(Boolean).join(',');
}

/** A mount that failed, in runc's words (its mounts_sshfs.bats greps them): `error mounting "SOURCE" to rootfs at "DEST": ...`. */
export function mountError(source: string | undefined, destination: string, detail: string, cause?: unknown): RuntimeError {
  return new RuntimeError(`error mounting ${JSON.stringify(source ?? '')} to rootfs at ${JSON.stringify(destination)}`, detail, { cause });
}

/**
 * The mounts, in order. A bind's source comes as a detached copy, an fd:
 * one the stage made before the init ran (`bindSourceFds`, by index), or,
 * for one whose source is copied at its turn (../rootfs/idmap.ts
 * sourceAtItsTurn), one `sourceAtTurn` gets from the parent now, once the
 * mounts before it are made. Else the source is bound by path.
 */
export function applyMounts(sys: Sys, rootFd: number, mounts: MountPlan[], cgroups: CgroupMountSource[], cgroupUnified: boolean, bindSourceFds: Record<number, number>, sourceAtTurn: (index: number) => number): void {
  for (const [i, m] of mounts.entries()) {
    try {
      if (sourceAtItsTurn(m)) withFd(sys, sourceAtTurn(i), (tree) => applyBindMount(sys, rootFd, m, tree));
      else if (m.bind) applyBindMount(sys, rootFd, m, bindSourceFds[i]);
      else if (m.type === 'cgroup') applyCgroupMount(sys, rootFd, m, cgroups, cgroupUnified);
      else applyFilesystemMount(sys, rootFd, m);
      const r = m.recursive;
      if (r) withFd(sys, openInRoot(sys, rootFd, m.destination), (fd) => step('recursive mount attributes', () => sys.mountSetattr(fd, r.set, r.clear, true)));
    } catch (err) {
      throw mountError(m.source, m.destination, atStep('mount', err).detail, err);
    }
  }
}
