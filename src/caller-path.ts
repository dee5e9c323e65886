/**
 * Paths the caller names for ocirun to write: --pid-file, --log, --root,
 * checkpoint's image and work paths, the console socket. ocirun runs as
 * root, and a directory on such a path may belong to someone else (a
 * user's directory, /tmp): whoever can write there could plant a symlink
 * that steers root's write to a file of their choice. So a path is walked
 * one component at a time, each opened with O_NOFOLLOW, and a symlink is
 * followed only if the caller or root owns it (the kernel's
 * protected_symlinks, extended to every directory); what is then done
 * goes through the directory's fd, so the walk cannot be raced. Files are
 * never truncated: a new one is made with O_EXCL, an existing one is
 * appended to. runc follows every symlink on these paths; it makes its pid
 * file with O_EXCL too.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RuntimeError } from './errors.js';
import { O } from './sys/constants.js';
import type { Sys } from './sys/types.js';

const MAX_SYMLINKS = 40;

/** A directory held open (O_PATH) and a name in it, as the walk left them. */
export interface ParentDir {
  fd: number;
  name: string;
  close(): void;
}

/** `name` in the directory behind `fd`, as a path the kernel resolves through that fd. */
export const atFd = (fd: number, name = ''): string => `/proc/self/fd/${fd}${name ? '/' + name : ''}`;

/** Whether a file's owner is one ocirun may take it from: the caller, or root. */
export const trustedOwner = (uid: number): boolean => uid === 0 || uid === process.geteuid!();

function errnoOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'EIO';
}

/** An fs error's own words, without the /proc/self/fd path it was made through. */
function reason(err: unknown): string {
  const message = (err as Error).message ?? String(err);
  return /^[A-Z]+: (.*?), \w+ '.*'$/.exec(message)?.[1] ?? message;
}

function refuse(step: string, file: string, why: string, errno: string): RuntimeError {
  return new RuntimeError(step, `${file}: ${why} (${errno})`);
}

/**
 * The target of the symlink `name` in `dir`, once its owner is trusted.
 * The link is read by name, then checked to be the inode that was opened:
 * a link swapped in between is refused.
 */
function trustedTarget(step: string, file: string, dir: number, name: string, opened: fs.Stats): string {
  if (!trustedOwner(opened.uid)) {
    throw refuse(step, file, `refusing to follow the symlink ${name}, owned by uid ${opened.uid} (neither the caller nor root)`, 'ELOOP');
  }
  const target = fs.readlinkSync(atFd(dir, name));
  const now = fs.lstatSync(atFd(dir, name));
  if (now.ino !== opened.ino || now.dev !== opened.dev) throw refuse(step, file, `the symlink ${name} changed while it was read`, 'EAGAIN');
  return target;
}

/**
 * Walks `file` to the directory that holds its last component. With
 * `followLast`, a trusted symlink in last place is followed too, so that
 * the name returned is not a symlink (as it stood when walked). With
 * `mkdirMode`, missing directories are made (as mkdir -p), the last one
 * included, and the name returned is '.'.
 */
export function walkCallerPath(step: string, file: string, opts: { followLast?: boolean; mkdirMode?: number } = {}): ParentDir {
  const todo = path.resolve(file).split('/').filter((c) => c !== '');
  if (todo.length === 0 && opts.mkdirMode === undefined) throw refuse(step, file, 'names a directory, not a file', 'EISDIR');
  const openDir = (p: string) => fs.openSync(p, O.PATH | O.DIRECTORY | O.CLOEXEC);
  let dir = openDir('/');
  let links = 0;
  let made = 0;
  try {
    while (todo.length > (opts.mkdirMode !== undefined ? 0 : 1) || (opts.followLast && todo.length === 1)) {
      const name = todo.shift()!;
      if (name === '.') continue;
      const last = todo.length === 0;
      let next: number;
      try {
        next = fs.openSync(atFd(dir, name), O.PATH | O.NOFOLLOW | O.CLOEXEC);
      } catch (err) {
        // Bounded: a directory removed as fast as it is made is given up on.
        if (errnoOf(err) === 'ENOENT' && opts.mkdirMode !== undefined && name !== '..' && ++made <= 64) {
          makeDir(step, file, dir, name, opts.mkdirMode);
          todo.unshift(name);
          continue;
        }
        if (errnoOf(err) === 'ENOENT' && last && opts.followLast) {
          todo.unshift(name);
          break;
        }
        throw refuse(step, file, `${name}: ${reason(err)}`, errnoOf(err));
      }
      const st = fs.fstatSync(next);
      if (st.isSymbolicLink()) {
        fs.closeSync(next);
        if (++links > MAX_SYMLINKS) throw refuse(step, file, 'too many levels of symbolic links', 'ELOOP');
        const target = trustedTarget(step, file, dir, name, st);
        todo.unshift(...target.split('/').filter((c) => c !== ''));
        if (target.startsWith('/')) {
          fs.closeSync(dir);
          dir = openDir('/');
        }
        continue;
      }
      if (last && opts.mkdirMode === undefined) {
        // followLast: the name is not a symlink; the caller opens it with O_NOFOLLOW.
        fs.closeSync(next);
        todo.unshift(name);
        break;
      }
      if (!st.isDirectory()) {
        fs.closeSync(next);
        throw refuse(step, file, `${name} is not a directory`, 'ENOTDIR');
      }
      fs.closeSync(dir);
      dir = next;
    }
  } catch (err) {
    fs.closeSync(dir);
    throw err;
  }
  const fd = dir;
  return { fd, name: todo[0] ?? '.', close: () => fs.closeSync(fd) };
}

