/**
 * The parent's side of starting an init: spawn the C stage with the fds the
 * container needs, answer its requests (uid/gid maps), learn the init's pid,
 * then hand the init its plan and follow it until it is ready.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RuntimeError } from '../errors.js';
import type { ContainerPlan } from '../spec/plan.js';
import { Channel, stageReply } from './channel.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const projectRoot = path.resolve(here, '..', '..');
export const STAGE_BINARY = path.join(projectRoot, 'build', 'ocirun-stage');
export const EXEC_SHIM = path.join(projectRoot, 'build', 'ocirun-exec-shim');
const INIT_ENTRY = path.join(here, 'init-main.js');

export interface SpawnOptions {
  plan: ContainerPlan;
  fifoFd: number;
  consoleFd?: number;
  /** A socket connected to linux.seccomp.listenerPath, for the notify fd. */
  listenerFd?: number;
  preserveFds: number;
  /** stdio for the container: fds of ours (default: our own 0, 1, 2). */
  stdio?: [number, number, number];
}

export interface StartedInit {
  pid: number;
  channel: Channel;
  stage: ChildProcess;
}

function writeIdMap(file: string, maps: { containerID: number; hostID: number; size: number }[]): void {
  const text = maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}`).join('\n') + '\n';
  try {
    fs.writeFileSync(file, text);
  } catch (err) {
    throw new RuntimeError('write id map', `${file}: ${(err as Error).message}`, { cause: err });
  }
}

function stageHeader(plan: ContainerPlan): string {
  const lines = plan.join.map((j) => `join ${j.flag.toString(16)} ${j.path}`);
  lines.push(`unshare ${plan.unshareFlags.toString(16)}`);
  if (plan.timeOffsets) lines.push(`timens ${plan.timeOffsets.monotonic.join(' ')} ${plan.timeOffsets.boottime.join(' ')}`);
  lines.push('end');
  return lines.join('\n');
}

/**
 * The stage's fds: the process's stdio, the preserved fds 3.., the sync
 * socket right after them, then `extra` (the stage learns their numbers
 * from its arguments or instructions).
 */
export function stageStdio(
  stdio: [number, number, number] | undefined,
  preserveFds: number,
  extra: number[],
): { fds: (number | 'pipe')[]; syncIndex: number; stageFd: (fd: number | undefined) => number | undefined } {
  const preserved = Array.from({ length: preserveFds }, (_, i) => 3 + i);
  const syncIndex = 3 + preserveFds;
  // The number an fd of `extra` has in the stage (undefined stays undefined).
  const stageFd = (fd: number | undefined) => (fd === undefined ? undefined : syncIndex + 1 + extra.indexOf(fd));
  return { fds: [...(stdio ?? [0, 1, 2]), ...preserved, 'pipe', ...extra], syncIndex, stageFd };
}

export function checkStageBuilt(): void {
  if (!fs.existsSync(STAGE_BINARY)) throw new RuntimeError('spawn stage', `${STAGE_BINARY} is missing: run npm install (it builds native/)`);
}

export async function spawnInit(opts: SpawnOptions): Promise<StartedInit> {
  const { plan } = opts;
  // After the sync socket: the fifo, then the console and listener sockets when there are any.
  const extra = [opts.fifoFd, ...(opts.consoleFd === undefined ? [] : [opts.consoleFd]), ...(opts.listenerFd === undefined ? [] : [opts.listenerFd])];
  const { fds: stdio, syncIndex, stageFd } = stageStdio(opts.stdio, opts.preserveFds, extra);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    _OCIRUN_SYNC_FD: String(syncIndex),
    _OCIRUN_FIFO_FD: String(syncIndex + 1),
    _OCIRUN_SHIM: EXEC_SHIM,
    // Names the container in `ps e` while the stage and the Node init run
    // (the program gets process.env only); the crash tests look for it.
    _OCIRUN_CONTAINER: plan.id,
  };
  if (opts.consoleFd !== undefined) env._OCIRUN_CONSOLE_FD = String(stageFd(opts.consoleFd));
  if (opts.listenerFd !== undefined) env._OCIRUN_LISTENER_FD = String(stageFd(opts.listenerFd));
  checkStageBuilt();
  const stage = spawn(STAGE_BINARY, ['create', String(syncIndex), process.execPath, INIT_ENTRY], { stdio, env });
  const stageExit = new Promise<void>((resolve) => stage.once('exit', () => resolve()));
  stage.once('error', () => {});
  const channel = new Channel(stage.stdio[syncIndex] as net.Socket, 'init');
  channel.send(stageHeader(plan));

  let pid = 0;
  while (!pid) {
    const words = stageReply(await channel.line());
    if (words[0] === 'userns') {
      writeIdMap(`/proc/${stage.pid}/uid_map`, plan.uidMappings);
      writeIdMap(`/proc/${stage.pid}/gid_map`, plan.gidMappings);
      channel.send('maps-ok');
    } else if (words[0] === 'pid') {
      pid = Number(words[1]);
    } else {
      throw new RuntimeError('sync', `unexpected message from the stage: ${words.join(' ').slice(0, 200)}`);
    }
  }
  await stageExit;
  return { pid, channel, stage };
}
