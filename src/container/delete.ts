/** `delete`: remove a stopped (or created) container; --force kills a running one first. */
import { ERR, RuntimeError } from '../errors.js';
import type { Sys } from '../sys/types.js';
import type { Context } from './context.js';
import { destroy } from './destroy.js';
import { withContainer } from './lock.js';
import { currentStatus, readState } from './state.js';

export async function deleteContainer(sys: Sys, ctx: Context, id: string, opts: { force?: boolean } = {}): Promise<void> {
  try {
    readState(ctx.root, id);
  } catch (err) {
    // runc: deleting what does not exist is no error with --force.
    if (opts.force && err instanceof RuntimeError && err.detail === ERR.notExist) return;
    throw err;
  }
  await withContainer(sys, ctx, id, async (s) => {
    const status = currentStatus(ctx.root, s);
    if ((status === 'running' || status === 'paused') && !opts.force) {
      throw new RuntimeError('', `cannot delete container ${id} that is not stopped: ${status}`);
    }
    // runc deletes a created container by killing its init.
    await destroy(sys, ctx, s, { kill: status !== 'stopped' || s.phase === 'creating' });
  });
}
