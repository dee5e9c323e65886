/**
 * The container's init, in Node, inside the namespaces the C stage made.
 * It prepares the rootfs, switches root, applies the process settings, tells
 * the parent it is ready, waits on the exec fifo for `start`, and finally
 * execs the user's program through the sealed exec shim. The order follows
 * runc's standard_init_linux.go; comments mark where it matters.
 */
import fs from 'node:fs';
import { atStep, RuntimeError, step } from '../errors.js';
import { applyBoundingSet, applyCapabilitySets, lastCap } from '../security/capabilities.js';
import type { ContainerPlan } from '../spec/plan.js';
import { CLONE, F_SEAL, FS_MAGIC, MFD, MS, O, PR, RESOLVE } from '../sys/constants.js';
import type { Sys } from '../sys/types.js';
import { createDevice, createDevSymlinks, setupPtmx } from '../rootfs/devices.js';
import { applyMounts, mountCgroup2, prepareRoot, type CgroupMountSource } from '../rootfs/mounts.js';
import { applyPathRestrictions } from '../rootfs/paths.js';
import { chrootRoot, chrootToFd, moveRoot, pivotRoot } from '../rootfs/pivot.js';
import { setupConsole } from '../tty/console.js';
import { lsmExecWrites } from '../security/lsm.js';
import { joinContainerKeyring } from '../security/keyring.js';
import { containerProcessState, sendToAgent } from '../security/seccomp-listener.js';
import type { Channel } from './channel.js';
import { lookPath, withHome } from './exec-path.js';
import { runHooks, type HookState } from '../hooks/index.js';
import { compileToBpf } from '../security/seccomp.js';
import { LibSeccomp } from '../sys/libseccomp.js';

/** What the parent sends the init: the plan plus facts only the parent knows. */
export interface InitPlan extends ContainerPlan {
  cgroupMounts: CgroupMountSource[];
  cgroupUnified: boolean;
  preserveFds: number;
  hostHasKcore: boolean;
  /** A session keyring of its own (false with --no-new-keyring). */
  newKeyring: boolean;
}

export interface InitFds {
  fifo: number;
  console?: number;
  /** A socket connected to linux.seccomp.listenerPath (by the parent, on the host). */
  listener?: number;
  /** Path of the exec shim on the host, copied into a sealed memfd before the root switch. */
  shimPath: string;
  /**
   * A joined mount namespace's root. The stage started us rooted in a copy
   * of the host's mounts, so that node could load (native/stage.c).
   */
  joinedRoot?: number;
}

/** Copies the exec shim into a sealed memfd (see native/exec-shim.c for why). */
export function sealedShim(sys: Sys, shimPath: string): number {
  const bytes = fs.readFileSync(shimPath);
  const fd = sys.memfdCreate('ocirun-exec', MFD.CLOEXEC | MFD.ALLOW_SEALING);
  fs.writeSync(fd, bytes);
  sys.addSeals(fd, F_SEAL.SEAL | F_SEAL.SHRINK | F_SEAL.GROW | F_SEAL.WRITE);
  return fd;
}

/** Writes a /proc file through an fd that is checked to be on procfs. */
export function writeProcFile(sys: Sys, rootFd: number, p: string, value: string): void {
  const wfd = sys.openat2(rootFd, p.replace(/^\/+/, ''), O.WRONLY | O.CLOEXEC, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS);
  try {
    if (sys.fstatfs(wfd).type !== FS_MAGIC.PROC) throw new RuntimeError('write /proc', `${p} is not on procfs`);
    fs.writeSync(wfd, value);
  } finally {
    sys.close(wfd);
  }
}

/** The process's AppArmor profile and SELinux label, for the next exec (src/security/lsm.ts). */
export function applyLsmLabels(sys: Sys, plan: InitPlan, rootFd: number): void {
  for (const w of lsmExecWrites(plan.process)) {
    const name = `apply ${w.lsm === 'apparmor' ? 'AppArmor profile' : 'SELinux label'}`;
    step(name, () => {
      // The first attr file that exists; a write error (an unknown profile is ENOENT) is the answer.
      const file = w.files.find((f, i) => i === w.files.length - 1 || procFileExists(sys, rootFd, f))!;
      try {
        writeProcFile(sys, rootFd, file, w.value);
      } catch (err) {
        throw new RuntimeError(name, `write ${JSON.stringify(w.value)} to ${file}: ${(err as Error).message}`, { cause: err });
      }
    });
  }
}

function procFileExists(sys: Sys, rootFd: number, p: string): boolean {
  try {
    sys.close(sys.openat2(rootFd, p.replace(/^\/+/, ''), O.PATH | O.CLOEXEC, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS));
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return false;
    throw err;
  }
}

/** Whether the container has a user namespace, made or joined. */
function inUserNamespace(plan: InitPlan): boolean {
  return plan.newUserNs || plan.join.some((j) => j.type === 'user');
}

