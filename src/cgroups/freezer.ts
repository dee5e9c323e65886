/**
 * Freezing a container's cgroup: v1 `freezer.state`, v2 `cgroup.freeze`.
 * Both are asynchronous in the kernel; we wait until the state reads back,
 * as runc does, so that `pause` returning means every task is frozen.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RuntimeError } from '../errors.js';
import { controllerDir, processCgroupDirs, type CgroupLayout } from './index.js';
import { describeCgroup, walkCgroups } from './tree.js';

interface FreezerFiles {
  write: string;
  on: string;
  off: string;
  isFrozen: () => boolean;
  isThawed: () => boolean;
}

const v1Freezer = (dir: string): FreezerFiles => {
  const file = path.join(dir, 'freezer.state');
  const read = () => fs.readFileSync(file, 'utf8').trim();
  return { write: file, on: 'FROZEN', off: 'THAWED', isFrozen: () => read() === 'FROZEN', isThawed: () => read() === 'THAWED' };
};

const v2Freezer = (dir: string): FreezerFiles => {
  const events = path.join(dir, 'cgroup.events');
  const frozen = () => /^frozen 1$/m.test(fs.readFileSync(events, 'utf8'));
  return { write: path.join(dir, 'cgroup.freeze'), on: '1', off: '0', isFrozen: frozen, isThawed: () => !frozen() };
};

function freezerOf(paths: Record<string, string>): FreezerFiles | undefined {
  const v1 = controllerDir(paths, 'freezer');
  if (v1) return v1Freezer(v1);
  if (paths.unified && fs.existsSync(path.join(paths.unified, 'cgroup.freeze'))) return v2Freezer(paths.unified);
  return undefined;
}

/**
 * Calls `each` with the freezer of the container's cgroup and of every cgroup
 * below it, parents first (a child cannot thaw while its parent is frozen),
 * through the fd walker: with its cgroupfs writable, the container can
 * freeze a sub-cgroup of its own, as deep as it likes; its tasks then
 * neither run nor die, and a teardown that thaws the top cgroup only (runc
 * 1.1.5's) never sees them go. `each` runs during the walk (its files are fd
 * paths), so it is synchronous.
 */
function forEachFreezer(paths: Record<string, string>, each: (f: FreezerFiles, where: string) => void): void {
  const v1 = controllerDir(paths, 'freezer');
  const top = v1 ?? (freezerOf(paths) ? paths.unified : undefined);
  if (!top) return;
  walkCgroups(top, (v) => each((v1 ? v1Freezer : v2Freezer)(v.dir), describeCgroup(top, v.names)), { parentsFirst: true });
}

/** Whether the container's cgroups can be frozen at all (v1 freezer, or v2 cgroup.freeze). */
export const hasFreezer = (paths: Record<string, string>) => freezerOf(paths) !== undefined;

/** Whether the cgroup reads `state` (false without a freezer, or when its files cannot be read). */
export function reads(paths: Record<string, string>, state: 'frozen' | 'thawed'): boolean {
  const f = freezerOf(paths);
  try {
    return f !== undefined && (state === 'frozen' ? f.isFrozen() : f.isThawed());
  } catch {
    return false;
  }
}
/** Every task frozen: the container is paused. */
export const isFrozen = (paths: Record<string, string>) => reads(paths, 'frozen');
/**
 * Frozen or on its way (v1 FREEZING), the cgroup or any below it: tasks
 * there may not run, nor die, until thawed.
 */
export function needsThaw(paths: Record<string, string>): boolean {
  let found = false;
  forEachFreezer(paths, (f) => {
    try {
      found ||= !f.isThawed();
    } catch {
      // no such cgroup (yet, or any more): nothing to thaw
    }
  });
  return found;
}

/**
 * Whether process `pid` is in a frozen (or freezing) cgroup, wherever that
 * is (its /proc/PID/cgroup, on the hierarchies of `layout`): it can neither
 * run nor die until something thaws it.
 */
