/**
 * Placing a container in its cgroups: one directory per mounted v1
 * hierarchy, the unified one on v2, both on a hybrid host. Decided at run
 * time from /proc/self/mountinfo. Limits are written by ./resources.ts.
 */
import type { ResourcesConfig } from '../config/schema.js';
import fs from 'node:fs';
import path from 'node:path';
import { RuntimeError } from '../errors.js';
import { nodeErrorDetail } from '../sys/errno.js';
import { O } from '../sys/constants.js';
import { log } from '../log.js';
import { parseMountinfo } from '../rootfs/mountinfo.js';
import { unifiedOnly } from './paths.js';
import { execCgroupProcs, type SubCgroups } from './sub-cgroups.js';
import { describeCgroup, procsOf, walkCgroups } from './tree.js';

export interface Hierarchy {
  /** Controller list as mounted ("cpu,cpuacct", "memory", "name=systemd"), or "unified". */
  name: string;
  mountPoint: string;
  /** The cgroup this process is in, on that hierarchy (from /proc/self/cgroup). */
  ownPath: string;
}

export interface CgroupLayout {
  mode: 'v1' | 'v2' | 'hybrid';
  hierarchies: Hierarchy[];
}

/** A /proc/PID/cgroup's paths by controller ("unified" for the v2 line). */
function cgroupsByController(text: string): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[2] === '') paths.set('unified', m[3]);
    else for (const c of m[2].split(',')) paths.set(c, m[3]);
  }
  return paths;
}

/**
 * The directories of process `pid`'s cgroups, by hierarchy name as in
 * `layout` (from /proc/PID/cgroup); undefined once it is gone.
 */
export function processCgroupDirs(layout: CgroupLayout, pid: number): Record<string, string> | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return undefined;
  }
  const byController = cgroupsByController(text);
  const dirs: Record<string, string> = {};
  for (const h of layout.hierarchies) {
    const rel = byController.get(h.name.split(',')[0]);
    if (rel !== undefined) dirs[h.name] = path.join(h.mountPoint, rel);
  }
  return dirs;
}

export function detectLayout(mountinfo: string, selfCgroup: string): CgroupLayout {
  const own = cgroupsByController(selfCgroup);
  const hierarchies: Hierarchy[] = [];
  for (const { fstype, mountPoint, superOptions } of parseMountinfo(mountinfo)) {
    if (fstype === 'cgroup2') {
      hierarchies.push({ name: 'unified', mountPoint, ownPath: own.get('unified') ?? '/' });
    } else if (fstype === 'cgroup') {
      const opts = superOptions.split(',');
      const controllers = opts.filter((o) => !['rw', 'ro', 'relatime', 'nosuid', 'nodev', 'noexec', 'clone_children', 'noprefix', 'xattr'].includes(o) && !o.startsWith('release_agent='));
      const name = controllers.join(',');
      hierarchies.push({ name, mountPoint, ownPath: own.get(controllers[0]) ?? '/' });
    }
  }
  // Keep one mount per hierarchy (a hierarchy may be mounted twice).
  const seen = new Set<string>();
  const unique = hierarchies.filter((h) => (seen.has(h.name) ? false : (seen.add(h.name), true)));
  const hasV1 = unique.some((h) => h.name !== 'unified');
  const hasV2 = unique.some((h) => h.name === 'unified');
  return { mode: hasV1 && hasV2 ? 'hybrid' : hasV1 ? 'v1' : 'v2', hierarchies: unique };
}

export function hostLayout(): CgroupLayout {
  return detectLayout(fs.readFileSync('/proc/self/mountinfo', 'utf8'), fs.readFileSync('/proc/self/cgroup', 'utf8'));
}

/**
 * The directory of the container on each hierarchy, as runc computes it:
 * an absolute cgroupsPath from the hierarchy's root, a relative one (and
 * the default, the container id) under the runtime's own cgroup.
 */
export function cgroupPaths(layout: CgroupLayout, cgroupsPath: string, id: string): Record<string, string> {
  const inner = cgroupsPath || id;
  const out: Record<string, string> = {};
  for (const h of layout.hierarchies) {
    const rel = inner.startsWith('/') ? inner : path.posix.join(h.ownPath, inner);
    out[h.name] = path.join(h.mountPoint, path.posix.normalize(rel));
  }
  return out;
}

