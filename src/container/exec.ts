/**
 * `exec`: a new process in a running (or created) container. Everything is
 * worked out here, in Node, on the host; the C stage then joins the
 * container's cgroups and namespaces and applies it (native/stage-exec.c).
 * The process is our child (CLONE_PARENT), so a foreground exec waits for it
 * and returns its status; a detached one leaves it to the caller's
 * subreaper, as runc does.
 *
 * runc takes the process defaults from the bundle's config.json as it is at
 * exec time; we take them from the copy saved at create, which is what the
 * container was made from (they differ only if the bundle was edited).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { RuntimeError, step } from '../errors.js';
import { checkExecProcess, namespaceJoins, processFromFlags, stageInstructions, type ExecFlags } from '../process/exec-plan.js';
import { Channel, stageReply } from '../process/channel.js';
import { checkStageBuilt, STAGE_BINARY, stageStdio } from '../process/spawn.js';
import { withHome } from '../process/exec-path.js';
import { lastCap } from '../security/capabilities.js';
import { checkLsmAvailable } from '../security/lsm.js';
import { ExecListener } from '../security/seccomp-listener.js';
import { OCI_VERSION } from '../spec/constants.js';
import { sessionKeyringName } from '../security/keyring.js';
import { personalityValue } from '../spec/plan.js';
import { compileToBpf, usesNotify } from '../security/seccomp.js';
import { NS_PROC_FILE, type NamespaceType } from '../spec/constants.js';
import type { Config, ProcessConfig } from '../spec/schema.js';
import { O, RESOLVE } from '../sys/constants.js';
import type { Sys } from '../sys/types.js';
import { log } from '../log.js';
import type { Context } from './context.js';
import { checkTerminal, writePidFile } from './create.js';
import { exitCodeOf, relaySignals } from './run.js';
import { consolePair, type ConsolePair, type TerminalProxy } from '../tty/proxy.js';
import { currentStatus, readSavedConfig, readState, type SavedState } from './state.js';

export interface ExecOptions extends ExecFlags {
  id: string;
  /** A process.json's content: replaces the container's process and the flags above. */
  process?: ProcessConfig;
  consoleSocket?: string;
  detach?: boolean;
  pidFile?: string;
  preserveFds?: number;
  /** --cgroup: "[controller[,controller]:]path", a sub-cgroup of the container's. */
  cgroup?: string[];
  ignorePaused?: boolean;
  stdio?: [number, number, number];
}

/** runc's getSubCgroupPaths: controller → sub-path ("" for v2's single path). */
export function parseSubCgroups(args: string[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const arg of args ?? []) {
    const colon = arg.indexOf(':');
    if (colon < 0) {
      if (args!.length !== 1) throw new RuntimeError('', `invalid --cgroup argument: ${arg} (missing <controller>: prefix)`);
      out.set('', arg);
      continue;
    }
    for (const ctrl of arg.slice(0, colon).split(',')) {
      if (!ctrl) throw new RuntimeError('', `invalid --cgroup argument: ${arg} (empty <controller> prefix)`);
      if (out.has(ctrl)) throw new RuntimeError('', `invalid --cgroup argument(s): controller ${ctrl} specified multiple times`);
      out.set(ctrl, arg.slice(colon + 1));
    }
  }
  return out;
}

