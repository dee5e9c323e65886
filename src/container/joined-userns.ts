/**
 * Maps given beside a user namespace to join. runc 1.3.6 (specconv,
 * setupUserNamespace) reads the joined namespace's maps and accepts config
 * maps only when they are the same, in the same order (containerd and CRI-O
 * pass both); others are refused in its words. It warns about matching
 * ones; ocirun does not, as nothing is wrong with them. The maps are read
 * from the init once it is in the namespace, which works for any path
 * (runc forks a process into the namespace when the path is no
 * /proc/PID/ns/user).
 */
import fs from 'node:fs';
import { ConfigError } from '../errors.js';
import type { IDMappingConfig } from '../config/schema.js';

/** /proc/PID/uid_map or gid_map as the config writes maps (containerID, hostID, size), seen from our namespace. */
function readIdMap(pid: number, kind: 'uid' | 'gid'): IDMappingConfig[] {
  return fs
    .readFileSync(`/proc/${pid}/${kind}_map`, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [containerID, hostID, size] = l.trim().split(/\s+/).map(Number);
      return { containerID, hostID, size };
    });
}

const sameMap = (a: IDMappingConfig[], b: IDMappingConfig[]) =>
  a.length === b.length && a.every((m, i) => m.containerID === b[i].containerID && m.hostID === b[i].hostID && m.size === b[i].size);

/** Refuses config maps that are not those of the user namespace the process `pid` joined. */
export function checkJoinedUsernsMaps(pid: number, usernsPath: string, uidMappings: IDMappingConfig[] | undefined, gidMappings: IDMappingConfig[] | undefined): void {
  if (!uidMappings && !gidMappings) return;
  const uid = readIdMap(pid, 'uid');
  const gid = readIdMap(pid, 'gid');
  if (sameMap(uid, uidMappings ?? []) && sameMap(gid, gidMappings ?? [])) return;
  const text = (m: IDMappingConfig[]) => m.map((x) => `${x.containerID}:${x.hostID}:${x.size}`).join(',') || 'none';
  throw new ConfigError(
    'linux.uidMappings',
    `user namespaces enabled, but both namespace path and non-matching mapping specified -- you may only provide one (${usernsPath} maps uid ${text(uid)}, gid ${text(gid)})`,
  );
}
