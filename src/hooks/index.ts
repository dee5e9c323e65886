/**
 * OCI hooks: each runs with its own args and env, the container state as
 * JSON on stdin, and an optional timeout after which it is killed. Failing
 * prestart/createRuntime/createContainer/startContainer hooks stop the
 * operation; poststart and poststop failures are only warnings (spec).
 */
import type * as ChildProcess from 'node:child_process';
import { builtin } from '../engine.js';
import { RuntimeError } from '../errors.js';
import { log } from '../log.js';
import type { HookKinds } from '../config/constants.js';
import type { HookConfig } from '../config/schema.js';

export type HookKind = (typeof HookKinds)[number];

export interface HookState {
  ociVersion: string;
  id: string;
  status: string;
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

function envObject(env: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env ?? []) {
    const i = e.indexOf('=');
    if (i > 0) out[e.slice(0, i)] = e.slice(i + 1);
  }
  return out;
}

/** A hook's output in a one-line error. */
const oneLine = (text: string | null) => (text ?? '').trim().replace(/\n/g, '\\n');

/** Runs one hook; returns undefined on success, else what went wrong. */
export function runHook(hook: HookConfig, state: HookState): string | undefined {
  const args = hook.args?.length ? hook.args : [hook.path];
  const r = builtin<typeof ChildProcess>('node:child_process').spawnSync(hook.path, args.slice(1), {
    argv0: args[0],
    env: envObject(hook.env),
    input: JSON.stringify(state),
    timeout: hook.timeout ? hook.timeout * 1000 : undefined,
    killSignal: 'SIGKILL',
    // As runc: the hook's output is kept for the error, not passed on.
    stdio: ['pipe', 'pipe', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ETIMEDOUT') return `timed out after ${hook.timeout}s`;
  // A hook need not read the state: one that exits first leaves us EPIPE, which is no failure.
  if (r.error && code !== 'EPIPE') return r.error.message;
  const output = () => `, stdout: ${oneLine(r.stdout)}, stderr: ${oneLine(r.stderr)}`;
  if (r.signal) return `error running hook: killed by ${r.signal}${output()}`;
  if (r.status !== 0) return `error running hook: exit status ${r.status}${output()}`;
  return undefined;
}

/** Runs the hooks of one kind in order; the first failure throws (or, for post* hooks, warns). */
export function runHooks(kind: HookKind, hooks: HookConfig[] | undefined, state: HookState, warn: (m: string) => void, debug: (m: string) => void = (m) => log.debug(m)): void {
  for (const [i, hook] of (hooks ?? []).entries()) {
    debug(`hooks.${kind}[${i}]: running ${JSON.stringify([hook.path, ...(hook.args ?? []).slice(1)])}${hook.timeout ? ` (timeout ${hook.timeout}s)` : ''}`);
    const problem = runHook(hook, state);
    debug(`hooks.${kind}[${i}]: ${problem ?? 'done'}`);
    if (!problem) continue;
    const msg = `hooks.${kind}[${i}] ${hook.path}: ${problem}`;
    if (kind === 'poststart' || kind === 'poststop') warn(`${msg} (ignored: ${kind} hooks cannot fail the operation)`);
    else throw new RuntimeError(`${kind} hook`, msg);
  }
}
