/** The read-only commands: state, list, ps. None of them needs koffi. */
import { cgroupManager } from '../cgroups/drivers.js';
import fs from 'node:fs';
import { ERR, RuntimeError } from '../errors.js';
import type { Context } from './context.js';
import { lockHeld } from './lock.js';
import { currentStatus, listIds, publicState, readState, stateDir, stateFile, stateOwner } from './state.js';

export function state(ctx: Context, id: string) {
  return publicState(ctx.root, createdState(ctx, id));
}

/**
 * runc writes its state only once the container is created: while a create
 * is under way (it holds the lock), the container does not exist to runc's
 * `state` and `list` ("load container" line), nor to ocirun's (kill and
 * delete agree, see lock.ts). A create that died half-way holds no lock: its
 * remains are reported.
 */
function createdState(ctx: Context, id: string) {
  const s = readState(ctx.root, id);
  if (s.phase === 'creating' && lockHeld(stateDir(ctx.root, id))) throw new RuntimeError('', ERR.notExist);
  return s;
}

/**
 * As runc: a directory with no state file in it is not a container (a stray
 * directory, or one a create killed before its first write), nor is one
 * whose create is under way: one "load container" line on stderr, and it
 * is skipped. `state` and `delete` still
 * find such a directory by its id.
 */
export function list(ctx: Context, report: (line: string) => void = (l) => process.stderr.write(l + '\n')) {
  const out = [];
  for (const id of listIds(ctx.root)) {
    if (!fs.existsSync(stateFile(ctx.root, id))) {
      if (fs.existsSync(stateDir(ctx.root, id))) report(`load container ${id}: ${ERR.notExist}`);
      continue;
    }
    try {
      out.push(publicState(ctx.root, createdState(ctx, id), stateOwner(ctx.root, id)));
    } catch (err) {
      // Removed while we listed: skipped; one whose create is under way is reported, as runc does.
      if (err instanceof RuntimeError && err.detail === ERR.notExist && !fs.existsSync(stateDir(ctx.root, id))) continue;
      report(`load container ${id}: ${(err as Error).message}`);
    }
  }
  return out;
}

export function pids(ctx: Context, id: string): number[] {
  const s = readState(ctx.root, id);
  const cgroups = cgroupManager(s);
  if (currentStatus(ctx.root, s) === 'stopped' && cgroups.pids().length === 0) return [];
  if (Object.keys(cgroups.paths).length === 0) throw new RuntimeError('', 'container has no cgroup');
  return cgroups.pids();
}
