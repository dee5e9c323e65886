/**
 * `exec`: a new process in a running (or created) container. The C stage
 * joins the container's namespaces (src/process/spawn.ts) and starts the
 * init there, which becomes the process with the same code as the
 * container's own init (src/process/finalize.ts); we put it in the
 * container's cgroups once it is ready. The process is our child
 * (CLONE_PARENT), so a foreground exec waits for it and returns its status;
 * a detached one leaves it to the caller's subreaper, as runc does.
 *
 * runc takes the process defaults from the bundle's config.json as it is at
 * exec time; we take them from the copy saved at create, which is what the
 * container was made from (they differ only if the bundle was edited).
 */
import fs from 'node:fs';
import path from 'node:path';
import { cgroupManager } from '../cgroups/drivers.js';
import { hostLayout, warmCgroupMigration, type CgroupLayout } from '../cgroups/index.js';
import type { CgroupManager } from '../cgroups/manager.js';
import type { SubCgroups } from '../cgroups/sub-cgroups.js';
import { faultPoint } from '../fault.js';
import { atStep, RuntimeError, step } from '../errors.js';
import { namespaceJoins, processFromFlags, withContainerDefaults, type ExecFlags } from '../process/exec-plan.js';
import { validateProcess } from '../config/validate.js';
import { tightLimits } from '../process/init-plan.js';
import type { StageInstruction } from '../process/messages.js';
import type { Channel } from '../process/channel.js';
import { execExchange, heldBeforeExec, launchProcess, programRuns, type ExecProgress, type Launched, type NotifyFdHandOff } from '../process/launcher.js';
import { killAndReap, killQuietly } from '../process/kill.js';
import { sendPidfd } from '../process/pidfd-socket.js';
import { sessionKeyringName } from '../security/keyring.js';
import { connectAgent, containerProcessState, sendToAgent } from '../security/seccomp-listener.js';
import { usesNotify } from '../security/seccomp.js';
import { NS_PROC_FILE, OCI_VERSION, type NamespaceType } from '../config/constants.js';
import { memoryPolicyPlan, personalityValue, planProcess } from '../config/plan.js';
import type { Config, SeccompConfig } from '../config/schema.js';
import { O } from '../sys/constants.js';
import type { Sys } from '../sys/types.js';
import { log } from '../log.js';
import type { Context } from './context.js';
import { runningInUserNamespace } from './rootless.js';
import { writePidFile } from './pid-file.js';
import { connectCallerSocket } from '../caller-path.js';
import { checkTerminal, exitCodeOf, relaySignals } from '../process/foreground.js';
import { consolePair, type ConsolePair, type TerminalProxy } from '../tty/proxy.js';
import { withContainer } from './lock.js';
import { currentStatus, initAlive, onInitGone, readSavedConfig, type SavedState } from './state.js';

export interface ExecOptions extends ExecFlags {
  id: string;
  /** A process.json's content (checked here): replaces the container's process and the flags above. */
  process?: unknown;
  consoleSocket?: string;
  /** --pidfd-socket: where a pidfd of the process goes once it is forked (see sendPidfd). */
  pidfdSocket?: string;
  detach?: boolean;
  pidFile?: string;
  preserveFds?: number;
  /** --cgroup: "[controller[,controller]:]path", a sub-cgroup of the container's. */
  cgroup?: string[];
  ignorePaused?: boolean;
  stdio?: [number, number, number];
}

/** Namespaces the container has apart from ours (joining our own user namespace is EINVAL). */
function containerNamespaces(config: Config, initPid: number): NamespaceType[] {
  return (config.linux?.namespaces ?? [])
    .map((n) => n.type as NamespaceType)
    .filter((type) => {
      const name = NS_PROC_FILE[type];
      try {
        const theirs = fs.statSync(`/proc/${initPid}/ns/${name}`);
        const ours = fs.statSync(`/proc/self/ns/${name}`);
        return theirs.ino !== ours.ino || theirs.dev !== ours.dev;
      } catch (err) {
        throw new RuntimeError('find container namespaces', `/proc/${initPid}/ns/${name}: ${(err as Error).message}`);
      }
    });
}

