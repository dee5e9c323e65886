/**
 * The sync socket, seen from the parent or from the init: messages of
 * ./messages.ts over a file descriptor, read and written with read(2) and
 * write(2) through `Sys`. Waiting is poll(2) on a worker thread, so neither
 * engine's stream layer is involved (Bun cannot wrap an inherited socket in
 * a net.Socket; see src/engine.ts) and the parent's event loop keeps running.
 */
import { RuntimeError } from '../errors.js';
import { SysError, type Sys } from '../sys/types.js';
import { decodeMessage, encodeMessage, type Message, type MessageOf, type MessageType } from './messages.js';

/** The messages sent with an fd attached (SCM_RIGHTS). */
type FdMessageType = 'seccomp-fd' | 'mount-source-fd';

/** The peer cannot go on (see Channel.watch): not an end of file. */
class PeerHeld extends RuntimeError {}

export class Channel {
  private buf = '';
  private eof = false;
  private closed = false;
  /** Fds the peer sent with its messages (SCM_RIGHTS), oldest first. */
  private fds: number[] = [];
  /** The only process whose writes are read, once onlyFrom() has named it. */
  private writer?: number;

  /** Said before the step of an "error" from the peer (runc's chain: "unable to start container process: error during container init"). */
  errorContext?: string;

  /** Where "log" messages from the peer go. */
  onLog: (level: string, msg: string, time?: string) => void = () => {};

  /**
   * Asked every 100 ms while a wait goes on: why the peer cannot go on, if
   * something holds it (see heldBeforeExec). The wait then fails.
   */
  watch?: () => string | undefined;

  constructor(private readonly sys: Sys, readonly fd: number, private readonly peer: string) {}

  private peerError(step: string, detail: string): RuntimeError {
    return new RuntimeError(this.errorContext ? `${this.errorContext}: ${step}` : step, detail);
  }

  /** A whole line from what was read so far, if there is one. */
  private takeLine(): string | undefined {
    const i = this.buf.indexOf('\n');
    if (i < 0) {
      if (this.eof) throw new RuntimeError('sync', `${this.peer} closed the sync socket unexpectedly`);
      return undefined;
    }
    const line = this.buf.slice(0, i);
    this.buf = this.buf.slice(i + 1);
    return line;
  }

  private readMore(): void {
    const chunk = Buffer.alloc(65536);
    const { n, fd, pid } = this.sys.recvmsg(this.fd, chunk);
    if (fd !== undefined) this.fds.push(fd);
    // Bytes with no writer named (no credentials, or pid 0) were queued
    // before onlyFrom(), when only the peer held the socket. Any process of
    // the container is in a pid namespace below ours, so it has a pid here.
    if (this.writer !== undefined && pid && pid !== this.writer) {
      throw new RuntimeError('sync', `process ${pid}, not the ${this.peer} (${this.writer}), wrote to the sync socket`);
    }
    if (n === 0) this.eof = true;
    else this.buf += chunk.toString('utf8', 0, n);
  }

  /**
   * From now on, only what process `pid` writes is read; anything another
   * process writes is a protocol error, whatever it says. For the exec,
   * whose socket a process of the container can take a copy of (with
   * CAP_SYS_PTRACE, from the process forked into its pid namespace, before
   * the shim has named that process): its words must never pass for ours.
   */
  onlyFrom(pid: number): void {
    this.sys.passCredentials(this.fd);
    this.writer = pid;
  }

  /** The fd that came with a message that carries one ("seccomp-fd"). */
  async receiveFd(expected: 'seccomp-fd'): Promise<number> {
    return (await this.receiveWithFd(expected)).fd;
  }

  /** A message that carries an fd, and the fd. */
  async receiveWithFd<T extends FdMessageType>(expected: T): Promise<{ msg: MessageOf<T>; fd: number }> {
    const msg = await this.receive(expected);
    return { msg: msg as MessageOf<T>, fd: this.takeFd(expected) };
  }

  /** receiveWithFd() without the event loop (see receiveSync). */
  receiveWithFdSync<T extends FdMessageType>(expected: T): { msg: MessageOf<T>; fd: number } {
    const msg = this.receiveSync(expected);
    return { msg, fd: this.takeFd(expected) };
  }

  private takeFd(expected: FdMessageType): number {
    const fd = this.fds.shift();
    if (fd === undefined) throw new RuntimeError('sync', `"${expected}" from ${this.peer} came without its fd`);
    return fd;
  }

