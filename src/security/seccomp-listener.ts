/**
 * Seccomp listeners (SCMP_ACT_NOTIFY with linux.seccomp.listenerPath): the
 * agent at listenerPath gets the filter's notify fd with the container
 * process state, as the runtime-spec describes and runc sends it. The
 * runtime connects on the host; the fd comes from whoever loaded the filter
 * (the init, or the exec stage through a socket pair).
 */
import { atStep, RuntimeError } from '../errors.js';
import type { Sys } from '../sys/types.js';

export interface ListenerState {
  ociVersion: string;
  id: string;
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

/** runtime-spec's ContainerProcessState, as JSON: the process `pid` and the container's state. */
export function containerProcessState(state: ListenerState, status: 'creating' | 'running', pid: number, metadata: string | undefined): string {
  return JSON.stringify({ ociVersion: state.ociVersion, fds: ['seccompFd'], pid, metadata: metadata ?? '', state: { ...state, status } });
}

/**
 * The send of a notify fd and the state to the agent, built now (the init
 * calls it right after the filter's load, where no message may be built);
 * it closes both fds after.
 */
export function agentHandOver(sys: Sys, agentFd: number, processState: string): (notifyFd: number) => void {
  const send = sys.prepareSendFd(agentFd, processState);
  return (notifyFd) => {
    try {
      send(notifyFd);
    } finally {
      sys.close(notifyFd);
      sys.close(agentFd);
    }
  };
}

/** Sends the notify fd and the state to the agent, then closes both fds. */
export function sendToAgent(sys: Sys, agentFd: number, notifyFd: number, processState: string): void {
  agentHandOver(sys, agentFd, processState)(notifyFd);
}

/** The agent's socket, connected on the host; the error has runc's words, which tools look for. */
export function connectAgent(sys: Sys, listenerPath: string): number {
  try {
    return sys.connectUnix(listenerPath);
  } catch (err) {
    throw new RuntimeError('connect seccomp listener', `failed to connect with seccomp agent specified in the seccomp profile: ${atStep('', err).detail}`, { cause: err });
  }
}
