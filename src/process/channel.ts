/**
 * The sync socket between the parent and the stage/init: newline-delimited
 * messages. The C stage speaks plain text lines ("pid 123"); the Node init
 * speaks JSON lines. An {"type":"error"} message fails the create.
 */
import type { Duplex } from 'node:stream';
import { RuntimeError } from '../errors.js';

export type Message = { type: string; [k: string]: unknown };

export class Channel {
  private buf = '';
  private queue: string[] = [];
  private waiters: { resolve: (l: string) => void; reject: (e: Error) => void }[] = [];
  private closed: Error | undefined;
  /** Set once we ended our side ourselves. */
  private ended = false;

  /** Where {"type":"log"} messages from the peer go. */
  onLog: (level: string, msg: string) => void = () => {};

  constructor(private readonly stream: Duplex, private readonly peer: string) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.buf += chunk;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const w = this.waiters.shift();
        if (w) w.resolve(line);
        else this.queue.push(line);
      }
    });
    const end = (err?: Error) => {
      this.closed = err ?? new RuntimeError('sync', `${this.peer} closed the sync socket unexpectedly`);
      for (const w of this.waiters.splice(0)) w.reject(this.closed);
    };
    stream.on('end', () => end());
    stream.on('close', () => end());
    stream.on('error', (e) => end(new RuntimeError('sync', `${this.peer}: ${e.message}`)));
  }

  /** The next line, raw. */
  line(): Promise<string> {
    const l = this.queue.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** The next JSON message; an error message from the peer becomes a RuntimeError. */
  async receive(expected?: string): Promise<Message> {
    let line = await this.line();
    while (line.startsWith('{"type":"log"')) {
      const m = JSON.parse(line) as Message;
      this.onLog(String(m.level), String(m.message));
      line = await this.line();
    }
    if (line.startsWith('error ')) stageReply(line);
    let msg: Message;
    try {
      msg = JSON.parse(line) as Message;
    } catch {
      throw new RuntimeError('sync', `unexpected message from ${this.peer}: ${line.slice(0, 200)}`);
    }
    if (msg.type === 'error') throw new RuntimeError(String(msg.step ?? 'init'), String(msg.detail ?? msg.message));
    if (expected && msg.type !== expected) throw new RuntimeError('sync', `expected "${expected}" from ${this.peer}, got "${msg.type}"`);
    return msg;
  }

  send(msg: Message | string): void {
    this.stream.write((typeof msg === 'string' ? msg : JSON.stringify(msg)) + '\n');
  }

  /** Ends our side once everything sent so far is flushed. */
  close(): Promise<void> {
    this.ended = true;
    return new Promise((resolve) => this.stream.end(() => resolve()));
  }

  get isClosed(): boolean {
    return this.ended || this.closed !== undefined;
  }
}

/** Parses the C stage's text replies: "error <step>: <detail>" becomes a RuntimeError. */
export function stageReply(line: string): string[] {
  if (line.startsWith('error ')) {
    const body = line.slice(6);
    const colon = body.indexOf(': ');
    throw new RuntimeError(colon > 0 ? body.slice(0, colon) : 'stage', colon > 0 ? body.slice(colon + 2) : body);
  }
  return line.split(' ');
}
