/**
 * `run`: create and start in one, then (unless detached) wait for the init,
 * relay signals to it, delete the container and return its exit status
 * (128+N when killed by signal N). The init is our child (the C stage
 * clones it with CLONE_PARENT), so we can wait for it.
 */
import { faultPoint } from '../fault.js';
import type { Sys } from '../sys/types.js';
import type { Context } from './context.js';
import { create, type CreateOptions } from './create.js';
import { deleteContainer } from './delete.js';
import { start } from './start.js';

const RELAYED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

export function exitCodeOf(status: number): number {
  const sig = status & 0x7f;
  if (sig === 0) return (status >> 8) & 0xff;
  return 128 + sig;
}

/** Forwards the signals a foreground caller gets to `pid`; returns the undo. */
export function relaySignals(pid: number): () => void {
  const handlers = RELAYED.map((sig) => {
    const h = () => {
      try {
        process.kill(pid, sig);
      } catch {
        /* gone */
      }
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h);
  };
}

export async function run(sys: Sys, ctx: Context, opts: CreateOptions & { detach?: boolean }): Promise<number> {
  const { pid } = await create(sys, ctx, { ...opts, detach: opts.detach ?? false });
  faultPoint('run-created');
  if (opts.detach) {
    await start(ctx, opts.id);
    return 0;
  }
  const stopRelay = relaySignals(pid);
  try {
    const waited = sys.waitpid(pid);
    await start(ctx, opts.id);
    faultPoint('run-started');
    const status = await waited;
    return exitCodeOf(status);
  } finally {
    stopRelay();
    await deleteContainer(sys, ctx, opts.id, { force: true }).catch((e) => ctx.warn(`delete after run: ${(e as Error).message}`));
  }
}

