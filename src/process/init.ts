/**
 * The init: what the C stage execs inside the namespaces, on the same
 * engine as the parent. For `create` it is the container's init: it
 * prepares the rootfs, switches root, and after `start` becomes the user's
 * program. For `exec` it becomes the exec'd process in the running
 * container. Either way the process itself is set up by the same code
 * (./finalize.ts), in the order of runc's standard and setns inits.
 */
import fs from 'node:fs';
import path from 'node:path';
import { atStep, RuntimeError, step } from '../errors.js';
import { runHooks, type HookState } from '../hooks/index.js';
import { createDevice, createDevSymlinks, setupPtmx } from '../rootfs/devices.js';
import { applyMounts, finishReadonlyMounts, hostCgroup2Copy, mountCgroup2, prepareRoot } from '../rootfs/mounts.js';
import { applyPathRestrictions } from '../rootfs/paths.js';
import { chrootRoot, chrootToFd, moveRoot, pivotRoot } from '../rootfs/pivot.js';
import { mkdirAllInRoot } from '../rootfs/resolve.js';
import { AT_FDCWD, CLONE, MOUNT_ATTR, O, PR, RESOLVE } from '../sys/constants.js';
import type { Sys } from '../sys/types.js';
import { setupConsole } from '../tty/console.js';
import { collectGarbage } from '../engine.js';
import { LibcSys } from '../sys/libc.js';
import { restoreAddresses } from '../network/net-devices.js';
import { Channel } from './channel.js';
import { SYNC_FD_ENV } from './messages.js';
import { readContainerPasswd, withHome } from './exec-path.js';
import { applyScheduler } from './scheduling.js';
import { becomeProcess, compileFilter, execProgram, prepareProcess, SealedShim } from './finalize.js';
import { openProcHandle, pidsOnlyProcHandle, reopenFd, writeProcFile } from './procfs.js';
import { tightLimits, type ContainerSetup, type InitPlan } from './init-plan.js';
import { logTime } from '../log.js';

/** A --debug line about the init's progress, to the parent's log; nothing without --debug. */
type Note = (message: string) => void;

/**
 * Everything before the root switch: propagation, mounts, /dev. The copy
 * of a source made at its mount's turn (../rootfs/idmap.ts sourceAtItsTurn)
 * comes from `sourceAtTurn`.
 */
export function mountRootfs(sys: Sys, c: ContainerSetup, inUserNs: boolean, sourceAtTurn: (index: number) => number): void {
  // In the host's mount namespace ("none") neither the propagation of `/`
  // nor the rootfs may change: nothing there is ours.
  if (c.mountNs !== 'none') {
    step('prepare rootfs', () => prepareRoot(sys, c.rootfs, c.rootPropagation, () => fs.readFileSync('/proc/self/mountinfo', 'utf8')));
  }
  // In the host's mount namespace the rootfs is opened as create resolved
  // it (no symlink in it): one swapped in since, by whoever owns the
  // bundle, would otherwise put these mounts on the host's directories.
  const rootFd = step('open rootfs', () =>
    c.mountNs === 'none' ? sys.openat2(AT_FDCWD, c.rootfs, O.PATH | O.DIRECTORY | O.CLOEXEC, RESOLVE.NO_SYMLINKS) : sys.open(c.rootfs, O.PATH | O.DIRECTORY | O.CLOEXEC),
  );
  try {
    applyMounts(sys, rootFd, c.mounts, c.cgroupMounts, c.cgroupUnified, c.bindSourceFds ?? {}, sourceAtTurn);
    for (const fd of Object.values(c.bindSourceFds ?? {})) sys.close(fd);
    if (c.setupDev) {
      // /dev/ptmx is setupPtmx's, as in runc's createDevices: one asked for
      // in linux.devices is not made (in a user namespace its bind could
      // not be replaced by the link: EBUSY).
      for (const d of c.devices) if (path.posix.normalize(d.path) !== '/dev/ptmx') createDevice(sys, rootFd, d, inUserNs);
      createDevSymlinks(sys, rootFd, c.hostHasKcore);
      setupPtmx(sys, c.rootfs, rootFd);
    }
  } finally {
    sys.close(rootFd);
  }
}