  /** Sends `msg` with `fd` attached (SCM_RIGHTS). */
  sendWithFd(msg: Message, fd: number): void {
    this.sys.sendFd(this.fd, fd, encodeMessage(msg));
  }

  /** The next line, without its newline; a RuntimeError once the peer has closed. */
  async line(): Promise<string> {
    for (;;) {
      const line = this.takeLine();
      if (line !== undefined) return line;
      // false: interrupted, or the watch's time, before anything came; ask again.
      if (await this.sys.waitReadable(this.fd, this.watch ? 100 : -1)) this.readMore();
      else this.checkHeld();
    }
  }

  /** Fails the wait if the watch says the peer cannot go on. */
  checkHeld(): void {
    const why = this.watch?.();
    if (why) throw new PeerHeld('wait', why);
  }

  /**
   * receive() without the event loop: read(2) blocks this thread. For the
   * init once it is in the container's cgroups, where a new thread (the
   * worker poll(2) would wait on) may not fit under pids.max.
   */
  receiveSync<T extends MessageType>(expected: T): MessageOf<T> {
    for (;;) {
      let line = this.takeLine();
      while (line === undefined) {
        this.readMore();
        line = this.takeLine();
      }
      const msg = this.checked(decodeMessage(line, this.peer), expected);
      if (msg) return msg as MessageOf<T>;
    }
  }

  /** An "error" from the peer becomes a RuntimeError; "log" goes to onLog (undefined); else the message. */
  private checked(msg: Message, expected?: MessageType): Message | undefined {
    if (msg.type === 'log') {
      this.onLog(msg.level, msg.message, msg.time);
      return undefined;
    }
    if (msg.type === 'error') throw this.peerError(msg.step, msg.detail);
    if (expected && msg.type !== expected) throw new RuntimeError('sync', `expected "${expected}" from ${this.peer}, got "${msg.type}"`);
    return msg;
  }

  /**
   * The next message other than "log" (those go to onLog). An "error" from
   * the peer becomes a RuntimeError with its step; with `expected`, any
   * other type is a protocol error.
   */
  async receive<T extends MessageType>(expected?: T): Promise<T extends MessageType ? MessageOf<T> : Message> {
    for (;;) {
      const msg = this.checked(decodeMessage(await this.line(), this.peer), expected);
      if (msg) return msg as never;
    }
  }

  /**
   * Waits for the peer's exec: the socket is close-on-exec in the program,
   * so end of file means it runs; an "error" before that says why not.
   */
  async execed(): Promise<void> {
    for (;;) {
      let line: string;
      try {
        line = await this.line();
      } catch (err) {
        if (err instanceof PeerHeld) throw err;
        return;
      }
      const msg = decodeMessage(line, this.peer);
      if (msg.type === 'log') this.onLog(msg.level, msg.message, msg.time);
      else if (msg.type === 'error') throw this.peerError(msg.step, msg.detail);
      else throw new RuntimeError('sync', `unexpected "${msg.type}" from ${this.peer} before its exec`);
    }
  }

  /**
   * Once the process the exec shim forked is the only one holding the
   * socket (it is the container's until its execve, and something of the
   * container may have taken a copy): whether end of file comes within
   * `ms`. Whatever is written there is not ours to read: a protocol error,
   * whatever it says.
   */
  async endWithin(ms: number): Promise<boolean> {
    if (this.buf === '' && !this.eof && !(await this.sys.waitReadable(this.fd, ms))) return false;
    if (this.buf === '') this.readMore();
    for (const fd of this.fds.splice(0)) this.sys.close(fd);
    if (this.eof && this.buf === '') return true;
    throw new RuntimeError('sync', `${this.peer} wrote to the sync socket before its exec`);
  }

  /**
   * Sends a message. A peer that is gone is not an error here: it said why
   * before it went (or died), and the next receive() reports that.
   */
  send(msg: Message): void {
    const data = Buffer.from(encodeMessage(msg));
    try {
      for (let off = 0; off < data.length; ) off += this.sys.send(this.fd, data.subarray(off));
    } catch (err) {
      if (!(err instanceof SysError && (err.code === 'EPIPE' || err.code === 'ECONNRESET'))) throw err;
    }
  }

  /** Closes our end. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sys.close(this.fd);
    for (const fd of this.fds.splice(0)) this.sys.close(fd);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
