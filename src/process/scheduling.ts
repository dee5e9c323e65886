/**
 * How a container's process is scheduled, set once it is in the container's
 * cgroups (as runc's init, which its parent put there first):
 * - its CPU affinity, which must not be the runtime's own (a `taskset -c 0
 *   runc run`, or a runtime that systemd pinned): runc 1.3 resets it (its
 *   cpu_affinity.bats "CPU affinity should reset");
 * - process.scheduler (sched_setattr), which the kernel checks against the
 *   affinity and cpuset the process has there.
 */
import { RuntimeError, step } from '../errors.js';
import type { Sys } from '../sys/types.js';

/**
 * Every CPU a 1024-bit mask names: the kernel keeps those online and in the
 * process's cpuset. Made when used: at module level it cost about 1 ms of
 * every start, the init's included.
 */
let allCpus: number[] | undefined;

/**
 * Resets the affinity of `pid` (its main thread, which execs the program)
 * to every CPU its cgroup's cpuset allows: sched_setaffinity(2) clamps the
 * mask to the CPUs there are and to the cpuset, so "all" is enough, as in
 * runc's tryResetCPUAffinity. Since Linux 6.2 joining a cpuset no longer
 * does this by itself. A failure only warns, as runc's.
 */
export function resetCpuAffinity(sys: Sys, pid: number, warn: (msg: string) => void): void {
  try {
    sys.schedSetaffinity((allCpus ??= Array.from({ length: 1024 }, (_, i) => i)), pid);
  } catch (err) {
    warn(`resetting the CPU affinity of pid ${pid} failed -- the container process may inherit the runtime's CPU affinity: ${(err as Error).message}`);
  }
}

/**
 * process.scheduler (`attr`: struct sched_attr, hex) for thread `pid` (0:
 * the calling one), in runc's words when the kernel refuses SCHED_DEADLINE
 * because the container's cpuset does not span every CPU (sched_setattr(2),
 * EPERM; runc 1.3.6's scheduler.bats "scheduler vs cpus").
 */
export function applyScheduler(sys: Sys, attr: string, pid: number, cpusetLimited: boolean): void {
  step('sched_setattr', () => {
    try {
      sys.schedSetattr(Buffer.from(attr, 'hex'), pid);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EPERM' && cpusetLimited) throw new RuntimeError('sched_setattr', "process scheduler can't be used together with AllowedCPUs", { cause: err });
      throw err;
    }
  });
}
