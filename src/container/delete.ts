/**
 * `delete`: remove a stopped (or created) container; --force kills a
 * running one first. The removal is the teardown module's (./destroy.ts),
 * which `run` and `restore` also end a foreground container with.
 */
import type { Sys } from '../sys/types.js';
import type { Context } from './context.js';
import { removeContainer } from './destroy.js';

export async function deleteContainer(sys: Sys, ctx: Context, id: string, opts: { force?: boolean } = {}): Promise<void> {
  await removeContainer(sys, ctx, id, opts);
}
