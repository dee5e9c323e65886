/**
 * `create`: from a bundle to a container in the "created" state, with its
 * init blocked on the exec fifo. Intent is recorded before acting: the state
 * directory and a "creating" state exist before any cgroup or process, so a
 * create killed at any step leaves something `delete -f` can find and undo.
 */
import fs from 'node:fs';
import { mountKeysBelow } from '../rootfs/host-mounts.js';
import path from 'node:path';
import { RuntimeError, step } from '../errors.js';
import { hostLayout } from '../cgroups/index.js';
import { newCgroupManager } from '../cgroups/drivers.js';
import { applyIntelRdt, resctrlRoot } from '../cgroups/resctrl.js';
import { tightLimits, type InitPlan } from '../process/init-plan.js';
import { launch } from '../process/spawn.js';
import { resetCpuAffinity } from '../process/cpu-affinity.js';
import { sendPidfd } from '../process/pidfd-socket.js';
import { callerIgnoredSignals, execShim } from '../engine.js';
import { connectAgent, containerProcessState } from '../security/seccomp-listener.js';
import { sessionKeyringName } from '../security/keyring.js';
import { containerInstructions } from '../process/spawn.js';
import { loadConfig, resolveRootfs } from '../config/load.js';
import { validateConfig } from '../config/validate.js';
import { labelMounts, planContainer } from '../config/plan.js';
import { bindSourceRequests } from '../rootfs/idmap.js';
import { movableNetDevices, moveNetDevices, netDeviceIndexes, type MovedDevice } from '../network/net-devices.js';
import { selinuxEnabled } from '../security/lsm.js';
import { usesNotify } from '../security/seccomp.js';
import type { Config } from '../config/schema.js';
import { AT_FDCWD, O, S_IFIFO } from '../sys/constants.js';
import type { Sys } from '../sys/types.js';
import { faultPoint } from '../fault.js';
import { withListenFds } from '../systemd/activation.js';
import { makeNotifyDir, withNotifySocket } from '../systemd/notify.js';
import { log } from '../log.js';
import { runHooks } from '../hooks/index.js';
import type { Context } from './context.js';
import { destroy } from './destroy.js';
import { claimStateDir } from './lock.js';
import { writePidFile } from './pid-file.js';
import { connectCallerSocket } from '../caller-path.js';
import { runningInUserNamespace, rootlessEuid } from './rootless.js';
import { checkJoinedUsernsMaps } from './joined-userns.js';
import { checkId, creatingState, fifoPath, hookState, initAlive, processStartTime, writeSavedConfig, writeState, type SavedState } from './state.js';

export interface CreateOptions {
  id: string;
  bundle: string;
  /** Whether the caller returns once the container runs (create, run -d); default true. */
  detach?: boolean;
  /** An in-memory config instead of <bundle>/config.json. */
  config?: Config;
  pidFile?: string;
  consoleSocket?: string;
  /** --pidfd-socket: where a pidfd of the init goes once it is created (see sendPidfd). */
  pidfdSocket?: string;
  /**
   * A connected unix socket that receives the pty master: the library form
   * of --console-socket (run's terminal proxy passes its socket pair here).
   * The caller keeps ownership of the fd.
   */
  consoleFd?: number;
  /** consoleFd is run's own terminal proxy: the pty's ONLCR is cleared (see InitPlan.proxiedConsole). */
  proxiedConsole?: boolean;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  preserveFds?: number;
  /** Socket-activation fds (from fd 3, ahead of the preserved ones): see src/systemd/activation.ts. */
  listenFds?: number;
  /** systemd's NOTIFY_SOCKET: the container gets a socket of its own (src/systemd/notify.ts). */
  notifySocket?: string;
  stdio?: [number, number, number];
}

/**
 * runc's checkTerminal: which combinations of terminal, console socket and
 * detach make sense. A foreground caller with a terminal and no socket gets
 * the terminal proxy (src/tty/proxy.ts).
 */
export function checkTerminal(terminal: boolean, consoleSocket: string | undefined, detach: boolean): void {
  if (detach && terminal && !consoleSocket) throw new RuntimeError('', 'cannot allocate tty if ocirun will detach without setting console socket');
  if ((!detach || !terminal) && consoleSocket) throw new RuntimeError('', 'cannot use console socket if ocirun will not detach or allocate tty');
}

export interface Created {
  pid: number;
  state: SavedState;
}