/** The cgroup.procs files the process joins: the container's, or the sub-cgroups asked for. */
export function execCgroupProcs(paths: Record<string, string>, sub: Map<string, string>): string[] {
  return Object.entries(paths).map(([name, dir]) => {
    const rel = name === 'unified' ? sub.get('') : name.split(',').map((c) => sub.get(c)).find((p) => p !== undefined);
    const target = rel === undefined ? dir : path.join(dir, path.posix.normalize(path.posix.join('/', rel)));
    return path.join(target, 'cgroup.procs');
  });
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

/** The container's /etc/passwd, read inside its root (a symlink there cannot lead out). */
function containerPasswd(sys: Sys, initPid: number): string {
  const root = sys.open(`/proc/${initPid}/root`, O.PATH | O.DIRECTORY | O.CLOEXEC);
  try {
    const fd = sys.openat2(root, 'etc/passwd', O.RDONLY | O.CLOEXEC, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS);
    try {
      return fs.readFileSync(fd, 'utf8');
    } finally {
      sys.close(fd);
    }
  } finally {
    sys.close(root);
  }
}

function checkStatus(ctx: Context, s: SavedState, ignorePaused: boolean): void {
  const status = currentStatus(ctx.root, s);
  if (status === 'stopped' || status === 'creating') throw new RuntimeError('', 'cannot exec in a stopped container');
  if (status === 'paused' && !ignorePaused) throw new RuntimeError('', 'cannot exec in a paused container (use --ignore-paused to override)');
}

/**
 * Starts the process; resolves to its pid once it runs the program. A
 * terminal for a foreground exec with no console socket goes down `pair`.
 */
async function startInContainer(sys: Sys, ctx: Context, s: SavedState, opts: ExecOptions, wantPair: (terminal: boolean) => ConsolePair | undefined): Promise<{ pid: number; pair?: ConsolePair }> {
  const config = readSavedConfig(ctx.root, s.id);
  const proc = opts.process ? structuredClone(opts.process) : processFromFlags(config.process, opts);
  checkExecProcess(proc);
  checkLsmAvailable({ apparmorProfile: proc.apparmorProfile, selinuxLabel: proc.selinuxLabel }, { apparmor: 'process.apparmorProfile', selinux: 'process.selinuxLabel' });
  checkTerminal(proc.terminal ?? false, opts.consoleSocket, opts.detach ?? false);
  proc.env = withHome(proc.env ?? [], proc.user?.uid ?? 0, () => containerPasswd(sys, s.pid));
  let seccomp: { flags: number; bpf: Buffer } | undefined;
  if (config.linux?.seccomp) {
    // Loaded only when needed: a container without seccomp needs no libseccomp.
    const { LibSeccomp } = await import('../sys/libseccomp.js');
    const lib = step('load libseccomp', () => new LibSeccomp());
    const profile = config.linux.seccomp;
    seccomp = step('compile seccomp profile', () => compileToBpf(sys, lib, profile, (m) => log.debug(m)));
  }

  const pair = wantPair(proc.terminal ?? false);
  const consoleFd = opts.consoleSocket ? step('connect console socket', () => sys.connectUnix(opts.consoleSocket!)) : pair?.theirs;
  const seccompConfig = config.linux?.seccomp;
  const listener = seccomp && seccompConfig && usesNotify(seccompConfig) ? new ExecListener(sys, seccompConfig.listenerPath!) : undefined;
  const extra = [...(consoleFd === undefined ? [] : [consoleFd]), ...(listener ? [listener.theirs] : [])];
  const { fds: stdio, syncIndex, stageFd } = stageStdio(opts.stdio, opts.preserveFds ?? 0, extra);
  const instructions = stageInstructions(
    {
      cgroupProcs: execCgroupProcs(s.cgroupPaths, parseSubCgroups(opts.cgroup)),
      oomScoreAdj: config.process?.oomScoreAdj,
      joins: namespaceJoins(s.pid, containerNamespaces(config, s.pid)),
      root: config.linux?.namespaces?.some((n) => n.type === 'mount') ? undefined : `/proc/${s.pid}/root`,
      process: proc,
      keep: syncIndex,
      consoleFd: stageFd(consoleFd),
      notifyFd: stageFd(listener?.theirs),
      seccomp,
      lastCap: lastCap(),
      keyring: s.noNewKeyring ? undefined : sessionKeyringName(s.id),
      personality: personalityValue(config.linux?.personality),
    },
    ctx.warn,
  );

  checkStageBuilt();
  const stage = spawn(STAGE_BINARY, ['exec', String(syncIndex)], { stdio, env: {} });
  stage.once('error', () => {});
  if (opts.consoleSocket) sys.close(consoleFd!);
  listener?.spawned();
  const socket = stage.stdio[syncIndex] as net.Socket;
  const channel = new Channel(socket, 'exec stage');
  socket.write(instructions);

  // "pid N" comes from the stage, then EOF once the program runs (the socket
  // is close-on-exec), or an error from whichever of the two failed.
  let pid = 0;
  for (;;) {
    let line: string;
    try {
      line = await channel.line();
    } catch {
      break;
    }
    try {
      const words = stageReply(line);
      if (words[0] === 'pid') pid = Number(words[1]);
    } catch (err) {
      pair?.dispose();
      if (pid) await sys.waitpid(pid).catch(() => 0);
      throw err;
    }
  }
  if (!pid) {
    pair?.dispose();
    throw new RuntimeError('exec', 'the stage exited without starting the process');
  }
  // runc's setns process: the state as "running", the exec'd process as pid.
  listener?.deliver({ ociVersion: OCI_VERSION, id: s.id, pid: s.pid, bundle: s.bundle, annotations: s.annotations }, pid, seccompConfig!.listenerMetadata);
  return { pid, pair };
}

export async function exec(sys: Sys, ctx: Context, opts: ExecOptions): Promise<number> {
  const s = readState(ctx.root, opts.id);
  checkStatus(ctx, s, opts.ignorePaused ?? false);
  const wantPair = (terminal: boolean) => (terminal && !opts.detach && !opts.consoleSocket ? consolePair(sys) : undefined);
  const { pid, pair } = await startInContainer(sys, ctx, s, opts, wantPair);
  if (opts.pidFile) step('write pid file', () => writePidFile(path.resolve(opts.pidFile!), pid));
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
