/** Shared CLI plumbing: the global flags as a context, the lazily loaded syscall layer, error exit. */
import { context, type Context } from '../container/context.js';
import { rootlessMode } from '../container/rootless.js';
import { RuntimeError, UsageError } from '../errors.js';
import { log } from '../log.js';
import { isOwnFd } from '../own-fds.js';
import { stderr } from '../output.js';
import type { Sys } from '../sys/types.js';
import { invokedAs, str, type FlagValues, type Invocation } from './args.js';

export function ctxOf(inv: Invocation | FlagValues): Context {
  const global = 'global' in inv ? (inv as Invocation).global : (inv as FlagValues);
  return context({ root: str(global.root), rootless: rootlessMode(str(global.rootless)), systemdCgroup: global['systemd-cgroup'] === true });
}

/** Whether `fd` is ocirun's own, not the caller's to pass on (src/own-fds.ts). */
export const ownFd = (fd: number): boolean => isOwnFd(fd, log.fd);

/** koffi is loaded only by the commands that make system calls. */
export async function loadSys(): Promise<Sys> {
  const { LibcSys } = await import('../sys/libc.js');
  return new LibcSys();
}

/**
 * runc's "runc create failed: ..." and "runc run failed: ...", with the
 * name ocirun was called by: whatever fails past the command line is said
 * as the command's failure, the step and errno after it. A bad command
 * line is said as it is, as runc's.
 */
export async function failingAs<T>(verb: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof UsageError || !(err instanceof Error)) throw err;
    throw new RuntimeError(`${invokedAs()} ${verb} failed`, err.message, { cause: err });
  }
}

export function fail(err: unknown, status = 1): never {
  const msg = err instanceof Error ? err.message : String(err);
  log.error(msg);
  if (process.env.OCIRUN_DEBUG_STACK && err instanceof Error) stderr(`${err.stack}\n`);
  process.exit(status);
}
