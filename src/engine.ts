/**
 * The JavaScript engine ocirun runs on: Bun (the default, through
 * bin/ocirun) or Node (OCIRUN_ENGINE=node, or a program that imports the
 * library). What differs between them, and how ocirun deals with it, is
 * here and nowhere else:
 *
 * - Starting a process whose fds must be laid out exactly (the C stage):
 *   Bun's child_process cannot take extra inherited fds as reliably as
 *   Node's, and both reap their children themselves. ocirun spawns with
 *   posix_spawn(3) through koffi (Sys.spawn) and waits with waitpid(2), the
 *   same on both.
 * - Reading an inherited socket: `new net.Socket({ fd })` works in Node and
 *   not in Bun (the read never completes). The sync socket is read with
 *   read(2) after poll(2) on a worker thread (src/process/channel.ts).
 * - The command that starts the container's init: the engine binary and
 *   the init's entry module, or, in the single-file build, the executable
 *   itself with the init's role in the environment.
 * - Loading some built-in modules costs Bun milliseconds: those few are
 *   loaded on first use (builtin()).
 * - Node parses $NODE_EXTRA_CA_CERTS at start-up (~30 ms); ocirun makes no
 *   TLS connection, so the launcher (native/launcher.c) drops it for Node.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runtimeDir } from './container/rootless.js';

export type EngineName = 'bun' | 'node';

export const engineName: EngineName = (process.versions as Record<string, string | undefined>).bun ? 'bun' : 'node';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Set by the single-file build's entry (build/ocirun, scripts/build.mjs):
 * its files are embedded in the executable, not beside it.
 */
export interface EmbeddedAssets {
  /** Paths of the embedded C stage, exec shim and koffi addon (readable by this executable only). */
  stagePath: string;
  shimPath: string;
  koffiPath: string;
  /** The addon's SHA-256 (hex) and size, taken at build time: the name and the size of its kept copy (keptAddon). */
  koffiDigest: string;
  koffiSize: number;
}
let embedded: EmbeddedAssets | undefined;
export function useEmbeddedAssets(assets: EmbeddedAssets): void {
  embedded = assets;
}
export const embeddedAssets = (): EmbeddedAssets | undefined => embedded;

/**
 * A Node built-in, loaded when first needed rather than at the top of a
 * module: under Bun some cost milliseconds to load (node:tty ~2 ms,
 * node:child_process ~0.5 ms), which every command would otherwise pay.
 */
export function builtin<T>(name: 'node:tty' | 'node:child_process'): T {
  return (process as unknown as { getBuiltinModule(id: string): T }).getBuiltinModule(name);
}

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
 * find, open or replace it) on the first of `dirs` that lets it be mapped
 * executable; returns the module and a read-only fd of the file.
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
    fs.writeSync(fd, bytes);
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

/** Whether `st` belongs to this user and no one else may write it (a group or others' write bit, or a set-id bit, refuses it). */
function ownedAlone(st: fs.Stats, euid: number): boolean {
  return st.uid === euid && (st.mode & 0o7022) === 0;
}

/**
 * An fd (read-only) of the kept copy of the embedded addon, made on first
 * use; undefined where it cannot be kept. It lives in `ocirun-engine` of
 * the caller's runtime directory (runtimeDir: /run for the real root,
 * whatever its XDG_RUNTIME_DIR says, for a container may share that;
 * a rootless user's XDG_RUNTIME_DIR), never in a world-writable place: a
 * copy in /dev/shm was rewritten by a container given the host's /dev/shm
 * (--ipc=host), and the next command ran it as root. It is named by the
 * addon's digest and written whole under a temporary name, then renamed;
 * it is taken only while the directory (0700) and the file (0500) are
 * this user's alone, in a parent no other user may write, and its size is
 * the addon's. Loading it is a dlopen; an unnamed copy of 1.1 MB for every
 * command costs ~1.5 ms more.
 */
