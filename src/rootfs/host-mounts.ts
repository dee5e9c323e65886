/**
 * A container without a mount namespace of its own mounts into its rootfs
 * in the host's mount namespace. runc leaves those mounts behind after
 * delete; ocirun detaches them when the container is torn down, and only
 * them: what create found there, or what others mounted later, stays.
 */
import { MNT_DETACH } from '../sys/constants.js';
import type { Sys } from '../sys/types.js';
import { parseMountinfo } from './mountinfo.js';

/**
 * The full proc and sysfs mounts (their filesystem's root mounted) outside
 * `rootfs`: with --no-pivot they stay in the container's mount namespace
 * under the chroot, and while one is there the kernel lets a process that
 * makes its own user, mount and pid namespaces mount a proc of its own,
 * unmasked (runc's msMoveRoot removes them for that reason).
 */
export function fullProcAndSysfsOutside(mountinfo: string, rootfs: string): string[] {
  const prefix = rootfs.endsWith('/') ? rootfs : rootfs + '/';
  return parseMountinfo(mountinfo)
    .filter((m) => m.root === '/' && (m.fstype === 'proc' || m.fstype === 'sysfs') && m.mountPoint !== rootfs && !m.mountPoint.startsWith(prefix))
    .map((m) => m.mountPoint);
}

/** The mounts below `dir` as "ID mountpoint" keys: what create records, to tell its own mounts from others'. */
export function mountKeysBelow(mountinfo: string, dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : dir + '/';
  return parseMountinfo(mountinfo)
    .filter((m) => m.mountPoint.startsWith(prefix))
    .map((m) => `${m.id} ${m.mountPoint}`);
}

/** Which mounts below the rootfs are the container's: the ones create made, or (a create that failed first) every one that was not there before it. */
export interface HostMounts {
  /** Those there before create mounted anything: someone else's. */
  before?: string[];
  /** Those create made, once it made them all. */
  made?: string[];
}

/**
 * Detaches the container's mounts below `dir`, the last mounted first;
 * a mount already gone (EINVAL, ENOENT) is not an error. A mount that is
 * not ocirun's (there before create, or made after it) is left, as runc
 * leaves every one.
 */
export function detachMountsBelow(sys: Sys, dir: string, mountinfo: () => string, own: HostMounts = {}): void {
  // Strictly below: `dir` itself may be a mount of the user's (podman's overlay is).
  if (dir === '/' || dir === '') throw new Error(`refusing to detach the mounts below ${JSON.stringify(dir)}`);
  const made = own.made ? new Set(own.made) : undefined;
  const before = new Set(own.before ?? []);
  const prefix = dir.endsWith('/') ? dir : dir + '/';
  const points = parseMountinfo(mountinfo())
    .filter((m) => m.mountPoint.startsWith(prefix))
    .filter((m) => (made ? made.has(`${m.id} ${m.mountPoint}`) : !before.has(`${m.id} ${m.mountPoint}`)))
    .map((m) => m.mountPoint)
    .reverse();
  for (const point of points) {
    try {
      sys.umount2(point, MNT_DETACH);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'EINVAL' && code !== 'ENOENT') throw err;
    }
  }
}
