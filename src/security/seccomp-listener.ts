/**
 * Seccomp listeners (SCMP_ACT_NOTIFY with linux.seccomp.listenerPath): the
 * agent at listenerPath gets the filter's notify fd with the container
 * process state, as the runtime-spec describes and runc sends it. The
 * runtime connects on the host; the fd comes from whoever loaded the filter
 * (the init, or the exec stage through a socket pair).
 */
import { step } from '../errors.js';
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

/** Sends the notify fd and the state to the agent, then closes both fds. */
export function sendToAgent(sys: Sys, agentFd: number, notifyFd: number, processState: string): void {
  try {
    sys.sendFd(agentFd, notifyFd, processState);
  } finally {
    sys.close(notifyFd);
    sys.close(agentFd);
  }
}

/** For exec: the agent's socket, and a socket pair down which the stage sends the notify fd. */
export class ExecListener {
  readonly agent: number;
  private readonly ours: number;
  /** The end the stage sends the fd down (give it to the stage, then call spawned()). */
  readonly theirs: number;

  constructor(private readonly sys: Sys, listenerPath: string) {
    this.agent = step('connect seccomp listener', () => sys.connectUnix(listenerPath));
    [this.ours, this.theirs] = step('create seccomp notify socket pair', () => sys.socketPair());
  }

  /** Our copy of the stage's end goes, so a stage that died before sending shows as EOF. */
  spawned(): void {
    this.sys.close(this.theirs);
  }

  /** Once the process runs: its notify fd, with the state, to the agent. */
  deliver(state: ListenerState, pid: number, metadata: string | undefined): void {
    try {
      const notifyFd = step('receive seccomp notify fd', () => this.sys.recvFd(this.ours));
      step('send seccomp notify fd', () => sendToAgent(this.sys, this.agent, notifyFd, containerProcessState(state, 'running', pid, metadata)));
    } finally {
      this.sys.close(this.ours);
    }
  }
}