/** Everything before the root switch: propagation, mounts, /dev. */
export function mountRootfs(sys: Sys, plan: InitPlan): void {
  // In the host's mount namespace ("none") neither the propagation of `/`
  // nor the rootfs may change: nothing there is ours.
  if (plan.mountNs !== 'none') {
    step('prepare rootfs', () => prepareRoot(sys, plan.rootfs, plan.rootPropagation, () => fs.readFileSync('/proc/self/mountinfo', 'utf8')));
  }
  const rootFd = step('open rootfs', () => sys.open(plan.rootfs, O.PATH | O.DIRECTORY | O.CLOEXEC));
  try {
    applyMounts(sys, rootFd, plan.mounts, plan.cgroupMounts, plan.cgroupUnified);
    if (plan.setupDev) {
      for (const d of plan.devices) createDevice(sys, rootFd, d, inUserNamespace(plan));
      createDevSymlinks(sys, rootFd, plan.hostHasKcore);
      setupPtmx(sys, plan.rootfs, rootFd);
    }
  } finally {
    sys.close(rootFd);
  }
}

/** The root switch and what must follow it before the root is final; returns an fd of the new root. */
export function enterRootfs(sys: Sys, plan: InitPlan, consoleFd: number | undefined): number {
  const switchRoot = plan.mountNs === 'none' ? chrootRoot : plan.noPivot ? moveRoot : pivotRoot;
  step('switch root', () => switchRoot(sys, plan.rootfs));
  const newRoot = step('open new root', () => sys.open('/', O.PATH | O.DIRECTORY | O.CLOEXEC));
  // The console comes after the mounts (they may include devpts) and before
  // the root is made read-only (runc: "before we finalize the rootfs").
  if (plan.process.terminal) {
    if (consoleFd === undefined) throw new RuntimeError('console', 'process.terminal is set but no console socket was given (--console-socket)');
    step('console', () => setupConsole(sys, newRoot, consoleFd, plan.process.consoleSize));
  }
  if (plan.readonlyRoot) step('readonly root', () => sys.mount(null, '/', null, MS.BIND | MS.REMOUNT | MS.RDONLY, null));
  return newRoot;
}

export function applyIdentityAndLimits(sys: Sys, plan: InitPlan, rootFd: number): void {
  if (plan.hostname !== undefined) step('sethostname', () => sys.sethostname(plan.hostname!));
  if (plan.domainname !== undefined) step('setdomainname', () => sys.setdomainname(plan.domainname!));
  for (const [name, value] of Object.entries(plan.sysctl)) {
    step(`sysctl ${name}`, () => writeProcFile(sys, rootFd, `/proc/sys/${name.replace(/\./g, '/')}`, value));
  }
  applyPathRestrictions(sys, rootFd, plan.readonlyPaths, plan.maskedPaths);
  for (const r of plan.process.rlimits) step(`setrlimit ${r.name}`, () => sys.setrlimit(r.resource, BigInt(r.soft), BigInt(r.hard)));
  if (plan.process.noNewPrivileges) step('no_new_privs', () => sys.prctl(PR.SET_NO_NEW_PRIVS, 1));
}

