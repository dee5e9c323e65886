/** `pause` and `resume`: freeze and thaw every process of the container. */
import { freeze, thaw } from '../cgroups/freezer.js';
import { controllerDir } from '../cgroups/index.js';
import { faultPoint } from '../fault.js';
import { ERR, RuntimeError } from '../errors.js';
import type { Context } from './context.js';
import type { Sys } from '../sys/types.js';
import { withContainer } from './lock.js';
import { currentStatus } from './state.js';

/** Rootless, the container may have no freezer cgroup: runc's words, and why. */
function needFreezer(ctx: Context, paths: Record<string, string>): void {
  if (ctx.rootless && !controllerDir(paths, 'freezer') && !paths.unified) throw new RuntimeError('', 'cannot toggle freezer: cgroups not configured for container (rootless: no permission to create them)');
}

export function pause(sys: Sys, ctx: Context, id: string): Promise<void> {
  return withContainer(sys, ctx, id, async (s) => {
    const status = currentStatus(ctx.root, s);
    if (status !== 'running' && status !== 'created') throw new RuntimeError('', ERR.notRunning);
    needFreezer(ctx, s.cgroupPaths);
    await freeze(s.cgroupPaths, 4000, () => faultPoint('freeze-written'));
    faultPoint('paused');
  });
}

export function resume(sys: Sys, ctx: Context, id: string): Promise<void> {
  return withContainer(sys, ctx, id, async (s) => {
    if (currentStatus(ctx.root, s) !== 'paused') throw new RuntimeError('', 'container not paused');
    needFreezer(ctx, s.cgroupPaths);
    await thaw(s.cgroupPaths, 4000, () => faultPoint('thaw-written'));
    faultPoint('resumed');
  });
}
