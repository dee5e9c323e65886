/**
 * The parent's side of starting a container process, one path for create
 * (the container's init) and exec (a process in a running container):
 * spawn the C stage (./spawn.ts), forward the init's log lines, build the
 * InitPlan from what every process has plus what the command adds, and run
 * the message exchange (./messages.ts) up to the point where the process is
 * set up, handing back its pid. The command keeps what is its own: the
 * state directory and cgroups (create), which namespaces to join (exec);
 * it hands the exchange callbacks for the cgroup joins and the hooks.
 *
 * restore gets its process from CRIU, not from the stage: it shares the
 * foreground half (./foreground.ts) and the container's state handling.
 */
import fs from 'node:fs';
import { callerIgnoredSignals, execShim } from '../engine.js';
import { RuntimeError, step } from '../errors.js';
import type { HookState } from '../hooks/index.js';
import { log } from '../log.js';
import { rootlessEuid } from '../container/rootless.js';
import type { Sys } from '../sys/types.js';
import { faultPoint } from '../fault.js';
import type { Channel } from './channel.js';
import { settledWithin } from './kill.js';
import { applyScheduler, resetCpuAffinity } from './scheduling.js';
import type { InitPlan } from './init-plan.js';
import { SHIM_MEMFD_NAME, type Message } from './messages.js';
import { launch, type LaunchedProcess, type StageLaunch } from './spawn.js';

/** The InitPlan fields that a command gives as they are, for create's init and an exec'd process alike. */
type GivenField = 'process' | 'seccomp' | 'personality' | 'memoryPolicy' | 'keyring' | 'inUserNs';

/** What every process is started with: those fields, and how to start and report. */
export interface ProcessRequest extends Pick<InitPlan, GivenField> {
  stage: StageLaunch;
  /** An fd of ours among stage.extraFds: the console socket (or the terminal proxy's end); the plan gets its number in the process. */
  consoleFd?: number;
  warn: (msg: string) => void;
}

/** The fields of the InitPlan that the launcher fills in for every process. */
type CommonField = GivenField | 'rootFd' | 'procFd' | 'engineFd' | 'keepFds' | 'consoleFd' | 'shimPath' | 'rootlessEuid' | 'ignoredSignals' | 'debug';

export interface Launched extends LaunchedProcess {
  /** The plan for the init: the fields every process has, then the command's own. */
  initPlan(own: Omit<InitPlan, CommonField>): InitPlan;
}

/** Spawns the stage and its init; the init's log lines go to ours from now on. */
export async function launchProcess(sys: Sys, req: ProcessRequest): Promise<Launched> {
  const launched = await launch(sys, req.stage);
  launched.channel.onLog = (level, msg, time) => (level === 'debug' ? log.debug(msg, time) : req.warn(msg));
  const initPlan = (own: Omit<InitPlan, CommonField>): InitPlan => ({
    process: req.process,
    rootFd: launched.rootFd,
    procFd: launched.procFd,
    engineFd: launched.engineFd,
    keepFds: launched.keepFds,
    consoleFd: req.consoleFd === undefined ? undefined : launched.fdInProcess(req.consoleFd),
    shimPath: execShim(),
    seccomp: req.seccomp,
    personality: req.personality,
    memoryPolicy: req.memoryPolicy,
    keyring: req.keyring,
    inUserNs: req.inUserNs,
    rootlessEuid: rootlessEuid() || undefined,
    ignoredSignals: callerIgnoredSignals(),
    debug: log.debugging || undefined,
    ...own,
  });
  return { ...launched, initPlan };
}

/** What create does between the messages of its init. */
export interface CreateSteps {
  /** The init asked for the copy of mount `index`'s source (at its turn, while it makes its mounts): an fd of ours. */
  mountSource(index: number): Promise<number>;
  /** The plan is sent: the cgroups may be joined now, while the init starts. */
  planSent(): void;
  /** The init asked for the prestart and createRuntime hooks (its mounts are made); returns the state it gets with "hooks-done". */
  hooks(): HookState;
  /** The init is set up ("ready"): what is left of the cgroup join. */
  ready(): void;
  /** The state the init gets with "continue". */
  created(): HookState;
}

