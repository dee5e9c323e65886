/**
 * NOTIFY_SOCKET passthrough, as runc does it (notify_socket.go). When
 * ocirun runs under systemd with Type=notify, NOTIFY_SOCKET names systemd's
 * socket. The container cannot reach it, so ocirun gives the container its
 * own: a datagram socket in the state directory, whose directory is
 * bind-mounted read-only at /run/notify, with NOTIFY_SOCKET pointing there.
 * `start` (or `run`) binds it, waits for the program's READY=, and passes
 * that on to systemd with MAINPID (the init when detached, ocirun itself in
 * the foreground), then waits for systemd's BARRIER acknowledgement.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RuntimeError, step } from '../errors.js';
import { stateDir } from '../container/state.js';
import type { Config } from '../config/schema.js';
import type { Sys } from '../sys/types.js';

export const NOTIFY_DIR_IN_CONTAINER = '/run/notify';
const SOCKET_NAME = 'notify.sock';
/** How often to look whether the container still runs while waiting for READY=. */
const POLL_MS = 100;
/** How long systemd has to acknowledge the barrier (runc's 30 s). */
const BARRIER_MS = 30_000;

export const notifyDir = (root: string, id: string) => path.join(stateDir(root, id), 'notify');

/** The config as create uses it: runc appends the mount and the variable. */
export function withNotifySocket(config: Config, root: string, id: string): Config {
  const c = structuredClone(config);
  c.mounts = [...(c.mounts ?? []), { destination: NOTIFY_DIR_IN_CONTAINER, source: notifyDir(root, id), options: ['bind', 'nosuid', 'noexec', 'nodev', 'ro'] }];
  if (c.process) c.process.env = [...(c.process.env ?? []), `NOTIFY_SOCKET=${NOTIFY_DIR_IN_CONTAINER}/${SOCKET_NAME}`];
  return c;
}

/** The directory the mount needs, made inside the (already existing) state dir. */
export function makeNotifyDir(root: string, id: string): void {
  step('create notify socket directory', () => fs.mkdirSync(notifyDir(root, id), { mode: 0o755 }));
}

export class NotifyRelay {
  private readonly fd: number;

  /** Binds the container's socket; world-writable, since the container's user may be anyone. */
  constructor(
    private readonly sys: Sys,
    root: string,
    id: string,
    private readonly host: string,
    private readonly warn: (msg: string) => void,
  ) {
    const socketPath = path.join(notifyDir(root, id), SOCKET_NAME);
    this.fd = step('bind notify socket', () => {
      const fd = sys.bindUnixDgram(socketPath);
      fs.chmodSync(socketPath, 0o777);
      return fd;
    });
  }

  /**
   * Waits for a READY= line while `running()`, then tells systemd READY and
   * MAINPID=`mainPid`. Returns without telling if the container stops first.
   */
  async relayReady(mainPid: number, running: () => boolean): Promise<void> {
    try {
      const ready = await this.waitReady(running);
      if (ready !== undefined) await this.tellHost(ready, mainPid);
    } finally {
      this.close();
    }
  }

  /** For a start that failed before the program ran. */
  close(): void {
    this.sys.close(this.fd);
  }

  private async waitReady(running: () => boolean): Promise<string | undefined> {
    const buf = Buffer.alloc(4096);
    while (running()) {
      if (!(await this.sys.waitReadable(this.fd, POLL_MS))) continue;
      const n = fs.readSync(this.fd, buf);
      // One datagram is one sd_notify() call; systemd takes READY=1 on any of its lines.
      const line = buf.subarray(0, n).toString().split('\n').find((l) => l.startsWith('READY='));
      if (line !== undefined) return line;
    }
    return undefined;
  }

  private async tellHost(ready: string, mainPid: number): Promise<void> {
    const client = step('connect to NOTIFY_SOCKET', () => this.sys.connectUnix(this.host, 'dgram'));
    try {
      step('notify host', () => {
        fs.writeSync(client, `${ready}\n`);
        fs.writeSync(client, `MAINPID=${mainPid}\n`);
      });
      await this.barrier(client);
    } finally {
      this.sys.close(client);
    }
  }

  /** sd_notify_barrier: systemd closes the pipe end we send once it has handled what came before. */
  private async barrier(client: number): Promise<void> {
    const [r, w] = step('notify barrier pipe', () => this.sys.pipe());
    try {
      try {
        step('notify host', () => this.sys.sendFd(client, w, 'BARRIER=1'));
      } finally {
        this.sys.close(w);
      }
      const deadline = Date.now() + BARRIER_MS;
      while (!(await this.sys.waitReadable(r, Math.max(0, deadline - Date.now())))) {
        if (Date.now() < deadline) continue; // interrupted, not timed out
        this.warn('Timeout after waiting 30s for barrier. Ignored.');
        return;
      }
      if (fs.readSync(r, Buffer.alloc(1)) !== 0) throw new RuntimeError('notify host', 'unexpected read from synchronization pipe');
    } finally {
      this.sys.close(r);
    }
  }
}
