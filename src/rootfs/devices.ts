/** /dev inside the container: device nodes (or binds in a user namespace) and the standard symlinks. */
import fs from 'node:fs';
import path from 'node:path';
import { RuntimeError } from '../errors.js';
import type { DevicePlan } from '../config/plan.js';
import { makedev, MS, S_IFBLK, S_IFCHR, S_IFIFO } from '../sys/constants.js';
import { SysError, type Sys } from '../sys/types.js';
import { fdPath, mkdirAllInRoot, openInRoot } from './resolve.js';

const TYPE_BITS: Record<DevicePlan['type'], number> = { c: S_IFCHR, u: S_IFCHR, b: S_IFBLK, p: S_IFIFO };

function exists(err: unknown): boolean {
  return err instanceof SysError && err.code === 'EEXIST';
}

/**
 * Creates one device. In a user namespace mknod is not allowed, so the host's
 * node is bind-mounted onto an empty file, as runc does.
 */
export function createDevice(sys: Sys, rootFd: number, d: DevicePlan, inUserNs: boolean): void {
  const dirFd = mkdirAllInRoot(sys, rootFd, path.posix.dirname(d.path));
  const name = path.posix.basename(d.path);
  try {
    if (inUserNs) {
      sys.close(mkdirAllInRoot(sys, rootFd, d.path, { file: true }));
      const fd = openInRoot(sys, rootFd, d.path);
      try {
        sys.mount(d.path, fdPath(fd), null, MS.BIND, null);
      } finally {
        sys.close(fd);
      }
      return;
    }
    try {
      sys.mknodat(dirFd, name, TYPE_BITS[d.type] | (d.mode & 0o7777), makedev(d.major, d.minor));
    } catch (err) {
      if (exists(err)) return; // runc keeps a node the rootfs already has
      throw err;
    }
    const fd = openInRoot(sys, rootFd, d.path);
    try {
      // O_PATH fds cannot be chowned directly; the magic link reaches the node itself.
      fs.chownSync(fdPath(fd), d.uid, d.gid);
      fs.chmodSync(fdPath(fd), d.mode & 0o7777);
    } finally {
      sys.close(fd);
    }
  } catch (err) {
    if (err instanceof RuntimeError) throw err;
    throw new RuntimeError('create device', `${d.path}: ${(err as Error).message}`, { cause: err });
  } finally {
    sys.close(dirFd);
  }
}

export const DEV_SYMLINKS: [string, string][] = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
];

export function createDevSymlinks(sys: Sys, rootFd: number, hostHasKcore: boolean): void {
  const links = [...DEV_SYMLINKS];
  if (hostHasKcore) links.push(['/proc/kcore', '/dev/core']);
  const dirFd = mkdirAllInRoot(sys, rootFd, '/dev');
  try {
    for (const [target, link] of links) {
      try {
        sys.symlinkat(target, dirFd, path.posix.basename(link));
      } catch (err) {
        if (!exists(err)) throw new RuntimeError('create /dev symlinks', `${link}: ${(err as Error).message}`, { cause: err });
      }
    }
  } finally {
    sys.close(dirFd);
  }
}

/** /dev/ptmx becomes a link to the container's own devpts instance (runc's setupPtmx). */
export function setupPtmx(sys: Sys, rootfs: string, rootFd: number): void {
  const dirFd = mkdirAllInRoot(sys, rootFd, '/dev');
  try {
    // unlink through the verified dir fd path: the name is a single component.
    try {
      fs.unlinkSync(`${fdPath(dirFd)}/ptmx`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    sys.symlinkat('pts/ptmx', dirFd, 'ptmx');
  } catch (err) {
    throw new RuntimeError('setup /dev/ptmx', `${rootfs}/dev/ptmx: ${(err as Error).message}`, { cause: err });
  } finally {
    sys.close(dirFd);
  }
}
