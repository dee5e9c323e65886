/**
 * Container state on disk: <root>/<id>/state.json, written atomically (temp
 * file + rename). Status is derived, as runc derives it: a dead init (pid
 * plus start time no longer match) is stopped, a live one with its exec fifo
 * still present is created, otherwise running.
 */
import type { HostMounts } from '../rootfs/host-mounts.js';
import type { ResctrlGroup } from '../cgroups/resctrl.js';
import fs from 'node:fs';
import path from 'node:path';
import { cgroupManager } from '../cgroups/drivers.js';
import type { CgroupDriver, CgroupRecord } from '../cgroups/manager.js';
import { ERR, RuntimeError } from '../errors.js';
import { OCI_VERSION } from '../config/constants.js';
import type { ContainerPlan } from '../config/plan.js';
import type { Config, HookConfig } from '../config/schema.js';
import { CLONE } from '../sys/constants.js';
import { trustedOwner } from '../caller-path.js';

export type Status = 'creating' | 'created' | 'running' | 'stopped' | 'paused';

export interface SavedState {
  ociVersion: string;
  id: string;
  /** How far create got: "creating" until init reported ready, then "created". */
  phase: 'creating' | 'created';
  pid: number;
  /** Field 22 of /proc/PID/stat: identifies the init even if its pid is reused. */
  pidStartTime: string;
  bundle: string;
  rootfs: string;
  created: string;
  annotations: Record<string, string>;
  cgroupPaths: Record<string, string>;
  /** The cgroup driver the container was made with (src/cgroups/drivers.ts; derived where absent). */
  cgroupDriver?: CgroupDriver;
  /** --systemd-cgroup: the container's transient scope, stopped at delete. */
  systemdUnit?: string;
  /**
   * No pid namespace of its own: killing the init does not end the other
   * processes, so teardown signals every process in its cgroup (as runc).
   */
  sharedPidNs?: boolean;
  /**
   * No mount namespace of its own: the real path of the rootfs, below which
   * its mounts sit in the host's mount namespace until teardown detaches them.
   */
  hostMountsUnder?: string;
  /** Which of the mounts there are the container's (see detachMountsBelow). */
  hostMounts?: HostMounts;
  /** Created with --no-new-keyring: exec'd processes keep the caller's session keyring too. */
  noNewKeyring?: boolean;
  /** The hooks that run after create: on delete (poststart runs within create, as runc's). */
  hooks?: { poststop?: HookConfig[] };
  /** linux.intelRdt: the resctrl group (and monitoring group) made for the container. */
  resctrl?: ResctrlGroup;
}

/** The state a new container starts from: "creating", no init yet (create, restore). */
export function creatingState(plan: ContainerPlan, cgroups: CgroupRecord): SavedState {
  return {
    ociVersion: OCI_VERSION,
    id: plan.id,
    phase: 'creating',
    pid: 0,
    pidStartTime: '',
    bundle: plan.bundle,
    rootfs: plan.rootfs,
    created: new Date().toISOString(),
    annotations: plan.annotations,
    ...cgroups,
    sharedPidNs: !(plan.unshareFlags & CLONE.NEWPID),
    hooks: { poststop: plan.hooks.poststop },
  };
}

const ID_PATTERN = /^[\w+\-.]+$/;

export function checkId(id: string): void {
  if (!id || !ID_PATTERN.test(id) || id === '.' || id === '..') throw new RuntimeError('container id', `${JSON.stringify(id)}: ${ERR.invalidId}`);
}

export const stateDir = (root: string, id: string) => path.join(root, id);
export const stateFile = (root: string, id: string) => path.join(root, id, 'state.json');
/** The config the container was created from (exec takes its defaults from it). */
export const savedConfigFile = (root: string, id: string) => path.join(root, id, 'config.json');
export const fifoPath = (root: string, id: string) => path.join(root, id, 'exec.fifo');

/**
 * A state file, if the caller or root wrote it: in a --root others can
 * write into, a planted state.json would name a pid for kill to signal
 * and paths for delete to remove.
 */
