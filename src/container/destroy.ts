/**
 * Tearing a container down: kill what runs, remove its cgroups and state.
 * Shared, not a verb: `delete` is removeContainer; create and restore undo
 * a failed attempt with destroy; run and restore end a foreground container
 * with removeContainer; checkpoint destroys what it dumped; `kill --all`
 * signals through signalAll.
 */
import fs from 'node:fs';
import { cgroupManager } from '../cgroups/drivers.js';
import type { CgroupManager } from '../cgroups/manager.js';
import { removeIntelRdt } from '../cgroups/resctrl.js';
import type { Context } from './context.js';
import { faultPoint } from '../fault.js';
import { runHooks } from '../hooks/index.js';
import { detachMountsBelow } from '../rootfs/host-mounts.js';
import type { Sys } from '../sys/types.js';
import { killQuietly } from '../process/kill.js';
import { ERR, RuntimeError } from '../errors.js';
import { withContainer, withContainerUnlessCreating } from './lock.js';
import { currentStatus, hookState, initAlive, stateDir, type SavedState } from './state.js';

/**
 * Sends `signal` to every process in the container's cgroups, sub-cgroups
 * included (runc's signalAllProcesses, for kill --all and teardown).
 */
export function signalAll(s: SavedState, signal: NodeJS.Signals | number, cgroups: CgroupManager = cgroupManager(s)): Promise<void> {
  return cgroups.signalAll(signal, killQuietly);
}

/**
 * Waits (up to `timeoutMs`) until the init has exited, through its pidfd
 * when there is one (no polling delay), and, without a pid namespace of its
 * own, until its cgroups hold no process either.
 */
async function waitGone(sys: Sys, s: SavedState, cgroups: CgroupManager, pidfd: number | undefined, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  if (pidfd !== undefined) await sys.waitReadable(pidfd, timeoutMs).catch(() => false);
  while (Date.now() < end) {
    if (!initAlive(s) && (!s.sharedPidNs || cgroups.pids().length === 0)) return;
    // Not every millisecond: listing the cgroups walks every sub-cgroup.
    await new Promise((r) => setTimeout(r, 10));
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

interface TeardownOptions {
  kill: boolean;
  /** The manager of a create or restore that failed (else one from the state). */
  cgroups?: CgroupManager;
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
async function killProcesses(sys: Sys, s: SavedState, cgroups: CgroupManager): Promise<void> {
  const pidfd = initPidfd(sys, s);
  try {
    if (initAlive(s)) killQuietly(s.pid, 'SIGKILL');
    // With its own pid namespace, the init's death ends every process in it.
    // Without, the rest must be found in the cgroup (runc's destroy does the same).
    if (s.sharedPidNs) await signalAll(s, 'SIGKILL', cgroups);
    if (cgroups.needsThaw()) await cgroups.thawTree(1000);
    await waitGone(sys, s, cgroups, pidfd, 3000);
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
function killStragglers(s: SavedState, cgroups: CgroupManager): () => void {
  if (!s.sharedPidNs) return () => {};
  return () => void signalAll(s, 'SIGKILL', cgroups).catch(() => {});
}

/** The cgroups (with systemd, its scope first), then the resctrl group. */
async function removeContainerCgroups(ctx: Context, s: SavedState, cgroups: CgroupManager): Promise<void> {
  const left = await cgroups.destroy(killStragglers(s, cgroups), ctx.warn);
  if (s.resctrl) removeIntelRdt(s.resctrl);
  faultPoint('cgroups-removed');
  if (left.length) {
    // One line, however many: a container can make thousands of cgroups.
    const shown = left.slice(0, 3).map((l) => `${l.dir} (${l.code}, ${l.held} process(es))`);
    if (left.length > shown.length) shown.push(`and ${left.length - shown.length} more`);
    ctx.warn(`remove cgroup: left in place, still in use: ${shown.join(', ')}`);
  }
}

/** The teardown, in runc's order; each step is attempted whatever the others did. */
function teardownSteps(sys: Sys, ctx: Context, s: SavedState, opts: TeardownOptions): TeardownStep[] {
  const cgroups = opts.cgroups ?? cgroupManager(s, { rootless: ctx.rootless, sys });
  const steps: TeardownStep[] = [];
  // Without a pid namespace of its own, a stopped container (its init gone)
  // may still have processes in its cgroups: killed too, as runc's destroy
  // does (runc#4047).
  if (opts.kill || s.sharedPidNs) steps.push({ name: 'kill processes', run: () => killProcesses(sys, s, cgroups) });
  // A container that stopped while paused keeps its cgroup frozen: thawed so that it can go.
  else steps.push({ name: 'thaw', run: () => (cgroups.needsThaw() ? cgroups.thawTree(1000) : undefined) });
  const under = s.hostMountsUnder;
  if (under) steps.push({ name: 'detach mounts', run: () => detachMountsBelow(sys, under, () => fs.readFileSync('/proc/self/mountinfo', 'utf8'), s.hostMounts) });
  steps.push({ name: 'remove cgroups', run: () => removeContainerCgroups(ctx, s, cgroups) });
  return steps;
}

/**
 * Tears the container down: every step is attempted, a failure is reported
 * (one error line each, as runc logs them) and the next step runs; the state
 * directory goes last. It stays only while the init still lives: it is then
 * the one record of a process on the host, and a later delete -f needs it.
 */
export async function destroy(sys: Sys, ctx: Context, s: SavedState, opts: TeardownOptions): Promise<void> {
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
    await withContainerUnlessCreating(
      sys,
      ctx,
      id,
      async (s) => {
        const status = currentStatus(ctx.root, s);
        if ((status === 'running' || status === 'paused') && !opts.force) {
          throw new RuntimeError('', `cannot delete container ${id} that is not stopped: ${status}`);
        }
        // runc deletes a created container by killing its init.
        await destroy(sys, ctx, s, { kill: status !== 'stopped' || s.phase === 'creating' });
      },
      endCreate,
      true,
    );
  } catch (err) {
    // runc: deleting what does not exist is no error with --force.
    if (opts.force && err instanceof RuntimeError && err.detail === ERR.notExist) return;
    throw err;
  }
}

/**
 * A container whose create holds the lock (waiting on a hook, see
 * withContainerUnlessCreating): to runc 1.1.5 it does not exist yet, and its
 * delete removes the state directory, so that the create fails. Here the
 * create's init is ended instead (the pid with the start time create
 * recorded: never a reused pid), its create then fails and tears down what
 * it made, under its lock. delete -f returns at once, as runc's; without
 * -f, runc's "does not exist".
 */
function endCreate(s: SavedState): void {
  if (initAlive(s)) killQuietly(s.pid, 'SIGKILL');
  throw new RuntimeError('', ERR.notExist);
}

/**
 * Undoes a create or restore that failed: everything it made goes. Its
 * init is our child (the stage forks it with CLONE_PARENT, CRIU restores
 * it as a sibling): reaped, or its zombie would outlive us in whatever pid
 * namespace it joined.
 */
export async function undoCreate(sys: Sys, ctx: Context, state: SavedState, command: 'create' | 'restore', cgroups: CgroupManager): Promise<void> {
  // The live manager: it knows whether a unit was asked for (one never asked for is not stopped).
  await destroy(sys, ctx, state, { kill: true, cgroups }).catch((e) => ctx.warn(`cleanup after failed ${command}: ${(e as Error).message}`));
  if (state.pid && !initAlive(state)) await sys.waitpid(state.pid).catch(() => 0);
}
