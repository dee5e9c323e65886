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
import { hostLayout, type CgroupLayout } from '../cgroups/index.js';
import { newCgroupManager } from '../cgroups/drivers.js';
import type { CgroupManager, PreparedResources } from '../cgroups/manager.js';
import { applyIntelRdt, resctrlRoot } from '../cgroups/resctrl.js';
import { tightLimits, type InitPlan } from '../process/init-plan.js';
import { createExchange, launchProcess, type Launched } from '../process/launcher.js';
import { resetCpuAffinity } from '../process/scheduling.js';
import { checkTerminal } from '../process/foreground.js';
import { sendPidfd } from '../process/pidfd-socket.js';
import { connectAgent, containerProcessState } from '../security/seccomp-listener.js';
import { sessionKeyringName } from '../security/keyring.js';
import { containerInstructions, mountSourceCopy } from '../process/spawn.js';
import { loadConfig, resolveRootfs } from '../config/load.js';
import { validateConfig } from '../config/validate.js';
import { labelMounts, planContainer, type ContainerPlan } from '../config/plan.js';
import { bindSourceRequests, idmapUserns, sourceAtItsTurn } from '../rootfs/idmap.js';
import { movableNetDevices, moveNetDevices, netDeviceIndexes, type MovedDevice } from '../network/net-devices.js';
import { selinuxEnabled } from '../security/lsm.js';
import { usesNotify } from '../security/seccomp.js';
import type { Config } from '../config/schema.js';
import { AT_FDCWD, MS, O, S_IFIFO } from '../sys/constants.js';
import type { Sys } from '../sys/types.js';
import { faultPoint } from '../fault.js';
import { withListenFds } from '../systemd/activation.js';
import { makeNotifyDir, withNotifySocket } from '../systemd/notify.js';
import { log } from '../log.js';
import { runHooks } from '../hooks/index.js';
import type { Context } from './context.js';
import { undoCreate } from './destroy.js';
import { claimStateDir, refuseIdInUse } from './lock.js';
import { writePidFile } from './pid-file.js';
import { connectCallerSocket } from '../caller-path.js';
import { runningInUserNamespace, rootlessEuid } from './rootless.js';
import { checkJoinedUsernsMaps } from './joined-userns.js';
import { checkId, creatingState, fifoPath, hookState, processStartTime, writeSavedConfig, writeState, type SavedState } from './state.js';