function readOwnFile(file: string): string {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const owner = fs.fstatSync(fd).uid;
    if (!trustedOwner(owner)) throw new RuntimeError('read state', `${file}: owned by uid ${owner}, neither the caller nor root (EPERM)`);
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Refuses what cannot be a container's state directory ocirun made: --root owned by the caller or root and writable by no other user
 * (as create requires), and the id's entry a directory, not a symlink (a
 * user who owns --root could point one at another root's container, whose
 * state ocirun would then act on, as runc's securejoin does not).
 */
function checkStateDir(root: string, id: string): void {
  const r = fs.statSync(root, { throwIfNoEntry: false });
  if (r && !trustedOwner(r.uid)) throw new RuntimeError('read state', `${root}: owned by uid ${r.uid}, neither the caller nor root (EPERM)`);
  if (r && r.mode & 0o002) throw new RuntimeError('read state', `${root}: writable by any user (mode ${(r.mode & 0o7777).toString(8)}) (EPERM)`);
  const d = fs.lstatSync(stateDir(root, id), { throwIfNoEntry: false });
  if (!d?.isDirectory()) throw new RuntimeError('', ERR.notExist);
}

export function readState(root: string, id: string): SavedState {
  checkId(id);
  checkStateDir(root, id);
  let text: string;
  try {
    text = readOwnFile(stateFile(root, id));
  } catch (err) {
    if (err instanceof RuntimeError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !fs.existsSync(stateDir(root, id))) throw new RuntimeError('', ERR.notExist);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      // The directory exists but create died before its first write: an empty, stopped container.
      return emptyState(root, id);
    }
    throw new RuntimeError('read state', `${stateFile(root, id)}: ${(err as Error).message}`);
  }
  let s: SavedState;
  try {
    s = JSON.parse(text) as SavedState;
  } catch {
    throw new RuntimeError('read state', `${stateFile(root, id)}: not valid JSON`);
  }
  // Another container's state, reached through a name that is not its own.
  if (isRecord(s) && s.id !== id) throw new RuntimeError('', ERR.notExist);
  const lacking = lackingField(s);
  if (lacking) throw new RuntimeError('read state', `${stateFile(root, id)}: not a state ocirun wrote (${lacking}; another runtime's, such as runc's, under the same --root?) (EINVAL)`);
  return s;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The first field every command relies on that `s` lacks, or has of
 * another type; undefined if none. runc keeps its state.json in the same
 * place under its --root, in another shape (no "phase", no "cgroupPaths"):
 * one line that says so, rather than a TypeError half-way through delete.
 */
function lackingField(s: unknown): string | undefined {
  if (!isRecord(s)) return 'not an object';
  const kinds: [keyof SavedState, (v: unknown) => boolean][] = [
    ['id', (v) => typeof v === 'string'],
    ['phase', (v) => v === 'creating' || v === 'created'],
    ['pid', (v) => Number.isSafeInteger(v)],
    ['pidStartTime', (v) => typeof v === 'string'],
    ['bundle', (v) => typeof v === 'string'],
    ['annotations', isRecord],
    ['cgroupPaths', isRecord],
  ];
  const bad = kinds.find(([name, ok]) => !ok(s[name]));
  return bad && `no valid "${bad[0]}"`;
}

function emptyState(root: string, id: string): SavedState {
  return { ociVersion: OCI_VERSION, id, phase: 'creating', pid: 0, pidStartTime: '', bundle: '', rootfs: '', created: new Date(0).toISOString(), annotations: {}, cgroupPaths: {} };
}

/**
 * A new file, O_EXCL|O_NOFOLLOW: whatever is at the name (a leftover, or a
 * symlink planted by someone who can write into --root's parent) is
 * removed, never written through.
 */
function openNewFile(file: string): number {
  const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
  try {
    return fs.openSync(file, flags, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    fs.rmSync(file, { force: true });
    return fs.openSync(file, flags, 0o600);
  }
}

/**
 * Temp file, then rename: a reader, or a command that outlives a killed
 * one, sees the old content or the new, never part of it. No fsync, as
 * runc's saveState has none: what the state describes (processes, mounts,
 * cgroups) does not outlive a crash of the host either, and on a disk
 * (--root not on tmpfs) each fsync cost about 0.5 ms, four times a `run`.
 */
function writeJsonAtomically(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openNewFile(tmp);
  try {
    fs.writeSync(fd, JSON.stringify(value));
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

export function writeState(root: string, s: SavedState): void {
  writeJsonAtomically(stateFile(root, s.id), s);
}

export function writeSavedConfig(root: string, id: string, config: Config): void {
  writeJsonAtomically(savedConfigFile(root, id), config);
}

export function readSavedConfig(root: string, id: string): Config {
  const file = savedConfigFile(root, id);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Config;
  } catch (err) {
    throw new RuntimeError('read container config', `${file}: ${(err as Error).message}`);
  }
}

/**
 * Start time of a process (field 22 of /proc/PID/stat), or undefined if it
 * is gone or a zombie. A leader that exited alone (exit(2), not
 * exit_group) reads Z while its other threads run on: that process is
 * alive (it is the pid namespace's reaper, and a signal to its pid reaches
 * the threads), as runc, which counts it gone, does not see.
 */
export function processStartTime(pid: number): string | undefined {
  if (!pid) return undefined;
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name may contain spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'X' || (fields[0] === 'Z' && Number(fields[17]) <= 1)) return undefined;
  return fields[19];
}

export function initAlive(s: SavedState): boolean {
  return s.pid > 0 && processStartTime(s.pid) === s.pidStartTime;
}

/**
 * Calls `onGone` once the container's init is gone (looked at every
 * `everyMs`, by its pid and start time: a timer, not a wait on the engine's
 * worker thread, which a pending fifo open or sync socket read may hold),
 * unless the returned function is called first.
 */
export function onInitGone(s: SavedState, everyMs: number, onGone: () => void): () => void {
  const timer = setInterval(() => {
    if (initAlive(s)) return;
    clearInterval(timer);
    onGone();
  }, everyMs);
  return () => clearInterval(timer);
}

export function currentStatus(root: string, s: SavedState): Status {
  if (!initAlive(s)) return 'stopped';
  if (s.phase === 'creating') return 'creating';
  // Frozen first, as runc's refreshState: a created container can be paused,
  // and start must not then wait on an init that cannot open the fifo.
  if (cgroupManager(s).isFrozen()) return 'paused';
  return fs.existsSync(fifoPath(root, s.id)) ? 'created' : 'running';
}

/** The state handed to hooks: the spec's state document. */
export function hookState(s: SavedState, status: string) {
  return { ociVersion: s.ociVersion, id: s.id, status, pid: s.pid, bundle: s.bundle, annotations: s.annotations };
}

/**
 * The owner of a container, as runc's `list` shows it: the user that owns
 * its state directory, by name from /etc/passwd, or "#uid".
 */
export function stateOwner(root: string, id: string): string {
  let uid: number;
  try {
    uid = fs.statSync(stateDir(root, id)).uid;
  } catch {
    return '';
  }
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && f[2] === String(uid)) return f[0];
    }
  } catch {
    /* no /etc/passwd */
  }
  return `#${uid}`;
}

/** The state as `ocirun state` prints it: runc's fields, in runc's order (`owner` is empty there, as in runc; `list` fills it). */
export function publicState(root: string, s: SavedState, owner = '') {
  const status = currentStatus(root, s);
  return {
    ociVersion: s.ociVersion,
    id: s.id,
    pid: status === 'stopped' ? 0 : s.pid,
    status,
    bundle: s.bundle,
    rootfs: s.rootfs,
    created: s.created,
    owner,
    ...(Object.keys(s.annotations).length ? { annotations: s.annotations } : {}),
  };
}

export function listIds(root: string): string[] {
  try {
    return fs.readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory() && ID_PATTERN.test(d.name)).map((d) => d.name).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
