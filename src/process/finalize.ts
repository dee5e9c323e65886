/**
 * Becoming the container's process: everything after the rootfs is ready,
 * written once for the container's init and for an exec'd process (runc's
 * standard and setns inits share the same steps; the order within each
 * group follows them). The caller runs the groups in this order:
 *
 *   prepareProcess   rlimits, no_new_privs, keyring, personality, I/O
 *                    priority, LSM labels for the exec
 *   (the parent moves the process into its cgroups; the CPU scheduling,
 *   process.scheduler, is set there: ./scheduling.ts)
 *   becomeProcess    close-on-exec, seccomp (without no_new_privs), the
 *                    bounding set, the user, the cwd, the capabilities
 *   execProgram      the caller's ignored signals, seccomp (with
 *                    no_new_privs), execveat of the sealed shim
 */
import fs from 'node:fs';
import { collectGarbage } from '../engine.js';
import { RuntimeError, step } from '../errors.js';
import { applyBoundingSet, applyCapabilitySets, lastCap } from '../security/capabilities.js';
import { joinContainerKeyring } from '../security/keyring.js';
import { lsmExecWrites } from '../security/lsm.js';
import { compileToBpf, usesNotify } from '../security/seccomp.js';
import { agentHandOver } from '../security/seccomp-listener.js';
import { sealedMemfd } from '../security/sealed.js';
import { CLONE, PR } from '../sys/constants.js';
import { encodeMessage, SHIM_MEMFD_NAME, shimArgv0, type ShimSync } from './messages.js';
import { procFileExists, writeProcFile } from './procfs.js';
import { LibSeccomp } from '../sys/libseccomp.js';
import { SysError, type Sys } from '../sys/types.js';
import { isExecutable, lookPath } from './exec-path.js';
import type { Channel } from './channel.js';
import type { InitPlan } from './init-plan.js';

/**
 * The exec shim in a sealed memfd (see native/exec-shim.c for why). Its
 * bytes are read while the host's files are reachable; the memfd is made
 * when first needed, as late as the seccomp filter allows (before it is
 * loaded, which may deny memfd_create), so that the init of a created
 * container holds no copy while it waits for start.
 */
export class SealedShim {
  private memfd: number | undefined;
  constructor(private readonly sys: Sys, private readonly bytes: Uint8Array) {}
  fd(): number {
    return (this.memfd ??= sealedMemfd(this.sys, SHIM_MEMFD_NAME, this.bytes));
  }
}

/** The process's AppArmor profile and SELinux label, for the next exec (src/security/lsm.ts). */
export function applyLsmLabels(sys: Sys, plan: InitPlan, procFd: number): void {
  for (const w of lsmExecWrites(plan.process)) {
    const name = `apply ${w.lsm === 'apparmor' ? 'AppArmor profile' : 'SELinux label'}`;
    step(name, () => {
      // The first attr file that exists; a write error (an unknown profile is ENOENT) is the answer.
      const file = w.files.find((f, i) => i === w.files.length - 1 || procFileExists(sys, procFd, f))!;
      try {
        writeProcFile(sys, procFd, file, w.value);
      } catch (err) {
        throw new RuntimeError(name, `write ${JSON.stringify(w.value)} to /proc/${file}: ${(err as Error).message}`, { cause: err });
      }
    });
  }
}

/**
 * The filter, compiled now while the host's libseccomp is reachable (the
 * init still sees the host's files); the returned function loads it and
 * hands its notify fd to the agent when there is one.
 */
export function compileFilter(sys: Sys, plan: InitPlan, shim: SealedShim, channel: Channel, note: (m: string) => void): (() => void) | undefined {
  const profile = plan.seccomp;
  if (!profile) return undefined;
  const lib = step('load libseccomp', () => new LibSeccomp());
  const compiled = step('compile seccomp profile', () => compileToBpf(sys, lib, profile, note));
  note(`seccomp filter flags: ${compiled.flags}`);
  const handOver = notifyHandOver(sys, plan, channel);
  return () => {
    step('seal exec shim', () => shim.fd());
    // From the load until the agent holds the notify fd, a system call of
    // ours that the profile sends to the agent waits for ever (the agent
    // cannot answer it yet). The engine's own calls are the risk: JSC reads
    // /proc/self/statm when it weighs a collection, so one is made now, and
    // the send is built beforehand (handOver): between the load and the
    // sendmsg no buffer or message is built, only the calls themselves. (The exec shim, C, cannot load it
    // instead: it is dumpable once exec'd, so a pod neighbour of the same
    // uid could stop it before the load and run the program unfiltered.)
    if (usesNotify(profile)) collectGarbage();
    const notifyFd = sys.seccompLoad(compiled.flags, compiled.bpf);
    if (handOver) step('send seccomp notify fd', () => handOver(notifyFd));
  };
}

