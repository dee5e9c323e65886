/**
 * runc-compatible logging. With --log FILE, warnings and errors go there as
 * text or, with --log-format json, as {"level","msg","time"} lines (what
 * containerd's shim parses); errors are also printed plainly on stderr.
 * Without --log they go to stderr in logrus' text form, as runc's do.
 */
import fs from 'node:fs';
import { stderr } from './output.js';

export type LogFormat = 'text' | 'json';
type Level = 'debug' | 'info' | 'warning' | 'error';

export interface LogOptions {
  /** --log, open for appending (src/caller-path.ts opens it). */
  fd?: number;
  format?: LogFormat;
  debug?: boolean;
}

/**
 * Now, in RFC 3339 with microseconds (what logrus' JSON and containerd's
 * parser take), so that --debug lines time the phases of a command.
 */
export function logTime(): string {
  const us = Math.round((performance.timeOrigin + performance.now()) * 1000);
  return new Date(Math.floor(us / 1000)).toISOString().replace(/\.(\d{3})Z$/, (_, ms) => `.${ms}${String(us % 1000).padStart(3, '0')}Z`);
}

export class Logger {
  constructor(private readonly opts: LogOptions = {}) {}

  /** The --log file's fd, if any. */
  get fd(): number | undefined {
    return this.opts.fd;
  }

  get debugging(): boolean {
    return this.opts.debug === true;
  }

  private line(level: Level, msg: string, time = logTime()): string {
    if (this.opts.format === 'json') return JSON.stringify({ level, msg, time }) + '\n';
    return `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
  }

  private emit(level: Level, msg: string, time?: string): void {
    if (level === 'debug' && !this.opts.debug) return;
    const line = this.line(level, msg, time);
    if (this.opts.fd !== undefined) {
      try {
        fs.writeSync(this.opts.fd, line);
      } catch {
        stderr(line);
      }
    } else {
      stderr(line);
    }
  }

  /** A --debug line; `time` when it happened elsewhere (the init's lines). */
  debug(msg: string, time?: string): void { this.emit('debug', msg, time); }
  info(msg: string): void { this.emit('info', msg); }
  warn(msg: string): void { this.emit('warning', msg); }

  /** The one error line of a failed command. */
  error(msg: string): void {
    this.emit('error', msg);
    if (this.opts.fd !== undefined) stderr(msg + '\n');
  }
}

export let log = new Logger();
export function setLogger(l: Logger): void { log = l; }
