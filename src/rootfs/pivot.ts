/** Switching the root: pivot_root (the default), a move mount plus chroot (--no-pivot), or chroot alone. */
import { MNT_DETACH, MS, O } from '../sys/constants.js';
import type { Sys } from '../sys/types.js';

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
export function moveRoot(sys: Sys, rootfs: string): void {
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
