/** `delete`: remove a stopped (or created) container; --force kills a running one first. */
import { ERR, RuntimeError } from '../errors.js';
import type { Sys } from '../sys/types.js';
import type { Context } from './context.js';
import { destroy } from './destroy.js';
import { withContainerUnlessCreating } from './lock.js';
import { killQuietly } from '../process/kill.js';
import { currentStatus, initAlive, type SavedState } from './state.js';

export async function deleteContainer(sys: Sys, ctx: Context, id: string, opts: { force?: boolean } = {}): Promise<void> {
  try {
    await withContainerUnlessCreating(
      sys,
      ctx,
      id,
      async (s) => {
        const status = currentStatus(ctx.root, s);
        if ((status === 'running' || status === 'paused') && !opts.force) {
          throw new RuntimeError('', `cannot delete container ${id} that is not stopped: ${status}`);
        }
        // runc deletes a created container by killing its init.
        await destroy(sys, ctx, s, { kill: status !== 'stopped' || s.phase === 'creating' });
      },
      endCreate,
      true,
    );
  } catch (err) {
    // runc: deleting what does not exist is no error with --force.
    if (opts.force && err instanceof RuntimeError && err.detail === ERR.notExist) return;
    throw err;
  }
}

/**
 * A container whose create holds the lock (waiting on a hook, see
 * withContainerUnlessCreating): to runc 1.1.5 it does not exist yet, and its
 * delete removes the state directory, so that the create fails. Here the
 * create's init is ended instead (the pid with the start time create
 * recorded: never a reused pid), its create then fails and tears down what
 * it made, under its lock. delete -f returns at once, as runc's; without
 * -f, runc's "does not exist".
 */
function endCreate(s: SavedState): void {
  if (initAlive(s)) killQuietly(s.pid, 'SIGKILL');
  throw new RuntimeError('', ERR.notExist);
}
