/** The read-only commands: state, list, ps. None of them needs koffi. */
import { cgroupPids } from '../cgroups/index.js';
import { RuntimeError } from '../errors.js';
import type { Context } from './context.js';
import { currentStatus, listIds, publicState, readState, stateOwner } from './state.js';

export function state(ctx: Context, id: string) {
  return publicState(ctx.root, readState(ctx.root, id));
}

export function list(ctx: Context) {
  const out = [];
  for (const id of listIds(ctx.root)) {
    try {
      out.push(publicState(ctx.root, readState(ctx.root, id), stateOwner(ctx.root, id)));
    } catch {
      /* removed while we listed */
    }
  }
  return out;
}

export function pids(ctx: Context, id: string): number[] {
  const s = readState(ctx.root, id);
  if (currentStatus(ctx.root, s) === 'stopped' && cgroupPids(s.cgroupPaths).length === 0) return [];
  if (Object.keys(s.cgroupPaths).length === 0) throw new RuntimeError('', 'container has no cgroup');
  return cgroupPids(s.cgroupPaths);
}
