/** `pause` and `resume`: freeze and thaw every process of the container. */
import { cgroupManager } from '../cgroups/drivers.js';
import { faultPoint } from '../fault.js';
import { ERR, RuntimeError } from '../errors.js';
import type { Context } from './context.js';
import type { Sys } from '../sys/types.js';
import { withContainer } from './lock.js';
import { currentStatus } from './state.js';

export function pause(sys: Sys, ctx: Context, id: string): Promise<void> {
  return withContainer(sys, ctx, id, async (s) => {
    const status = currentStatus(ctx.root, s);
    if (status !== 'running' && status !== 'created') throw new RuntimeError('', ERR.notRunning);
    await cgroupManager(s, { rootless: ctx.rootless }).freeze(4000, () => faultPoint('freeze-written'));
    faultPoint('paused');
  });
}

export function resume(sys: Sys, ctx: Context, id: string): Promise<void> {
  return withContainer(sys, ctx, id, async (s) => {
    if (currentStatus(ctx.root, s) !== 'paused') throw new RuntimeError('', 'container not paused');
    await cgroupManager(s, { rootless: ctx.rootless }).thaw(4000, () => faultPoint('thaw-written'));
    faultPoint('resumed');
  });
}
