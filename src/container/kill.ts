/** `kill`: a signal to the init, or with --all to every process of the container. */
import { ERR, RuntimeError } from '../errors.js';
import { builtin } from '../engine.js';
import type { Context } from './context.js';
import { cgroupExists } from '../cgroups/index.js';
import { signalAll } from './destroy.js';
import type { Sys } from '../sys/types.js';
import { withContainerUnlessCreating } from './lock.js';
import { currentStatus } from './state.js';

/** The engine's signal numbers by name (node:os, loaded only when a signal is named). */
const signals = (): Record<string, number> => builtin<typeof import('node:os')>('node:os').constants.signals as unknown as Record<string, number>;

/** Accepts 9, KILL or SIGKILL, as runc does. */
export function parseSignal(sig: string | number | undefined): number {
  if (sig === undefined || sig === '') return signals().SIGTERM;
  if (typeof sig === 'number') return sig;
  if (/^\d+$/.test(sig)) {
    const n = Number(sig);
    if (n < 0 || n > 64) throw new RuntimeError('parse signal', `invalid signal number ${sig}`);
    return n;
  }
  const name = sig.toUpperCase().startsWith('SIG') ? sig.toUpperCase() : `SIG${sig.toUpperCase()}`;
  const n = signals()[name];
  if (n === undefined) throw new RuntimeError('parse signal', `unknown signal "${sig}"`);
  return n;
}

/**
 * Under the container's lock, so that a delete cannot remove it between the
 * check that its init lives (pid and start time) and the signal: the pid
 * could be another process's by then. Never behind a create that waits on
 * its hooks (see withContainerUnlessCreating).
 */
export async function kill(sys: Sys, ctx: Context, id: string, signal: string | number | undefined, opts: { all?: boolean } = {}): Promise<void> {
  const sig = parseSignal(signal);
  // While a create holds the lock, the container does not exist yet to
  // runc's kill (runc 1.1.5 writes its state once created): neither here.
  const notCreatedYet = () => {
    throw new RuntimeError('', ERR.notExist);
  };
  await withContainerUnlessCreating(sys, ctx, id, async (s) => {
    if (opts.all) return signalAll(s, sig);
    // Without a pid namespace of its own, the init's death ends nothing
    // else: SIGKILL goes to every process in the container's cgroups, even
    // once the init is gone (runc 1.2+, its kill.bats "kill KILL [host pidns
    // + init gone]", runc#4047; runc 1.1.5 said "container not running").
    if (sig === signals().SIGKILL && s.sharedPidNs && cgroupExists(s.cgroupPaths)) return signalAll(s, sig);
    if (currentStatus(ctx.root, s) === 'stopped') throw new RuntimeError('', ERR.notRunning);
    try {
      process.kill(s.pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw new RuntimeError('', ERR.notRunning);
      throw new RuntimeError('kill', `${s.pid}: ${(err as Error).message}`);
    }
  }, notCreatedYet);
}