export interface CreateOptions {
  id: string;
  bundle: string;
  /** Whether the caller returns once the container runs (create, run -d); default true. */
  detach?: boolean;
  /** An in-memory config instead of <bundle>/config.json. */
  config?: Config;
  /** <bundle>/config.json, read already (by run, for its terminal flag). */
  bundleConfig?: Config;
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

export interface Created {
  pid: number;
  state: SavedState;
}

/** What create works from, all of it computed before anything exists: a bad value fails without leftovers. */
interface Prepared {
  /** The user's config, as saved in the state directory (exec starts from it). */
  userConfig: Config;
  /** The user's config with what runc adds for the init (NOTIFY_SOCKET, LISTEN_FDS). */
  config: Config;
  plan: ContainerPlan;
  state: SavedState;
  layout: CgroupLayout;
  /** Socket-activation and --preserve-fds fds, from fd 3. */
  passedFds: number;
  /** Host interfaces for linux.netDevices, and their indexes. */
  netDevices?: Record<string, { name?: string }>;
  netIndexes?: Map<string, number>;
  cgroups: CgroupManager;
  /** linux.resources as the driver applies them. */
  resources: PreparedResources;
  /** Small limits: the init joins its cgroups once it is set up (see tightLimits). */
  joinLate: boolean;
}

/** The config, checked, with what runc adds to it, and its plan. */
function planCreate(ctx: Context, opts: CreateOptions): Pick<Prepared, 'userConfig' | 'config' | 'plan' | 'layout' | 'passedFds'> {
  checkId(opts.id);
  const bundle = path.resolve(opts.bundle);
  const userConfig = opts.config ?? opts.bundleConfig ?? loadConfig(bundle);
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
  return { userConfig, config, plan, layout, passedFds };
}

/** What the plan leaves to the host: the mount label, the terminal flags; warnings for what the init ignores. */
function checkPlan(ctx: Context, opts: CreateOptions, config: Config, plan: ContainerPlan): void {
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
}

/** Checks, plans and computes the container's state ("creating"); nothing exists yet. */
function prepareCreate(sys: Sys, ctx: Context, opts: CreateOptions): Prepared {
  const { userConfig, config, plan, layout, passedFds } = planCreate(ctx, opts);
  // The driver, once: systemd's with --systemd-cgroup (cgroupsPath validated above), else cgroupfs.
  const cgroups = newCgroupManager({ layout, systemd: !!ctx.systemdCgroup, rootless: !!ctx.rootless, sys, id: opts.id, cgroupsPath: plan.cgroupsPath, annotations: config.annotations, onStep: faultPoint });
  checkPlan(ctx, opts, config, plan);
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
  const hostMountsUnder = plan.mountNs === 'none' ? plan.rootfs : undefined;

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
  // The id, then a cgroup that exists already: runc's checks, in its order, before anything is made.
  refuseIdInUse(ctx.root, opts.id);
  cgroups.checkReusable();
  return { userConfig, config, plan, state, layout, passedFds, netDevices, netIndexes, cgroups, resources, joinLate };
}

/** The state directory: state, the user's config, the notify socket's directory, the exec fifo; returns an O_PATH fd of the fifo. */
function makeStateDir(sys: Sys, ctx: Context, opts: CreateOptions, prep: Prepared): number {
  faultPoint('state-dir');
  step('write state', () => writeState(ctx.root, prep.state));
  faultPoint('state-written');
  step('save config', () => writeSavedConfig(ctx.root, opts.id, prep.userConfig));
  faultPoint('config-saved');
  if (opts.notifySocket) makeNotifyDir(ctx.root, opts.id);
  const fifo = fifoPath(ctx.root, opts.id);
  step('create exec fifo', () => {
    sys.mknodat(AT_FDCWD, fifo, S_IFIFO | 0o622, 0n);
    fs.chmodSync(fifo, 0o622);
  });
  const fifoFd = step('open exec fifo', () => sys.open(fifo, O.PATH | O.CLOEXEC));
  faultPoint('fifo-made');
  return fifoFd;
}

/** The fds of ours the init gets: the exec fifo, the console socket, the seccomp agent's socket. */
interface InitFds {
  fifoFd: number;
  consoleFd?: number;
  listenerFd?: number;
}

/**
 * Spawns the init in the container's namespaces, with copies of the bind
 * sources it cannot reach; the id-mapped ones it asks for in their turn
 * (idmapSources).
 */
async function spawnInit(sys: Sys, ctx: Context, opts: CreateOptions, prep: Prepared, fds: InitFds): Promise<Launched> {
  const { plan } = prep;
  const { process: processPlan, seccomp, personality, memoryPolicy } = plan;
  // Inside a user namespace, the container's or (rootless podman) ours.
  const inUserNs = plan.newUserNs || plan.join.some((j) => j.type === 'user') || runningInUserNamespace();
  return launchProcess(sys, {
    stage: {
      instructions: containerInstructions(plan),
      idMaps: plan.newUserNs ? { uid: plan.uidMappings, gid: plan.gidMappings } : undefined,
      stdio: opts.stdio,
      preserveFds: prep.passedFds,
      extraFds: [fds.fifoFd, ...(fds.consoleFd === undefined ? [] : [fds.consoleFd]), ...(fds.listenerFd === undefined ? [] : [fds.listenerFd])],
      containerId: opts.id,
      oomScoreAdj: processPlan.oomScoreAdj,
      bindSources: bindSourceRequests(plan.mounts, { copyAll: inUserNs && !rootlessEuid(), rootfs: plan.rootfs }),
    },
    process: processPlan,
    seccomp,
    personality,
    memoryPolicy,
    keyring: opts.noNewKeyring ? undefined : sessionKeyringName(opts.id),
    inUserNs,
    consoleFd: fds.consoleFd,
    warn: ctx.warn,
  });
}

/**
 * The copies of id-mapped bind sources, each made when the init asks at
 * its mount's turn ("mount-source"): `copy(index)` is an fd of ours. The
 * user namespaces holding the id maps are made before the init runs;
 * `close` ends them once the init's mounts are made.
 */
async function idmapSources(sys: Sys, opts: CreateOptions, plan: ContainerPlan): Promise<{ copy: (initPid: number, index: number) => Promise<number>; close: () => void }> {
  const usernsCache = new Map<string, number>();
  const close = () => {
    for (const fd of usernsCache.values()) sys.close(fd);
    usernsCache.clear();
  };
  let usernsFds: Record<number, number>;
  try {
    usernsFds = await idmapUserns(sys, plan.mounts, usernsCache);
  } catch (err) {
    close();
    throw err;
  }
  const copy = (initPid: number, index: number) => {
    const m = plan.mounts[index];
    if (!m || !sourceAtItsTurn(m) || usernsFds[index] === undefined) return Promise.reject(new RuntimeError('sync', `the init asked for the source of mount ${index}, which is not an id-mapped bind`));
    const idmap = { usernsFd: usernsFds[index], recursive: m.idmap!.recursive };
    return mountSourceCopy(sys, initPid, { index, source: m.source, destination: m.destination, recursive: (m.flags & MS.REC) !== 0, idmap }, opts.id);
  };
  return { copy, close };
}

/** The init's pid, recorded: from here on delete -f ends it. */
function savePid(ctx: Context, prep: Prepared, pid: number): void {
  const { state, config } = prep;
  state.pid = pid;
  state.pidStartTime = processStartTime(pid) ?? '';
  step('write state', () => writeState(ctx.root, state));
  faultPoint('pid-saved');
  const joinedUserns = prep.plan.join.find((j) => j.type === 'user');
  if (joinedUserns) checkJoinedUsernsMaps(pid, joinedUserns.path, config.linux?.uidMappings, config.linux?.gidMappings);
}

/**
 * With the cgroups made: the init's Intel RDT group, and the network
 * devices moved into its namespace. Last, so that a create that fails
 * before (a limit the kernel refuses) has moved nothing: a moved device
 * goes with the init's namespace, a veth's host end with it.
 */
function afterCgroups(sys: Sys, ctx: Context, opts: CreateOptions, prep: Prepared, pid: number): MovedDevice[] | undefined {
  const { state, config, netDevices } = prep;
  if (config.linux?.intelRdt) {
    // As runc's intelrdt manager: with the cgroups, before the init runs anything of the container's.
    state.resctrl = applyIntelRdt(resctrlRoot(fs.readFileSync('/proc/self/mountinfo', 'utf8'))!, opts.id, config.linux.intelRdt, pid);
    step('write state', () => writeState(ctx.root, state));
    log.debug(`create: intel RDT group ${state.resctrl.path}`);
  }
  if (!netDevices) return undefined;
  // Into the init's network namespace (its own, or the one it joined), as runc does.
  const netns = step('open network namespace', () => sys.open(`/proc/${pid}/ns/net`, O.RDONLY | O.CLOEXEC));
  let moved: MovedDevice[];
  try {
    moved = moveNetDevices(sys, netDevices, prep.netIndexes!, netns);
  } finally {
    sys.close(netns);
  }
  log.debug(`create: moved ${Object.keys(netDevices).join(', ')} into the container's network namespace`);
  return moved;
}

/** The init's plan: the container to set up, then the process. */
function containerInitPlan(opts: CreateOptions, init: Launched, prep: Prepared, fds: InitFds, movedNetDevices: MovedDevice[] | undefined): InitPlan {
  const { state, plan, layout } = prep;
  // The process and what the launcher sends of it are the InitPlan's own fields.
  const { process: _process, seccomp, personality: _personality, memoryPolicy: _memoryPolicy, ...container } = plan;
  const bindSourceFds = init.bindSourceFds;
  return init.initPlan({
    container: {
      ...container,
      // A hierarchy skipped rootless shows the caller's own cgroup, as runc's.
      cgroupMounts: layout.hierarchies
        .filter((h) => h.name !== 'unified' || layout.mode === 'v2')
        .map((h) => ({ name: h.name.replace(/^name=/, ''), hostPath: state.cgroupPaths[h.name] ?? path.join(h.mountPoint, h.ownPath) })),
      cgroupUnified: layout.mode === 'v2',
      hostHasKcore: fs.existsSync('/proc/kcore'),
      fifoFd: init.fdInProcess(fds.fifoFd),
      bindSourceFds: Object.keys(bindSourceFds).length ? bindSourceFds : undefined,
      movedNetDevices,
    },
    proxiedConsole: opts.proxiedConsole,
    // runc sends the agent the state as it stands during create: "creating".
    seccompAgent: fds.listenerFd === undefined ? undefined : { fd: init.fdInProcess(fds.listenerFd), processState: containerProcessState(hookState(state, 'creating'), 'creating', init.pid, seccomp?.listenerMetadata) },
  });
}

/** From the spawned init (in its cgroups if `joined`) to the "created" container: its plan, the cgroup joins and the hooks. */
async function setUpInit(sys: Sys, ctx: Context, prep: Prepared, init: Launched, joined: boolean, plan: InitPlan, sourceAtTurn: (index: number) => Promise<number>): Promise<void> {
  const { state, cgroups, joinLate } = prep;
  const hooks = prep.plan.hooks;
  // Once in the cgroups, every CPU of the cpuset, not ours (runc 1.3).
  const onceInCgroups = () => {
    if (!joined) cgroups.join(init.pid);
    resetCpuAffinity(sys, init.pid, ctx.warn);
    faultPoint('cgroups-joined');
  };
  if (joined) onceInCgroups();
  await createExchange(sys, init, plan, {
    mountSource: sourceAtTurn,
    // The join waits for an RCU grace period: now it does so while the init starts.
    planSent: () => {
      if (!joined && !joinLate) {
        onceInCgroups();
      } else if (!joined) {
        cgroups.primeJoin(init.pid);
      }
    },
    hooks: () => {
      runHooks('prestart', hooks.prestart, hookState(state, 'creating'), ctx.warn);
      runHooks('createRuntime', hooks.createRuntime, hookState(state, 'creating'), ctx.warn);
      return hookState(state, 'creating');
    },
    ready: () => {
      if (joinLate && !joined) onceInCgroups();
    },
    created: () => hookState(state, 'created'),
  });
}

export async function create(sys: Sys, ctx: Context, opts: CreateOptions): Promise<Created> {
  const prep = prepareCreate(sys, ctx, opts);
  const { state, plan } = prep;
  const unlock = step('create state dir', () => claimStateDir(sys, ctx.root, opts.id));
  const fds: Partial<InitFds> = { consoleFd: opts.consoleFd };
  let idmapped: Awaited<ReturnType<typeof idmapSources>> | undefined;
  try {
    const fifoFd = (fds.fifoFd = makeStateDir(sys, ctx, opts, prep));
    if (opts.consoleSocket) fds.consoleFd = connectCallerSocket(sys, 'connect console socket', opts.consoleSocket);
    // The seccomp agent's socket, connected here on the host (runc's parent sends it the fd).
    const seccompListener = plan.seccomp && usesNotify(plan.seccomp) ? plan.seccomp.listenerPath : undefined;
    if (seccompListener) fds.listenerFd = connectAgent(sys, seccompListener);
    idmapped = await idmapSources(sys, opts, plan);
    const init = await spawnInit(sys, ctx, opts, prep, { ...fds, fifoFd });
    if (fds.listenerFd !== undefined) sys.close(fds.listenerFd);
    faultPoint('init-spawned');
    savePid(ctx, prep, init.pid);
    // The cgroups with their limits, as runc's (Apply, then Set) once its
    // init exists: ours waits for its plan meanwhile, and starts its engine
    // while they are made. A driver that makes them with the init in them
    // (systemd's scope) does so at adopt.
    await prep.cgroups.create(prep.resources);
    const joined = await prep.cgroups.adopt(init.pid);
    const movedNetDevices = afterCgroups(sys, ctx, opts, prep, init.pid);
    const sourceAtTurn = (index: number) => idmapped!.copy(init.pid, index);
    await setUpInit(sys, ctx, prep, init, joined, containerInitPlan(opts, init, prep, { ...fds, fifoFd }, movedNetDevices), sourceAtTurn);
    idmapped.close();
    if (opts.pidfdSocket) sendPidfd(sys, opts.pidfdSocket, init.pid, 'standard');
    sys.close(fifoFd);
    if (opts.consoleSocket) sys.close(fds.consoleFd!);

    if (state.hostMounts) state.hostMounts.made = mountKeysBelow(fs.readFileSync('/proc/self/mountinfo', 'utf8'), state.hostMountsUnder!).filter((k) => !state.hostMounts!.before!.includes(k));
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
    await undoCreate(sys, ctx, state, 'create', prep.cgroups);
    throw err;
  } finally {
    idmapped?.close();
    prep.cgroups.close();
    unlock();
  }
}