/** The root switch and what must follow it before the root is final; returns an fd of the new root. */
export function enterRootfs(sys: Sys, plan: InitPlan, c: ContainerSetup): number {
  const mountinfo = () => fs.readFileSync('/proc/self/mountinfo', 'utf8');
  const switchRoot = c.mountNs === 'none' ? chrootRoot : c.noPivot ? (s: Sys, rootfs: string) => moveRoot(s, rootfs, mountinfo) : pivotRoot;
  step('switch root', () => switchRoot(sys, c.rootfs));
  // After the switch, so that it is the container's "/" that changes, not the host's.
  if (c.newRootPropagation !== undefined && c.mountNs !== 'none') step('root propagation', () => sys.mount(null, '/', null, c.newRootPropagation!, null));
  const newRoot = step('open new root', () => sys.open('/', O.PATH | O.DIRECTORY | O.CLOEXEC));
  // As runc: a process.cwd that does not exist is made (0755, root's),
  // inside the new root and before it is made read-only.
  step(`create cwd ${plan.process.cwd}`, () => sys.close(mkdirAllInRoot(sys, newRoot, plan.process.cwd)));
  // The console comes after the mounts (they may include devpts) and before
  // the root is made read-only (runc: "before we finalize the rootfs").
  if (plan.process.terminal) step('console', () => setupConsole(sys, newRoot, consoleSocket(plan), plan.process.consoleSize, { devConsole: true, controlling: true, clearOnlcr: plan.proxiedConsole }));
  step('readonly mounts', () => finishReadonlyMounts(sys, newRoot, c.mounts));
  if (c.readonlyRoot) step('readonly root', () => sys.mountSetattr(newRoot, MOUNT_ATTR.RDONLY, 0, false));
  return newRoot;
}

function consoleSocket(plan: InitPlan): number {
  if (plan.consoleFd === undefined) throw new RuntimeError('console', 'process.terminal is set but no console socket was given (--console-socket)');
  return plan.consoleFd;
}

/** hostname, domainname, sysctl, masked and read-only paths: the container's, after the root switch. */
export function applyContainerIdentity(sys: Sys, c: ContainerSetup, rootFd: number, procFd: number): void {
  if (c.hostname !== undefined) step('sethostname', () => sys.sethostname(c.hostname!));
  if (c.domainname !== undefined) step('setdomainname', () => sys.setdomainname(c.domainname!));
  for (const [name, value] of Object.entries(c.sysctl)) {
    step(`sysctl ${name}`, () => writeProcFile(sys, procFd, `sys/${name.replace(/\./g, '/')}`, value));
  }
  applyPathRestrictions(sys, rootFd, c.readonlyPaths, c.maskedPaths);
}

/** Blocks until `start` opens the exec fifo (runc's exec.fifo handshake). */
function waitForStart(sys: Sys, procFd: number, fifoFd: number): void {
  const fifo = step('open exec fifo', () => reopenFd(sys, procFd, fifoFd, O.WRONLY));
  step('write exec fifo', () => fs.writeSync(fifo, '0'));
  sys.close(fifo);
}

/**
 * The copy of mount `index`'s source, asked of the parent at the mount's
 * turn: it makes it in our mount namespace, as it now stands
 * (src/process/spawn.ts mountSourceCopy). A failure there is the parent's
 * to report; it then ends us.
 */
function sourceFromParent(channel: Channel, index: number): number {
  channel.send({ type: 'mount-source', index });
  const { msg, fd } = channel.receiveWithFdSync('mount-source-fd');
  if (msg.index !== index) throw new RuntimeError('sync', `asked for the source of mount ${index}, got that of mount ${msg.index}`);
  return fd;
}

