/**
 * Tearing a container down: kill what runs, remove its cgroups and state.
 * Shared, not a verb: `delete` is removeContainer; create and restore undo
 * a failed attempt with destroy; run and restore end a foreground container
 * with removeContainer; checkpoint destroys what it dumped; `kill --all`
 * signals through signalAll.
 */
import fs from 'node:fs';
import path from 'node:path';
import { freeze, hasFreezer, isFrozen, needsThaw, thaw } from '../cgroups/freezer.js';
import { cgroupPids, removeCgroups } from '../cgroups/index.js';
import { removeIntelRdt } from '../cgroups/resctrl.js';
import type { Context } from './context.js';
import { faultPoint } from '../fault.js';
import { runHooks } from '../hooks/index.js';
import { detachMountsBelow } from '../rootfs/host-mounts.js';
import type { Sys } from '../sys/types.js';
import { killQuietly } from '../process/kill.js';
import { ERR, RuntimeError } from '../errors.js';
import { withContainer } from './lock.js';
import { currentStatus, hookState, initAlive, readState, stateDir, type SavedState } from './state.js';

/**
 * Sends `signal` to every process in the container's cgroups, sub-cgroups
 * included (runc's signalAllProcesses, for kill --all and teardown). On
 * cgroup v2, SIGKILL is cgroup.kill: the kernel kills the whole subtree,
 * forks in flight included. Otherwise the cgroup is frozen while its pids
 * are listed and signalled, so that none forks away meanwhile, then thawed.
 */
export async function signalAll(s: SavedState, signal: NodeJS.Signals | number): Promise<void> {
  const paths = s.cgroupPaths;
  const killFile = paths.unified && !Object.keys(paths).some((k) => k !== 'unified') ? path.join(paths.unified, 'cgroup.kill') : undefined;
  if ((signal === 'SIGKILL' || signal === 9) && killFile && fs.existsSync(killFile)) {
    fs.writeFileSync(killFile, '1');
    return;
  }
  // A freeze that does not complete within its budget is undone by freeze
  // itself: the signals then go to a running cgroup, as without a freezer.
  const frozen = hasFreezer(paths) && !isFrozen(paths) ? await freeze(paths, 1000).then(() => true, () => false) : false;
  try {
    for (const pid of cgroupPids(paths)) killQuietly(pid, signal);
  } finally {
    if (frozen) await thaw(paths, 1000).catch(() => {});
  }
}

/**
 * Waits (up to `timeoutMs`) until the init has exited, through its pidfd
 * when there is one (no polling delay), and, without a pid namespace of its
 * own, until its cgroups hold no process either.
 */