/** v1 cpuset directories start empty; a task cannot join until cpus and mems are copied down. */
function fillCpuset(dir: string, mountPoint: string): void {
  const chain: string[] = [];
  for (let d = dir; d.startsWith(mountPoint) && d !== mountPoint; d = path.dirname(d)) chain.unshift(d);
  for (const d of chain) {
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      const f = path.join(d, file);
      if (fs.readFileSync(f, 'utf8').trim() === '') fs.writeFileSync(f, fs.readFileSync(path.join(path.dirname(d), file), 'utf8'));
    }
  }
}

/** The container's directory for `controller` ("unified" for the v2 one), if that hierarchy is mounted. */
export function controllerDir(paths: Record<string, string>, controller: string): string | undefined {
  if (controller === 'unified') return paths.unified;
  const key = Object.keys(paths).find((k) => k.split(',').includes(controller));
  return key ? paths[key] : undefined;
}

/**
 * On v2 a cgroup has a controller's files only if its parent enables it in
 * cgroup.subtree_control. As runc (fs2.CreateCgroupPath): every controller
 * the root offers is enabled at each level from the root down to the
 * container's parent; where that fails (a level with processes of its own
 * cannot delegate), one at a time, and what stays off shows up as a clear
 * error when a limit needs it.
 */
export function enableControllers(mountPoint: string, dir: string): void {
  const offered = fs.readFileSync(path.join(mountPoint, 'cgroup.controllers'), 'utf8').split(/\s+/).filter(Boolean);
  if (!offered.length) return;
  const chain: string[] = [];
  for (let d = path.dirname(dir); d.startsWith(mountPoint); d = path.dirname(d)) {
    chain.unshift(d);
    if (d === mountPoint) break;
  }
  for (const d of chain) {
    const file = path.join(d, 'cgroup.subtree_control');
    try {
      fs.writeFileSync(file, offered.map((c) => `+${c}`).join(' '));
    } catch {
      for (const c of offered) {
        try {
          fs.writeFileSync(file, `+${c}`);
        } catch {
          /* left off, as runc leaves it */
        }
      }
    }
  }
}

/**
 * Hierarchies with no controller of their own that runc's cgroupfs manager
 * joins only where it can (its NameGroup, whose errors are dropped, root or
 * not): `name=systemd` and, on a hybrid host, the v2 mount (runc 1.1.5 and
 * 1.3.6 alike). On a hybrid host the v2 one is never delegated to a
 * rootless user, so a failure there must not stop the container.
 */
export function joinedIfPossible(paths: Record<string, string>, name: string): boolean {
  return name.startsWith('name=') || (name === 'unified' && !unifiedOnly(paths));
}

const PERMISSION_CODES = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * Makes the container's directory on each hierarchy. As runc's cgroupfs
 * manager, a hierarchy is skipped (the container stays in the caller's
 * cgroup there) when it is one joined only if possible (joinedIfPossible)
 * and cannot be made, or, rootless with no cgroupsPath, when the caller may
 * not make it or may not move a process into it (runc's Apply is mkdir
 * plus the join, and drops the hierarchy on a permission error): then a
 * cgroup that exists already and is not the caller's is left alone. A limit
 * that needs a skipped hierarchy fails later, in writeResources. Rootless
 * with a cgroupsPath, a permission error is an error, as in runc. Returns
 * the hierarchies skipped.
 */
