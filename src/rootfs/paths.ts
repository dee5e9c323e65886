/** maskedPaths and readonlyPaths, applied after the root switch. */
import fs from 'node:fs';
import { RuntimeError } from '../errors.js';
import { MS, O, RESOLVE } from '../sys/constants.js';
import { SysError, type Sys } from '../sys/types.js';
import { fdPath, openInRoot } from './resolve.js';

function openIfExists(sys: Sys, rootFd: number, p: string): number | undefined {
  try {
    return openInRoot(sys, rootFd, p);
  } catch (err) {
    if (err instanceof SysError && err.code === 'ENOENT') return undefined;
    throw err;
  }
}

// statfs ST_* flags that a bind remount must keep (they are locked in a user namespace).
const ST_TO_MS: [number, number][] = [[2, MS.NOSUID], [4, MS.NODEV], [8, MS.NOEXEC], [1024, MS.NOATIME], [2048, MS.NODIRATIME], [4096, MS.RELATIME]];

export function makeReadonly(sys: Sys, rootFd: number, p: string): void {
  const fd = openIfExists(sys, rootFd, p);
  if (fd === undefined) return;
  try {
    sys.mount(fdPath(fd), fdPath(fd), null, MS.BIND | MS.REC, null);
  } finally {
    sys.close(fd);
  }
  const top = openInRoot(sys, rootFd, p);
  try {
    const { flags } = sys.fstatfs(top);
    let keep = 0;
    for (const [st, ms] of ST_TO_MS) if (flags & st) keep |= ms;
    sys.mount(null, fdPath(top), null, MS.BIND | MS.REMOUNT | MS.RDONLY | keep, null);
  } finally {
    sys.close(top);
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
    if (fs.fstatSync(fd).isDirectory()) sys.mount('tmpfs', fdPath(fd), 'tmpfs', MS.RDONLY, null);
    else sys.mount(fdPath(devNullFd), fdPath(fd), null, MS.BIND, null);
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