export function processFrozen(pid: number, layout: CgroupLayout): boolean {
  const dirs = processCgroupDirs(layout, pid);
  const f = dirs && freezerOf(dirs);
  try {
    return f !== undefined && !f.isThawed();
  } catch {
    return false; // gone, or its cgroup is
  }
}

/**
 * Before create, as runc: a cgroup that is frozen already (or freezing)
 * would hold the init stopped, and create would wait for it forever.
 */
export function refuseFrozen(paths: Record<string, string>): void {
  const f = freezerOf(paths);
  let thawed = true;
  try {
    thawed = f === undefined || f.isThawed();
  } catch {
    // No such cgroup yet: nothing to check.
  }
  if (!thawed) throw new RuntimeError('check cgroup', "container's cgroup unexpectedly frozen");
}

/**
 * Writes the state and waits until it reads back, for at most `budgetMs`:
 * a task that cannot be frozen (one in an uninterruptible sleep) must not
 * hold the command forever. A freeze that does not complete is undone, as
 * runc's: a cgroup left FREEZING would stop some tasks and not others.
 */
async function setFrozen(f: FreezerFiles | undefined, frozen: boolean, budgetMs: number, written?: () => void): Promise<void> {
  const what = frozen ? 'freeze' : 'thaw';
  if (!f) throw new RuntimeError(what, 'no freezer: neither the v1 freezer controller nor cgroup v2 cgroup.freeze is available');
  const done = frozen ? f.isFrozen : f.isThawed;
  const end = Date.now() + budgetMs;
  for (let attempt = 0; attempt === 0 || Date.now() < end; attempt++) {
    try {
      // v1 can fall back to THAWED while tasks fork; writing again retries.
      if (attempt % 10 === 0) fs.writeFileSync(f.write, frozen ? f.on : f.off);
      if (attempt === 0) written?.();
      if (done()) return;
    } catch (err) {
      throw new RuntimeError(what, `${f.write}: ${(err as Error).message}`, { cause: err });
    }
    await new Promise((r) => setTimeout(r, 1 + Math.min(attempt, 10)));
  }
  if (frozen) {
    try {
      fs.writeFileSync(f.write, f.off);
    } catch {
      /* the error below says what matters */
    }
  }
  throw new RuntimeError(what, `${f.write}: the cgroup did not reach the ${frozen ? f.on : f.off} state within ${budgetMs} ms`);
}

/** `written`: called once the state was first written (the pause and resume fault points). */
export const freeze = (paths: Record<string, string>, budgetMs = 4000, written?: () => void) => setFrozen(freezerOf(paths), true, budgetMs, written);
/** The container's cgroup only, as runc's resume: what pause froze. */
export const thaw = (paths: Record<string, string>, budgetMs = 4000, written?: () => void) => setFrozen(freezerOf(paths), false, budgetMs, written);

/**
 * Teardown's thaw: the container's cgroup and every cgroup below it, the
 * ones it froze itself included, within `budgetMs` in all, so that its tasks
 * can die. Each pass writes the thawed state wherever it does not read back,
 * parents first; a thaw takes effect at once in the kernel (v1 and v2), so a
 * pass rarely needs repeating. (runc 1.1.5 thaws the top cgroup only, and its
 * delete -f then fails for as long as the container's own freeze holds.)
 */
export async function thawTree(paths: Record<string, string>, budgetMs: number): Promise<void> {
  const end = Date.now() + budgetMs;
  for (let pass = 0; ; pass++) {
    let stuck: { where: string; error?: Error } | undefined;
    forEachFreezer(paths, (f, where) => {
      try {
        if (f.isThawed()) return;
        fs.writeFileSync(f.write, f.off);
        if (!f.isThawed()) stuck ??= { where };
      } catch (err) {
        // ENOENT: removed meanwhile
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') stuck ??= { where, error: err as Error };
      }
    });
    if (!stuck) return;
    if (Date.now() >= end) {
      throw new RuntimeError('thaw', `${stuck.where}: ${stuck.error ? stuck.error.message : `the cgroup did not thaw within ${budgetMs} ms`}`, { cause: stuck.error });
    }
    await new Promise((r) => setTimeout(r, Math.min(1 + pass, 10)));
  }
}
