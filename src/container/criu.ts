/**
 * CRIU, as checkpoint and restore use it: the `criu` command line, with
 * the options runc sends over its RPC. One place knows how the container
 * looks to CRIU: which of its mounts are external (the config's bind
 * mounts, the v1 cgroup binds, masked files, device nodes), how its
 * cgroups map on restore, and what a failure says (CRIU's last error line
 * and its log file).
 */
import fs from 'node:fs';
import path from 'node:path';
import type * as ChildProcess from 'node:child_process';
import { builtin } from '../engine.js';
import { makeCallerDirs } from '../caller-path.js';
import { ConfigError, RuntimeError, step } from '../errors.js';
import type { CgroupLayout } from '../cgroups/index.js';
import type { ContainerPlan } from '../config/plan.js';
import type { Config } from '../config/schema.js';

/** The file restore reads first: the init's stdin, stdout and stderr as /proc/PID/fd shows them (checkpoint writes it). */
export const DESCRIPTORS_FILE = 'descriptors.json';

/** The key CRIU files an external namespace under, on dump and restore alike (runc's criuNsToKey). */
export const externalNsKey = (type: 'network' | 'pid'): string => (type === 'network' ? 'extRootNetNS' : 'extRootPidNS');

/** The options both verbs take, as runc's flags of the same names. */
export interface CriuCommonOptions {
  imagePath?: string;
  workPath?: string;
  tcpEstablished?: boolean;
  extUnixSk?: boolean;
  shellJob?: boolean;
  fileLocks?: boolean;
  manageCgroupsMode?: string;
  emptyNs?: string[];
  autoDedup?: boolean;
  lazyPages?: boolean;
}

const CGROUP_MODES = ['soft', 'full', 'strict', 'ignore'];

/** runc's default: ./checkpoint. */
export const imageDir = (opts: CriuCommonOptions): string => path.resolve(opts.imagePath ?? 'checkpoint');

/** Where CRIU writes its log and work files: --work-path, made as runc makes it, else the image directory. */
export function workDir(opts: CriuCommonOptions): string {
  if (!opts.workPath) return imageDir(opts);
  const dir = path.resolve(opts.workPath);
  fs.closeSync(makeCallerDirs('create work dir', dir, 0o700));
  return dir;
}

/**
 * The flags both verbs check before anything else, as runc's CLI does.
 * `--lazy-pages` needs CRIU's page server and userfaultfd hand-over, which
 * this version does not drive: refused, not ignored.
 */
export function checkCommonFlags(opts: CriuCommonOptions): void {
  if (opts.manageCgroupsMode !== undefined && !CGROUP_MODES.includes(opts.manageCgroupsMode)) {
    throw new ConfigError('--manage-cgroups-mode', `invalid mode "${opts.manageCgroupsMode}" (one of ${CGROUP_MODES.join(', ')})`, 'check flags');
  }
  // runc always asks for an empty network namespace (it does not manage
  // network devices); other namespace types are unknown to CRIU's option.
  for (const ns of opts.emptyNs ?? []) {
    if (ns !== 'network') throw new ConfigError('--empty-ns', `namespace "${ns}" is not supported (CRIU restores only "network" empty)`, 'check flags');
  }
  if (opts.lazyPages) throw new ConfigError('--lazy-pages', 'lazy migration is not supported by this version of ocirun', 'check flags');
}

/**
 * How long `criu check` may take: a working CRIU answers in well under a
 * second; one that waits on the network (its TCP-repair probe over a
 * loopback that is down) would hold the command, and the container's lock,
 * for minutes.
 */
const CRIU_CHECK_MS = 10_000;

/** Why CRIU cannot work here: its absence, or the first error `criu check` reports. */
export function criuUnusable(): string | undefined {
  const r = builtin<typeof ChildProcess>('node:child_process').spawnSync('criu', ['check'], { encoding: 'utf8', timeout: CRIU_CHECK_MS, killSignal: 'SIGKILL' });
  const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'criu is not installed (criu: command not found)';
  if (code === 'ETIMEDOUT') return `criu check: no answer within ${CRIU_CHECK_MS / 1000} s (${firstError(`${r.stdout}\n${r.stderr}`) ?? 'killed'})`;
  if (r.error) return `criu check: ${r.error.message}`;
  const error = firstError(`${r.stdout}\n${r.stderr}`);
  if (r.status !== 0 || error) return `criu check: ${error ?? `exit status ${r.status}`}`;
  return undefined;
}