/** runc's finalizeNamespace: bounding set, user switch keeping caps, cwd, then the cap sets. */
export function switchUserAndCaps(sys: Sys, plan: InitPlan): void {
  const p = plan.process;
  const last = lastCap();
  step('drop bounding capabilities', () => applyBoundingSet(sys, p.capabilities, last));
  step('keep capabilities', () => sys.prctl(PR.SET_KEEPCAPS, 1));
  step('setgroups', () => sys.setgroups(p.additionalGids));
  step('setresgid', () => sys.setresgid(p.gid, p.gid, p.gid));
  step('setresuid', () => sys.setresuid(p.uid, p.uid, p.uid));
  step('keep capabilities', () => sys.prctl(PR.SET_KEEPCAPS, 0));
  step('chdir to process.cwd', () => {
    try {
      process.chdir(p.cwd);
    } catch (err) {
      throw new RuntimeError('chdir to process.cwd', `${p.cwd}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  });
  step('set capabilities', () => applyCapabilitySets(sys, p.capabilities));
  if (p.umask !== undefined) process.umask(p.umask);
}

/**
 * Nothing but stdio and the preserved fds may reach the program
 * (CVE-2024-21626). Done before any seccomp filter is loaded: a profile may
 * well deny close_range. Every fd opened after this is O_CLOEXEC.
 */
export function markFdsCloseOnExec(sys: Sys, preserveFds: number): void {
  const keep = 3 + preserveFds;
  sys.cloexecFrom(keep);
  for (let fd = 0; fd < keep; fd++) {
    try {
      sys.setCloexec(fd, false);
    } catch {
      /* a preserved fd that is not open is simply absent */
    }
  }
}

/** Blocks until `start` opens the exec fifo, then execs the user's program. */
export function waitForStartAndExec(sys: Sys, plan: InitPlan, fds: InitFds, shimFd: number, program: string, loadFilter?: () => void, state?: HookState): never {
  const fifo = step('open exec fifo', () => sys.open(`/proc/self/fd/${fds.fifo}`, O.WRONLY | O.CLOEXEC));
  step('write exec fifo', () => fs.writeSync(fifo, '0'));
  sys.close(fifo);
  // startContainer: inside the container, path resolved there, after start.
  if (state) runHooks('startContainer', plan.hooks.startContainer, { ...state, status: 'running' }, () => {});
  // With no_new_privs the filter goes last, so it constrains nothing of ours.
  if (loadFilter) step('load seccomp filter', loadFilter);
  sys.fexecve(shimFd, ['ocirun-exec', program, ...plan.process.args], plan.process.env);
}

/** The whole init sequence; errors go to the parent over the channel. */
export async function runInit(sys: Sys, channel: Channel, fds: InitFds): Promise<never> {
  // Before anything else: no other process may ptrace us or open our
  // /proc/PID/exe (the host's node binary) while we run in the container.
  sys.prctl(PR.SET_DUMPABLE, 0);
  const plan = (await channel.receive('plan')).plan as InitPlan;
  const shimFd = step('seal exec shim', () => sealedShim(sys, fds.shimPath));
  // Compiled now, while libseccomp (a host file) is still reachable; loaded later.
  let loadFilter: (() => void) | undefined;
  let stateForListener: HookState | undefined;
  if (plan.seccomp) {
    const lib = step('load libseccomp', () => new LibSeccomp());
    const profile = plan.seccomp;
    const compiled = step('compile seccomp profile', () => compileToBpf(sys, lib, profile, (m) => channel.send({ type: 'log', level: 'debug', message: m })));
    loadFilter = () => {
      const listenerFd = sys.seccompLoad(compiled.flags, compiled.bpf);
      // runc sends the state as it stands during create: "creating".
      const processState = () => containerProcessState(stateForListener!, 'creating', stateForListener!.pid ?? 0, profile.listenerMetadata);
      if (fds.listener !== undefined) step('send seccomp notify fd', () => sendToAgent(sys, fds.listener!, listenerFd, processState()));
    };
  }
  if (plan.process.oomScoreAdj !== undefined) {
    step('oom_score_adj', () => fs.writeFileSync('/proc/self/oom_score_adj', String(plan.process.oomScoreAdj)));
  }
  // Everything from the host is loaded by now: move into the joined
  // namespace's root, where mount(2) and pivot_root(2) act.
  if (fds.joinedRoot !== undefined) step('enter the joined mount namespace', () => chrootToFd(sys, fds.joinedRoot!));
  mountRootfs(sys, plan);
  // prestart and createRuntime run in the runtime's namespaces (the parent),
  // createContainer here in the container's, all before the root switch.
  if (plan.hooks.prestart?.length || plan.hooks.createRuntime?.length || plan.hooks.createContainer?.length) {
    channel.send({ type: 'hooks' });
    const { state } = await channel.receive('hooks-done');
    runHooks('createContainer', plan.hooks.createContainer, state as HookState, () => {});
  }
  const rootFd = enterRootfs(sys, plan, fds.console);
  applyIdentityAndLimits(sys, plan, rootFd);
  applyLsmLabels(sys, plan, rootFd);
  sys.close(rootFd);
  if (plan.personality !== undefined) step('personality', () => sys.personality(plan.personality!));
  if (plan.process.ioPriority !== undefined) step('ioprio_set', () => sys.setIoPriority(plan.process.ioPriority!));
  if (plan.process.schedAttr) step('sched_setattr', () => sys.schedSetattr(Buffer.from(plan.process.schedAttr!, 'hex')));
  if (plan.newKeyring) step('join session keyring', () => joinContainerKeyring(sys, plan.id, inUserNamespace(plan)));
  plan.process.env = withHome(plan.process.env, plan.process.uid, () => fs.readFileSync('/etc/passwd', 'utf8'));
  channel.send({ type: 'ready' });
  const { state } = await channel.receive('continue');
  stateForListener = state as HookState;
  step('close-on-exec fds', () => markFdsCloseOnExec(sys, plan.preserveFds));
  // The parent has now placed us in the container's cgroups (only now, so
  // that our setup is not charged to them: see create.ts). The cgroup
  // namespace comes after that, so that its root is the container's cgroup,
  // and the cgroup2 mount after the namespace.
  if (plan.newCgroupNs) step('unshare cgroup namespace', () => sys.unshare(CLONE.NEWCGROUP));
  if (plan.cgroupUnified) {
    const rootFd = step('open root', () => sys.open('/', O.PATH | O.DIRECTORY | O.CLOEXEC));
    try {
      mountCgroup2(sys, rootFd, plan.mounts);
    } finally {
      sys.close(rootFd);
    }
  }
  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it
  // before the capabilities are dropped, as runc does.
  if (loadFilter && !plan.process.noNewPrivileges) {
    step('load seccomp filter', loadFilter);
    loadFilter = undefined;
  }
  switchUserAndCaps(sys, plan);
  const program = step('find program', () => lookPath(plan.process.args[0], plan.process.env));
  channel.send({ type: 'created' });
  await channel.close();
  return waitForStartAndExec(sys, plan, fds, shimFd, program, loadFilter, state as HookState);
}

export function reportError(channel: Channel, err: unknown): void {
  const e = atStep('init', err);
  channel.send({ type: 'error', step: e.step, detail: e.detail });
}