/**
 * create's exchange: plan; "hooks" (if the config has any) and "hooks-done";
 * "ready" and "continue"; "created", after which the init waits on the exec
 * fifo for `start` and the channel is closed.
 */
export async function createExchange(sys: Sys, init: Launched, plan: InitPlan, steps: CreateSteps): Promise<void> {
  const { channel } = init;
  // What the init reports failing, it reports as runc's init does.
  channel.errorContext = 'unable to start container process: error during container init';
  // A process that sees the init (a pod's, in the pid namespace it joins)
  // could stop it while it sets up: runc's create then waits forever.
  channel.watch = () => heldBeforeExec(init.pid, () => false);
  channel.send({ type: 'plan', plan });
  faultPoint('plan-sent');
  steps.planSent();
  let msg = await receiveServingSources(sys, channel, steps);
  if (msg.type === 'hooks') {
    channel.send({ type: 'hooks-done', state: steps.hooks() });
    msg = await channel.receive();
  }
  if (msg.type !== 'ready') throw new RuntimeError('sync', `expected "ready" from init, got "${msg.type}"`);
  faultPoint('init-ready');
  steps.ready();
  channel.send({ type: 'continue', state: steps.created() });
  await channel.receive('created');
  channel.close();
  faultPoint('init-created');
}

/** The init's next message after its mounts, its "mount-source" requests answered meanwhile, each with the copy attached. */
async function receiveServingSources(sys: Sys, channel: Channel, steps: CreateSteps): Promise<Message> {
  for (;;) {
    const msg = await channel.receive();
    if (msg.type !== 'mount-source') return msg;
    const fd = await steps.mountSource(msg.index);
    try {
      channel.sendWithFd({ type: 'mount-source-fd', index: msg.index }, fd);
    } finally {
      sys.close(fd);
    }
  }
}

/** The seccomp agent's side of an exec (see AgentHandOff in ../container/exec.ts). */
export interface NotifyFdHandOff {
  /** Takes the filter's notify fd from the init ("seccomp-fd"). */
  receive(channel: Channel): Promise<void>;
  /** Hands it to the agent with the pid of the process. */
  send(pid: number): void;
}

/** What exec does between the messages of its init. */
export interface ExecSteps {
  /** Puts `pid` in the container's cgroups (or the sub-cgroups asked for). */
  joinCgroups(pid: number): void;
  /** Readies the later join (see primeCgroupMigration). */
  primeJoin(pid: number): void;
  /** Whether the container's cpuset is limited (linux.resources.cpu.cpus): how a refused process.scheduler is reported. */
  cpusetLimited: boolean;
  agent?: NotifyFdHandOff;
}

/** Where an exec stands, for its undo: the forked process, and whether the shim was reaped. */
export interface ExecProgress {
  forked?: number;
  reaped: boolean;
}

/**
 * exec's exchange, up to the program's exec: the plan; the cgroup join and
 * "go" (joinAndGo); with the container's pid namespace, the "pid" of the
 * process the shim forked there; the agent's notify fd. Returns the pid
 * that runs the program once it runs it.
 */
export async function execExchange(sys: Sys, init: Launched, plan: InitPlan, steps: ExecSteps, progress: ExecProgress): Promise<number> {
  const { pid, channel } = init;
  channel.send({ type: 'plan', plan });
  await joinAndGo(sys, channel, pid, plan, steps);
  // The shim forks the process into the pid namespace, names it and exits.
  if (plan.pidNsFd !== undefined) {
    progress.forked = (await channel.receive('pid')).pid;
    channel.onlyFrom(progress.forked);
    // The forked process waits for a second "go" (the shim's flag "again").
    if (plan.process.schedAttr) {
      applyScheduler(sys, plan.process.schedAttr, progress.forked, steps.cpusetLimited);
      channel.send({ type: 'go' });
    }
    await watchedExit(sys, init.channel, pid);
    progress.reaped = true;
    log.debug(`exec: forked into the pid namespace, pid ${progress.forked}`);
  }
  steps.agent?.send(progress.forked ?? pid);
  return progress.forked ?? pid;
}

