/**
 * A container without a mount namespace of its own mounts into its rootfs
 * in the host's mount namespace. runc leaves those mounts behind after
 * delete; ocirun detaches them when the container is torn down.
 */
import { MNT_DETACH } from '../sys/constants.js';
import type { Sys } from '../sys/types.js';

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountPoint(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * The mount points strictly below `dir`, in the order to detach them: the
 * last mounted first, so that a stacked or nested mount goes before what it
 * covers. `dir` itself is left alone: the rootfs may be a mount of the
 * user's (podman's overlay is).
 */
export function mountPointsBelow(mountinfo: string, dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : dir + '/';
  const points: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const point = unescapeMountPoint(f[4]);
    if (point.startsWith(prefix)) points.push(point);
  }
  return points.reverse();
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
  const points: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const fstype = f[f.indexOf('-') + 1];
    if (f.length < 5 || f[3] !== '/' || (fstype !== 'proc' && fstype !== 'sysfs')) continue;
    const point = unescapeMountPoint(f[4]);
    if (point !== rootfs && !point.startsWith(prefix)) points.push(point);
  }
  return points;
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
