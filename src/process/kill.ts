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

/** Our child `pid`, killed and waited for, so that nothing of a failed step is left running. */
export async function killAndReap(sys: Sys, pid: number): Promise<void> {
  killQuietly(pid);
  await sys.waitpid(pid).catch(() => 0);
}