function checkStatus(ctx: Context, s: SavedState, ignorePaused: boolean): void {
  const status = currentStatus(ctx.root, s);
  if (status === 'stopped' || status === 'creating') throw new RuntimeError('', 'cannot exec in a stopped container');
  if (status === 'paused' && !ignorePaused) throw new RuntimeError('', 'cannot exec in a paused container (use --ignore-paused to override)');
}

/**
 * Where an exec'd process goes: the container's cgroups, the sub-cgroups
 * --cgroup asks for, and the init's (whose cgroup it may fall back to).
 */
interface ExecCgroups {
  manager: CgroupManager;
  sub: SubCgroups;
  initPid: number;
}

/**
 * The channel's watch, every 100 ms while the exec has not reached its
 * program: a process of it stopped or frozen fails the wait
 * (heldBeforeExec); one that waits on the agent gets it the fd (unblock).
 */
function execWatch(progress: ExecProgress, pid: number, cgroups: CgroupManager, agent: AgentHandOff | undefined): () => string | undefined {
  return () => {
    agent?.unblock(progress.forked ?? pid);
    return heldBeforeExec(progress.forked ?? pid, (p) => cgroups.frozenApart(p));
  };
}

/**
 * Whether `pid` waits on a seccomp agent (in a notified system call);
 * undefined where we cannot tell (its wchan is hidden from an unprivileged
 * caller: it reads "0").
 */
function waitsOnSeccompAgent(pid: number): boolean | undefined {
  let wchan: string;
  try {
    wchan = fs.readFileSync(`/proc/${pid}/wchan`, 'utf8');
  } catch {
    return undefined;
  }
  return wchan === '0' || wchan === '' ? undefined : wchan.startsWith('seccomp_do_user_notification');
}

/**
 * The seccomp agent's notify fd, which the init sends us: the agent gets it
 * with the container process state, "running" and the exec'd process as
 * pid (runc's setns process), once the program's pid is known (with a pid
 * namespace, the shim forks it last). Until then the init and the shim
 * still make calls of their own under the filter; one that the profile
 * notifies waits on the agent, which must have the fd at once: the
 * channel's watch looks (unblock), and hands it over with the pid of the
 * process that waits, the one that becomes or forks the program.
 */
class AgentHandOff implements NotifyFdHandOff {
  private notifyFd: number | undefined;
  constructor(private readonly sys: Sys, private agentFd: number | undefined, private readonly s: SavedState, private readonly seccomp: SeccompConfig) {}

  async receive(channel: Channel): Promise<void> {
    this.notifyFd = await channel.receiveFd('seccomp-fd');
  }

  /** `pid` (of the exec, before its program runs) waits on the agent, or we cannot tell: the fd goes now. */
  unblock(pid: number): void {
    if (this.notifyFd !== undefined && waitsOnSeccompAgent(pid) !== false) this.send(pid);
  }

  send(pid: number): void {
    if (this.agentFd === undefined || this.notifyFd === undefined) return;
    const { s } = this;
    const state = containerProcessState({ ociVersion: OCI_VERSION, id: s.id, pid: s.pid, bundle: s.bundle, annotations: s.annotations }, 'running', pid, this.seccomp.listenerMetadata);
    const [agentFd, notifyFd] = [this.agentFd, this.notifyFd];
    this.agentFd = this.notifyFd = undefined;
    step('send seccomp notify fd', () => sendToAgent(this.sys, agentFd, notifyFd, state));
  }

  close(): void {
    for (const fd of [this.agentFd, this.notifyFd]) if (fd !== undefined) this.sys.close(fd);
    this.agentFd = this.notifyFd = undefined;
  }
}

/**
 * Starts the process; resolves to its pid once it runs the program. A
 * terminal for a foreground exec with no console socket goes down `pair`.
 */