/** create: the container's init. */
async function initContainer(sys: Sys, channel: Channel, plan: InitPlan, c: ContainerSetup, procFd: number, shim: SealedShim, loadFilter: (() => void) | undefined, note: Note): Promise<never> {
  if (c.movedNetDevices) restoreAddresses(sys, c.movedNetDevices);
  const cgroup2Copy = c.cgroupUnified && plan.inUserNs && !c.newCgroupNs ? hostCgroup2Copy(sys) : undefined;
  mountRootfs(sys, c, plan.inUserNs, (index) => sourceFromParent(channel, index));
  note('rootfs mounted');
  // prestart and createRuntime run in the runtime's namespaces (the parent),
  // createContainer here in the container's, all before the root switch,
  // with the rootfs as the cwd (runc's prepareRootfs).
  if (c.hooks.prestart?.length || c.hooks.createRuntime?.length || c.hooks.createContainer?.length) {
    channel.send({ type: 'hooks' });
    const { state } = await channel.receive('hooks-done');
    step('chdir to the rootfs', () => sys.chdir(c.rootfs));
    // Without an env of its own a createContainer hook gets an empty one:
    // runc 1.3.6's init has cleared its environment by then (runc 1.1.5
    // passed the process's env).
    runHooks('createContainer', c.hooks.createContainer, state, () => {}, note, []);
  }
  const rootFd = enterRootfs(sys, plan, c);
  note('root switched');
  applyContainerIdentity(sys, c, rootFd, procFd);
  prepareProcess(sys, plan, procFd);
  procFd = step('open procfs', () => pidsOnlyProcHandle(sys, procFd));
  sys.close(rootFd);
  plan.process.env = withHome(plan.process.env, plan.process.uid, readContainerPasswd);
  if (tightLimits(c.resources)) collectGarbage();
  note('ready for the cgroups');
  channel.send({ type: 'ready' });
  const { state } = channel.receiveSync('continue');
  // In the cgroups, so the kernel checks the policy against the container's
  // cpuset, as runc's init does; after createContainer hooks, before
  // startContainer ones, as runc's.
  if (plan.process.schedAttr) applyScheduler(sys, plan.process.schedAttr, 0, Boolean(c.resources?.cpu?.cpus));
  // We are in the container's cgroups now (under small limits only now, so
  // that our setup is not charged to them: see tightLimits). The cgroup
  // namespace comes after that, so that its root is the container's cgroup,
  // and the cgroup2 mount after the namespace.
  if (c.newCgroupNs) step('unshare cgroup namespace', () => sys.unshare(CLONE.NEWCGROUP));
  if (c.cgroupUnified) {
    const root = step('open root', () => sys.open('/', O.PATH | O.DIRECTORY | O.CLOEXEC));
    try {
      mountCgroup2(sys, root, c.mounts, cgroup2Copy);
    } finally {
      sys.close(root);
      if (cgroup2Copy !== undefined) sys.close(cgroup2Copy);
    }
  }
  const { program, loadFilterLast } = becomeProcess(sys, plan, loadFilter);
  // Under no_new_privs the filter is loaded last, so that it constrains
  // nothing of ours. But runc loads it before the wait for start, and two
  // things depend on that: startContainer hooks run under it, and a
  // listener gets its notify fd during create (after start, an agent gone
  // meanwhile left the program never started while start said it had).
  // With either, it is loaded here, before create reports done, so a
  // failure still reaches the parent.
  const filterBeforeHooks = loadFilterLast && (c.hooks.startContainer?.length || plan.seccompAgent) ? loadFilterLast : undefined;
  if (filterBeforeHooks) step('load seccomp filter', filterBeforeHooks);
  note('process set up; waiting for start');
  channel.send({ type: 'created' });
  channel.close();
  waitForStart(sys, procFd, c.fifoFd);
  sys.close(procFd);
  // startContainer: inside the container, path resolved there, after start.
  // (No --debug lines: the channel to the CLI is closed by now.)
  // One without an env (or with an empty one) gets the process's, HOME
  // included, as runc 1.3.6 keeps it (its hooks.bats, "startContainer hook
  // should inherit process environment").
  const startHooks = c.hooks.startContainer?.map((h) => (h.env?.length ? h : { ...h, env: undefined }));
  runHooks('startContainer', startHooks, { ...(state as HookState), status: 'running' }, () => {}, () => {}, plan.process.env);
  return execProgram(sys, plan, shim, program, filterBeforeHooks ? undefined : loadFilterLast);
}

/**
 * exec: a new process in the running container (runc's setns init). It
 * joins the container's cgroups only as the exec shim, after all of this
 * (the parent moves it, see native/exec-shim.c), so that nothing of the
 * engine is charged to the container.
 */
async function initExec(sys: Sys, channel: Channel, plan: InitPlan, procFd: number, shim: SealedShim, loadFilter: (() => void) | undefined, note: Note): Promise<never> {
  const rootFd = step('open root', () => sys.open('/', O.PATH | O.DIRECTORY | O.CLOEXEC));
  // With a fork into the pid namespace, the forked process claims the terminal (native/exec-shim.c).
  if (plan.process.terminal) step('console', () => setupConsole(sys, rootFd, consoleSocket(plan), plan.process.consoleSize, { devConsole: false, controlling: plan.pidNsFd === undefined, clearOnlcr: plan.proxiedConsole }));
  prepareProcess(sys, plan, procFd);
  sys.close(rootFd);
  sys.close(procFd);
  plan.process.env = withHome(plan.process.env, plan.process.uid, readContainerPasswd);
  // The parent-death signal ended this setup with the ocirun that waits for
  // it; the program must outlive an ocirun that leaves (exec -d, or one
  // killed), as runc's does: a process of a container without a pid
  // namespace of its own was killed at once by `exec -d` otherwise. From
  // here on an ocirun gone shows as end of file on the channel (the go
  // below, or the shim's handshake). Cleared before the filter loads, which
  // must see nothing of ours.
  step('clear the parent-death signal', () => sys.prctl(PR.SET_PDEATHSIG, 0));
  const { program, loadFilterLast } = becomeProcess(sys, plan, loadFilter);
  // Joined early: the parent's join ran alongside our setup; the program
  // must still start only inside the cgroups (device rules, limits).
  if (plan.cgroupsJoined) {
    channel.receiveSync('go');
    note('in the cgroups; exec');
  } else {
    note('process set up; exec');
  }
  const fork = plan.pidNsFd !== undefined;
  return execProgram(sys, plan, shim, program, loadFilterLast, { fd: channel.fd, wait: !plan.cgroupsJoined, fork, tty: plan.process.terminal, again: Boolean(plan.process.schedAttr) });
}

