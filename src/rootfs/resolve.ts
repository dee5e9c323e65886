/**
 * Paths inside the container's rootfs are resolved by the kernel with
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): a symlink planted in the
 * rootfs can never lead out of it (CVE-2021-30465), and /proc magic links
 * cannot be used to reach host objects (CVE-2025-31133 and friends). Mounts
 * then target the opened fd, so the path is never resolved a second time:
 * before the root switch through /proc/self/fd/N (the host's procfs, in the
 * copied mount namespace), after it with the fd-based mount API (bindAt,
 * mountAt), which never looks at the container's /proc (CVE-2025-52565).
 */
import { O, RESOLVE } from '../sys/constants.js';
import type { Sys } from '../sys/types.js';
import { SysError } from '../sys/types.js';

const IN_ROOT = RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS;

export function components(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

/** Opens `p` (interpreted inside the root at `rootFd`) as an O_PATH fd. */
export function openInRoot(sys: Sys, rootFd: number, p: string, extra = 0): number {
  const rel = components(p).join('/') || '.';
  return sys.openat2(rootFd, rel, O.PATH | O.CLOEXEC | extra, IN_ROOT);
}

/** Runs `fn` with `fd`, then closes it. */
export function withFd<T>(sys: Sys, fd: number, fn: (fd: number) => T): T {
  try {
    return fn(fd);
  } finally {
    sys.close(fd);
  }
}

export function fdPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/**
 * Bind-mounts what `sourceFd` is onto what `targetFd` is (open_tree +
 * move_mount), with `set`/`clear` MOUNT_ATTR_* flags applied to the new
 * top mount only, as runc's bind-then-remount does.
 */
export function bindAt(sys: Sys, sourceFd: number, targetFd: number, opts: { recursive?: boolean; set?: number; clear?: number } = {}): void {
  const tree = sys.openTree(sourceFd, opts.recursive ?? false);
  try {
    if (opts.set || opts.clear) sys.mountSetattr(tree, opts.set ?? 0, opts.clear ?? 0, false);
    sys.moveMount(tree, targetFd);
  } finally {
    sys.close(tree);
  }
}

/**
 * Mounts a new `fstype` filesystem onto what `targetFd` is (fsopen, fsmount,
 * move_mount); `options` are fsconfig's (a `true` is a flag, such as "ro"
 * for a read-only superblock), `attrs` the mount's MOUNT_ATTR_* flags.
 */
export function mountAt(sys: Sys, fstype: string, options: Record<string, string | true>, attrs: number, targetFd: number): void {
  const ctx = sys.fsopen(fstype);
  try {
    for (const [k, v] of Object.entries(options)) sys.fsconfig(ctx, k, v === true ? undefined : v);
    const mnt = sys.fsmount(ctx, attrs);
    try {
      sys.moveMount(mnt, targetFd);
    } finally {
      sys.close(mnt);
    }
  } finally {
    sys.close(ctx);
  }
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof SysError && err.code === code;
}

/** The most symlinks one path may go through, as the kernel's MAXSYMLINKS. */
const MAX_LINKS = 40;

/**
 * Creates every missing directory of `p` inside the root, each one made with
 * mkdirat() relative to its parent's fd, and returns an O_PATH fd of `p`.
 * Each prefix is resolved from the root again, so that a symlink inside the
 * rootfs means what it would mean to the container, never more. A symlink
 * whose target does not exist yet is followed by hand, inside the root, and
 * the target is made (as runc's securejoin.MkdirAll does): a volume at
 * /evil/x where /evil is a link to a host path lands inside the rootfs
 * (CVE-2021-30465).
 * When `file` is set the last component is made as an empty file instead.
 */
export function mkdirAllInRoot(sys: Sys, rootFd: number, p: string, opts: { file?: boolean; mode?: number } = {}): number {
  let parts = components(p);
  let links = 0;
  let dirFd = sys.openat2(rootFd, '.', O.PATH | O.DIRECTORY | O.CLOEXEC, IN_ROOT);
  try {
    for (let i = 0; i < parts.length; i++) {
      const last = i === parts.length - 1;
      const name = parts[i];
      let next: number;
      try {
        next = sys.openat2(rootFd, parts.slice(0, i + 1).join('/'), O.PATH | O.CLOEXEC, IN_ROOT);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
        let made = true;
        if (last && opts.file) {
          try {
            sys.close(sys.openat2(dirFd, name, O.CREAT | O.RDONLY | O.CLOEXEC | O.NOFOLLOW, IN_ROOT, opts.mode ?? 0o755));
          } catch (e) {
            if (!isErrno(e, 'ELOOP')) throw e;
            made = false;
          }
        } else {
          try {
            sys.mkdirat(dirFd, name, opts.mode ?? 0o755);
          } catch (e) {
            if (!isErrno(e, 'EEXIST')) throw e;
            made = false;
          }
        }
        if (!made) {
          // It is there but leads nowhere: a symlink to what does not exist yet.
          const target = sys.readlinkat(dirFd, name);
          if (++links > MAX_LINKS) throw new SysError('mkdir', parts.join('/'), 40, 'ELOOP', 'Too many levels of symbolic links');
          const base = target.startsWith('/') ? [] : parts.slice(0, i);
          parts = [...base, ...components(target), ...parts.slice(i + 1)];
          sys.close(dirFd);
          dirFd = sys.openat2(rootFd, base.join('/') || '.', O.PATH | O.DIRECTORY | O.CLOEXEC, IN_ROOT);
          i = base.length - 1;
          continue;
        }
        next = sys.openat2(rootFd, parts.slice(0, i + 1).join('/'), O.PATH | O.CLOEXEC, IN_ROOT);
      }
      sys.close(dirFd);
      dirFd = next;
    }
    return dirFd;
  } catch (err) {
    sys.close(dirFd);
    throw err;
  }
}
