/**
 * `checkpoint`: the container's processes dumped by CRIU into an image
 * directory, as runc's Checkpoint does. What comes before CRIU is runc's:
 * the container's status and the flags are checked first, so a bad
 * --parent-path is refused without CRIU being called, and CRIU must be
 * able to work here (`criu check`) or the command fails with its reason.
 * Then: the init's stdio targets go to descriptors.json (restore hands the
 * pipes back), and `criu dump` runs with runc's options, the container's
 * external mounts and namespaces, and its freezer. Unless the container is
 * left running (--leave-running, --pre-dump), it is then destroyed, as
 * runc destroys it: its processes are gone into the image.
 */
import fs from 'node:fs';
import path from 'node:path';
import { cgroupManager } from '../cgroups/drivers.js';
import { ConfigError, RuntimeError, step } from '../errors.js';
import { planContainer } from '../config/plan.js';
import type { Sys } from '../sys/types.js';
import { log } from '../log.js';
import { makeCallerDirs, replaceCallerFile } from '../caller-path.js';
import { notifyDir } from '../systemd/notify.js';
import type { Context } from './context.js';
import { checkCommonFlags, commonArgs, externalMounts, imageDir, requireCriu, runCriu, workDir, type CriuCommonOptions } from './criu.js';
import { destroy } from './destroy.js';
import { withContainer } from './lock.js';
import { currentStatus, readSavedConfig, readState } from './state.js';

export interface CheckpointOptions extends CriuCommonOptions {
  parentPath?: string;
  leaveRunning?: boolean;
  preDump?: boolean;
  /** ADDRESS:PORT of a CRIU page server. */
  pageServer?: string;
  statusFd?: number;
}

/** The file restore reads first: the init's stdin, stdout and stderr as /proc/PID/fd shows them. */
export const DESCRIPTORS_FILE = 'descriptors.json';

function checkFlags(opts: CheckpointOptions): { address: string; port: number } | undefined {
  checkCommonFlags(opts);
  if (opts.statusFd !== undefined) throw new ConfigError('--status-fd', 'only used with --lazy-pages, which this version does not support', 'check flags');
  if (opts.parentPath !== undefined) {
    if (path.isAbsolute(opts.parentPath)) throw new ConfigError('--parent-path', 'must be relative', 'check flags');
    const parent = path.join(imageDir(opts), opts.parentPath);
    let isDir: boolean;
    try {
      isDir = fs.statSync(parent).isDirectory();
    } catch {
      throw new ConfigError('--parent-path', `invalid --parent-path: stat ${parent}: no such file or directory (ENOENT)`, 'check flags');
    }
    if (!isDir) throw new ConfigError('--parent-path', `invalid --parent-path: ${parent}: not a directory (ENOTDIR)`, 'check flags');
  }
  if (opts.pageServer === undefined) return undefined;
  // runc's setPageServer.
  const m = /^(.+):(\d+)$/.exec(opts.pageServer);
  if (!m || !m[1]) throw new ConfigError('--page-server', 'Use --page-server ADDRESS:PORT to specify page server', 'check flags');
  return { address: m[1].replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
}

export async function checkpoint(sys: Sys, ctx: Context, id: string, opts: CheckpointOptions): Promise<void> {
  readState(ctx.root, id);
  const pageServer = checkFlags(opts);
  await withContainer(sys, ctx, id, async (s) => {
    const status = currentStatus(ctx.root, s);
    // runc's words; a paused container can be dumped (CRIU's freezer is the same).
    if (status === 'created' || status === 'stopped' || status === 'creating') throw new RuntimeError('', `Container cannot be checkpointed in ${status} state`);
    const config = readSavedConfig(ctx.root, id);
    const plan = planContainer(config, { id, bundle: s.bundle });
    if (plan.mountNs !== 'new') throw new RuntimeError('checkpoint', 'a container without a mount namespace of its own cannot be checkpointed by this version (CRIU would dump the host\'s mounts)');
    // Its bind mount of the relay's socket directory is not in the saved config, nor would restore make it.
    if (fs.existsSync(notifyDir(ctx.root, id))) throw new RuntimeError('checkpoint', 'a container created with NOTIFY_SOCKET cannot be checkpointed by this version');
    if (config.process?.terminal && !opts.shellJob) throw new RuntimeError('checkpoint', 'a container with process.terminal cannot be checkpointed by this version (its pty would need CRIU\'s orphan-pts hand-over)');
    requireCriu('checkpoint');

    const images = imageDir(opts);
    fs.closeSync(makeCallerDirs('create image dir', images, 0o700));
    const logPath = path.join(workDir(opts), 'dump.log');
    const args = [opts.preDump ? 'pre-dump' : 'dump', '-t', String(s.pid), ...commonArgs(opts, config, 'dump.log'), '--root', s.rootfs];
    if (opts.leaveRunning) args.push('--leave-running');
    // CRIU collects the tasks with the container's freezer rather than ptrace (runc's FreezeCgroup).
    const cgroups = cgroupManager(s);
    const freezer = cgroups.freezerDir();
    if (freezer) args.push(`--freeze-cgroup=${freezer}`);
    if (pageServer) args.push('--page-server', '--address', pageServer.address, '--port', String(pageServer.port));
    if (opts.parentPath !== undefined) args.push('--prev-images-dir', opts.parentPath, '--track-mem');
    // A pre-dump is memory only: no mounts, no descriptors (runc's).
    if (!opts.preDump) {
      // Masked paths that are files are /dev/null binds: CRIU finds them by that key.
      const maskedFiles = plan.maskedPaths.filter((p) => {
        try {
          return !fs.statSync(`/proc/${s.pid}/root${p}`).isDirectory();
        } catch {
          return false;
        }
      });
      for (const m of externalMounts(plan, cgroups.layout, cgroups.paths, maskedFiles)) args.push('--external', `mnt[${m.path}]:${m.key}`);
      // Namespaces joined by path stay outside the image; restore hands them back (runc's extRoot<Type>NS).
      for (const j of plan.join) {
        if (j.type !== 'network' && j.type !== 'pid') continue;
        const ino = step(`stat ${j.type} namespace`, () => fs.statSync(j.path).ino);
        args.push('--external', `${j.type === 'network' ? 'net' : 'pid'}[${ino}]:${externalNsKey(j.type)}`);
      }
      const descriptors = [0, 1, 2].map((fd) => step('read the init\'s stdio', () => fs.readlinkSync(`/proc/${s.pid}/fd/${fd}`)));
      replaceCallerFile(`write ${DESCRIPTORS_FILE}`, path.join(images, DESCRIPTORS_FILE), JSON.stringify(descriptors), 0o600);
    }
    log.debug(`checkpoint: criu ${args.join(' ')}`);
    runCriu('checkpoint', args, logPath);
    if (!opts.leaveRunning && !opts.preDump) await destroy(sys, ctx, s, { kill: true });
  });
}

/** The key CRIU files an external namespace under, on dump and restore alike (runc's criuNsToKey). */
export const externalNsKey = (type: 'network' | 'pid'): string => (type === 'network' ? 'extRootNetNS' : 'extRootPidNS');