/** The whole init; errors go to the parent over the channel. */
export async function runInit(sys: Sys, channel: Channel): Promise<never> {
  // Before anything else: no other process may ptrace us or open our
  // /proc/PID/exe (the host's engine binary) while we run in the container.
  sys.prctl(PR.SET_DUMPABLE, 0);
  // The stage exec'd us with another real gid so that we were not dumpable
  // even before that line (native/stage.c); it is ours again.
  const egid = process.getegid!();
  if (process.getgid!() !== egid) sys.setresgid(egid, egid, egid);
  const { plan } = await channel.receive('plan');
  // The engine's file: its interpreter has read it (native/stage.c).
  if (plan.engineFd !== undefined) sys.close(plan.engineFd);
  // An exec's init is outside the container's pid namespace: nothing ends
  // it with the container, so it ends with the ocirun that waits for it.
  if (plan.runtimePid !== undefined) {
    sys.prctl(PR.SET_PDEATHSIG, 9);
    if (process.ppid !== plan.runtimePid) throw new RuntimeError('init', 'ocirun exited before the process was set up');
  }
  const note: Note = plan.debug ? (message) => channel.send({ type: 'log', level: 'debug', message: `init: ${message}`, time: logTime() }) : () => {};
  note(`plan received (${performance.now().toFixed(1)} ms after the engine started)`);
  // While the host's files are reachable: the shim and libseccomp.
  const shim = step('read exec shim', () => new SealedShim(sys, fs.readFileSync(plan.shimPath)));
  const loadFilter = compileFilter(sys, plan, shim, channel, note);
  const initial = plan.container ? undefined : plan.process.execCPUAffinity?.initial;
  if (initial) step('set initial CPU affinity', () => sys.schedSetaffinity(initial));
  // The init's own procfs, from the host's (see ./procfs.ts).
  const procFd = step('open procfs', () => openProcHandle(sys, plan.procFd));
  // Everything from the host is loaded by now: move into the root the
  // process is to have, where paths, mount(2) and pivot_root(2) act.
  step('enter the mount namespace', () => chrootToFd(sys, plan.rootFd));
  note('host files loaded; in the mount namespace');
  if (plan.container) return initContainer(sys, channel, plan, plan.container, procFd, shim, loadFilter, note);
  return initExec(sys, channel, plan, procFd, shim, loadFilter, note);
}

/**
 * Reports a failure to the parent, or, once nobody reads the channel (after
 * start: a startContainer hook that failed), on stderr as runc's init does
 * it: the error alone, no name before it.
 */
export function reportError(channel: Channel, err: unknown): void {
  const e = atStep('init', err);
  if (channel.isClosed) process.stderr.write(`${e.message}\n`);
  else channel.send({ type: 'error', step: e.step, detail: e.detail });
}

/**
 * The init's exit status when it fails: runc 1.3.6's init exits 255 (1.1.5's
 * exited 1). It is what `run` and a manager waiting on the container see
 * when the failure comes after start; before that, the parent reports it.
 */
const INIT_FAILED = 255;

/** The init's entry: what the C stage execs runs this (./init-main.ts, or the single file as the init). */
export async function initMain(): Promise<never> {
  const sys = new LibcSys();
  // The one thing the init must learn before it can read a message: where
  // the channel is (the parent's environment for the stage, passed on).
  const channel = new Channel(sys, Number(process.env[SYNC_FD_ENV]), 'parent');
  try {
    return await runInit(sys, channel);
  } catch (err) {
    try {
      reportError(channel, err);
    } finally {
      // The parent cleans up.
      process.exit(INIT_FAILED);
    }
  }
}