function keptAddon(assets: EmbeddedAssets): number | undefined {
  const euid = process.geteuid?.() ?? 0;
  const base = runtimeDir();
  if (!path.isAbsolute(base)) return undefined;
  const dir = path.join(base, 'ocirun-engine');
  const file = path.join(dir, `koffi-${assets.koffiDigest.slice(0, 32)}.node`);
  try {
    const parent = fs.statSync(base);
    if (!parent.isDirectory() || (parent.uid !== 0 && parent.uid !== euid) || (parent.mode & 0o022) !== 0) return undefined;
    try {
      fs.mkdirSync(dir, 0o700);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
    }
    const d = fs.lstatSync(dir);
    if (!d.isDirectory() || !ownedAlone(d, euid) || (d.mode & 0o077) !== 0) return undefined;
    // No symlink, and no FIFO to block on: the directory is ours alone, but
    // what a name there holds is checked on the fd.
    const open = () => fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    const usable = (fd: number) => {
      const st = fs.fstatSync(fd);
      return st.isFile() && ownedAlone(st, euid) && st.size === assets.koffiSize;
    };
    let fd: number | undefined;
    try {
      fd = open();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (fd !== undefined && usable(fd)) return fd;
    if (fd !== undefined) fs.closeSync(fd);
    // Missing, or not whole (a copy cut short): written again, in our directory.
    writeKept(file, fs.readFileSync(assets.koffiPath));
    fd = open();
    if (usable(fd)) return fd;
    fs.closeSync(fd);
  } catch {
    /* an unnamed copy instead */
  }
  return undefined;
}

/** `bytes` at `file`, whole or not at all: a temporary name of this process's, then a rename. */
function writeKept(file: string, bytes: Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o500);
  try {
    // writeFileSync on an fd writes until done (writeSync may stop short on a full filesystem).
    fs.writeFileSync(fd, bytes);
    fs.fsyncSync(fd);
    if (fs.fstatSync(fd).size !== bytes.length) throw new Error(`${tmp}: short write`);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * koffi: the package, or in the single file the embedded addon (the same
 * API; koffi's JS wrapper only adds deprecation shims). Bun would extract
 * an embedded addon to a file of a guessable name in /tmp (and cannot in
 * the init, whose root is read-only); instead it is loaded from our kept
 * copy (keptAddon), or, where none can be kept, from an unnamed copy
 * (O_TMPFILE), which no other process can name or open. The init gets a
 * sealed memfd of it, made by the C stage from the parent's fd
 * (koffiFdForInit), and closes it once loaded.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function loadKoffi(): any {
  if (koffiModule) return koffiModule;
  if (!embedded) return (koffiModule = createRequire(import.meta.url)('koffi'));
  const inherited = process.env[KOFFI_FD_ENV];
  if (inherited) {
    const fd = Number(inherited);
    koffiModule = dlopenFd(fd);
    fs.closeSync(fd);
    if (!koffiModule) throw new Error(`cannot load koffi's addon from fd ${fd}: permission denied`);
    return koffiModule;
  }
  const kept = keptAddon(embedded);
  if (kept !== undefined) {
    koffiModule = dlopenFd(kept);
    if (koffiModule) {
      koffiFd = kept;
      return koffiModule;
    }
    fs.closeSync(kept);
  }
  const dirs = [...new Set(['/dev/shm', os.tmpdir(), process.env.XDG_RUNTIME_DIR ?? '/run', '/run', '/var/tmp'])];
  const loaded = loadFromUnnamedCopy(fs.readFileSync(embedded.koffiPath), dirs);
  koffiFd = loaded.fd;
  return (koffiModule = loaded.mod);
}

/**
 * The fd of koffi's addon for the init to inherit (single file only): this
 * process's read-only fd of its copy, which the C stage replaces with a sealed
 * memfd before the init exists (its "seal" instruction), so that nothing
 * can change what the init loads.
 */
export function koffiFdForInit(): number | undefined {
  if (!embedded) return undefined;
  loadKoffi();
  return koffiFd;
}

// dist/engine.js, or dist/bundle/ocirun.js when bundled.
/** The package's root directory. */
export const projectRoot = path.resolve(here, path.basename(here) === 'bundle' ? '../..' : '..');
/** The launcher (native/launcher.c): starts an engine on the CLI's or the init's bundle. */
export const LAUNCHER = path.join(projectRoot, 'bin', 'ocirun');
/** The C stage and the exec shim, built from native/ (npm run build), or embedded. */
export const stageBinary = (): string => embedded?.stagePath ?? path.join(projectRoot, 'build', 'ocirun-stage');
export const execShim = (): string => embedded?.shimPath ?? path.join(projectRoot, 'build', 'ocirun-exec-shim');

const INIT_JSC_OPTIONS: Record<string, string> = { BUN_JSC_useConcurrentGC: '0', BUN_JSC_numberOfGCMarkers: '1', BUN_JSC_useConcurrentJIT: '0' };

/** Environment variable that tells the single-file build to run as the init. */
export const INIT_ROLE_ENV = '_OCIRUN_ROLE';

/**
 * argv of the init, on this engine; its environment gets `env`. The single
 * file runs as the init, and Node runs the init's bundle: both are the
 * engine's own dynamically linked executable, which the stage runs through
 * an unreadable copy of its ELF interpreter (native/stage.c,
 * unreadable_interpreter). Bun on the bundles goes through the launcher.
 */
export function initCommand(): { argv: string[]; env: Record<string, string> } {
  if (embedded) return { argv: [process.execPath], env: { [INIT_ROLE_ENV]: 'init', ...INIT_JSC_OPTIONS } };
  if (engineName === 'node') return { argv: [process.execPath, path.join(projectRoot, 'dist', 'bundle', 'init-main.js')], env: { [INIT_ROLE_ENV]: 'init' } };
  return { argv: [LAUNCHER], env: { [INIT_ROLE_ENV]: 'init', OCIRUN_ENGINE: engineName, ...INIT_JSC_OPTIONS } };
}

/**
 * A full garbage collection, now. The init calls it just before the parent
 * moves it into the container's cgroups: a collection after that would
 * charge its memory to a container that may have only a few MB, and start
 * helper threads under a pids.max that may be full (Bun aborts when it
 * cannot start a thread). Node collects only when asked to, with
 * --expose-gc; its init has no such flag, and allocates little after this.
 */
export function collectGarbage(): void {
  (globalThis as { Bun?: { gc(sync: boolean): void } }).Bun?.gc(true);
}

/**
 * The signals the program starts with ignored: as under runc, all at their
 * default except SIGQUIT and signal 34 when the caller had them ignored
 * (runc's Go runtime handles every other signal itself, so a caller's
 * SIG_IGN, nohup's SIGHUP among them, does not reach the container; those
 * two it leaves alone). Both engines ignore SIGPIPE themselves, so the
 * launcher records the caller's set before the engine starts
 * ($_OCIRUN_SIGIGN, hex); without it (the library API), none.
 */
const INHERITED_IGNORES = (1n << 2n) | (1n << 33n); // SIGQUIT, 34 (SIGRTMIN in glibc's numbering)
export function callerIgnoredSignals(): string {
  const v = process.env._OCIRUN_SIGIGN ?? '';
  const caller = /^[0-9a-f]{1,16}$/.test(v) ? BigInt(`0x${v}`) : 0n;
  return (caller & INHERITED_IGNORES).toString(16);
}
