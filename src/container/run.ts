/**
 * `run`: create and start in one, then (unless detached) wait for the init,
 * relay signals to it, delete the container and return its exit status
 * (128+N when killed by signal N). The init is our child (the C stage
 * clones it with CLONE_PARENT), so we can wait for it.
 */
import { faultPoint } from '../fault.js';
import type { Config } from '../config/schema.js';
import { loadConfig } from '../config/load.js';
import { NotifyRelay } from '../systemd/notify.js';
import { consolePair, type TerminalProxy } from '../tty/proxy.js';
import type { Sys } from '../sys/types.js';
import type { Context } from './context.js';
import { create, type CreateOptions } from './create.js';
import { removeContainer } from './destroy.js';
import { start } from './start.js';
import { exitCodeOf, relaySignals } from '../process/foreground.js';

/** Whether a foreground run of this config needs the terminal proxy. */
function wantsProxy(opts: CreateOptions & { detach?: boolean }, config: Config | undefined): boolean {
  if (opts.detach || opts.consoleSocket || opts.consoleFd !== undefined) return false;
  return config?.process?.terminal === true;
}

/**
 * <bundle>/config.json as create reads it, for the terminal flag, and then
 * handed to create so that it is not read twice; undefined if it cannot be
 * read, and create reads it again and reports why, after its own checks.
 */
function readBundleConfig(bundle: string): Config | undefined {
  try {
    return loadConfig(bundle) as Config;
  } catch {
    return undefined;
  }
}

export interface RunOptions extends CreateOptions {
  detach?: boolean;
  /** runc's --keep: the stopped container stays (state, cgroups) until `delete`. */
  keep?: boolean;
}

export async function run(sys: Sys, ctx: Context, opts: RunOptions): Promise<number> {
  const bundleConfig = opts.config ? undefined : readBundleConfig(opts.bundle);
  const pair = wantsProxy(opts, opts.config ?? bundleConfig) ? consolePair(sys) : undefined;
  let created;
  try {
    created = await create(sys, ctx, { ...opts, bundleConfig, detach: opts.detach ?? false, consoleFd: pair?.theirs ?? opts.consoleFd, proxiedConsole: pair !== undefined || undefined });
  } catch (err) {
    pair?.dispose();
    throw err;
  }
  const { pid } = created;
  faultPoint('run-created');
  if (opts.detach) {
    await start(sys, ctx, opts.id, { notifySocket: opts.notifySocket });
    return 0;
  }
  const stopRelay = relaySignals(pid);
  let proxy: TerminalProxy | undefined;
  try {
    const waited = sys.waitpid(pid);
    let exited = false;
    void waited.finally(() => (exited = true)).catch(() => {});
    proxy = pair?.attach();
    // In the foreground, systemd is to watch ocirun itself (runc's MAINPID too).
    const relay = opts.notifySocket ? new NotifyRelay(sys, ctx.root, opts.id, opts.notifySocket, ctx.warn) : undefined;
    await start(sys, ctx, opts.id);
    faultPoint('run-started');
    const relayed = relay?.relayReady(process.pid, () => !exited).catch((e) => ctx.warn(`notify: ${(e as Error).message}`));
    const status = await waited;
    await relayed;
    return exitCodeOf(status);
  } finally {
    stopRelay();
    await proxy?.close();
    if (!opts.keep) await removeContainer(sys, ctx, opts.id, { force: true }).catch((e) => ctx.warn(`delete after run: ${(e as Error).message}`));
  }
}

