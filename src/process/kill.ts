/** Ending a process the runtime started, whether or not it is still there. */
import type { Sys } from '../sys/types.js';

/** Sends `signal`; a process already gone is no error. */
export function killQuietly(pid: number, signal: NodeJS.Signals | number = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

/**
 * Our child `pid`, killed and waited for, so that nothing of a failed step
 * is left running; for 2 s at most: a process in a frozen v1 cgroup dies
 * only once that is thawed, and the caller must not wait for that (it is
 * reaped by whoever inherits it).
 */
export async function killAndReap(sys: Sys, pid: number): Promise<void> {
  killQuietly(pid);
  await settledWithin(sys.waitpid(pid), 2000);
}

/** What `p` came to within `ms`: its value, its error, or "timeout" (it may still settle later). */
export async function settledWithin<T>(p: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | 'timeout'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  try {
    return await Promise.race([p.then((value) => ({ value }), (error: unknown) => ({ error })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