/** Waits until the exec'd process runs its program: the shim makes the socket close-on-exec, so end of file. */
export async function programRuns(init: Launched, forked: number | undefined): Promise<void> {
  if (forked === undefined) await init.channel.execed();
  else await forkedExeced(init.channel, forked);
}

/**
 * The cgroup join and the "go": at once under roomy limits (the join's
 * RCU wait overlaps the init's start), else once the exec shim says it is
 * there. The agent's notify fd comes meanwhile, when the init loads the
 * filter, before the shim runs.
 */
async function joinAndGo(sys: Sys, channel: Channel, pid: number, plan: InitPlan, steps: ExecSteps): Promise<void> {
  if (plan.cgroupsJoined) {
    steps.joinCgroups(pid);
    resetCpuAffinity(sys, pid, (m) => log.warn(m));
    log.debug('exec: joined the cgroups');
    channel.send({ type: 'go' });
    await steps.agent?.receive(channel);
    return;
  }
  steps.primeJoin(pid);
  await steps.agent?.receive(channel);
  await channel.receive('shim');
  steps.joinCgroups(pid);
  log.debug('exec: the shim joined the cgroups');
  // process.execCPUAffinity: "final" once in the cgroups ("initial" was set
  // by the init before); with neither, reset as the init's (runc 1.3's
  // setFinalCPUAffinity); with "initial" alone, that one stays.
  const affinity = plan.process.execCPUAffinity;
  const final = affinity?.final;
  if (final) step('set final CPU affinity', () => sys.schedSetaffinity(final, pid));
  else if (!affinity?.initial) resetCpuAffinity(sys, pid, (m) => log.warn(m));
  // Here the shim becomes the program; with a fork, the forked process does (execExchange).
  if (plan.process.schedAttr && plan.pidNsFd === undefined) applyScheduler(sys, plan.process.schedAttr, pid, steps.cpusetLimited);
  channel.send({ type: 'go' });
}

/**
 * Why process `pid` cannot reach its program's exec, if something of the
 * container holds it there: stopped (a process of the container that sees
 * it can send SIGSTOP), or frozen apart from a pause (`frozenApart`: moved
 * into a cgroup the container froze). Either would hold the exec forever,
 * as it holds runc's; the exec fails instead, and its undo kills the
 * process. A paused container holds an exec until it is resumed, as
 * runc's (exec --ignore-paused).
 */
export function heldBeforeExec(pid: number, frozenApart: (pid: number) => boolean): string | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone: its status says how
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  if (state === 'T' || state === 't') return `process ${pid} was stopped before it started its program`;
  if (frozenApart(pid)) return `process ${pid} was frozen (in a cgroup of the container's) before it started its program`;
  return undefined;
}

/** waitpid(pid), failing as the channel's watch says while it waits. */
async function watchedExit(sys: Sys, channel: Channel, pid: number): Promise<void> {
  const exit = sys.waitpid(pid);
  while ((await settledWithin(exit, 100)) === 'timeout') channel.checkHeld();
  await exit;
}

/**
 * Waits until the process the shim forked runs its program: end of file on
 * the socket, as always, or, should something of the container hold a
 * copy of the socket (it could take one from the process before its
 * execve), its executable no longer the sealed shim (or the process gone).
 * Meanwhile the channel's watch may fail it (heldBeforeExec).
 */
async function forkedExeced(channel: Channel, pid: number): Promise<void> {
  while (!(await channel.endWithin(100))) {
    let exe: string;
    try {
      exe = fs.readlinkSync(`/proc/${pid}/exe`);
    } catch {
      return; // gone (a zombie has no exe): its status says how
    }
    if (!exe.startsWith(`/memfd:${SHIM_MEMFD_NAME}`)) return;
    channel.checkHeld();
  }
}
