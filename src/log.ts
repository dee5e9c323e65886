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
  file?: string;
  format?: LogFormat;
  debug?: boolean;
}

export class Logger {
  constructor(private readonly opts: LogOptions = {}) {}

  private line(level: Level, msg: string): string {
    const time = new Date().toISOString();
    if (this.opts.format === 'json') return JSON.stringify({ level, msg, time }) + '\n';
    return `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
  }

  private emit(level: Level, msg: string): void {
    if (level === 'debug' && !this.opts.debug) return;
    if (this.opts.file) {
      try {
        fs.appendFileSync(this.opts.file, this.line(level, msg));
      } catch {
        stderr(this.line(level, msg));
      }
    } else {
      stderr(this.line(level, msg));
    }
  }

  debug(msg: string): void { this.emit('debug', msg); }
  info(msg: string): void { this.emit('info', msg); }
  warn(msg: string): void { this.emit('warning', msg); }

  /** The one error line of a failed command. */
  error(msg: string): void {
    this.emit('error', msg);
    if (this.opts.file) stderr(msg + '\n');
  }
}

export let log = new Logger();
export function setLogger(l: Logger): void { log = l; }
