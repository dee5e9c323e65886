/**
 * OCI hooks: each runs with its own args and env, the container state as
 * JSON on stdin, and an optional timeout after which it is killed. A failing
 * hook of any kind but poststop stops the operation: runtime-spec 1.3.0 made
 * a failing poststart an error, as runc (1.1.5 and 1.3.6 alike) has it.
 * A failing poststop only warns, as the spec says (runc 1.3.6 fails `delete`
 * once all is removed).
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

/** The runtime's environment less what our launcher put there for us (_OCIRUN_*). */
function withoutOurs(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('_OCIRUN_')));
}

/** A hook's output in a one-line error. */
const oneLine = (text: string | null) => (text ?? '').trim().replace(/\n/g, '\\n');

/**
 * Runs one hook; returns undefined on success, else what went wrong. A hook
 * without an `env` of its own gets `inherited`: by default the runtime's own
 * environment (PATH among it), as runc's hooks do (Go's exec with a nil Env).
 * An `env` of [] is an empty environment, as in runc.
 */
export function runHook(hook: HookConfig, state: HookState, inherited: NodeJS.ProcessEnv | string[] = process.env): string | undefined {
  const args = hook.args?.length ? hook.args : [hook.path];
  const r = builtin<typeof ChildProcess>('node:child_process').spawnSync(hook.path, args.slice(1), {
    argv0: args[0],
    env: hook.env ? envObject(hook.env) : Array.isArray(inherited) ? envObject(inherited) : withoutOurs(inherited),
    input: JSON.stringify(state),
    timeout: hook.timeout ? hook.timeout * 1000 : undefined,
    killSignal: 'SIGKILL',
    // As runc: the hook's output is kept for the error, not passed on.
    stdio: ['pipe', 'pipe', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ETIMEDOUT') return `hook ran past specified timeout of ${hook.timeout!.toFixed(1)}s`;
  // A hook need not read the state: one that exits first leaves us EPIPE, which is no failure.
  if (r.error && code !== 'EPIPE') return r.error.message;
  const output = () => `, stdout: ${oneLine(r.stdout)}, stderr: ${oneLine(r.stderr)}`;
  if (r.signal) return `signal: ${signalName(r.signal)}${output()}`;
  if (r.status !== 0) return `exit status ${r.status}${output()}`;
  return undefined;
}

/**
 * As Go's exec reports a killed process ("signal: killed"), in Go's words
 * for each Linux signal: a hook killed by the seccomp filter reads "signal:
 * bad system call", which runc 1.3.6's seccomp.bats "startContainer hook"
 * matches.
 */
const GO_SIGNAL_NAMES: Partial<Record<NodeJS.Signals, string>> = {
  SIGHUP: 'hangup', SIGINT: 'interrupt', SIGQUIT: 'quit', SIGILL: 'illegal instruction', SIGTRAP: 'trace/breakpoint trap',
  SIGABRT: 'aborted', SIGBUS: 'bus error', SIGFPE: 'floating point exception', SIGKILL: 'killed', SIGUSR1: 'user defined signal 1',
  SIGSEGV: 'segmentation fault', SIGUSR2: 'user defined signal 2', SIGPIPE: 'broken pipe', SIGALRM: 'alarm clock', SIGTERM: 'terminated',
  SIGSTKFLT: 'stack fault', SIGCHLD: 'child exited', SIGCONT: 'continued', SIGSTOP: 'stopped (signal)', SIGTSTP: 'stopped',
  SIGTTIN: 'stopped (tty input)', SIGTTOU: 'stopped (tty output)', SIGURG: 'urgent I/O condition', SIGXCPU: 'CPU time limit exceeded',
  SIGXFSZ: 'file size limit exceeded', SIGVTALRM: 'virtual timer expired', SIGPROF: 'profiling timer expired', SIGWINCH: 'window changed',
  SIGIO: 'I/O possible', SIGPWR: 'power failure', SIGSYS: 'bad system call',
};

function signalName(signal: NodeJS.Signals): string {
  return GO_SIGNAL_NAMES[signal] ?? signal;
}

/**
 * Runs the hooks of one kind in order; the first failure throws (a poststop
 * one warns). The error starts as runc 1.3.6's ("error running createRuntime
 * hook #1: exit status 1, ...", which its hooks.bats matches; runc 1.1.5 says
 * "error running hook #1: error running hook: exit status 1, ...").
 */
export function runHooks(kind: HookKind, hooks: HookConfig[] | undefined, state: HookState, warn: (m: string) => void, debug: (m: string) => void = (m) => log.debug(m), inherited?: NodeJS.ProcessEnv | string[]): void {
  for (const [i, hook] of (hooks ?? []).entries()) {
    debug(`hooks.${kind}[${i}]: running ${JSON.stringify([hook.path, ...(hook.args ?? []).slice(1)])}${hook.timeout ? ` (timeout ${hook.timeout}s)` : ''}`);
    const problem = runHook(hook, state, inherited);
    debug(`hooks.${kind}[${i}]: ${problem ?? 'done'}`);
    if (!problem) continue;
    const step = `error running ${kind} hook #${i}`;
    if (kind === 'poststop') warn(`${step}: ${hook.path}: ${problem} (ignored: a poststop hook cannot fail the operation)`);
    else throw new RuntimeError(step, `${hook.path}: ${problem}`);
  }
}
