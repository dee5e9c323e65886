/**
 * Kept copies of the single file's embedded native files: koffi's addon,
 * which every command dlopens (src/sys/koffi.ts), and the C stage, which
 * create and exec copy into a sealed memfd to run (src/process/spawn.ts).
 * Either is a file of the executable's own that the engine can only read
 * into memory; a kept copy lets the kernel map it, or copy it, from the
 * page cache instead (the stage: about 0.5 ms less per create and exec than
 * reading its 0.9 MB out of the executable).
 */
import fs from 'node:fs';
import path from 'node:path';
import { trustedOwner } from './caller-path.js';
import { runtimeDir } from './container/rootless.js';

/**
 * An fd (read-only) of the kept copy of the embedded file at `embedded`,
 * made on first use; undefined where it cannot be kept. It lives in
 * `ocirun-engine` of the caller's runtime directory (runtimeDir: /run for
 * the real root, whatever its XDG_RUNTIME_DIR says, for a container may
 * share that; a rootless user's XDG_RUNTIME_DIR), never in a
 * world-writable place: a named copy in /dev/shm was rewritten by a
 * container given the host's /dev/shm (--ipc=host), and the next command
 * ran it as root. It is named by the file's digest, written whole under a
 * temporary name, then renamed; it is taken only while its directory is
 * the caller's alone (0700) in a parent of the caller's or root's that no
 * one else may write, and the file is the caller's, 0500, of the file's
 * size. Anything else there (a copy cut short, another mode) is written
 * again.
 */
export function keptCopy(name: string, embedded: string, digest: string, size: number, suffix = ''): number | undefined {
  const euid = process.geteuid!();
  const base = runtimeDir();
  if (!path.isAbsolute(base)) return undefined;
  const dir = path.join(base, 'ocirun-engine');
  const file = path.join(dir, `${name}-${digest.slice(0, 32)}${suffix}`);
  try {
    const parent = fs.statSync(base);
    if (!parent.isDirectory() || !trustedOwner(parent.uid) || (parent.mode & 0o022) !== 0) return undefined;
    // Looked at before it is made: the EEXIST of every command but the first cost an exception.
    let d = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (!d) {
      try {
        fs.mkdirSync(dir, 0o700);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
      }
      d = fs.lstatSync(dir);
    }
    if (!d.isDirectory() || d.uid !== euid || (d.mode & 0o7077) !== 0) return undefined;
    // No symlink, and no FIFO to block on: what the name holds is checked on the fd.
    const open = () => fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    const usable = (fd: number) => {
      const st = fs.fstatSync(fd);
      return st.isFile() && st.uid === euid && (st.mode & 0o7777) === 0o500 && st.size === size;
    };
    let fd: number | undefined;
    try {
      fd = open();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (fd !== undefined && usable(fd)) return fd;
    if (fd !== undefined) fs.closeSync(fd);
    writeKept(file, fs.readFileSync(embedded));
    fd = open();
    if (usable(fd)) return fd;
    fs.closeSync(fd);
  } catch {
    /* the caller does without */
  }
  return undefined;
}

/** `bytes` at `file` (in a directory of ours alone), whole or not at all: a temporary name of this process's, then a rename. */
function writeKept(file: string, bytes: Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o500);
  try {
    // On an fd, writeFileSync writes until done or fails (a full filesystem):
    // a copy cut short is never renamed into place.
    fs.writeFileSync(fd, bytes);
    fs.fsyncSync(fd);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  } finally {
    fs.closeSync(fd);
  }
}