async function startInContainer(sys: Sys, ctx: Context, s: SavedState, opts: ExecOptions, wantPair: (terminal: boolean) => ConsolePair | undefined, layout: CgroupLayout | undefined): Promise<{ pid: number; pair?: ConsolePair }> {
  const config = readSavedConfig(ctx.root, s.id);
  const proc: unknown = opts.process !== undefined ? structuredClone(opts.process) : processFromFlags(config.process, opts);
  validateProcess(proc);
  checkTerminal(proc.terminal ?? false, opts.consoleSocket, opts.detach ?? false);
  const processPlan = planProcess(withContainerDefaults(proc, config.process), ctx.warn);
  const containerCgroups = cgroupManager(s, { rootless: ctx.rootless, sys, layout });
  const cgroups: ExecCgroups = { manager: containerCgroups, sub: containerCgroups.subCgroups(opts.cgroup), initPid: s.pid };
  const personality = personalityValue(config.linux?.personality);
  const memoryPolicy = memoryPolicyPlan(config.linux?.memoryPolicy);
  const namespaces = containerNamespaces(config, s.pid);
  // With a mount namespace, the process's root is the root of the joined
  // namespace; without one, the init's (runc would leave it at the host's /).
  const hasMountNs = config.linux?.namespaces?.some((n) => n.type === 'mount') ?? false;
  // The pid namespace is not the stage's to join: the init runs outside it
  // and the exec shim forks the process into it (InitPlan.pidNsFd).
  const instructions: StageInstruction[] = [
    ...(hasMountNs ? [] : [{ type: 'root' as const, path: `/proc/${s.pid}/root` }]),
    ...namespaceJoins(s.pid, namespaces.filter((t) => t !== 'pid')).map((j) => ({ type: 'join' as const, ...j })),
  ];

  const pair = wantPair(proc.terminal ?? false);
  let consoleFd: number | undefined;
  let agentFd: number | undefined;
  let pidNsFd: number | undefined;
  let launched: Launched | undefined;
  const progress: ExecProgress = { reaped: false };
  let stopWatch = () => {};
  try {
    consoleFd = opts.consoleSocket ? connectCallerSocket(sys, 'connect console socket', opts.consoleSocket) : pair?.theirs;
    const seccomp = config.linux?.seccomp;
    // The agent is the parent's to reach: the init hands it the notify fd (seccompNotifyToParent).
    if (seccomp && usesNotify(seccomp)) agentFd = connectAgent(sys, seccomp.listenerPath!);
    if (namespaces.includes('pid')) pidNsFd = step('open the pid namespace', () => sys.open(`/proc/${s.pid}/ns/pid`, O.RDONLY | O.CLOEXEC));
    const extraFds = [consoleFd, pidNsFd].filter((fd): fd is number => fd !== undefined);
    log.debug('exec: process planned');
    launched = await launchProcess(sys, {
      stage: { instructions, stdio: opts.stdio, preserveFds: opts.preserveFds ?? 0, extraFds, containerId: s.id, oomScoreAdj: processPlan.oomScoreAdj },
      process: processPlan,
      seccomp,
      personality,
      memoryPolicy,
      keyring: s.noNewKeyring ? undefined : sessionKeyringName(s.id),
      inUserNs: namespaces.includes('user') || runningInUserNamespace(),
      consoleFd,
      warn: ctx.warn,
    });
    const { pid } = launched;
    log.debug(`exec: init spawned, pid ${pid}`);
    launched.channel.onlyFrom(pid);
    // The init runs outside the container's pid namespace, so the end of
    // the container does not end it: we do, should it wait on something of
    // the container's (a fifo at /etc/passwd) when the container goes. Once
    // the shim has forked, the process is the forked one, our child until
    // we wait for it; the shim's own pid is never signalled after that, for
    // once it is waited for, the pid may be another process's.
    if (pidNsFd !== undefined) stopWatch = onInitGone(s, 100, () => killQuietly(progress.forked ?? pid));
    const plan = launched.initPlan({
      proxiedConsole: (pair !== undefined && !opts.consoleSocket) || undefined,
      seccompNotifyToParent: agentFd !== undefined || undefined,
      // Under roomy limits the process joins the cgroups at once, unless
      // process.execCPUAffinity is set (its "initial" applies before the
      // join, the init sets it first; its "final" after), or
      // process.scheduler: it is set on the shim, in the cgroups, never on
      // the engine (a SCHED_DEADLINE thread can neither fork nor make
      // threads).
      cgroupsJoined: (!tightLimits(cgroups.manager.currentLimits()) && !processPlan.execCPUAffinity && !processPlan.schedAttr) || undefined,
      pidNsFd: pidNsFd === undefined ? undefined : launched.fdInProcess(pidNsFd),
      runtimePid: process.pid,
    });
    const agent = agentFd === undefined ? undefined : new AgentHandOff(sys, agentFd, s, seccomp!);
    agentFd = undefined;
    launched.channel.watch = execWatch(progress, pid, cgroups.manager, agent);
    let runs: number;
    try {
      runs = await execExchange(sys, launched, plan, {
        joinCgroups: (p) => cgroups.manager.join(p, cgroups.sub, cgroups.initPid),
        primeJoin: (p) => cgroups.manager.primeJoin(p),
        cpusetLimited: Boolean(config.linux?.resources?.cpu?.cpus),
        agent,
      }, progress);
    } finally {
      agent?.close();
    }
    if (opts.pidfdSocket) sendPidfd(sys, opts.pidfdSocket, runs, 'setns');
    await programRuns(launched, progress.forked);
    log.debug('exec: the program runs');
    return { pid: runs, pair };
  } catch (err) {
    pair?.dispose();
    // Not the shim once reaped: its pid may be another process's by now.
    for (const p of [progress.forked, progress.reaped ? undefined : launched?.pid]) if (p !== undefined) await killAndReap(sys, p);
    throw err;
  } finally {
    stopWatch();
    launched?.channel.close();
    if (opts.consoleSocket && consoleFd !== undefined) sys.close(consoleFd);
    for (const fd of [agentFd, pidNsFd]) if (fd !== undefined) sys.close(fd);
  }
}

