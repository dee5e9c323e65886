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

/**
 * Masks one path: a file with /dev/null, a directory with an empty
 * read-only tmpfs. As runc 1.3.6 does, the masked directories share one
 * tmpfs: the first gets it, the others a bind of it (`shared` holds an fd
 * of that first mask); should a bind fail, each gets a tmpfs of its own.
 * runc 1.1.5 mounted a tmpfs for each.
 */
export function maskPath(sys: Sys, rootFd: number, p: string, devNullFd: number, shared: { fd?: number; bindFailed?: boolean } = {}): void {
  const fd = openIfExists(sys, rootFd, p);
  if (fd === undefined) return;
  try {
    if (!fs.fstatSync(fd).isDirectory()) {
      bindAt(sys, devNullFd, fd);
      return;
    }
    if (shared.fd !== undefined && !shared.bindFailed) {
      try {
        bindAt(sys, shared.fd, fd);
        return;
      } catch {
        shared.bindFailed = true;
      }
    }
    mountAt(sys, 'tmpfs', { source: 'tmpfs', ro: true, nr_blocks: '1', nr_inodes: '1' }, MOUNT_ATTR.RDONLY, fd);
    // The fd still names what is under the new mount: the mask is opened again.
    if (shared.fd === undefined && !shared.bindFailed) shared.fd = openInRoot(sys, rootFd, p);
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
  const shared: { fd?: number; bindFailed?: boolean } = {};
  try {
    for (const p of masked) {
      try {
        maskPath(sys, rootFd, p, devNull, shared);
      } catch (err) {
        throw new RuntimeError('mask path', `${p}: ${(err as Error).message}`, { cause: err });
      }
    }
  } finally {
    sys.close(devNull);
    if (shared.fd !== undefined) sys.close(shared.fd);
  }
}
