/**
 * koffi, the one way ocirun reaches libc: the npm package, or in the single
 * file (build/ocirun) the addon embedded in it. A native addon must be a
 * file to be loaded, and Bun would extract an embedded one to a file of a
 * guessable name in /tmp (and cannot in the init, whose root is
 * read-only); so the single file loads a copy of its own making:
 *
 * - a kept copy (src/kept-copy.ts): one per caller, kept between commands,
 *   in a directory of the caller's alone (a dlopen; about 1.5 ms less per
 *   command than copying 1.1 MB each time);
 * - an unnamed copy (O_TMPFILE), made by every command, where none can be
 *   kept (a noexec /run);
 * - in the init: a sealed memfd the C stage made from the parent's fd
 *   before any join (koffiFdForInit, the stage's "seal"), closed once
 *   loaded.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { runtimeDir } from '../container/rootless.js';
import { builtin, embeddedAssets } from '../engine.js';
import { keepOwnFd } from '../own-fds.js';
import { keptCopy } from '../kept-copy.js';

/** Environment variable that gives the init the parent's copy of the embedded koffi addon (an fd). */
export const KOFFI_FD_ENV = '_OCIRUN_KOFFI_FD';
const O_TMPFILE = 0o20200000;

/**
 * Loads a native addon from `fd` (dlopen through /proc/self/fd, so the
 * file need not have a name); undefined when the kernel refuses to map it
 * executable (a noexec mount: EPERM, or glibc's "failed to map segment").
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function dlopenFd(fd: number): any {
  const mod = { exports: {} };
  try {
    process.dlopen(mod, `/proc/self/fd/${fd}`);
  } catch (err) {
    if (/Permission denied|Operation not permitted|failed to map segment/.test((err as Error).message)) return undefined;
    throw err;
  }
  return mod.exports;
}

/**
 * The embedded addon in an unnamed file (O_TMPFILE: no other process can
 * find, open or replace it, so a world-writable directory will do) on the
 * first of `dirs` that lets it be mapped executable; returns the module
 * and a read-only fd of the file.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function loadFromUnnamedCopy(bytes: Uint8Array, dirs: string[]): { mod: any; fd: number } {
  const problems: string[] = [];
  for (const dir of dirs) {
    let fd: number;
    try {
      fd = fs.openSync(dir, O_TMPFILE | fs.constants.O_RDWR, 0o555);
    } catch (err) {
      problems.push(`${dir}: ${(err as NodeJS.ErrnoException).code}`);
      continue;
    }
    // Until done, as writeKept's: a copy cut short would fail its dlopen as a corrupt file.
    fs.writeFileSync(fd, bytes);
    const ro = fs.openSync(`/proc/self/fd/${fd}`, fs.constants.O_RDONLY);
    fs.closeSync(fd);
    const mod = dlopenFd(ro);
    if (mod) return { mod, fd: ro };
    problems.push(`${dir}: mounted noexec`);
    fs.closeSync(ro);
  }
  throw new Error(`cannot load koffi's addon from an unnamed file (${problems.join('; ')})`);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
let koffiModule: any;
let koffiFd: number | undefined;

/** koffi: the package, or the single file's embedded addon (the same API; koffi's JS wrapper only adds deprecation shims). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function loadKoffi(): any {
  if (koffiModule) return koffiModule;
  const embedded = embeddedAssets();
  if (!embedded) return (koffiModule = createRequire(import.meta.url)('koffi'));
  const inherited = process.env[KOFFI_FD_ENV];
  if (inherited) {
    const fd = Number(inherited);
    koffiModule = dlopenFd(fd);
    fs.closeSync(fd);
    if (!koffiModule) throw new Error(`cannot load koffi's addon from fd ${fd}: permission denied`);
    return koffiModule;
  }
  const kept = keptCopy('koffi', embedded.koffiPath, embedded.koffiDigest, embedded.koffiSize, '.node');
  if (kept !== undefined) {
    koffiModule = dlopenFd(kept);
    if (koffiModule) {
      keepOwnFd((koffiFd = kept));
      return koffiModule;
    }
    fs.closeSync(kept);
  }
  const dirs = [...new Set(['/dev/shm', builtin<typeof import('node:os')>('node:os').tmpdir(), runtimeDir(), '/run', '/var/tmp'])];
  const loaded = loadFromUnnamedCopy(fs.readFileSync(embedded.koffiPath), dirs);
  keepOwnFd((koffiFd = loaded.fd));
  return (koffiModule = loaded.mod);
}

/**
 * The fd of koffi's addon for the init to inherit (single file only): this
 * process's read-only fd of its copy, which the C stage replaces with a
 * sealed memfd before the init exists (its "seal" instruction), so that
 * nothing can change what the init loads.
 */
export function koffiFdForInit(): number | undefined {
  if (!embeddedAssets()) return undefined;
  loadKoffi();
  return koffiFd;
}
