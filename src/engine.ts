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
 * - Loading a native addon embedded in the single file: src/sys/koffi.ts.
 * - Node parses $NODE_EXTRA_CA_CERTS at start-up (~30 ms); ocirun makes no
 *   TLS connection, so the launcher (native/launcher.c) drops it for Node.
 */
import path from 'node:path';

export type EngineName = 'bun' | 'node';

export const engineName: EngineName = (process.versions as Record<string, string | undefined>).bun ? 'bun' : 'node';

// import.meta.dirname (Bun; Node from 20.11): node:url cost Bun about 0.3 ms to load at every start.
const here = import.meta.dirname ?? path.dirname(decodeURIComponent(new URL(import.meta.url).pathname));

/**
 * Set by the single-file build's entry (build/ocirun, scripts/build.mjs):
 * its files are embedded in the executable, not beside it.
 */
export interface EmbeddedAssets {
  /** Paths of the embedded C stage, exec shim and koffi addon (readable by this executable only). */
  stagePath: string;
  shimPath: string;
  koffiPath: string;
  /** The addon's and the stage's SHA-256 (hex) and size, taken at build time: the names and the sizes of their kept copies (src/kept-copy.ts). */
  koffiDigest: string;
  koffiSize: number;
  stageDigest: string;
  stageSize: number;
}
let embedded: EmbeddedAssets | undefined;
export function useEmbeddedAssets(assets: EmbeddedAssets): void {
  embedded = assets;
}
export const embeddedAssets = (): EmbeddedAssets | undefined => embedded;

/**
 * A Node built-in, loaded when first needed rather than at the top of a
 * module: under Bun some cost milliseconds to load (node:tty ~2 ms,
 * node:child_process and node:os ~0.5 ms each), which every command, and
 * the init, would otherwise pay.
 */
export function builtin<T>(name: 'node:tty' | 'node:child_process' | 'node:os'): T {
  return (process as unknown as { getBuiltinModule(id: string): T }).getBuiltinModule(name);
}

// dist/engine.js, or dist/bundle/ocirun.js when bundled.
/** The package's root directory. */
export const projectRoot = path.resolve(here, path.basename(here) === 'bundle' ? '../..' : '..');
/** The launcher (native/launcher.c): starts an engine on the CLI's or the init's bundle. */
export const LAUNCHER = path.join(projectRoot, 'bin', 'ocirun');
/** The C stage and the exec shim, built from native/ (npm run build), or embedded. */
export const stageBinary = (): string => embedded?.stagePath ?? path.join(projectRoot, 'build', 'ocirun-stage');
export const execShim = (): string => embedded?.shimPath ?? path.join(projectRoot, 'build', 'ocirun-exec-shim');

/**
 * The init's engine: no collector or compiler threads of its own, and no
 * JIT at all. What the init runs, it runs once, and the interpreter alone
 * starts an exec's init sooner (exec true about 1.4 ms faster, 100 rounds
 * with the runtimes taking turns); the CLI, whose environment is the
 * caller's, gets the single file's raised tier-up thresholds instead
 * (scripts/build.mjs).
 */
const INIT_JSC_OPTIONS: Record<string, string> = { BUN_JSC_useConcurrentGC: '0', BUN_JSC_numberOfGCMarkers: '1', BUN_JSC_useConcurrentJIT: '0', BUN_JSC_useJIT: '0' };

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