export async function create(sys: Sys, ctx: Context, opts: CreateOptions): Promise<Created> {
  checkId(opts.id);
  const bundle = path.resolve(opts.bundle);
  const userConfig = opts.config ?? loadConfig(bundle);
  const layout = step('detect cgroups', () => hostLayout());
  const rootfs = resolveRootfs(bundle, userConfig);
  validateConfig(userConfig, { bundle, rootfs, noPivot: opts.noPivot, layout, systemdCgroup: ctx.systemdCgroup });
  log.debug(`create: ${opts.config ? 'the given config' : path.join(bundle, 'config.json')} is valid (ociVersion ${userConfig.ociVersion}); cgroup ${layout.mode}, cgroupfs driver`);
  // What runc adds to the user's config, after it was checked. Only for the
  // init: `exec` starts from the user's config, as runc's does.
  let config = userConfig;
  if (opts.notifySocket) config = withNotifySocket(config, path.resolve(ctx.root), opts.id);
  if (opts.listenFds) config = withListenFds(config, opts.listenFds);
  const passedFds = (opts.listenFds ?? 0) + (opts.preserveFds ?? 0);
  const plan = planContainer(config, { id: opts.id, bundle, rootfs, noPivot: opts.noPivot, warn: ctx.warn });
  // The driver, once: systemd's with --systemd-cgroup (cgroupsPath validated above), else cgroupfs.
  const cgroups = newCgroupManager({ layout, systemd: !!ctx.systemdCgroup, rootless: !!ctx.rootless, sys, id: opts.id, cgroupsPath: plan.cgroupsPath, annotations: config.annotations, onStep: faultPoint });
  if (log.debugging) {
    const fresh = (config.linux?.namespaces ?? []).filter((n) => !n.path).map((n) => n.type);
    log.debug(`create: namespaces: new ${fresh.join(',') || 'none'}; joined ${plan.join.map((j) => `${j.type} (${j.path})`).join(', ') || 'none'}`);
  }
  // The spec: "not applicable to the container's init process"; exec applies it.
  if (config.process?.execCPUAffinity) ctx.warn("process.execCPUAffinity applies to exec'd processes only, not to the container's init (runtime-spec)");
  if (plan.mountLabel) {
    // runc ignores the mount label where SELinux is off; we say so.
    if (selinuxEnabled()) plan.mounts = labelMounts(plan.mounts, plan.mountLabel);
    else ctx.warn('linux.mountLabel is ignored: SELinux is not enabled on this host');
  }
  if (opts.consoleFd === undefined) checkTerminal(plan.process.terminal, opts.consoleSocket, opts.detach ?? true);
  else if (!plan.process.terminal) throw new RuntimeError('', 'a console socket is only used with process.terminal');
  const hostMountsUnder = plan.mountNs === 'none' ? plan.rootfs : undefined;
  // Computed before anything exists, so a bad value fails without leftovers.
  const resources = cgroups.prepare({ resources: plan.resources, devices: { linuxDevices: config.linux?.devices }, warn: ctx.warn });
  // Under small limits the init's engine must not count against them: its
  // heap would not fit `--memory 4m`, and its threads would not fit a small
  // pids.max. Memory stays charged to the cgroup it was allocated in (v1 and
  // v2 alike), so then the init joins its cgroups only once its setup is
  // done; otherwise as soon as it exists (see tightLimits). Either way it
  // unshares the cgroup namespace after the join, and on v2 mounts cgroup2
  // after that (v1 cgroup mounts are bind mounts of known paths).
  const joinLate = tightLimits(plan.resources);

  const state: SavedState = {
    ...creatingState(plan, cgroups.record()),
    hostMountsUnder,
    // What is mounted there already is not the container's: teardown leaves it (as runc leaves every one).
    hostMounts: hostMountsUnder ? { before: mountKeysBelow(fs.readFileSync('/proc/self/mountinfo', 'utf8'), hostMountsUnder) } : undefined,
    noNewKeyring: opts.noNewKeyring || undefined,
  };
  // Host interfaces for linux.netDevices: found before anything is made.
  const netDevices = movableNetDevices(config.linux?.netDevices, ctx.warn);
  const netIndexes = netDevices ? netDeviceIndexes(sys, netDevices) : undefined;
  // A cgroup that exists already: runc's checks, in its order, before anything is made.
  cgroups.checkReusable();
  const unlock = step('create state dir', () => claimStateDir(sys, ctx.root, opts.id));
  let consoleFd = opts.consoleFd;
  let listenerFd: number | undefined;
  try {
    faultPoint('state-dir');
    step('write state', () => writeState(ctx.root, state));
    faultPoint('state-written');
    step('save config', () => writeSavedConfig(ctx.root, opts.id, userConfig));
    faultPoint('config-saved');
    if (opts.notifySocket) makeNotifyDir(ctx.root, opts.id);
    const fifo = fifoPath(ctx.root, opts.id);
    step('create exec fifo', () => {
      sys.mknodat(AT_FDCWD, fifo, S_IFIFO | 0o622, 0n);
      fs.chmodSync(fifo, 0o622);
    });
    const fifoFd = step('open exec fifo', () => sys.open(fifo, O.PATH | O.CLOEXEC));
    faultPoint('fifo-made');
    if (opts.consoleSocket) consoleFd = connectCallerSocket(sys, 'connect console socket', opts.consoleSocket);
    // The seccomp agent's socket, connected here on the host (runc's parent sends it the fd).
    const seccompListener = plan.seccomp && usesNotify(plan.seccomp) ? plan.seccomp.listenerPath : undefined;
    if (seccompListener) listenerFd = connectAgent(sys, seccompListener);
    // The cgroups with their limits (systemd's scope waits for the init: adopt, below).
    await cgroups.create(resources);
    // Inside a user namespace, the container's or (rootless podman) ours.
    const inUserNs = plan.newUserNs || plan.join.some((j) => j.type === 'user') || runningInUserNamespace();
    const usernsCache = new Map<string, number>();
    let init: Awaited<ReturnType<typeof launch>>;
    let initIdmaps: Record<number, number> = {};
    try {
      const bindSources = await bindSourceRequests(sys, plan.mounts, { copyAll: inUserNs && !rootlessEuid(), inUserNs, rootfs: plan.rootfs }, usernsCache);
      initIdmaps = bindSources.initIdmaps;
      init = await launch(sys, {
        instructions: containerInstructions(plan),
        idMaps: plan.newUserNs ? { uid: plan.uidMappings, gid: plan.gidMappings } : undefined,
        stdio: opts.stdio,
        preserveFds: passedFds,
        extraFds: [fifoFd, ...(consoleFd === undefined ? [] : [consoleFd]), ...(listenerFd === undefined ? [] : [listenerFd]), ...new Set(Object.values(initIdmaps))],
        containerId: opts.id,
        oomScoreAdj: plan.process.oomScoreAdj,
        bindSources: bindSources.requests,
      });
    } finally {
      for (const fd of usernsCache.values()) sys.close(fd);
    }
    if (listenerFd !== undefined) sys.close(listenerFd);
    const bindSourceFds = init.bindSourceFds;
    faultPoint('init-spawned');
    init.channel.onLog = (level, msg, time) => (level === 'debug' ? log.debug(msg, time) : ctx.warn(msg));
    state.pid = init.pid;
    state.pidStartTime = processStartTime(init.pid) ?? '';
    step('write state', () => writeState(ctx.root, state));
    faultPoint('pid-saved');
    const joinedUserns = plan.join.find((j) => j.type === 'user');
    if (joinedUserns) checkJoinedUsernsMaps(init.pid, joinedUserns.path, config.linux?.uidMappings, config.linux?.gidMappings);
    if (config.linux?.intelRdt) {
      // As runc's intelrdt manager: with the cgroups, before the init runs anything of the container's.
      state.resctrl = applyIntelRdt(resctrlRoot(fs.readFileSync('/proc/self/mountinfo', 'utf8'))!, opts.id, config.linux.intelRdt, init.pid);
      step('write state', () => writeState(ctx.root, state));
      log.debug(`create: intel RDT group ${state.resctrl.path}`);
    }
    let movedNetDevices: MovedDevice[] | undefined;
    if (netDevices) {
      // Into the init's network namespace (its own, or the one it joined), as runc does.
      const netns = step('open network namespace', () => sys.open(`/proc/${init.pid}/ns/net`, O.RDONLY | O.CLOEXEC));
      try {
        movedNetDevices = moveNetDevices(sys, netDevices, netIndexes!, netns);
      } finally {
        sys.close(netns);
      }
      log.debug(`create: moved ${Object.keys(netDevices).join(', ')} into the container's network namespace`);
    }

    const { process: processPlan, seccomp, personality, memoryPolicy, ...container } = plan;
    const initPlan: InitPlan = {
      container: {
        ...container,
        // A hierarchy skipped rootless shows the caller's own cgroup, as runc's.
        cgroupMounts: layout.hierarchies
          .filter((h) => h.name !== 'unified' || layout.mode === 'v2')
          .map((h) => ({ name: h.name.replace(/^name=/, ''), hostPath: state.cgroupPaths[h.name] ?? path.join(h.mountPoint, h.ownPath) })),
        cgroupUnified: layout.mode === 'v2',
        hostHasKcore: fs.existsSync('/proc/kcore'),
        fifoFd: init.fdInProcess(fifoFd),
        bindSourceFds: Object.keys(bindSourceFds).length ? bindSourceFds : undefined,
        idmapUsernsFds: Object.keys(initIdmaps).length ? Object.fromEntries(Object.entries(initIdmaps).map(([i, fd]) => [i, init.fdInProcess(fd)])) : undefined,
        movedNetDevices,
      },
      process: processPlan,
      keepFds: init.keepFds,
      consoleFd: consoleFd === undefined ? undefined : init.fdInProcess(consoleFd),
      proxiedConsole: opts.proxiedConsole,
      shimPath: execShim(),
      seccomp,
      // runc sends the agent the state as it stands during create: "creating".
      seccompAgent: listenerFd === undefined ? undefined : { fd: init.fdInProcess(listenerFd), processState: containerProcessState(hookState(state, 'creating'), 'creating', init.pid, seccomp?.listenerMetadata) },
      personality,
      memoryPolicy,
      keyring: opts.noNewKeyring ? undefined : sessionKeyringName(opts.id),
      inUserNs,
      rootlessEuid: rootlessEuid() || undefined,
      ignoredSignals: callerIgnoredSignals(),
      debug: log.debugging || undefined,
    };
    // A driver that makes its cgroups with the init in them (systemd's scope) does so now.
    const joined = await cgroups.adopt(init.pid);
    // Once in the cgroups, every CPU of the cpuset, not ours (runc 1.3).
    const joinCgroups = () => {
      if (!joined) cgroups.join(init.pid);
      resetCpuAffinity(sys, init.pid, ctx.warn);
      faultPoint('cgroups-joined');
    };
    if (joined) joinCgroups();
    init.channel.send({ type: 'plan', plan: initPlan });
    faultPoint('plan-sent');
    // The join waits for an RCU grace period: now it does so while the init starts.
    if (!joined && !joinLate) {
      joinCgroups();
    } else if (!joined) {
      cgroups.primeJoin(init.pid);
    }
    let msg = await init.channel.receive();
    if (msg.type === 'hooks') {
      runHooks('prestart', plan.hooks.prestart, hookState(state, 'creating'), ctx.warn);
      runHooks('createRuntime', plan.hooks.createRuntime, hookState(state, 'creating'), ctx.warn);
      init.channel.send({ type: 'hooks-done', state: hookState(state, 'creating') });
      msg = await init.channel.receive();
    }
    if (msg.type !== 'ready') throw new RuntimeError('sync', `expected "ready" from init, got "${msg.type}"`);
    faultPoint('init-ready');
    if (joinLate && !joined) joinCgroups();
    init.channel.send({ type: 'continue', state: hookState(state, 'created') });
    await init.channel.receive('created');
    init.channel.close();
    faultPoint('init-created');
    if (opts.pidfdSocket) sendPidfd(sys, opts.pidfdSocket, init.pid, 'standard');
    sys.close(fifoFd);
    if (opts.consoleSocket) sys.close(consoleFd!);

    if (state.hostMounts) state.hostMounts.made = mountKeysBelow(fs.readFileSync('/proc/self/mountinfo', 'utf8'), hostMountsUnder!).filter((k) => !state.hostMounts!.before!.includes(k));
    state.phase = 'created';
    step('write state', () => writeState(ctx.root, state));
    faultPoint('created-saved');
    // runc runs poststart here, in create, with the container "created"
    // (not after start, as the spec has it); a failure destroys the container
    // and fails create (runtime-spec 1.3.0 made it an error; runc always had).
    runHooks('poststart', plan.hooks.poststart, hookState(state, 'created'), ctx.warn);
    if (opts.pidFile) writePidFile(opts.pidFile, init.pid);
    return { pid: init.pid, state };
  } catch (err) {
    // The live manager: it knows whether a unit was asked for (one never asked for is not stopped).
    await destroy(sys, ctx, state, { kill: true, cgroups }).catch((e) => ctx.warn(`cleanup after failed create: ${(e as Error).message}`));
    // The init is our child (the stage forks it with CLONE_PARENT): reap it,
    // or its zombie would outlive us in whatever pid namespace it joined.
    if (state.pid && !initAlive(state)) await sys.waitpid(state.pid).catch(() => 0);
    throw err;
  } finally {
    cgroups.close();
    unlock();
  }
}
