/** `pause` and `resume`: freeze and thaw every process of the container. */
import { freeze, thaw } from '../cgroups/freezer.js';
import { ERR, RuntimeError } from '../errors.js';
import type { Context } from './context.js';
import type { Sys } from '../sys/types.js';
import { withContainer } from './lock.js';
import { currentStatus } from './state.js';

export function pause(sys: Sys, ctx: Context, id: string): Promise<void> {
  return withContainer(sys, ctx, id, async (s) => {
    const status = currentStatus(ctx.root, s);
    if (status !== 'running' && status !== 'created') throw new RuntimeError('', ERR.notRunning);
    await freeze(s.cgroupPaths);
  });
}

export function resume(sys: Sys, ctx: Context, id: string): Promise<void> {
  return withContainer(sys, ctx, id, async (s) => {
    if (currentStatus(ctx.root, s) !== 'paused') throw new RuntimeError('', 'container not paused');
    await thaw(s.cgroupPaths);
  });
}