/** CRIU's first error line (the cause; the last ones say "Dumping FAILED."), without its time and source location. */
function firstError(text: string): string | undefined {
  // "(00.123456)      1: Error (criu/mount-v2.c:891): mnt-v2: ...": the time and the task's pid are optional.
  const pattern = /^(\(\s*[\d.]+\)\s*)?(\d+:\s*)?Error \([^)]*\): /;
  const line = text.split('\n').find((l) => pattern.test(l));
  return line?.replace(pattern, '').trim();
}

export function requireCriu(step: string): void {
  const reason = criuUnusable();
  if (reason) throw new RuntimeError(step, `CRIU cannot work on this host: ${reason}`);
}

/** The options runc's RPC sets on both dump and restore, as criu's flags. */
export function commonArgs(opts: CriuCommonOptions, config: Config, logFile: string): string[] {
  const args = ['-D', imageDir(opts), '-o', logFile, '-v4', '--empty-ns', 'net'];
  if (opts.workPath) args.push('-W', path.resolve(opts.workPath));
  if (opts.shellJob) args.push('--shell-job');
  if (opts.tcpEstablished) args.push('--tcp-established');
  if (opts.extUnixSk) args.push('--ext-unix-sk');
  if (opts.fileLocks) args.push('--file-locks');
  if (opts.autoDedup) args.push('--auto-dedup');
  args.push(opts.manageCgroupsMode ? `--manage-cgroups=${opts.manageCgroupsMode}` : '--manage-cgroups');
  // runc's CRIU configuration file: the annotation's, none if it is empty,
  // else /etc/criu/runc.conf (kept for runc's users); one that does not
  // exist is skipped, as CRIU's RPC skips it.
  const annotated = config.annotations?.['org.criu.config'];
  const file = annotated ?? '/etc/criu/runc.conf';
  if (file && fs.existsSync(file)) args.push('--config', file);
  return args;
}

/** A mount CRIU leaves to us: found at `path` on dump and filed as `key`; on restore, `key` is bound from `source`. */
export interface ExternalMount {
  path: string;
  key: string;
  source: string;
}

/**
 * The mounts CRIU must treat as external, as runc lists them: the config's
 * bind mounts; v1 cgroups, which are binds of the host's directories under
 * a tmpfs (src/rootfs/mounts.ts; with a cgroup namespace too, where runc
 * mounts cgroupfs and lists nothing; on v2 a real mount CRIU dumps); masked
 * paths that are files (binds of /dev/null, all under one key); device
 * nodes. `maskedFiles`: on dump, the masked paths that are files in the
 * running container; on restore only their presence matters.
 */
export function externalMounts(plan: ContainerPlan, layout: CgroupLayout, cgroupPaths: Record<string, string>, maskedFiles: string[]): ExternalMount[] {
  const out: ExternalMount[] = [];
  for (const m of plan.mounts) {
    if (m.bind) out.push({ path: m.destination, key: m.destination, source: m.source });
    else if (m.type === 'cgroup' && layout.mode !== 'v2') {
      for (const h of layout.hierarchies.filter((x) => x.name !== 'unified')) {
        const dest = path.posix.join(m.destination, h.name.replace(/^name=/, ''));
        out.push({ path: dest, key: dest, source: cgroupPaths[h.name] ?? path.join(h.mountPoint, h.ownPath) });
      }
    }
  }
  for (const f of maskedFiles) out.push({ path: f, key: '/dev/null', source: '/dev/null' });
  for (const d of plan.devices) out.push({ path: d.path, key: d.path, source: d.path });
  return out;
}

/**
 * Runs criu; a failure is one line: the action, CRIU's first error from
 * its log (or its output), and where the log is.
 */
export function runCriu(step: string, args: string[], logPath: string, spawnOpts: { stdio?: ChildProcess.StdioOptions; via?: string[] } = {}): void {
  const cp = builtin<typeof ChildProcess>('node:child_process');
  const [cmd, ...rest] = [...(spawnOpts.via ?? []), 'criu'];
  const r = cp.spawnSync(cmd, [...rest, ...args], { encoding: 'utf8', stdio: spawnOpts.stdio ?? ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw new RuntimeError(step, `criu: ${r.error.message}`);
  if (r.status === 0) return;
  let log = '';
  try {
    log = fs.readFileSync(logPath, 'utf8');
  } catch {
    /* CRIU stopped before it opened its log */
  }
  const reason = firstError(log) ?? firstError(`${r.stdout ?? ''}\n${r.stderr ?? ''}`) ?? (r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`);
  throw new RuntimeError(step, `criu failed: ${reason} (log file: ${logPath})`);
}
