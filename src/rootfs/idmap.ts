/**
 * Id-mapped bind mounts (mounts[].uidMappings/gidMappings, idmap/ridmap),
 * as runc 1.2 makes them: a detached copy of the source (open_tree) gets
 * MOUNT_ATTR_IDMAP with a user namespace that holds the mappings, then the
 * init moves it into place (applyBindMount with the fd). The parent does
 * this as root on the host, before the init exists.
 *
 * A user namespace with given mappings needs a process in it: a helper
 * (util-linux's unshare, then sleep) makes one, we write its maps as root,
 * keep the namespace by an fd and end the helper.
 */
import fs from 'node:fs';
import type * as ChildProcess from 'node:child_process';
import { builtin } from '../engine.js';
import { RuntimeError, step } from '../errors.js';
import type { MountPlan } from '../config/plan.js';
import type { IDMappingConfig } from '../config/schema.js';
import { MOUNT_ATTR, O } from '../sys/constants.js';
import type { Sys } from '../sys/types.js';
import { detachedBindSource } from './mounts.js';

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

/** The detached, id-mapped copy of a bind mount's source, for the init to move into place. */
export async function idmappedTree(sys: Sys, m: MountPlan, usernsCache: Map<string, number>): Promise<number> {
  const idmap = m.idmap!;
  const key = idmap.usernsPath ?? JSON.stringify([idmap.uidMappings, idmap.gidMappings]);
  let userns = usernsCache.get(key);
  if (userns === undefined) {
    userns = idmap.usernsPath ? step('id-mapped mount: open user namespace', () => sys.open(idmap.usernsPath!, O.RDONLY | O.CLOEXEC)) : await mappedUserns(sys, idmap.uidMappings, idmap.gidMappings);
    usernsCache.set(key, userns);
  }
  const tree = detachedBindSource(sys, m);
  try {
    const ns = userns;
    step(`mount: bind ${m.source} on ${m.destination}: id-map (mount_setattr MOUNT_ATTR_IDMAP)`, () => sys.mountSetattr(tree, MOUNT_ATTR.IDMAP, 0, idmap.recursive, ns));
    return tree;
  } catch (err) {
    sys.close(tree);
    throw err;
  }
}
