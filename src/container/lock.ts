/**
 * Serializing commands on one container: an exclusive flock on its state
 * directory, held while a command reads and acts on the container's state.
 * Commands on other ids never wait; `state` and `list` read atomically
 * written files and need no lock.
 */
import fs from 'node:fs';
import { ERR, RuntimeError } from '../errors.js';
import { ERRNO, LOCK } from '../sys/constants.js';
import type { Sys, SysError } from '../sys/types.js';
import type { Context } from './context.js';
import { atFd, makeCallerDirs, trustedOwner } from '../caller-path.js';
import { readState, stateDir, type SavedState } from './state.js';

export function lockDir(sys: Sys, dir: string): () => void {
  return tryLockDir(sys, dir, true)!;
}

/**
 * The lock of `dir`; with `wait` false, undefined at once while another
 * command holds it (LOCK_NB).
 */
function tryLockDir(sys: Sys, dir: string, wait: boolean): (() => void) | undefined {
  let fd: number;
  try {
    // Never through a symlink (see readState).
    fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    if (['ENOENT', 'ELOOP', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) throw new RuntimeError('', ERR.notExist);
    throw new RuntimeError('lock state', `${dir}: ${(err as Error).message}`, { cause: err });
  }
  try {
    sys.flock(fd, wait ? LOCK.EX : LOCK.EX | LOCK.NB);
  } catch (err) {
    fs.closeSync(fd);
    // EWOULDBLOCK (EAGAIN): held by another command.
    if (!wait && (err as SysError).errno === ERRNO.EWOULDBLOCK) return undefined;
    throw new RuntimeError('lock state', `${dir}: ${(err as Error).message}`, { cause: err });
  }
  // The lock is on the directory opened before the wait: whoever held it may
  // have deleted the container, and a create may have reused its id since.
  // Acting then on what the path now names would be acting on the new
  // container without its lock: the one locked is gone (runc: "does not exist").
  if (!stillAt(fd, dir)) {
    fs.closeSync(fd);
    throw new RuntimeError('', ERR.notExist);
  }
  return () => {
    try {
      fs.closeSync(fd);
    } catch {
      /* already closed */
    }
  };
}

/** Whether `dir` (not followed if a symlink) is still the directory open at `fd`. */
function stillAt(fd: number, dir: string): boolean {
  try {
    const held = fs.fstatSync(fd);
    const now = fs.lstatSync(dir);
    return now.isDirectory() && now.dev === held.dev && now.ino === held.ino;
  } catch {
    return false;
  }
}

/**
 * Whether some process holds the flock of `dir` now. Read from /proc/locks
 * (device as hex major:minor, then the inode), so that the read-only
 * commands need no syscall layer; a waiter's line ("->") is no holder.
 */
export function lockHeld(dir: string): boolean {
  let st: fs.BigIntStats;
  try {
    st = fs.lstatSync(dir, { bigint: true });
  } catch {
    return false;
  }
  // glibc's dev_t encoding (gnu_dev_major / gnu_dev_minor).
  const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn);
  const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn);
  const key = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${st.ino}`;
  let locks: string;
  try {
    locks = fs.readFileSync('/proc/locks', 'utf8');
  } catch {
    return false;
  }
  return locks.split('\n').some((l) => /^\d+: FLOCK /.test(l) && l.split(/\s+/)[5] === key);
}

/**
 * Runs `fn` on the container's state with its lock held. The state is read
 * under the lock: whoever held it before may have changed or deleted it.
 */
export async function withContainer<T>(sys: Sys, ctx: Context, id: string, fn: (s: SavedState) => T | Promise<T>): Promise<T> {
  readState(ctx.root, id);
  const unlock = lockDir(sys, stateDir(ctx.root, id));
  try {
    return await fn(readState(ctx.root, id));
  } finally {
    unlock();
  }
}

/**
 * withContainer for the commands that must not wait behind a create (kill,
 * delete). A create holds the lock through its hooks: a createContainer hook
 * runs a binary of the image in the container, a createRuntime hook anything
 * for as long as it likes. While a create holds it and the state says
 * "creating", `whileCreating` runs instead, without the lock, on the state as
 * create last wrote it: runc writes its state only once the container is
 * created, so to runc's kill and delete the container does not exist yet.
 * With `needsInit`, until create has recorded its init's pid (its own
 * steps, nothing of the container's yet) this polls; a lock held for
 * anything else (an exec, a start, a create past "creating") is waited for.
 */
export async function withContainerUnlessCreating<T>(
  sys: Sys,
  ctx: Context,
  id: string,
  fn: (s: SavedState) => T | Promise<T>,
  whileCreating: (s: SavedState) => T | Promise<T>,
  needsInit = false,
): Promise<T> {
  const dir = stateDir(ctx.root, id);
  for (;;) {
    const s = readState(ctx.root, id);
    const unlock = s.phase === 'creating' ? tryLockDir(sys, dir, false) : lockDir(sys, dir);
    if (unlock) {
      try {
        return await fn(readState(ctx.root, id));
      } finally {
        unlock();
      }
    }
    // Read again: the create may have written its pid, or "created", since.
    const now = readState(ctx.root, id);
    if (now.phase === 'creating' && (now.pid > 0 || !needsInit)) return whileCreating(now);
    if (now.phase === 'creating') await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * An id in use is refused before the new container's cgroups are looked
 * at, as runc's Create stats the state directory before its cgroup checks:
 * the container that holds the id may well hold the cgroup too, and the
 * caller is to hear "already exists", not "cgroup is not empty".
 * claimStateDir still decides atomically.
 */
export function refuseIdInUse(root: string, id: string): void {
  // Any other error (no --root yet, no access) is claimStateDir's to report.
  if (fs.existsSync(stateDir(root, id))) throw new RuntimeError('', ERR.exist);
}

/**
 * Makes a new container's state directory and takes its lock: what create
 * and restore do first. An id in use is runc's "already exists"; a lock
 * that cannot be taken leaves no directory behind.
 */
export function claimStateDir(sys: Sys, root: string, id: string): () => void {
  const rootFd = makeCallerDirs('create root', root, 0o700);
  const dir = stateDir(root, id);
  try {
    // A --root that another user owns, or that anyone may write into (even
    // with the sticky bit), could hold state of their making: a pid to
    // signal, paths to remove (runc does not check).
    const st = fs.fstatSync(rootFd);
    if (!trustedOwner(st.uid)) throw new RuntimeError('create root', `${root}: owned by uid ${st.uid}, neither the caller nor root (EPERM)`);
    if (st.mode & 0o002) throw new RuntimeError('create root', `${root}: writable by any user (mode ${(st.mode & 0o7777).toString(8)}) (EPERM)`);
    fs.mkdirSync(atFd(rootFd, id), { mode: 0o711 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new RuntimeError('', ERR.exist);
    if (err instanceof RuntimeError) throw err;
    throw new RuntimeError('create state dir', `${dir}: ${(err as Error).message.replace(/, mkdir .*/, '')}`);
  } finally {
    fs.closeSync(rootFd);
  }
  try {
    return lockDir(sys, dir);
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
