/** Switching the root: pivot_root (the default), a move mount plus chroot (--no-pivot), or chroot alone. */
import fs from 'node:fs';
import { MNT_DETACH, MS, O } from '../sys/constants.js';
import type { Sys } from '../sys/types.js';
import { fullProcAndSysfsOutside } from './host-mounts.js';

/** runc's pivotRoot: pivot_root(".", ".") then detach the old root stacked on top. */
export function pivotRoot(sys: Sys, rootfs: string): void {
  const oldRoot = sys.open('/', O.DIRECTORY | O.RDONLY | O.CLOEXEC);
  const newRoot = sys.open(rootfs, O.DIRECTORY | O.RDONLY | O.CLOEXEC);
  try {
    sys.fchdir(newRoot);
    sys.pivotRoot('.', '.');
    sys.fchdir(oldRoot);
    // Keep the unmount of the old root from propagating to the host.
    sys.mount(null, '.', null, MS.SLAVE | MS.REC, null);
    sys.umount2('.', MNT_DETACH);
    sys.chdir('/');
  } finally {
    sys.close(oldRoot);
    sys.close(newRoot);
  }
}

/** --no-pivot: move the rootfs mount over / and chroot into it. */
export function moveRoot(sys: Sys, rootfs: string, mountinfo: () => string): void {
  // As runc: first the host's full proc and sysfs mounts go from our mount
  // namespace (not the host's: the unmount must not propagate). Where one
  // cannot be unmounted, a tmpfs covers it.
  // (mountinfo names the rootfs by its real path.)
  for (const point of fullProcAndSysfsOutside(mountinfo(), fs.realpathSync(rootfs))) {
    try {
      sys.mount(null, point, null, MS.SLAVE | MS.REC, null);
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') continue; // under one detached already
      throw err;
    }
    try {
      sys.umount2(point, MNT_DETACH);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'EINVAL' && code !== 'EPERM') throw err;
      sys.mount('tmpfs', point, 'tmpfs', 0, null);
    }
  }
  sys.chdir(rootfs);
  sys.mount(rootfs, '/', null, MS.MOVE, null);
  sys.chroot('.');
  sys.chdir('/');
}

/**
 * No mount namespace of the container's own: pivot_root would change the
 * root of every process on the host, so only this process's root moves
 * (runc's chroot() in the same case).
 */
export function chrootRoot(sys: Sys, rootfs: string): void {
  sys.chdir(rootfs);
  sys.chroot('.');
  sys.chdir('/');
}

/** chroot to a directory given as an fd, which may be in another mount namespace; closes the fd. */
export function chrootToFd(sys: Sys, fd: number): void {
  sys.fchdir(fd);
  sys.chroot('.');
  sys.chdir('/');
  sys.close(fd);
}
