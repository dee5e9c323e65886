/**
 * Id-mapped bind mounts (mounts[].uidMappings/gidMappings, idmap/ridmap),
 * as runc 1.2 makes them: a detached copy of the source (open_tree) gets
 * MOUNT_ATTR_IDMAP with a user namespace that holds the mappings, then the
 * init moves it into place (applyBindMount with the fd). A helper of the
 * stage does this as root on the host, in the container's mount namespace
 * (native/stage.c "bind"), so that the copy keeps the locks of the
 * container's mounts; the parent provides the user namespace.
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

/** What create hands out for the bind sources (bindSources). */
export interface BindSources {
  /** The sources the stage copies in the container's mount namespace before the init runs. */
  requests: BindSourceRequest[];
  /** By mount index, fds of ours: the user namespaces of id-mapped binds the init makes itself, in their turn. */
  initIdmaps: Record<number, number>;
}

/**
 * The bind sources the stage copies in the container's mount namespace
 * (src/process/spawn.ts, native/stage.c "bind"): every id-mapped one (the
 * id map needs a detached copy), and, for a container in a user namespace
 * made by a caller privileged over the host's mounts, every bind (the
 * container's root may not reach a source below a directory it cannot
 * search). A caller without those privileges binds by path, as runc does.
 * A source inside the rootfs ("/bundle/rootfs/mnt/x") is not copied then:
 * what it shows is made by the mounts before it (runc 1.3.6's mount-order
 * tests; a copy would be taken before any of them), so the init binds it,
 * by path, in its turn, as it reaches the rootfs anyway. An id-mapped one
 * the init, root on the host without a user namespace, copies and id-maps
 * itself in its turn (`initIdmaps`); in a user namespace it could not set
 * the id map, and the stage's copy, taken before the mounts, is used.
 * The user namespaces holding id maps are opened (or made) here, once per
 * set of maps, into `usernsCache`, for the caller to close.
 */
export async function bindSourceRequests(sys: Sys, mounts: MountPlan[], opts: { copyAll: boolean; inUserNs: boolean; rootfs: string }, usernsCache: Map<string, number>): Promise<BindSources> {
  const out: BindSources = { requests: [], initIdmaps: {} };
  const inRootfs = (source: string) => containerDestination(opts.rootfs, source) !== path.posix.normalize(source);
  for (const [index, m] of mounts.entries()) {
    if (m.idmap && !opts.inUserNs && inRootfs(m.source)) {
      out.initIdmaps[index] = await idmapUserns(sys, m.idmap, usernsCache);
      continue;
    }
    if (!m.idmap && !(opts.copyAll && m.bind && !inRootfs(m.source))) continue;
    const request: BindSourceRequest = { index, source: m.source, destination: m.destination, recursive: (m.flags & MS.REC) !== 0 };
    if (m.idmap) request.idmap = { usernsFd: await idmapUserns(sys, m.idmap, usernsCache), recursive: m.idmap.recursive };
    out.requests.push(request);
  }
  return out;
}

async function idmapUserns(sys: Sys, idmap: NonNullable<MountPlan['idmap']>, usernsCache: Map<string, number>): Promise<number> {
  const key = idmap.usernsPath ?? JSON.stringify([idmap.uidMappings, idmap.gidMappings]);
  let userns = usernsCache.get(key);
  if (userns === undefined) {
    userns = idmap.usernsPath ? step('id-mapped mount: open user namespace', () => sys.open(idmap.usernsPath!, O.RDONLY | O.CLOEXEC)) : await mappedUserns(sys, idmap.uidMappings, idmap.gidMappings);
    usernsCache.set(key, userns);
  }
  return userns;
}
