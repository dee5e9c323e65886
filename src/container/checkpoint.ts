/**
 * checkpoint and restore (runc's, through CRIU). What comes before CRIU is
 * runc's: the container and the flags are checked first, so a bad
 * --parent-path or a missing image is refused without CRIU being called.
 * Then CRIU must be able to work here (`criu check`); where it cannot (its
 * 3.17 does not know this host's 6.x vDSO, for one), the command fails with
 * CRIU's own reason. The dump and restore themselves are not part of this
 * version: where CRIU works, that is said plainly, never pretended.
 */
import fs from 'node:fs';
import path from 'node:path';
import type * as ChildProcess from 'node:child_process';
import { builtin } from '../engine.js';
import { ConfigError, ERR, RuntimeError } from '../errors.js';
import type { Context } from './context.js';
import { currentStatus, readState, stateDir } from './state.js';

export interface CheckpointOptions {
  imagePath?: string;
  parentPath?: string;
  manageCgroupsMode?: string;
}

export interface RestoreOptions {
  id: string;
  bundle: string;
  imagePath?: string;
  manageCgroupsMode?: string;
}

const CGROUP_MODES = ['soft', 'full', 'strict', 'ignore'];

function checkCgroupsMode(mode: string | undefined): void {
  if (mode !== undefined && !CGROUP_MODES.includes(mode)) throw new ConfigError('--manage-cgroups-mode', `invalid mode "${mode}" (one of ${CGROUP_MODES.join(', ')})`, 'check flags');
}

/** Why CRIU cannot checkpoint here: its absence, or the first error `criu check` reports. */
function criuUnusable(): string | undefined {
  const r = builtin<typeof ChildProcess>('node:child_process').spawnSync('criu', ['check'], { encoding: 'utf8', timeout: 30_000 });
  const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'criu is not installed (criu: command not found)';
  if (r.error) return `criu check: ${r.error.message}`;
  const out = `${r.stdout}\n${r.stderr}`;
  const error = out.split('\n').find((l) => /^Error/.test(l));
  if (r.status !== 0 || error) return `criu check: ${error?.replace(/^Error \([^)]*\): /, '') ?? `exit status ${r.status}`}`;
  return undefined;
}

function requireCriu(what: string): never {
  const reason = criuUnusable();
  if (reason) throw new RuntimeError(what, `CRIU cannot work on this host: ${reason}`);
  throw new RuntimeError(what, `checkpoint and restore with CRIU are not implemented by this version of ocirun`);
}

export function checkpoint(ctx: Context, id: string, opts: CheckpointOptions): never {
  const s = readState(ctx.root, id);
  checkCgroupsMode(opts.manageCgroupsMode);
  if (currentStatus(ctx.root, s) !== 'running') throw new RuntimeError('', ERR.notRunning);
  // runc's default image path: ./checkpoint.
  const imagePath = path.resolve(opts.imagePath ?? 'checkpoint');
  if (opts.parentPath !== undefined) {
    if (path.isAbsolute(opts.parentPath)) throw new ConfigError('--parent-path', 'must be relative (to --image-path)', 'check flags');
    const parent = path.join(imagePath, opts.parentPath);
    if (!fs.existsSync(parent)) throw new ConfigError('--parent-path', `invalid --parent-path: ${parent}: no such file or directory (ENOENT)`, 'check flags');
  }
  return requireCriu('checkpoint');
}

export function restore(ctx: Context, opts: RestoreOptions): never {
  checkCgroupsMode(opts.manageCgroupsMode);
  if (fs.existsSync(stateDir(ctx.root, opts.id))) throw new RuntimeError('', ERR.exist);
  const imagePath = path.resolve(opts.imagePath ?? 'checkpoint');
  // What runc reads first: the checkpoint's descriptors.
  const descriptors = path.join(imagePath, 'descriptors.json');
  if (!fs.existsSync(descriptors)) throw new RuntimeError('restore', `open ${descriptors}: no such file or directory (ENOENT)`);
  if (!fs.existsSync(path.join(path.resolve(opts.bundle), 'config.json'))) throw new RuntimeError('restore', `${path.join(path.resolve(opts.bundle), 'config.json')}: no such file or directory (ENOENT)`);
  return requireCriu('restore');
}
