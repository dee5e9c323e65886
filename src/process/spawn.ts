/**
 * The parent's side of starting a process in namespaces, for `create` (the
 * container's init) and `exec` alike: spawn the C stage with the fds the
 * process needs, tell it what to join and unshare, write the id maps of a
 * new user namespace, and learn the pid and the fds the init inherits
 * ("init-fds"). ./launcher.ts builds on this. The process then runs the init
 * (./init.ts) on the same engine as ours, which reads its plan from the
 * channel this returns.
 */
import { mountError } from '../rootfs/mounts.js';
import fs from 'node:fs';
import { atStep, RuntimeError } from '../errors.js';
import { builtin, embeddedAssets, initCommand, stageBinary, type EmbeddedAssets } from '../engine.js';
import { keptCopy } from '../kept-copy.js';
import { KOFFI_FD_ENV, koffiFdForInit } from '../sys/koffi.js';
import { sealedMemfd, sealedMemfdOf } from '../security/sealed.js';
import type { Sys } from '../sys/types.js';
import { Channel } from './channel.js';
import { killAndReap, killQuietly, settledWithin } from './kill.js';
import { BIND, MOUNT_SOURCE_MODE, SYNC_FD_ENV, type StageInstruction } from './messages.js';
import { CLONE } from '../sys/constants.js';
import { errnoDetail, errnoName } from '../sys/errno.js';
import type { ContainerPlan } from '../config/plan.js';

export interface StageLaunch {
  /** What the stage does, in order (without the final "end"). */
  instructions: StageInstruction[];
  /** The id maps of a new user namespace ("unshare" with CLONE_NEWUSER). */
  idMaps?: { uid: IdMap[]; gid: IdMap[] };
  /** The process's stdio: fds of ours (default: our own 0, 1, 2). */
  stdio?: [number, number, number];
  /** Our fds 3.. that the process gets as its 3.. (LISTEN_FDS and --preserve-fds). */
  preserveFds: number;
  /** More fds of ours for the init, placed after the sync socket. */
  extraFds: number[];
  /** Names the container in `ps e` while the stage and the init run (the crash tests look for it). */
  containerId: string;
  /** process.oomScoreAdj, written by us from the host: in a user namespace the process could not lower it. */
  oomScoreAdj?: number;
  /** Bind sources the stage copies in the container's mount namespace before the init runs ("bind" instructions); none id-mapped. */
  bindSources?: Omit<BindSourceRequest, 'idmap'>[];
}

/** A bind mount whose source the stage copies for the init (see StageInstruction "bind"). */
export interface BindSourceRequest {
  /** The mount's index in the plan. */
  index: number;
  source: string;
  destination: string;
  recursive: boolean;
  /** An fd of ours: the user namespace holding the id maps, and whether they apply below the top. */
  idmap?: { usernsFd: number; recursive: boolean };
}

export interface IdMap {
  containerID: number;
  hostID: number;
  size: number;
}

export interface LaunchedProcess {
  /** Host pid of the process (our child: the stage forks it with CLONE_PARENT). */
  pid: number;
  channel: Channel;
  /** The number an fd of `extraFds` has in the process. */
  fdInProcess(fd: number): number;
  /** 3 + preserveFds: the fds below it reach the program. */
  keepFds: number;
  /** The copies of the bind sources asked for (bindSources), by mount index: fds of the process. */
  bindSourceFds: Record<number, number>;
  /** The stage's "init-fds": the root the process is to have, and the copy of /proc (if any); fds of the process. */
  rootFd: number;
  procFd?: number;
  /** The engine's file, open in the init for its ELF interpreter ("init-fds"); the init closes it. */
  engineFd?: number;
}

/** create: join what the config names, unshare the rest (user first, mount last). */
export function containerInstructions(plan: ContainerPlan): StageInstruction[] {
  const out: StageInstruction[] = [];
  for (const j of plan.join) out.push({ type: 'join', flag: j.flag, path: j.path });
  out.push({ type: 'unshare', flags: plan.unshareFlags });
  if (plan.timeOffsets) out.push({ type: 'timens', ...plan.timeOffsets });
  return out;
}

