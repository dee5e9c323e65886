/**
 * --pidfd-socket (runc 1.2+, on create, run and exec): a pidfd of the
 * container's process goes over the AF_UNIX socket at the given path, with
 * SCM_RIGHTS as --console-socket's pty does, and runc's payload: "standard"
 * for a container's init, "setns" for an exec'd process. (runc's init sends
 * its own; here the runtime opens it, which names the same process.)
 */
import { connectCallerSocket } from '../caller-path.js';
import { step } from '../errors.js';
import type { Sys } from '../sys/types.js';

export function sendPidfd(sys: Sys, socketPath: string, pid: number, kind: 'standard' | 'setns'): void {
  // As the console socket: the path walked as the caller's, the listener the caller or root.
  const sock = connectCallerSocket(sys, `connect to pidfd socket ${socketPath}`, socketPath);
  try {
    const pidfd = step(`pidfd_open ${pid}`, () => sys.pidfdOpen(pid));
    try {
      step(`send pidfd to ${socketPath}`, () => sys.sendFd(sock, pidfd, kind));
    } finally {
      sys.close(pidfd);
    }
  } finally {
    sys.close(sock);
  }
}