/**
 * The notify fd's way out, built before the load: to the agent with the
 * container process state (both fds closed after), or to the parent as a
 * "seccomp-fd" message (an exec's agent is the parent's to reach).
 */
function notifyHandOver(sys: Sys, plan: InitPlan, channel: Channel): ((notifyFd: number) => void) | undefined {
  const agent = plan.seccompAgent;
  if (agent) return agentHandOver(sys, agent.fd, agent.processState);
  if (!plan.seccompNotifyToParent) return undefined;
  const send = sys.prepareSendFd(channel.fd, encodeMessage({ type: 'seccomp-fd' }));
  return (notifyFd) => {
    try {
      send(notifyFd);
    } finally {
      sys.close(notifyFd);
    }
  };
}

/** The attributes that do not depend on who the process is: set before the cgroup join. */
export function prepareProcess(sys: Sys, plan: InitPlan, procFd: number): void {
  const p = plan.process;
  for (const r of p.rlimits) step(`setrlimit ${r.name}`, () => sys.setrlimit(r.resource, BigInt(r.soft), BigInt(r.hard)));
  if (p.noNewPrivileges) step('no_new_privs', () => sys.prctl(PR.SET_NO_NEW_PRIVS, 1));
  if (plan.keyring) step('join session keyring', () => joinContainerKeyring(sys, plan.keyring!, plan.inUserNs));
  if (plan.personality !== undefined) step('personality', () => sys.personality(plan.personality!));
  if (plan.memoryPolicy) step('linux.memoryPolicy', () => sys.setMempolicy(plan.memoryPolicy!.mode, plan.memoryPolicy!.nodes));
  if (p.ioPriority !== undefined) step('ioprio_set', () => sys.setIoPriority(p.ioPriority!));
  applyLsmLabels(sys, plan, procFd);
}

/**
 * Nothing but stdio and the preserved fds may reach the program
 * (CVE-2024-21626). Done before any seccomp filter is loaded: a profile may
 * well deny close_range. Every fd opened after this is O_CLOEXEC.
 */
export function markFdsCloseOnExec(sys: Sys, keepFds: number): void {
  sys.cloexecFrom(keepFds);
  for (let fd = 0; fd < keepFds; fd++) {
    try {
      sys.setCloexec(fd, false);
    } catch {
      /* a preserved fd that is not open is simply absent */
    }
  }
}

/**
 * runc's verifyCwd: a cwd outside the container's root (a host directory
 * leaked in through an fd or a racing mount) reads as "(unreachable)..."
 * from getcwd(2); the program must never start there.
 */
export function verifyCwd(sys: Sys): void {
  const wd = sys.getcwd();
  if (!wd.startsWith('/')) throw new RuntimeError('verify cwd', `current working directory is outside of container mount namespace root -- possible container breakout detected: cwd is ${JSON.stringify(wd)}`);
}

/**
 * runc's fixStdioPermissions: stdio made outside the container (a pty, a
 * pipe) becomes the process's user's, so that a non-root process can use
 * its own terminal. Only the owner changes (the devpts mount's gid=, the tty
 * group, stays), /dev/null is left alone, and an fd whose owner or group
 * is not mapped in the user namespace (EINVAL, EPERM) is skipped.
 */
export function fixStdioPermissions(sys: Sys, uid: number): void {
  const nullRdev = fs.statSync('/dev/null').rdev;
  for (const fd of [0, 1, 2]) {
    let st: fs.Stats;
    try {
      st = fs.fstatSync(fd);
    } catch {
      continue; // not open
    }
    if (st.uid === uid || (st.isCharacterDevice() && st.rdev === nullRdev)) continue;
    try {
      sys.fchown(fd, uid, st.gid);
    } catch (err) {
      if (!(err instanceof SysError && (err.code === 'EINVAL' || err.code === 'EPERM'))) throw err;
    }
  }
}

function setgroupsDenied(): boolean {
  try {
    return fs.readFileSync('/proc/self/setgroups', 'utf8').trim() === 'deny';
  } catch {
    return false;
  }
}

