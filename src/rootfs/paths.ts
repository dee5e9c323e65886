/** maskedPaths and readonlyPaths, applied after the root switch. */
import fs from 'node:fs';
import { RuntimeError } from '../errors.js';
import { MOUNT_ATTR, O, RESOLVE } from '../sys/constants.js';
import { SysError, type Sys } from '../sys/types.js';
import { bindAt, mountAt, openInRoot } from './resolve.js';

function openIfExists(sys: Sys, rootFd: number, p: string): number | undefined {
  try {
    return openInRoot(sys, rootFd, p);
  } catch (err) {
    if (err instanceof SysError && err.code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * A read-only bind of the path onto itself: the submounts come along, only
 * the top becomes read-only (runc's bind, then remount MS_RDONLY). The other
 * flags of the mount stay as they are, as they must in a user namespace.
 */
export function makeReadonly(sys: Sys, rootFd: number, p: string): void {
  const fd = openIfExists(sys, rootFd, p);
  if (fd === undefined) return;
  try {
    bindAt(sys, fd, fd, { recursive: true, set: MOUNT_ATTR.RDONLY });
  } finally {
    sys.close(fd);
  }
}

/**
 * Opens the container's /dev/null and checks that it is the real one (char 1:3):
 * a container could have replaced it with a link to something it wants made
 * writable (CVE-2025-31133).
 */
export function openVerifiedDevNull(sys: Sys, rootFd: number): number {
  const fd = sys.openat2(rootFd, 'dev/null', O.PATH | O.CLOEXEC | O.NOFOLLOW, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS | RESOLVE.NO_SYMLINKS);
  const st = fs.fstatSync(fd);
  if (!st.isCharacterDevice() || st.rdev !== 0x103) {
    sys.close(fd);
    throw new RuntimeError('mask paths', '/dev/null in the container is not the null device (char 1:3)');
  }
  return fd;
}

export function maskPath(sys: Sys, rootFd: number, p: string, devNullFd: number): void {
  const fd = openIfExists(sys, rootFd, p);
  if (fd === undefined) return;
  try {
    if (fs.fstatSync(fd).isDirectory()) mountAt(sys, 'tmpfs', { source: 'tmpfs', ro: true }, MOUNT_ATTR.RDONLY, fd);
    else bindAt(sys, devNullFd, fd);
  } finally {
    sys.close(fd);
  }
}

export function applyPathRestrictions(sys: Sys, rootFd: number, readonly: string[], masked: string[]): void {
  for (const p of readonly) {
    try {
      makeReadonly(sys, rootFd, p);
    } catch (err) {
      throw new RuntimeError('readonly path', `${p}: ${(err as Error).message}`, { cause: err });
    }
  }
  if (masked.length === 0) return;
  const devNull = openVerifiedDevNull(sys, rootFd);
  try {
    for (const p of masked) {
      try {
        maskPath(sys, rootFd, p, devNull);
      } catch (err) {
        throw new RuntimeError('mask path', `${p}: ${(err as Error).message}`, { cause: err });
      }
    }
  } finally {
    sys.close(devNull);
  }
}