export function createCgroups(layout: CgroupLayout, paths: Record<string, string>, rootless?: { cgroupsPath: string }): string[] {
  const skipped: string[] = [];
  const rootlessNoPath = rootless !== undefined && !rootless.cgroupsPath;
  for (const h of layout.hierarchies) {
    const dir = paths[h.name];
    if (!dir) continue;
    try {
      fs.mkdirSync(dir, { recursive: true });
      if (layout.mode === 'v2') enableControllers(h.mountPoint, dir);
      if (h.name.split(',').includes('cpuset')) fillCpuset(dir, h.mountPoint);
      if (rootlessNoPath) fs.accessSync(path.join(dir, 'cgroup.procs'), fs.constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (joinedIfPossible(paths, h.name) || (rootlessNoPath && PERMISSION_CODES.has(code))) {
        skipped.push(h.name);
        continue;
      }
      throw new RuntimeError('create cgroup', `${dir}: ${(err as Error).message}`, { cause: err });
    }
  }
  return skipped;
}

/**
 * Puts `pid` in the cgroups, or in the sub-cgroups asked for (exec --cgroup).
 * A hierarchy for which `mayFail(name)` holds is left as it is should the
 * write fail (runc drops those failures: see the manager's join).
 */
export function joinCgroups(paths: Record<string, string>, pid: number, sub: SubCgroups = new Map(), initFallback?: string, mayFail: (name: string) => boolean = () => false): void {
  const names = Object.keys(paths);
  for (const [i, file] of execCgroupProcs(paths, sub).entries()) {
    let where = file;
    let failed = writeCgroupProcs(where, pid);
    if (failed?.code === 'EBUSY' && initFallback && initFallback !== file) {
      log.debug(`adding pid ${pid} to ${file}: EBUSY; joining the init's cgroup instead`);
      where = initFallback;
      failed = writeCgroupProcs(where, pid);
    }
    if (failed && mayFail(names[i])) {
      log.debug(`adding pid ${pid} to ${where}: ${failed.code}; left where it is`);
      continue;
    }
    // In runc's words ("adding pid N to cgroups: ..."), which its exec.bats matches.
    if (failed) throw new RuntimeError('join cgroup', `adding pid ${pid} to cgroups: write ${where}: ${nodeErrorDetail(failed)}`, { cause: failed });
  }
}

/** The write of a pid to a cgroup.procs file; its error, if any. */
function writeCgroupProcs(file: string, pid: number): NodeJS.ErrnoException | undefined {
  try {
    fs.writeFileSync(file, String(pid));
    return undefined;
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
}


/**
 * The memory and pids limits the cgroups have now, as resources (for
 * tightLimits): `update` may have changed them since the config was saved.
 */
export function currentLimits(paths: Record<string, string>): ResourcesConfig {
  const read = (dir: string | undefined, file: string): number | undefined => {
    if (!dir) return undefined;
    try {
      const v = fs.readFileSync(path.join(dir, file), 'utf8').trim();
      return v === 'max' ? -1 : Number(v);
    } catch {
      return undefined;
    }
  };
  const memory = paths.memory ? read(paths.memory, 'memory.limit_in_bytes') : read(paths.unified, 'memory.max');
  const pids = read(paths.pids ?? paths.unified, 'pids.max');
  return { ...(memory === undefined ? {} : { memory: { limit: memory } }), ...(pids === undefined ? {} : { pids: { limit: pids } }) };
}

/**
 * Our own cgroup's cgroup.procs on the first hierarchy, where the two
 * writes below go: undefined if our path there goes up ("/../.." when we
 * are in a cgroup namespace whose root is below our cgroup). Joined to
 * the mount point, such a path names a file outside cgroupfs, or, once
 * normalised, another cgroup than ours, which we would move into.
 */
function ownCgroupProcs(layout: CgroupLayout): string | undefined {
  const h = layout.hierarchies[0];
  if (!h || !h.ownPath.startsWith('/') || h.ownPath.split('/').includes('..')) return undefined;
  return path.join(h.mountPoint, h.ownPath, 'cgroup.procs');
}

/** A cgroup.procs file as it is: never made, emptied or reached through a symlink. */
const PROCS_WRITE = O.WRONLY | O.NOFOLLOW | O.CLOEXEC;

/**
 * Moving a process between cgroups takes a lock whose first writer after
 * a quiet spell waits for an RCU grace period (10-30 ms here, runc pays it
 * too); writers within the next grace period do not. So while the init
 * starts, the parent "moves" it into the cgroup it is already in (the
 * parent's own, on the first hierarchy): nothing changes, the wait happens
 * now, and the real join once the init is ready is quick. Best effort: a
 * hierarchy we cannot write is simply not primed.
 */
export function primeCgroupMigration(layout: CgroupLayout, pid: number): void {
  const file = ownCgroupProcs(layout);
  if (!file) return;
  try {
    const fd = fs.openSync(file, PROCS_WRITE);
    try {
      fs.writeSync(fd, String(pid));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    /* not ours to write: the join pays the wait instead */
  }
}

/**
 * The same wait, started before there is a process to join and off this
 * thread: we "move" ourselves into the cgroup we are in, a write the
 * engine's thread pool makes while this thread checks, plans and spawns
 * (exec: about 9 ms). Forks go on meanwhile. Not for create: on v1 the
 * write holds cgroup_mutex through the grace period, and create's mkdir of
 * the cgroups would wait on it. Best effort: a failure changes nothing.
 */
export function warmCgroupMigration(layout: CgroupLayout): void {
  const file = ownCgroupProcs(layout);
  // One request to the pool ('r+': never made or emptied; the file is
  // cgroupfs's own, where nothing can be a symlink).
  if (file) fs.writeFile(file, String(process.pid), { flag: 'r+' }, () => {});
}

/**
 * On a v2-only host, the cgroup.procs of the cgroup the container's init is
 * in now (it may have moved itself into a sub-cgroup): where an exec'd
 * process goes when the container's own cgroup refuses it with EBUSY (a
 * domain controller enabled below it), as runc's setnsProcess falls back.
 */
export function initCgroupProcsV2(layout: CgroupLayout, initPid: number): string | undefined {
  if (layout.mode !== 'v2') return undefined;
  const dir = processCgroupDirs(layout, initPid)?.unified;
  return dir === undefined ? undefined : path.join(dir, 'cgroup.procs');
}

/** Whether any of the container's cgroup directories is there (runc's Manager.Exists). */
export function cgroupExists(paths: Record<string, string>): boolean {
  return Object.values(paths).some((dir) => fs.existsSync(dir));
}

/**
 * The one hierarchy whose cgroup.procs say which processes are the
 * container's: devices' (v2: the one), as runc counts them. Always the same
 * one, whichever exist at the moment: in the mount order, "the first that
 * exists" would be another one after a teardown pass removed the first, and
 * a cgroupsPath naming a cgroup that exists on some hierarchies only (a
 * systemd unit's, on a hybrid host) would then list processes that are not
 * the container's, which kill and delete would signal.
 */
function pidsHierarchy(paths: Record<string, string>): string | undefined {
  return controllerDir(paths, 'devices') ?? paths.unified ?? Object.values(paths)[0];
}

/**
 * Pids in the container's cgroup and its sub-cgroups (see pidsHierarchy),
 * as runc's GetAllPids; walked through fds, so that a process hidden at the
 * bottom of a chain deeper than PATH_MAX is found too.
 */
export function cgroupPids(paths: Record<string, string>): number[] {
  const dir = pidsHierarchy(paths);
  if (!dir) return [];
  const pids = new Set<number>();
  walkCgroups(dir, (v) => procsOf(v.dir).forEach((p) => pids.add(p)));
  return [...pids];
}

/**
 * A container's cgroup must not hold processes already: runc 1.2+ refuses
 * it (runc 1.3.6's cgroups.bats "runc run/create should error for a
 * non-empty cgroup"; runc 1.1.5 only warned). As runc, it counts them in
 * one hierarchy, devices' (v2: the one): checking every v1 hierarchy would
 * cost more than it finds.
 */
export function refuseNonEmpty(paths: Record<string, string>): void {
  const countIn = controllerDir(paths, 'devices') ?? paths.unified;
  const found = countIn ? cgroupPids({ countIn }).length : 0;
  if (found) throw new RuntimeError('check cgroup', `container's cgroup is not empty: ${found} process(es) found`);
}

/** A cgroup directory that teardown could not remove, and why. */
export interface CgroupLeft {
  dir: string;
  code: string;
  /** How many processes it still holds. */
  held: number;
}

/**
 * One pass over every hierarchy: each cgroup removed, deepest first, through
 * fds (see tree.ts). What could not be removed, with why and how many
 * processes it holds.
 */
function removePass(paths: Record<string, string>): CgroupLeft[] {
  const left: CgroupLeft[] = [];
  for (const top of Object.values(paths)) {
    // Most often there is nothing below it: the walk's last rmdir, first,
    // spares reading every directory's control files (a dozen on v1).
    if (rmdirIfLeaf(top)) continue;
    walkCgroups(top, (v) => {
      try {
        fs.rmdirSync(v.entry);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
        if (code !== 'ENOENT') left.push({ dir: describeCgroup(top, v.names), code, held: procsOf(v.dir).length });
      }
    });
  }
  return left;
}

/** Whether `dir` is gone now: removed (it had no cgroup below it and no process) or not there. */
function rmdirIfLeaf(dir: string): boolean {
  try {
    fs.rmdirSync(dir);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/**
 * Removes the container's cgroups, every hierarchy's together, deepest
 * first, retrying for about a second in all: a cgroup stays busy for a few
 * milliseconds after its last task died. Between tries `killStragglers`
 * ends the container's own processes still in it. What is left after that
 * (a process that is not the container's keeps it: another container sharing
 * the path) is returned, not waited on: teardown goes on without it.
 */
export async function removeCgroups(paths: Record<string, string>, killStragglers: () => void = () => {}, budgetMs = 1000): Promise<CgroupLeft[]> {
  const end = Date.now() + budgetMs;
  for (let round = 0; ; round++) {
    // Walked again each round: a straggler may have made a sub-cgroup meanwhile.
    const left = removePass(paths);
    // At least two passes, the stragglers killed between them, however long the first took.
    if (!left.length || (round > 0 && Date.now() >= end)) return left;
    if (round > 0) killStragglers();
    await new Promise((r) => setTimeout(r, Math.min(10 + round * 10, Math.max(1, end - Date.now()))));
  }
}