async function waitGone(sys: Sys, s: SavedState, pidfd: number | undefined, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  if (pidfd !== undefined) await sys.waitReadable(pidfd, timeoutMs).catch(() => false);
  while (Date.now() < end) {
    if (!initAlive(s) && (!s.sharedPidNs || cgroupPids(s.cgroupPaths).length === 0)) return;
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** A pidfd of the init if it is still the container's (opened before it is signalled: no pid reuse). */
function initPidfd(sys: Sys, s: SavedState): number | undefined {
  if (!initAlive(s)) return undefined;
  try {
    const fd = sys.pidfdOpen(s.pid);
    if (initAlive(s)) return fd;
    sys.close(fd);
  } catch {
    /* gone, or a kernel without pidfds: polled below */
  }
  return undefined;
}

/**
 * --systemd-cgroup: stops the container's scope (its processes are gone by
 * now) and resets it if it failed, as runc's destroy; systemd removes the
 * cgroups it made, removeCgroups the others.
 */
async function stopScope(unit: string): Promise<void> {
  const { SystemdBus } = await import('../systemd/sdbus.js');
  const bus = new SystemdBus();
  try {
    // Its processes are dead by now: the stop job is quick, or systemd is
    // stuck, and teardown goes on to the cgroups either way.
    await bus.stopUnit(unit, 3000);
    bus.resetFailedUnit(unit);
  } finally {
    bus.close();
  }
}

interface TeardownStep {
  name: string;
  run: () => void | Promise<void>;
}

/**
 * Kills the container's processes: SIGKILL first, then the thaw (runc's
 * order: a frozen task dies only once thawed, and thawing first would let
 * it run, and fork, meanwhile).
 */
async function killProcesses(sys: Sys, s: SavedState): Promise<void> {
  const pidfd = initPidfd(sys, s);
  try {
    if (initAlive(s)) killQuietly(s.pid, 'SIGKILL');
    // With its own pid namespace, the init's death ends every process in it.
    // Without, the rest must be found in the cgroup (runc's destroy does the same).
    if (s.sharedPidNs) await signalAll(s, 'SIGKILL');
    if (needsThaw(s.cgroupPaths)) await thaw(s.cgroupPaths, 1000);
    await waitGone(sys, s, pidfd, 3000);
  } finally {
    if (pidfd !== undefined) sys.close(pidfd);
  }
  faultPoint('processes-killed');
}

/**
 * Stragglers of a container without a pid namespace of its own (forked
 * while it was killed, or an exec that joined late): its cgroup is all that
 * marks them. With its own, every process of it died with its init, and
 * what the cgroup still holds is someone else's: left alone.
 */
function killStragglers(s: SavedState): () => void {
  if (!s.sharedPidNs) return () => {};
  return () => void signalAll(s, 'SIGKILL').catch(() => {});
}

async function removeContainerCgroups(ctx: Context, s: SavedState): Promise<void> {
  const left = await removeCgroups(s.cgroupPaths, killStragglers(s));
  if (s.resctrl) removeIntelRdt(s.resctrl);
  faultPoint('cgroups-removed');
  if (left.length) {
    const where = left.map((l) => `${l.dir} (${l.code}, ${l.held} process(es))`).join(', ');
    ctx.warn(`remove cgroup: left in place, still in use: ${where}`);
  }
}

/** The teardown, in runc's order; each step is attempted whatever the others did. */
function teardownSteps(sys: Sys, ctx: Context, s: SavedState, opts: { kill: boolean }): TeardownStep[] {
  const steps: TeardownStep[] = [];
  if (opts.kill) steps.push({ name: 'kill processes', run: () => killProcesses(sys, s) });
  // A container that stopped while paused keeps its cgroup frozen: thawed so that it can go.
  else steps.push({ name: 'thaw', run: () => (needsThaw(s.cgroupPaths) ? thaw(s.cgroupPaths, 1000) : undefined) });
  const under = s.hostMountsUnder;
  if (under) steps.push({ name: 'detach mounts', run: () => detachMountsBelow(sys, under, () => fs.readFileSync('/proc/self/mountinfo', 'utf8')) });
  const unit = s.systemdUnit;
  if (unit) steps.push({ name: 'stop scope', run: () => stopScope(unit) });
  steps.push({ name: 'remove cgroups', run: () => removeContainerCgroups(ctx, s) });
  return steps;
}

/**
 * Tears the container down: every step is attempted, a failure is reported
 * (one error line each, as runc logs them) and the next step runs; the state
 * directory goes last. It stays only while the init still lives: it is then
 * the one record of a process on the host, and a later delete -f needs it.
 */
export async function destroy(sys: Sys, ctx: Context, s: SavedState, opts: { kill: boolean }): Promise<void> {
  for (const st of teardownSteps(sys, ctx, s, opts)) {
    try {
      await st.run();
    } catch (err) {
      ctx.warn(`${st.name}: ${(err as Error).message}`);
    }
  }
  if (initAlive(s)) throw new RuntimeError('delete', `container init (pid ${s.pid}) still running: state kept in ${stateDir(ctx.root, s.id)}`);
  fs.rmSync(stateDir(ctx.root, s.id), { recursive: true, force: true });
  faultPoint('state-removed');
  // After the container is deleted, once: the state directory is gone now.
  runHooks('poststop', s.hooks?.poststop, hookState(s, 'stopped'), ctx.warn);
}

/**
 * Removes container `id`: a stopped or created one (whose init is killed,
 * as runc deletes it), or with `force` a running or paused one too. With
 * `force`, one that does not exist is no error (runc's delete --force).
 */
export async function removeContainer(sys: Sys, ctx: Context, id: string, opts: { force?: boolean } = {}): Promise<void> {
  try {
    readState(ctx.root, id);
  } catch (err) {
    if (opts.force && err instanceof RuntimeError && err.detail === ERR.notExist) return;
    throw err;
  }
  await withContainer(sys, ctx, id, async (s) => {
    const status = currentStatus(ctx.root, s);
    if ((status === 'running' || status === 'paused') && !opts.force) {
      throw new RuntimeError('', `cannot delete container ${id} that is not stopped: ${status}`);
    }
    // runc deletes a created container by killing its init.
    await destroy(sys, ctx, s, { kill: status !== 'stopped' || s.phase === 'creating' });
  });
}

/**
 * Undoes a create or restore that failed: everything it made goes. Its
 * init is our child (the stage forks it with CLONE_PARENT, CRIU restores
 * it as a sibling): reaped, or its zombie would outlive us in whatever pid
 * namespace it joined.
 */
export async function undoCreate(sys: Sys, ctx: Context, state: SavedState, command: 'create' | 'restore'): Promise<void> {
  await destroy(sys, ctx, state, { kill: true }).catch((e) => ctx.warn(`cleanup after failed ${command}: ${(e as Error).message}`));
  if (state.pid && !initAlive(state)) await sys.waitpid(state.pid).catch(() => 0);
}
