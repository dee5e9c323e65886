/**
 * A container without a mount namespace of its own mounts into its rootfs
 * in the host's mount namespace. runc leaves those mounts behind after
 * delete; ocirun detaches them when the container is torn down.
 */
import { MNT_DETACH } from '../sys/constants.js';
import type { Sys } from '../sys/types.js';
import { parseMountinfo } from './mountinfo.js';

/**
 * The mount points strictly below `dir`, in the order to detach them: the
 * last mounted first, so that a stacked or nested mount goes before what it
 * covers. `dir` itself is left alone: the rootfs may be a mount of the
 * user's (podman's overlay is).
 */
export function mountPointsBelow(mountinfo: string, dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : dir + '/';
  return parseMountinfo(mountinfo)
    .map((m) => m.mountPoint)
    .filter((point) => point.startsWith(prefix))
    .reverse();
}

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

/** Detaches every mount below `dir`; a mount already gone (EINVAL, ENOENT) is not an error. */
export function detachMountsBelow(sys: Sys, dir: string, mountinfo: () => string): void {
  if (dir === '/' || dir === '') throw new Error(`refusing to detach the mounts below ${JSON.stringify(dir)}`);
  for (const point of mountPointsBelow(mountinfo(), dir)) {
    try {
      sys.umount2(point, MNT_DETACH);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'EINVAL' && code !== 'ENOENT') throw err;
    }
  }
}
