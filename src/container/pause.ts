/** `pause` and `resume`: freeze and thaw every process of the container. */
import { freeze, thaw } from '../cgroups/freezer.js';
import { ERR, RuntimeError } from '../errors.js';
import type { Context } from './context.js';
import { currentStatus, readState } from './state.js';

export async function pause(ctx: Context, id: string): Promise<void> {
  const s = readState(ctx.root, id);
  const status = currentStatus(ctx.root, s);
  if (status !== 'running' && status !== 'created') throw new RuntimeError('', ERR.notRunning);
  await freeze(s.cgroupPaths);
}

export async function resume(ctx: Context, id: string): Promise<void> {
  const s = readState(ctx.root, id);
  if (currentStatus(ctx.root, s) !== 'paused') throw new RuntimeError('', 'container not paused');
  await thaw(s.cgroupPaths);
}
