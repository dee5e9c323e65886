/**
 * Freezing a container's cgroup: v1 `freezer.state`, v2 `cgroup.freeze`.
 * Both are asynchronous in the kernel; we wait until the state reads back,
 * as runc does, so that `pause` returning means every task is frozen.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RuntimeError } from '../errors.js';

interface FreezerFiles {
  write: string;
  on: string;
  off: string;
  isFrozen: () => boolean;
  isThawed: () => boolean;
}

function freezerOf(paths: Record<string, string>): FreezerFiles {
  const v1 = Object.entries(paths).find(([name]) => name.split(',').includes('freezer'));
  if (v1) {
    const file = path.join(v1[1], 'freezer.state');
    const read = () => fs.readFileSync(file, 'utf8').trim();
    return { write: file, on: 'FROZEN', off: 'THAWED', isFrozen: () => read() === 'FROZEN', isThawed: () => read() === 'THAWED' };
  }
  if (paths.unified && fs.existsSync(path.join(paths.unified, 'cgroup.freeze'))) {
    const events = path.join(paths.unified, 'cgroup.events');
    const frozen = () => /^frozen 1$/m.test(fs.readFileSync(events, 'utf8'));
    return { write: path.join(paths.unified, 'cgroup.freeze'), on: '1', off: '0', isFrozen: frozen, isThawed: () => !frozen() };
  }
  throw new RuntimeError('freeze', 'no freezer: neither the v1 freezer controller nor cgroup v2 cgroup.freeze is available');
}

async function setFrozen(paths: Record<string, string>, frozen: boolean): Promise<void> {
  const f = freezerOf(paths);
  const what = frozen ? 'freeze' : 'thaw';
  const done = frozen ? f.isFrozen : f.isThawed;
  for (let attempt = 0; attempt < 1000; attempt++) {
    try {
      // v1 can fall back to THAWED while tasks fork; writing again retries.
      if (attempt % 10 === 0) fs.writeFileSync(f.write, frozen ? f.on : f.off);
      if (done()) return;
    } catch (err) {
      throw new RuntimeError(what, `${f.write}: ${(err as Error).message}`, { cause: err });
    }
    await new Promise((r) => setTimeout(r, 1 + Math.min(attempt, 10)));
  }
  throw new RuntimeError(what, `${f.write}: the cgroup did not reach the ${frozen ? f.on : f.off} state`);
}

export const freeze = (paths: Record<string, string>) => setFrozen(paths, true);
export const thaw = (paths: Record<string, string>) => setFrozen(paths, false);
