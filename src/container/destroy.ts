/** Tearing a container down: kill what runs, remove its cgroups and state. */
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
import { hookState, initAlive, stateDir, type SavedState } from './state.js';

function killQuietly(pid: number, signal: NodeJS.Signals | number): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

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
  const frozen = hasFreezer(paths) && !isFrozen(paths) ? await freeze(paths).then(() => true, () => false) : false;
  try {
    for (const pid of cgroupPids(paths)) killQuietly(pid, signal);
  } finally {
    if (frozen) await thaw(paths);
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
    await bus.stopUnit(unit);
    bus.resetFailedUnit(unit);
  } finally {
    bus.close();
  }
}

export async function destroy(sys: Sys, ctx: Context, s: SavedState, opts: { kill: boolean }): Promise<void> {
  if (opts.kill) {
    const pidfd = initPidfd(sys, s);
    if (initAlive(s)) killQuietly(s.pid, 'SIGKILL');
    // With its own pid namespace, the init's death ends every process in it.
    // Without, the rest must be found in the cgroup (runc's destroy does the same).
    if (s.sharedPidNs) await signalAll(s, 'SIGKILL');
    // Frozen tasks do not die until thawed.
    if (needsThaw(s.cgroupPaths)) await thaw(s.cgroupPaths).catch(() => {});
    try {
      await waitGone(sys, s, pidfd, 5000);
    } finally {
      if (pidfd !== undefined) sys.close(pidfd);
    }
    faultPoint('processes-killed');
  }
  if (s.hostMountsUnder) detachMountsBelow(sys, s.hostMountsUnder, () => fs.readFileSync('/proc/self/mountinfo', 'utf8'));
  if (s.systemdUnit) await stopScope(s.systemdUnit);
  await removeCgroups(s.cgroupPaths, ctx.warn);
  if (s.resctrl) removeIntelRdt(s.resctrl);
  faultPoint('cgroups-removed');
  fs.rmSync(stateDir(ctx.root, s.id), { recursive: true, force: true });
  // After the container is deleted, once: the state directory is gone now.
  runHooks('poststop', s.hooks?.poststop, hookState(s, 'stopped'), ctx.warn);
}