/** runc's finalizeNamespace: bounding set, user switch keeping caps, cwd, then the cap sets. */
export function switchUserAndCaps(sys: Sys, plan: InitPlan): void {
  const p = plan.process;
  // runc tries the cwd before the user switch and, where only the new user
  // may enter it (EACCES, EPERM), once more after.
  const chdirStep = `chdir to cwd (${JSON.stringify(p.cwd)}) set in config.json`;
  let cwdLater = false;
  step(chdirStep, () => {
    try {
      sys.chdir(p.cwd);
    } catch (err) {
      if (!(err instanceof SysError && (err.code === 'EACCES' || err.code === 'EPERM'))) throw err;
      cwdLater = true;
    }
  });
  step('drop bounding capabilities', () => applyBoundingSet(sys, p.capabilities, lastCap()));
  step('keep capabilities', () => sys.prctl(PR.SET_KEEPCAPS, 1));
  step('fix stdio permissions', () => fixStdioPermissions(sys, p.uid));
  // As runc: a rootless runtime cannot give additional groups; nor can
  // anyone once setgroups is denied, and then the groups are left as they are.
  if (plan.rootlessEuid && p.additionalGids.length) throw new RuntimeError('setgroups', 'cannot set any additional groups in a rootless container');
  if (!plan.rootlessEuid && !setgroupsDenied()) step('setgroups', () => sys.setgroups(p.additionalGids));
  step('setresgid', () => sys.setresgid(p.gid, p.gid, p.gid));
  step('setresuid', () => sys.setresuid(p.uid, p.uid, p.uid));
  step('keep capabilities', () => sys.prctl(PR.SET_KEEPCAPS, 0));
  if (cwdLater) step(chdirStep, () => sys.chdir(p.cwd));
  verifyCwd(sys);
  step('set capabilities', () => applyCapabilitySets(sys, p.capabilities));
  if (p.umask !== undefined) process.umask(p.umask);
}

function joinPidNamespace(sys: Sys, fd: number): void {
  sys.setns(fd, CLONE.NEWPID);
  sys.close(fd);
}

/** The user, the capabilities and the filter, then the program's path (runc's order). */
export function becomeProcess(sys: Sys, plan: InitPlan, loadFilter: (() => void) | undefined): { program: string; loadFilterLast?: () => void } {
  // While we still have CAP_SYS_ADMIN, and before any filter (a profile may
  // deny setns). From here on this thread may not start threads (the kernel
  // refuses a thread whose pid namespace would differ): nothing below waits.
  if (plan.pidNsFd !== undefined) step('join the pid namespace', () => joinPidNamespace(sys, plan.pidNsFd!));
  step('close-on-exec fds', () => markFdsCloseOnExec(sys, plan.keepFds));
  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it
  // before the capabilities are dropped, as runc does.
  if (loadFilter && !plan.process.noNewPrivileges) step('load seccomp filter', loadFilter);
  switchUserAndCaps(sys, plan);
  const program = step('find program', () => lookPath(plan.process.args[0], plan.process.env, (p) => isExecutable(sys, p)));
  return { program, loadFilterLast: plan.process.noNewPrivileges ? loadFilter : undefined };
}

/**
 * The last steps: signals as the caller had them, the filter under
 * no_new_privs, the exec through the sealed shim. With `sync`, the shim
 * keeps the parent's socket open until the program's own execve, so that
 * the parent sees end of file only once the program runs; with `wait`, it
 * first waits there until the parent has moved it into the container's
 * cgroups; with `fork`, it then forks the process into the pid namespace
 * joined above (native/exec-shim.c).
 */
export function execProgram(sys: Sys, plan: InitPlan, shim: SealedShim, program: string, loadFilterLast?: () => void, sync?: ShimSync): never {
  const shimFd = step('seal exec shim', () => shim.fd());
  step('reset signals', () => sys.resetSignals(BigInt(`0x${plan.ignoredSignals || '0'}`)));
  if (sync) step('keep the sync socket for the shim', () => sys.setCloexec(sync.fd, false));
  // With no_new_privs the filter goes last, so it constrains nothing of ours.
  if (loadFilterLast) step('load seccomp filter', loadFilterLast);
  sys.fexecve(shimFd, [shimArgv0(sync), program, ...plan.process.args], plan.process.env);
}
