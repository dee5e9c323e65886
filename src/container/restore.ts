/**
 * `restore`: a container made again from a bundle and a checkpoint image,
 * as runc's Restore does. The bundle's config is checked and planned as for
 * create; the state directory ("creating") and the cgroups with their limits
 * exist before CRIU runs, so a failure or a kill leaves what `delete -f`
 * undoes. CRIU then runs with runc's options, in the container's cgroups
 * (v1: also with them as its cgroup roots) and in a private mount namespace
 * of its own where the rootfs is bound to a mount point of its own (CRIU
 * wants one), so nothing of the restore is ever mounted on the host. The
 * pipes the init had as stdio are ours now (--inherit-fd, from
 * descriptors.json); its root task is restored as our child
 * (--restore-sibling), so a foreground restore waits for it as `run` does.
 *
 * Not in this version, refused before anything exists: the systemd cgroup
 * driver, a process.terminal (CRIU's orphan-pts hand-over), prestart and
 * createRuntime hooks (runc runs them from CRIU's setup-namespaces
 * notification, which only its RPC mode delivers), lazy pages (the config
 * refusals are restoreChecks in src/config/validate.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { hostLayout } from '../cgroups/index.js';
import { newCgroupManager } from '../cgroups/drivers.js';
import { ConfigError, ERR, RuntimeError, step } from '../errors.js';
import { log } from '../log.js';
import { loadConfig, resolveRootfs } from '../config/load.js';
import { planContainer } from '../config/plan.js';
import { validateConfig, validateForRestore } from '../config/validate.js';
import type { Sys } from '../sys/types.js';
import type { Context } from './context.js';
import { checkCommonFlags, commonArgs, DESCRIPTORS_FILE, externalMounts, externalNsKey, imageDir, requireCriu, runCriu, workDir, type CriuCommonOptions } from './criu.js';
import { writePidFile } from './pid-file.js';
import { removeContainer, undoCreate } from './destroy.js';
import { claimStateDir, refuseIdInUse } from './lock.js';
import { exitCodeOf, relaySignals } from '../process/foreground.js';
import { checkId, creatingState, processStartTime, stateDir, writeSavedConfig, writeState } from './state.js';

export interface RestoreOptions extends CriuCommonOptions {
  id: string;
  bundle: string;
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  lsmProfile?: string;
  lsmMountContext?: string;
}

/** The init's stdio when it was dumped; the pipes among them are handed over. */
function readDescriptors(images: string): string[] {
  const file = path.join(images, DESCRIPTORS_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    // "open F: no such file or directory (ENOENT)", as runc words it.
    const e = err as NodeJS.ErrnoException;
    throw new RuntimeError('restore', `open ${file}: ${e.message.replace(/^[A-Z]+: ([^,]+),.*$/, '$1')} (${e.code})`);
  }
  let fds: unknown;
  try {
    fds = JSON.parse(text);
  } catch (err) {
    throw new RuntimeError('restore', `read ${file}: not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(fds) || !fds.every((f) => typeof f === 'string')) throw new RuntimeError('restore', `${file}: not a list of descriptors`);
  return fds as string[];
}

/** Returns the restored init's exit code (foreground), or 0 once it runs (detached). */
export async function restore(sys: Sys, ctx: Context, opts: RestoreOptions): Promise<number> {
  checkId(opts.id);
  checkCommonFlags(opts);
  if (opts.consoleSocket) throw new ConfigError('--console-socket', 'a container with a terminal cannot be restored by this version', 'check flags');
  if (fs.existsSync(stateDir(ctx.root, opts.id))) throw new RuntimeError('', ERR.exist);
  const images = imageDir(opts);
  const descriptors = readDescriptors(images);
  const bundle = path.resolve(opts.bundle);
  const config = loadConfig(bundle);
  const layout = step('detect cgroups', () => hostLayout());
  const rootfs = resolveRootfs(bundle, config);
  validateConfig(config, { bundle, rootfs, layout });
  if (ctx.systemdCgroup) throw new RuntimeError('restore', 'restore with the systemd cgroup driver is not supported by this version');
  validateForRestore(config, { bundle, rootfs, layout });
  const plan = planContainer(config, { id: opts.id, bundle, rootfs, warn: ctx.warn });
  // CRIU restores as root: no rootless skipping of cgroups, device rules enforced.
  const cgroups = newCgroupManager({ layout, systemd: false, rootless: false, sys, id: opts.id, cgroupsPath: plan.cgroupsPath, command: 'restore' });
  const resources = cgroups.prepare({ resources: plan.resources, devices: { linuxDevices: config.linux?.devices }, warn: ctx.warn });
  requireCriu('restore');

  const state = creatingState(plan, cgroups.record());
  refuseIdInUse(ctx.root, opts.id);
  cgroups.checkReusable();
  const unlock = step('create state dir', () => claimStateDir(sys, ctx.root, opts.id));
  const dir = stateDir(ctx.root, opts.id);
  const nsFds: number[] = [];
  try {
    step('write state', () => writeState(ctx.root, state));
    step('save config', () => writeSavedConfig(ctx.root, opts.id, config));
    await cgroups.create(resources);

    const criuRoot = path.join(dir, 'criu-root');
    step('create criu root', () => fs.mkdirSync(criuRoot));
    const pidFile = path.join(dir, 'criu.pid');
    const args = ['restore', ...commonArgs(opts, config, 'restore.log'), '--root', criuRoot, '--restore-detached', '--restore-sibling', '--pidfile', pidFile, '--evasive-devices'];
    const mounts = new Map(externalMounts(plan, layout, state.cgroupPaths, plan.maskedPaths).map((m) => [m.key, m.source]));
    for (const [key, source] of mounts) args.push('--external', `mnt[${key}]:${source}`);
    // The pipes among the init's stdio: CRIU gives the restored init ours.
    descriptors.forEach((d, fd) => d.startsWith('pipe:') && args.push('--inherit-fd', `fd[${fd}]:${d}`));
    // Joined namespaces: network and pid were left out of the image under a key, the others are joined (runc's).
    const stdio: (number | 'inherit')[] = ['inherit', 'inherit', 'inherit'];
    for (const j of plan.join) {
      if (j.type === 'network' || j.type === 'pid') {
        const fd = step(`open ${j.type} namespace`, () => fs.openSync(j.path, 'r'));
        nsFds.push(fd);
        args.push('--inherit-fd', `fd[${stdio.length}]:${externalNsKey(j.type)}`);
        stdio.push(fd);
      } else if (j.type !== 'mount') {
        args.push('--join-ns', `${j.type}:${j.path}`);
      }
    }
    // v1: the restored tasks' cgroups, below the container's on each hierarchy (runc's CgRoot).
    if (layout.mode !== 'v2') {
      for (const h of layout.hierarchies.filter((x) => x.name !== 'unified' && state.cgroupPaths[x.name])) {
        args.push('--cgroup-root', `${h.name}:/${path.relative(h.mountPoint, state.cgroupPaths[h.name])}`);
      }
    }
    if (opts.lsmProfile) args.push('--lsm-profile', opts.lsmProfile);
    if (opts.lsmMountContext) args.push('--lsm-mount-context', opts.lsmMountContext);
    const logPath = path.join(workDir(opts), 'restore.log');
    // CRIU joins the container's cgroups before it starts (runc moves its
    // CRIU there too), and mounts the rootfs on its root in a mount
    // namespace that ends with it. There every mount is made shared again,
    // in peer groups of that namespace alone (it was made private first, so
    // nothing propagates to the host): CRIU copies the sharing of the
    // restored root and of each external mount from their sources, which
    // fails with EINVAL on a private mount. runc runs CRIU in the host's
    // namespace, where systemd made them shared.
    const procs = Object.values(state.cgroupPaths).map((d) => path.join(d, 'cgroup.procs'));
    const prelude = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n - 1)); done; mount --make-rshared / && mount --rbind "$1" "$2" || exit 125; shift 2; exec "$@"';
    log.debug(`restore: criu ${args.join(' ')}`);
    runCriu('restore', args, logPath, { stdio, via: ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', prelude, 'sh', String(procs.length), ...procs, plan.rootfs, criuRoot] });
    const pid = step('read criu pid file', () => Number(fs.readFileSync(pidFile, 'utf8').trim()));
    state.pid = pid;
    state.pidStartTime = processStartTime(pid) ?? '';
    state.phase = 'created';
    step('write state', () => writeState(ctx.root, state));
    fs.rmSync(pidFile, { force: true });
    fs.rmdirSync(criuRoot);
    log.debug(`restore: the init runs again, pid ${pid}`);
    if (opts.pidFile) writePidFile(opts.pidFile, pid);
  } catch (err) {
    await undoCreate(sys, ctx, state, 'restore', cgroups);
    throw err;
  } finally {
    for (const fd of nsFds) fs.closeSync(fd);
    unlock();
  }
  if (opts.detach) return 0;
  // In the foreground, as `run`: signals relayed, the status returned, the container deleted.
  const stopRelay = relaySignals(state.pid);
  try {
    return exitCodeOf(await sys.waitpid(state.pid));
  } finally {
    stopRelay();
    await removeContainer(sys, ctx, opts.id, { force: true }).catch((e) => ctx.warn(`delete after restore: ${(e as Error).message}`));
  }
}