/**
 * Writes the maps of the stage's new user namespace, as runc does. Root
 * writes them directly. An unprivileged user may write one line mapping its
 * own euid (and, once setgroups is denied, its own egid); anything else the
 * kernel refuses with EPERM, and then the setuid helpers newuidmap and
 * newgidmap (package uidmap) write them, within /etc/subuid and /etc/subgid.
 */
function writeIdMaps(pid: number, maps: { uid: IdMap[]; gid: IdMap[] }): void {
  const ownGid = maps.gid.length === 1 && maps.gid[0].hostID === process.getegid!() && maps.gid[0].size === 1;
  // The kernel's condition for an unprivileged gid_map (runc: !requiresRootOrMappingTool).
  if (process.geteuid!() !== 0 && ownGid) {
    try {
      fs.writeFileSync(`/proc/${pid}/setgroups`, 'deny');
    } catch (err) {
      throw new RuntimeError('write id map', `/proc/${pid}/setgroups: ${(err as Error).message}`, { cause: err });
    }
  }
  writeIdMap(pid, 'uid', maps.uid);
  writeIdMap(pid, 'gid', maps.gid);
}

function writeIdMap(pid: number, kind: 'uid' | 'gid', maps: IdMap[]): void {
  const file = `/proc/${pid}/${kind}_map`;
  try {
    fs.writeFileSync(file, maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}`).join('\n') + '\n');
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw new RuntimeError('write id map', `${file}: ${(err as Error).message}`, { cause: err });
  }
  const tool = `new${kind}map`;
  const r = builtin<typeof import('node:child_process')>('node:child_process').spawnSync(tool, [String(pid), ...maps.flatMap((m) => [m.containerID, m.hostID, m.size].map(String))], { encoding: 'utf8' });
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new RuntimeError('write id map', `${file}: EPERM, and ${missing ? `${tool} was not found (install the uidmap package)` : `${tool}: ${r.error.message}`}`);
  }
  if (r.status !== 0) throw new RuntimeError('write id map', `${tool} ${pid}: ${(r.stderr || `exit status ${r.status}`).trim().split('\n').join('; ')}`);
}

/**
 * The stage's failure to copy a bind source ("bind-source <index> <what>:
 * <strerror> (errno N)") as the mount's error, naming source and destination.
 */
function bindSourceError(err: unknown, requests: BindSourceRequest[] = []): unknown {
  if (!(err instanceof RuntimeError)) return err;
  const m = /^bind-source (\d+) (.+)$/.exec(err.step);
  const b = m && requests.find((r) => r.index === Number(m[1]));
  if (!m || !b) return err;
  const errno = /^(.*) \(errno (\d+)\)$/.exec(err.detail);
  const detail = errno ? errnoDetail(errno[1], errnoName(Number(errno[2]))) : err.detail;
  const what = m[2] === 'open' ? `source ${b.source}` : m[2];
  // The kernel's has_locked_children: a bind without rbind would uncover what the mounts below the source hide.
  const hint = m[2] === 'open_tree' && errno?.[2] === '22' && !b.recursive ? ' (the source has mounts below it, which a user namespace may only get with them: rbind)' : '';
  return mountError(b.source, b.destination, `${what}: ${detail}${hint}`, err);
}

/**
 * The stage to run: the built file, or, in the single-file build, a sealed
 * memfd of the embedded copy (made once; the stage then need not copy
 * itself), copied from its kept copy where there is one.
 */
let embeddedStageFd: number | undefined;
function stageExecutable(sys: Sys): { path: string } | { fd: number } {
  const embedded = embeddedAssets();
  if (embedded) {
    embeddedStageFd ??= embeddedStage(sys, embedded);
    return { fd: embeddedStageFd };
  }
  const file = stageBinary();
  if (!fs.existsSync(file)) throw new RuntimeError('spawn stage', `${file} is missing: run npm install (it builds native/)`);
  return { path: file };
}

function embeddedStage(sys: Sys, embedded: EmbeddedAssets): number {
  const kept = keptCopy('stage', embedded.stagePath, embedded.stageDigest, embedded.stageSize);
  if (kept !== undefined) {
    try {
      return sealedMemfdOf(sys, 'ocirun-stage', kept);
    } catch {
      /* read out of the executable instead */
    } finally {
      fs.closeSync(kept);
    }
  }
  return sealedMemfd(sys, 'ocirun-stage', fs.readFileSync(embedded.stagePath));
}

/** The "bind" instruction for a bind source; `usernsFd` is the stage's number of the id map's user namespace (0: none). */
function bindInstruction(b: BindSourceRequest, usernsFd: number): StageInstruction {
  const flags = (b.recursive ? BIND.RECURSIVE : 0) | (b.idmap ? BIND.IDMAP : 0) | (b.idmap?.recursive ? BIND.IDMAP_RECURSIVE : 0);
  return { type: 'bind', index: b.index, flags, usernsFd, path: b.source };
}

/** Spawns the stage with `fds` as its 0.. (the sync socket's number first among `args`); returns its pid. */
function spawnStage(sys: Sys, syncFd: number, args: string[], env: string[], fds: number[]): number {
  const stage = stageExecutable(sys);
  // An embedded stage runs from its memfd, placed last (close-on-exec in the init's program too).
  if ('fd' in stage) fds.push(stage.fd);
  const stagePath = 'fd' in stage ? `/proc/self/fd/${fds.length - 1}` : stage.path;
  try {
    return sys.spawn(stagePath, ['ocirun-stage', String(syncFd), ...args], env, fds);
  } catch (err) {
    throw new RuntimeError('spawn stage', (err as Error).message, { cause: err });
  }
}

/**
 * The process's fds: stdio, the preserved fds 3.., the sync socket right
 * after them, then the extra ones; the environment names the sync socket.
 */
export async function launch(sys: Sys, opts: StageLaunch): Promise<LaunchedProcess> {
  const keepFds = 3 + opts.preserveFds;
  const [ours, theirs] = sys.socketPair();
  const fds = [...(opts.stdio ?? [0, 1, 2]), ...Array.from({ length: opts.preserveFds }, (_, i) => 3 + i), theirs, ...opts.extraFds];
  const engine = initCommand();
  const env = [
    `PATH=${process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'}`,
    `${SYNC_FD_ENV}=${keepFds}`,
    // Names the container's processes in `ps e` (and to the crash tests) while the stage and the init run.
    `_OCIRUN_CONTAINER=${opts.containerId}`,
    ...Object.entries(engine.env).map(([k, v]) => `${k}=${v}`),
  ];
  // Copies without an id map: those are made at their turn (mountSourceCopy).
  const bindInstructions = (opts.bindSources ?? []).map((b) => bindInstruction(b, 0));
  // The single file's koffi addon, for the init (src/engine.ts); closed on its program's exec.
  const seals: StageInstruction[] = [];
  const koffi = koffiFdForInit();
  if (koffi !== undefined) {
    fds.push(koffi);
    env.push(`${KOFFI_FD_ENV}=${fds.length - 1}`);
    seals.push({ type: 'seal', fd: fds.length - 1 });
  }
  let stagePid: number;
  try {
    stagePid = spawnStage(sys, keepFds, engine.argv, env, fds);
  } catch (err) {
    sys.close(ours);
    throw err;
  } finally {
    sys.close(theirs);
  }
  const stageExit = sys.waitpid(stagePid);
  const channel = new Channel(sys, ours, 'stage');
  let pid = 0;
  let initFds: { root: number; proc: number; engine: number } | undefined;
  const bindSourceFds: Record<number, number> = {};
  try {
    for (const i of [...opts.instructions, ...bindInstructions, ...seals, { type: 'end' } as const]) channel.send(i);
    while (!pid) {
      const msg = await channel.receive().catch((err) => Promise.reject(bindSourceError(err, opts.bindSources)));
      if (msg.type === 'bind-fd' && opts.bindSources?.some((b) => b.index === msg.index) && !(msg.index in bindSourceFds)) {
        bindSourceFds[msg.index] = msg.fd;
      } else if (msg.type === 'userns' && opts.idMaps) {
        writeIdMaps(stagePid, opts.idMaps);
        channel.send({ type: 'maps-ok' });
      } else if (msg.type === 'init-fds' && !initFds) {
        initFds = { root: msg.root, proc: msg.proc, engine: msg.engine };
      } else if (msg.type === 'pid' && initFds) {
        pid = msg.pid;
      } else {
        throw new RuntimeError('sync', `unexpected "${msg.type}" from the stage`);
      }
    }
    await stageExit;
    if (opts.oomScoreAdj !== undefined) {
      const file = `/proc/${pid}/oom_score_adj`;
      try {
        fs.writeFileSync(file, String(opts.oomScoreAdj));
      } catch (err) {
        throw new RuntimeError('oom_score_adj', `write ${opts.oomScoreAdj} to ${file}: ${(err as Error).message}`, { cause: err });
      }
    }
    const first = keepFds + 1;
    if (Object.keys(bindSourceFds).length !== (opts.bindSources?.length ?? 0)) throw new RuntimeError('sync', 'the stage did not send a copy of every bind source');
    const procFd = initFds!.proc >= 0 ? initFds!.proc : undefined;
    const engineFd = initFds!.engine >= 0 ? initFds!.engine : undefined;
    return { pid, channel, keepFds, fdInProcess: (fd) => first + opts.extraFds.indexOf(fd), bindSourceFds, rootFd: initFds!.root, procFd, engineFd };
  } catch (err) {
    channel.close();
    await stageExit.catch(() => 0);
    if (pid) await killAndReap(sys, pid);
    throw err;
  }
}

/**
 * How long the copy of a source at its turn may take: a spawn, a setns,
 * an open_tree and a mount_setattr, which take milliseconds; a source on
 * a filesystem that does not answer (a hung FUSE or network mount) would
 * otherwise hold the create forever.
 */
export const MOUNT_SOURCE_BOUND_MS = 15_000;

/**
 * The id-mapped copy of a bind's source at the mount's turn (the init's
 * "mount-source"), as runc 1.3's parent makes it (goCreateMountSources):
 * the stage, in its mount-source mode, joins the init's mount namespace,
 * where the mounts before this one are made, and copies the source there
 * (native/stage.c serve_mount_source); the copy comes back attached to
 * "mount-source-fd", an fd of ours. Within MOUNT_SOURCE_BOUND_MS, or the
 * mount's error; the stage is ended and reaped either way.
 */
export async function mountSourceCopy(sys: Sys, initPid: number, request: BindSourceRequest & { idmap: NonNullable<BindSourceRequest['idmap']> }, containerId: string): Promise<number> {
  const [ours, theirs] = sys.socketPair();
  // The stage's fds: stdio, the sync socket (3), the id map's user namespace (4).
  const fds = [0, 1, 2, theirs, request.idmap.usernsFd];
  let stagePid: number;
  try {
    stagePid = spawnStage(sys, 3, [MOUNT_SOURCE_MODE], [`_OCIRUN_CONTAINER=${containerId}`], fds);
  } catch (err) {
    sys.close(ours);
    const e = atStep('spawn stage', err);
    throw mountError(request.source, request.destination, `${e.step}: ${e.detail}`, err);
  } finally {
    sys.close(theirs);
  }
  const exited = sys.waitpid(stagePid).catch(() => 0);
  const channel = new Channel(sys, ours, 'stage');
  const instructions: StageInstruction[] = [{ type: 'join', flag: CLONE.NEWNS, path: `/proc/${initPid}/ns/mnt` }, bindInstruction(request, 4), { type: 'end' }];
  for (const i of instructions) channel.send(i);
  const received = channel.receiveWithFd('mount-source-fd');
  const outcome = await settledWithin(received, MOUNT_SOURCE_BOUND_MS);
  if (outcome === 'timeout') {
    killQuietly(stagePid);
    // The stage's end of the socket goes with it, and the read waiting on
    // ours ends; a stage the kernel cannot end (a hung network mount) keeps
    // it: then ours stays open, with the read, until we exit.
    if ((await settledWithin(received, 1000)) !== 'timeout') channel.close();
    await settledWithin(exited, 1000);
    throw mountError(request.source, request.destination, `id-mapped copy of the source: no answer from the stage within ${MOUNT_SOURCE_BOUND_MS / 1000} s (ETIMEDOUT)`);
  }
  channel.close();
  await exited;
  if ('error' in outcome) throw bindSourceError(outcome.error, [request]);
  const { msg, fd } = outcome.value;
  if (msg.index !== request.index) {
    sys.close(fd);
    throw new RuntimeError('sync', `the stage sent the source of mount ${msg.index}, not of mount ${request.index}`);
  }
  return fd;
}
