/** Shared CLI plumbing: global options, the lazily loaded syscall layer, error exit. */
import type { Command } from 'commander';
import { context, type Context } from '../container/context.js';
import { log } from '../log.js';
import type { Sys } from '../sys/types.js';

export interface GlobalOptions {
  root?: string;
  log?: string;
  logFormat?: 'text' | 'json';
  debug?: boolean;
  systemdCgroup?: boolean;
}

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

export function ctxOf(cmd: Command): Context {
  return context({ root: globals(cmd).root });
}

/** koffi is loaded only by the commands that make system calls. */
export async function loadSys(): Promise<Sys> {
  const { LibcSys } = await import('../sys/libc.js');
  return new LibcSys();
}

export function fail(err: unknown): never {
  const msg = err instanceof Error ? err.message : String(err);
  log.error(msg);
  if (process.env.OCIRUN_DEBUG_STACK && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exit(1);
}

export function parseCount(value: string, name: string): number {
  if (!/^\d+$/.test(value)) throw new Error(`${name}: "${value}" is not a non-negative integer`);
  return Number(value);
}
