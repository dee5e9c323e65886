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
 * - Node parses $NODE_EXTRA_CA_CERTS at start-up (~30 ms); ocirun makes no
 *   TLS connection, so the launcher (native/launcher.c) drops it for Node.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type EngineName = 'bun' | 'node';

export const engineName: EngineName = (process.versions as Record<string, string | undefined>).bun ? 'bun' : 'node';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Set by the single-file build's entry (build/ocirun): its files are embedded, not beside it. */
export interface EmbeddedAssets {
  /** The C stage and the exec shim, as bytes. */
  stage: Uint8Array;
  shim: Uint8Array;
}
let embedded: EmbeddedAssets | undefined;
export function useEmbeddedAssets(assets: EmbeddedAssets): void {
  embedded = assets;
}
export const embeddedAssets = (): EmbeddedAssets | undefined => embedded;

// dist/engine.js, or dist/bundle/ocirun.js when bundled.
/** The package's root directory. */
export const projectRoot = path.resolve(here, path.basename(here) === 'bundle' ? '../..' : '..');
/** The launcher (native/launcher.c): starts an engine on the CLI's or the init's bundle. */
export const LAUNCHER = path.join(projectRoot, 'bin', 'ocirun');
/** The C stage and the exec shim, built from native/ (npm run build). */
export const STAGE_BINARY = path.join(projectRoot, 'build', 'ocirun-stage');
export const EXEC_SHIM = path.join(projectRoot, 'build', 'ocirun-exec-shim');

/** Environment variable that tells the single-file build to run as the init. */
export const INIT_ROLE_ENV = '_OCIRUN_ROLE';

/**
 * argv of the init, on this engine; its environment gets `env`. The
 * launcher starts it the way it starts the CLI (Bun kept from reading
 * files of the current directory), or the single file runs as the init.
 */
export function initCommand(): { argv: string[]; env: Record<string, string> } {
  if (embedded) return { argv: [process.execPath], env: { [INIT_ROLE_ENV]: 'init' } };
  return { argv: [LAUNCHER], env: { [INIT_ROLE_ENV]: 'init', OCIRUN_ENGINE: engineName } };
}

/**
 * The signals the caller of ocirun had ignored, which the program inherits
 * as under runc. Both engines ignore SIGPIPE (and Node SIGXFSZ) themselves,
 * so the launcher records the caller's set before the engine starts
 * ($_OCIRUN_SIGIGN, hex); without it (the library API), none.
 */
export function callerIgnoredSignals(): string {
  const v = process.env._OCIRUN_SIGIGN ?? '';
  return /^[0-9a-f]{1,16}$/.test(v) ? v : '0';
}
