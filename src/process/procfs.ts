/**
 * The init's own handle on procfs (runc's procfs handle, CVE-2025-52881).
 * After the root switch, /proc is the container's: a volume shared with
 * another container could put a mount over /proc/sys/... or
 * /proc/self/attr/... there, and a write meant for a sysctl or an LSM label
 * would land in another /proc file. So the init opens its procfs once,
 * before the root changes, where nothing of the container's can mount: as
 * runc, a new procfs instance that is attached nowhere (fsopen, fsmount);
 * where the kernel refuses one (a user namespace whose mount namespace
 * masks parts of /proc, as an exec's does), the detached copy of the
 * host's /proc mount the stage made (native/stage.c); failing both (a
 * rootless exec), /proc of the host's mounts the engine started in, which
 * is read-only. Paths under the handle are resolved without
 * crossing a mount (RESOLVE_NO_XDEV), without magic links and without
 * leaving it, and only the files ocirun means to write are written.
 */
import fs from 'node:fs';
import { RuntimeError } from '../errors.js';
import { FS_MAGIC, MOUNT_ATTR, O, RESOLVE } from '../sys/constants.js';
import { withFd } from '../rootfs/resolve.js';
import { SysError, type Sys } from '../sys/types.js';

const WITHIN = RESOLVE.NO_XDEV | RESOLVE.NO_MAGICLINKS | RESOLVE.BENEATH;

/** What the init writes through its handle: sysctls and the calling thread's LSM exec labels. */
const WRITABLE = /^(sys\/[a-z0-9_][a-z0-9_./-]*|thread-self\/attr\/(apparmor\/)?exec)$/;

/** The init's procfs, as above; `stageCopy` is the stage's copy of /proc, if it made one. Checked to be procfs. */
export function openProcHandle(sys: Sys, stageCopy: number | undefined): number {
  let fd: number;
  try {
    fd = withFd(sys, sys.fsopen('proc'), (ctx) => sys.fsmount(ctx, MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC));
    if (stageCopy !== undefined) sys.close(stageCopy);
  } catch (err) {
    if (!(err instanceof SysError && (err.code === 'EPERM' || err.code === 'EACCES'))) throw err;
    fd = stageCopy ?? sys.open('/proc', O.PATH | O.DIRECTORY | O.CLOEXEC);
  }
  if (sys.fstatfs(fd).type !== FS_MAGIC.PROC) {
    sys.close(fd);
    throw new RuntimeError('open procfs', '/proc is not procfs');
  }
  return fd;
}

/**
 * The handle for what is left once the sysctls and LSM labels are written
 * (the exec fifo's reopen, through thread-self): a procfs of the pid
 * entries alone (subset=pid), as runc's, in place of `full`. A process of
 * the container that reaches the waiting init's fds (one with
 * CAP_SYS_PTRACE that shares its pid namespace) must find no /proc/sys
 * there: kernel.core_pattern is the host's. Where the kernel has no
 * subset=pid (before 5.8) or refuses a new procfs, `full` stays.
 */
export function pidsOnlyProcHandle(sys: Sys, full: number): number {
  let fd: number;
  try {
    fd = withFd(sys, sys.fsopen('proc'), (ctx) => {
      sys.fsconfig(ctx, 'subset', 'pid');
      return sys.fsmount(ctx, MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC);
    });
  } catch (err) {
    if (err instanceof SysError && ['EPERM', 'EACCES', 'EINVAL'].includes(err.code)) return full;
    throw err;
  }
  sys.close(full);
  return fd;
}

/** Writes `value` to /proc/`rel` through the handle; `rel` must be one of the files above. */
export function writeProcFile(sys: Sys, procFd: number, rel: string, value: string): void {
  if (!WRITABLE.test(rel) || rel.split('/').includes('..')) throw new RuntimeError('write /proc', `refusing to write ${rel}: not a file ocirun writes`);
  const fd = sys.openat2(procFd, rel, O.WRONLY | O.CLOEXEC, WITHIN);
  try {
    if (sys.fstatfs(fd).type !== FS_MAGIC.PROC) throw new RuntimeError('write /proc', `${rel} is not on procfs`);
    sys.write(fd, Buffer.from(value));
  } finally {
    sys.close(fd);
  }
}

/** Whether /proc/`rel` exists, under the handle. */
export function procFileExists(sys: Sys, procFd: number, rel: string): boolean {
  try {
    sys.close(sys.openat2(procFd, rel, O.PATH | O.CLOEXEC, WITHIN));
    return true;
  } catch (err) {
    if (err instanceof SysError && err.code === 'ENOENT') return false;
    throw err;
  }
}

/** Opens what the calling thread's `fd` is, anew with `flags` (the exec fifo: O_PATH, then O_WRONLY). */
export function reopenFd(sys: Sys, procFd: number, fd: number, flags: number): number {
  // One open, so one fd however low RLIMIT_NOFILE is by now; no RESOLVE_
  // flags, since the last step is a magic link to another mount, and the
  // handle is one nothing else can mount on. openat, not openat2: without
  // no_new_privs the container's seccomp filter is loaded already, and a
  // profile may allow openat alone (runc opens the fifo with openat too).
  return sys.openat(procFd, `thread-self/fd/${fd}`, flags | O.CLOEXEC);
}