/** A pid file that cannot be written ends the process it would have named (runc kills it too). */
async function writeExecPidFile(sys: Sys, file: string, pid: number, pair: ConsolePair | undefined): Promise<void> {
  try {
    writePidFile(file, pid);
  } catch (err) {
    await killAndReap(sys, pid);
    pair?.dispose();
    throw atStep('write pid file', err);
  }
}

export async function exec(sys: Sys, ctx: Context, opts: ExecOptions): Promise<number> {
  // The process joins the cgroups before it runs its program: that join's
  // RCU wait, started now, elapses while the state is read and checked,
  // the process planned and the stage spawned. The layout, read once, is
  // the manager's too; unreadable, the manager says so at its own step.
  let layout: CgroupLayout | undefined;
  try {
    layout = hostLayout();
  } catch {
    /* left to the manager */
  }
  if (layout) warmCgroupMigration(layout);
  const wantPair = (terminal: boolean) => (terminal && !opts.detach && !opts.consoleSocket ? consolePair(sys) : undefined);
  // The lock covers reading and checking the state, nothing more: the launch
  // waits on the container (its /etc/passwd, a stopped or frozen process),
  // and kill, delete -f and resume must never wait behind that.
  const s = await withContainer(sys, ctx, opts.id, (s) => {
    checkStatus(ctx, s, opts.ignorePaused ?? false);
    return s;
  });
  // Unlocked, a delete may have ended the init meanwhile: its pid, which the
  // namespaces are joined through, must still be the container's.
  if (!initAlive(s)) throw new RuntimeError('', 'cannot exec in a stopped container');
  faultPoint('exec-checked');
  const { pid, pair } = await startInContainer(sys, ctx, s, opts, wantPair, layout);
  faultPoint('exec-started');
  if (opts.pidFile) await writeExecPidFile(sys, opts.pidFile, pid, pair);
  if (opts.detach) return 0;
  const stopRelay = relaySignals(pid);
  let proxy: TerminalProxy | undefined;
  try {
    const waited = sys.waitpid(pid);
    proxy = pair?.attach();
    return exitCodeOf(await waited);
  } finally {
    stopRelay();
    await proxy?.close();
  }
}
