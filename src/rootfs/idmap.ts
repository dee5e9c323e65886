/**
 * Id-mapped bind mounts (mounts[].uidMappings/gidMappings, idmap/ridmap),
 * as runc 1.2 makes them: a detached copy of the source (open_tree) gets
 * MOUNT_ATTR_IDMAP with a user namespace that holds the mappings, then the
 * init moves it into place (applyBindMount with the fd). The stage does
 * this as root on the host, in the container's mount namespace, at the
 * mount's turn (native/stage.c serve_mount_source), so that the copy keeps
 * the locks of the container's mounts and shows what the mounts before it
 * made; the parent provides the user namespace.
 *
 * A user namespace with given mappings needs a process in it: a helper
 * (util-linux's unshare, then sleep) makes one, we write its maps as root,
 * keep the namespace by an fd and end the helper.
 */
import fs from 'node:fs';
import path from 'node:path';
import type * as ChildProcess from 'node:child_process';
import { builtin } from '../engine.js';
import { RuntimeError, step } from '../errors.js';
import { containerDestination, type MountPlan } from '../config/plan.js';
import type { IDMappingConfig } from '../config/schema.js';
import { MS, O } from '../sys/constants.js';
import type { Sys } from '../sys/types.js';
import type { BindSourceRequest } from '../process/spawn.js';

const mapText = (maps: IDMappingConfig[]) => maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');

/** An fd of a new user namespace holding the mappings. */
export async function mappedUserns(sys: Sys, uid: IDMappingConfig[], gid: IDMappingConfig[]): Promise<number> {
  const cp = builtin<typeof ChildProcess>('node:child_process');
  const helper = cp.spawn('unshare', ['--user', 'sleep', 'infinity'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => helper.once('exit', () => resolve()));
  try {
    if (!helper.pid) throw new RuntimeError('id-mapped mount', 'cannot start unshare (util-linux) to make a user namespace');
    const ours = fs.readlinkSync('/proc/self/ns/user');
    // The helper is in its namespace once it has unshared (it then execs sleep).
    for (let i = 0; ; i++) {
      let theirs: string | undefined;
      try {
        theirs = fs.readlinkSync(`/proc/${helper.pid}/ns/user`);
      } catch {
        /* not yet, or gone: see below */
      }
      if (theirs && theirs !== ours) break;
      if (helper.exitCode !== null || i > 2000) throw new RuntimeError('id-mapped mount', 'the helper did not make a user namespace (unshare --user)');
      await new Promise((r) => setTimeout(r, 1));
    }
    step('id-mapped mount: write uid_map', () => fs.writeFileSync(`/proc/${helper.pid}/uid_map`, mapText(uid)));
    step('id-mapped mount: write gid_map', () => fs.writeFileSync(`/proc/${helper.pid}/gid_map`, mapText(gid)));
    return step('id-mapped mount: open user namespace', () => sys.open(`/proc/${helper.pid}/ns/user`, O.RDONLY | O.CLOEXEC));
  } finally {
    helper.kill('SIGKILL');
    await exited;
  }
}

/**
 * Whether a bind's source is copied at the mount's turn, on the init's
 * request ("mount-source", src/process/spawn.ts mountSourceCopy), rather
 * than by the stage's helper before the init runs: every id-mapped one, as
 * runc 1.3 asks its parent for each (prepareRootfs, procMountPlease). Its
 * source may be made by the mounts before it (inside the rootfs: runc
 * 1.3.6's mounts.bats "mount order, container idmap source"), which a copy
 * taken before them would miss, and the init cannot id-map a copy itself
 * in a user namespace (MOUNT_ATTR_IDMAP needs privilege over the source's
 * filesystem). A source elsewhere shows the same either way, but one path
 * for every id-mapped copy keeps one way of making it.
 */
export const sourceAtItsTurn = (m: MountPlan): boolean => m.bind && m.idmap !== undefined;

/**
 * The bind sources the stage's helper copies in the container's mount
 * namespace before the init runs (src/process/spawn.ts, native/stage.c
 * "bind"): for a container in a user namespace made by a caller privileged
 * over the host's mounts, every bind that is not id-mapped (those come in
 * their turn: sourceAtItsTurn), since the container's root may not reach a
 * source below a directory it cannot search. A caller without those
 * privileges binds by path, as runc does. A source inside the rootfs
 * ("/bundle/rootfs/mnt/x") is not copied: what it shows is made by the
 * mounts before it (a copy would be taken before any of them), so the init
 * binds it, by path, in its turn, as it reaches the rootfs anyway.
 */
export function bindSourceRequests(mounts: MountPlan[], opts: { copyAll: boolean; rootfs: string }): Omit<BindSourceRequest, 'idmap'>[] {
  const inRootfs = (source: string) => containerDestination(opts.rootfs, source) !== path.posix.normalize(source);
  return [...mounts.entries()]
    .filter(([, m]) => opts.copyAll && m.bind && !sourceAtItsTurn(m) && !inRootfs(m.source))
    .map(([index, m]) => ({ index, source: m.source, destination: m.destination, recursive: (m.flags & MS.REC) !== 0 }));
}

/**
 * By mount index, the user namespace holding the id map of each id-mapped
 * bind (fds of ours), opened (or made) once per set of maps into
 * `usernsCache`, for the caller to close once the init's mounts are made.
 */
export async function idmapUserns(sys: Sys, mounts: MountPlan[], usernsCache: Map<string, number>): Promise<Record<number, number>> {
  const out: Record<number, number> = {};
  for (const [index, m] of mounts.entries()) {
    if (!m.idmap) continue;
    const key = m.idmap.usernsPath ?? JSON.stringify([m.idmap.uidMappings, m.idmap.gidMappings]);
    let userns = usernsCache.get(key);
    if (userns === undefined) {
      const { usernsPath, uidMappings, gidMappings } = m.idmap;
      userns = usernsPath ? step('id-mapped mount: open user namespace', () => sys.open(usernsPath, O.RDONLY | O.CLOEXEC)) : await mappedUserns(sys, uidMappings, gidMappings);
      usernsCache.set(key, userns);
    }
    out[index] = userns;
  }
  return out;
}