function makeDir(step: string, file: string, dir: number, name: string, mode: number): void {
  try {
    fs.mkdirSync(atFd(dir, name), { mode });
  } catch (err) {
    if (errnoOf(err) !== 'EEXIST') throw refuse(step, file, `mkdir ${name}: ${reason(err)}`, errnoOf(err));
  }
}

/** Makes `dir` and its missing parents (mode `mode`), as mkdir -p, following only trusted symlinks; returns an O_PATH fd of it. */
export function makeCallerDirs(step: string, dir: string, mode: number): number {
  return walkCallerPath(step, dir, { mkdirMode: mode }).fd;
}

/** Opens `file` to append to (made if missing, never truncated), following only trusted symlinks. */
export function openCallerFileForAppend(step: string, file: string): number {
  const parent = walkCallerPath(step, file, { followLast: true });
  try {
    // Another user's FIFO would block the command in open(2) until they
    // read: opened without blocking, then what was opened is checked (a
    // check of the path before the open could be raced by a rename).
    const fd = fs.openSync(atFd(parent.fd, parent.name), O.WRONLY | fs.constants.O_APPEND | O.CREAT | O.NOFOLLOW | O.CLOEXEC | O.NONBLOCK, 0o644);
    const st = fs.fstatSync(fd);
    if (!st.isFile() && !trustedOwner(st.uid)) {
      fs.closeSync(fd);
      throw refuse(step, file, `refusing a file that is not a regular one, owned by uid ${st.uid} (neither the caller nor root)`, 'EPERM');
    }
    // O_NONBLOCK stays: it changes nothing for a regular file.
    return fd;
  } catch (err) {
    if (err instanceof RuntimeError) throw err;
    throw refuse(step, file, reason(err), errnoOf(err));
  } finally {
    parent.close();
  }
}

/**
 * Writes a new file atomically: a temporary file beside it made with
 * O_EXCL (runc's ".<name>", which fails if anything is there, symlink or
 * not), then renamed over `file`. A rename replaces a symlink at `file`
 * itself rather than the file it points to.
 */
export function replaceCallerFile(step: string, file: string, content: string, mode: number): void {
  const parent = walkCallerPath(step, file);
  const tmp = `.${parent.name}`;
  try {
    let fd: number;
    try {
      fd = fs.openSync(atFd(parent.fd, tmp), O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW | O.CLOEXEC | fs.constants.O_SYNC, mode);
    } catch (err) {
      throw refuse(step, path.join(path.dirname(path.resolve(file)), tmp), reason(err), errnoOf(err));
    }
    try {
      try {
        fs.writeSync(fd, content);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(atFd(parent.fd, tmp), atFd(parent.fd, parent.name));
    } catch (err) {
      fs.rmSync(atFd(parent.fd, tmp), { force: true });
      throw refuse(step, file, reason(err), errnoOf(err));
    }
  } finally {
    parent.close();
  }
}

/**
 * Connects to the unix socket at `file` (the console socket), following
 * only trusted symlinks, and only to a socket the caller or root made:
 * another user's socket, planted there or behind a link, would receive
 * the container's terminal. The socket file's owner is checked before
 * connecting, and the listener's credentials (SO_PEERCRED) after, which
 * a socket swapped in between cannot pass.
 */
export function connectCallerSocket(sys: Pick<Sys, 'connectUnix' | 'peerUid' | 'close'>, step: string, file: string): number {
  const parent = walkCallerPath(step, file, { followLast: true });
  try {
    const at = atFd(parent.fd, parent.name);
    // sun_path holds 108 bytes with its NUL.
    if (Buffer.byteLength(at) > 107) throw refuse(step, file, `the socket's name ${parent.name} is too long`, 'ENAMETOOLONG');
    let owner: number;
    try {
      owner = fs.lstatSync(at).uid;
    } catch (err) {
      throw refuse(step, file, reason(err), errnoOf(err));
    }
    if (!trustedOwner(owner)) throw refuse(step, file, `refusing a socket owned by uid ${owner} (neither the caller nor root)`, 'EPERM');
    let sock: number;
    try {
      sock = sys.connectUnix(at);
    } catch (err) {
      throw refuse(step, file, reason(err), errnoOf(err));
    }
    // Who listens, whatever the file said a moment ago: nothing is sent before this.
    const peer = sys.peerUid(sock);
    if (!trustedOwner(peer)) {
      sys.close(sock);
      throw refuse(step, file, `refusing a socket another user listens on (uid ${peer})`, 'EPERM');
    }
    return sock;
  } finally {
    parent.close();
  }
}

/** Makes a new file (O_EXCL: nothing there, not even a dangling symlink) holding `content`; false if something is there. */
export function createCallerFile(step: string, file: string, content: string, mode: number): boolean {
  const parent = walkCallerPath(step, file);
  try {
    let fd: number;
    try {
      fd = fs.openSync(atFd(parent.fd, parent.name), O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW | O.CLOEXEC, mode);
    } catch (err) {
      if (errnoOf(err) === 'EEXIST') return false;
      throw refuse(step, file, reason(err), errnoOf(err));
    }
    try {
      fs.writeSync(fd, content);
    } finally {
      fs.closeSync(fd);
    }
    return true;
  } finally {
    parent.close();
  }
}
