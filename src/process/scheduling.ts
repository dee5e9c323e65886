/**
 * The CPU affinity a container's process starts with. It must not be the
 * runtime's own (a `taskset -c 0 runc run`, or a runtime that systemd
 * pinned): runc 1.3 resets it once the process is in the container's
 * cgroups (its cpu_affinity.bats "CPU affinity should reset").
 */
import type { Sys } from '../sys/types.js';

/** Every CPU a 1024-bit mask names: the kernel keeps those online and in the process's cpuset. */
const ALL_CPUS = Array.from({ length: 1024 }, (_, i) => i);

/**
 * Resets the affinity of `pid` (its main thread, which execs the program)
 * to every CPU its cgroup's cpuset allows: sched_setaffinity(2) clamps the
 * mask to the CPUs there are and to the cpuset, so "all" is enough, as in
 * runc's tryResetCPUAffinity. Since Linux 6.2 joining a cpuset no longer
 * does this by itself. A failure only warns, as runc's.
 */
export function resetCpuAffinity(sys: Sys, pid: number, warn: (msg: string) => void): void {
  try {
    sys.schedSetaffinity(ALL_CPUS, pid);
  } catch (err) {
    warn(`resetting the CPU affinity of pid ${pid} failed -- the container process may inherit the runtime's CPU affinity: ${(err as Error).message}`);
  }
}
