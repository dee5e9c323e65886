/**
 * The library API: the same operations as the command line, for TypeScript
 * programs. Each takes an optional state root (default /run/ocirun, or
 * $XDG_RUNTIME_DIR/ocirun when rootless, as runc's).
 *
 *   import { run } from 'ocirun';
 *   const status = await run({ id: 'demo', bundle: '/path/to/bundle' });
 */
import { context, type Context } from './container/context.js';
import { create as createOp, type CreateOptions, type Created } from './container/create.js';
import { deleteContainer } from './container/delete.js';
import { kill as killOp } from './container/kill.js';
import { list as listOp, pids as pidsOp, state as stateOp } from './container/query.js';
import { run as runOp, type RunOptions } from './container/run.js';
import { start as startOp } from './container/start.js';
import type { Sys } from './sys/types.js';

export type { Config, OciState } from './config/schema.js';
export type { CreateOptions, Created } from './container/create.js';
export type { RunOptions } from './container/run.js';
export { defaultSpec } from './config/default.js';
export { RuntimeError, ConfigError } from './errors.js';

export interface RuntimeOptions {
  /** State directory root; default /run/ocirun, or $XDG_RUNTIME_DIR/ocirun when rootless. */
  root?: string;
  /** Rootless cgroup handling; default: when not root of the initial user namespace. */
  rootless?: boolean;
  warn?: (msg: string) => void;
}

let realSys: Sys | undefined;
async function sys(): Promise<Sys> {
  if (!realSys) realSys = new (await import('./sys/libc.js')).LibcSys();
  return realSys;
}
const ctx = (o?: RuntimeOptions): Context => context(o);

export async function create(opts: CreateOptions, o?: RuntimeOptions): Promise<Created> {
  return createOp(await sys(), ctx(o), opts);
}
export async function start(id: string, o?: RuntimeOptions): Promise<void> {
  return startOp(await sys(), ctx(o), id);
}
export function state(id: string, o?: RuntimeOptions) {
  return stateOp(ctx(o), id);
}
export function kill(id: string, signal?: string | number, opts: { all?: boolean } = {}, o?: RuntimeOptions): Promise<void> {
  return sys().then((s) => killOp(s, ctx(o), id, signal, opts));
}
export async function remove(id: string, opts: { force?: boolean } = {}, o?: RuntimeOptions): Promise<void> {
  return deleteContainer(await sys(), ctx(o), id, opts);
}
export { remove as delete };
/** Creates, starts and (unless detach) waits; resolves with the exit status. */
export async function run(opts: RunOptions, o?: RuntimeOptions): Promise<number> {
  return runOp(await sys(), ctx(o), opts);
}
export function list(o?: RuntimeOptions) {
  return listOp(ctx(o));
}
export function ps(id: string, o?: RuntimeOptions): number[] {
  return pidsOp(ctx(o), id);
}
