/**
 * The one protocol between the parent (ocirun), the C stage and the
 * container's init, on the sync socket: one message a line, a type word
 * first. Messages the C stage reads or writes carry plain text fields after
 * the type (see native/stage.c); those between the parent and the init carry
 * JSON. Every message of every party is a member of `Message`, and this is
 * the only module that turns one into bytes or back.
 */
import { RuntimeError } from '../errors.js';
import type { HookState } from '../hooks/index.js';
import type { InitPlan } from './init-plan.js';

/** Parent → stage, in this order, ended by "end". */
export type StageInstruction =
  /** Opened before the joins; after them, the container's root (a container without a mount namespace). */
  | { type: 'root'; path: string }
  | { type: 'join'; flag: number; path: string }
  | { type: 'unshare'; flags: number }
  | { type: 'timens'; monotonic: [number, number]; boottime: [number, number] }
  /**
   * A bind mount's source, copied (open_tree) by a helper of the stage that
   * stays root on the host, inside the container's mount namespace: the copy
   * keeps the locks the kernel put on the container's mounts. `index` is the
   * mount's; `flags` are BIND bits; `usernsFd` (the stage's fd number) holds
   * the id maps of an id-mapped one. The path comes last: it may hold spaces.
   */
  | { type: 'bind'; index: number; flags: number; usernsFd: number; path: string }
  /**
   * An fd the init inherits from the host (the stage's fd number), which
   * the stage replaces, before any join, with a sealed anonymous copy of
   * the file: koffi's addon in the single file, whose copy in the parent
   * is a file of the host (src/sys/koffi.ts) that a process of the
   * container could otherwise reopen through /proc/PID/fd.
   */
  | { type: 'seal'; fd: number }
  | { type: 'end' };

/** The flags of a "bind" instruction (native/stage.c has the same). */
export const BIND = { RECURSIVE: 0x1, IDMAP: 0x2, IDMAP_RECURSIVE: 0x4 } as const;

export type Message =
  | StageInstruction
  /** Stage → parent: a new user namespace exists; write its id maps. */
  | { type: 'userns' }
  /** Parent → stage: the maps are written. */
  | { type: 'maps-ok' }
  /** Stage → parent: the fd, in the stage and the init alike, of the copy of mount `index`'s source. */
  | { type: 'bind-fd'; index: number; fd: number }
  /**
   * Init → parent, at the turn of mount `index` (an id-mapped bind): make
   * the id-mapped copy of its source now, in my mount namespace, where the
   * mounts before it are made (see ../rootfs/idmap.ts sourceAtItsTurn).
   */
  | { type: 'mount-source'; index: number }
  /**
   * The copy of mount `index`'s source, attached (SCM_RIGHTS): from the
   * stage run in its "mount-source" mode (MOUNT_SOURCE_MODE) to the parent,
   * and from the parent to the init.
   */
  | { type: 'mount-source-fd'; index: number }
  /**
   * Stage → parent, just before "pid": fds the init inherits (the same
   * numbers there), which the parent passes on in its plan (InitPlan.rootFd,
   * procFd, engineFd): the root the process is to have, the stage's copy of
   * the host's /proc mount (-1: none, see ./procfs.ts), and the engine's
   * own file, which its ELF interpreter read it through (-1: none; see
   * unreadable_interpreter in native/stage.c).
   */
  | { type: 'init-fds'; root: number; proc: number; engine: number }
  /**
   * Stage → parent: the host pid of the process it forked (the init); the
   * stage then exits. The exec shim says the same of the process it forked
   * into the container's pid namespace (an exec), then exits.
   */
  | { type: 'pid'; pid: number }
  /** Parent → init: what to do. */
  | { type: 'plan'; plan: InitPlan }
  /** Init → parent: run the prestart and createRuntime hooks now (the mounts are made). */
  | { type: 'hooks' }
  /** Parent → init: they ran; the state for createContainer. */
  | { type: 'hooks-done'; state: HookState }
  /** Init → parent: set up; put me in the cgroups (if I am not there yet: see tightLimits). */
  | { type: 'ready' }
  /** Parent → init: you are in the cgroups; the state as it now stands. */
  | { type: 'continue'; state: HookState }
  /** Init → parent (create): everything but the exec is done; waiting for `start`. */
  | { type: 'created' }
  /** The exec shim of an exec'd process → parent: the engine is gone; put me in the cgroups (native/exec-shim.c). */
  | { type: 'shim' }
  /**
   * Parent → exec shim: you are in the cgroups; exec the program. Under
   * roomy limits (InitPlan.cgroupsJoined) it goes to the exec init itself,
   * which must not exec the program before the join is done.
   */
  | { type: 'go' }
  /**
   * Init of an exec'd process → parent, with the notify fd of the seccomp
   * filter it loaded attached: the parent hands it to the agent with the
   * process's pid, which only the parent learns (the exec shim forks it).
   */
  | { type: 'seccomp-fd' }
  /** Init → parent: a line for ocirun's log. */
  | { type: 'log'; level: 'debug' | 'warning'; message: string; time?: string }
  /** Any party: the step that failed and why; the sender then exits. */
  | { type: 'error'; step: string; detail: string };

export type MessageType = Message['type'];
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;

/** The messages with text fields (the C stage's), and how their fields are written and read. */
const TEXT: { [T in MessageType]?: { encode: (m: MessageOf<T>) => string; decode: (fields: string) => Omit<MessageOf<T>, 'type'> } } = {
  root: { encode: (m) => m.path, decode: (f) => ({ path: f }) },
  join: {
    encode: (m) => `${m.flag.toString(16)} ${m.path}`,
    decode: (f) => ({ flag: parseInt(f.slice(0, f.indexOf(' ')), 16), path: f.slice(f.indexOf(' ') + 1) }),
  },
  unshare: { encode: (m) => m.flags.toString(16), decode: (f) => ({ flags: parseInt(f, 16) }) },
  seal: { encode: (m) => String(m.fd), decode: (f) => ({ fd: Number(f) }) },
  timens: {
    encode: (m) => [...m.monotonic, ...m.boottime].map((n) => Math.trunc(n)).join(' '),
    decode: (f) => {
      const n = f.split(' ').map(Number);
      return { monotonic: [n[0], n[1]], boottime: [n[2], n[3]] };
    },
  },
  bind: {
    encode: (m) => {
      // A newline would end the line early: the stage would read another path.
      if (m.path.includes('\n')) throw new RuntimeError('mount', `bind source ${JSON.stringify(m.path)}: a path with a newline is not supported (EINVAL)`);
      return `${m.index} ${m.flags.toString(16)} ${m.usernsFd} ${m.path}`;
    },
    decode: (f) => {
      const [index, flags, usernsFd] = f.split(' ', 3);
      return { index: Number(index), flags: parseInt(flags, 16), usernsFd: Number(usernsFd), path: f.split(' ').slice(3).join(' ') };
    },
  },
  'mount-source-fd': { encode: (m) => String(m.index), decode: (f) => ({ index: Number(f) }) },
  'bind-fd': {
    encode: (m) => `${m.index} ${m.fd}`,
    decode: (f) => {
      const [index, fd] = f.split(' ').map(Number);
      return { index, fd };
    },
  },
  end: { encode: () => '', decode: () => ({}) },
  userns: { encode: () => '', decode: () => ({}) },
  'maps-ok': { encode: () => '', decode: () => ({}) },
  'init-fds': {
    encode: (m) => `${m.root} ${m.proc} ${m.engine}`,
    decode: (f) => {
      const [root, proc, engine] = f.split(' ').map(Number);
      return { root, proc, engine };
    },
  },
  pid: { encode: (m) => String(m.pid), decode: (f) => ({ pid: Number(f) }) },
  shim: { encode: () => '', decode: () => ({}) },
  go: { encode: () => '', decode: () => ({}) },
  // "error <step>: <detail>", as the stage writes it.
  error: {
    encode: (m) => `${m.step}: ${m.detail}`,
    decode: (f) => {
      const colon = f.indexOf(': ');
      return colon > 0 ? { step: f.slice(0, colon), detail: f.slice(colon + 2) } : { step: 'stage', detail: f };
    },
  },
};

const JSON_TYPES = new Set<MessageType>(['mount-source', 'plan', 'hooks', 'hooks-done', 'ready', 'continue', 'created', 'seccomp-fd', 'log']);

/** One message as its line, newline included. Text fields may not hold a newline. */
export function encodeMessage(m: Message): string {
  const text = TEXT[m.type] as ((typeof TEXT)[MessageType] & { encode: (m: Message) => string }) | undefined;
  if (text) {
    const fields = text.encode(m).replace(/\n/g, ' ');
    return fields ? `${m.type} ${fields}\n` : `${m.type}\n`;
  }
  const { type, ...rest } = m;
  return Object.keys(rest).length ? `${type} ${JSON.stringify(rest)}\n` : `${type}\n`;
}

/** A line (without its newline) as a message; anything else is a protocol error naming the peer. */
export function decodeMessage(line: string, peer: string): Message {
  const space = line.indexOf(' ');
  const type = (space < 0 ? line : line.slice(0, space)) as MessageType;
  const fields = space < 0 ? '' : line.slice(space + 1);
  const text = TEXT[type];
  if (text) return { type, ...text.decode(fields) } as Message;
  if (JSON_TYPES.has(type)) {
    try {
      return { type, ...(fields ? JSON.parse(fields) : {}) } as Message;
    } catch {
      /* fall through */
    }
  }
  throw new RuntimeError('sync', `unexpected message from ${peer}: ${line.slice(0, 200)}`);
}

/**
 * The environment variable that names the sync socket's fd to the init:
 * the one thing it must know before it can read a message, so it cannot be
 * in one. (The stage takes the same number as its first argument.)
 */
export const SYNC_FD_ENV = '_OCIRUN_SYNC_FD';

/**
 * The stage's second argument in its mode that serves one "mount-source"
 * request: it joins the init's mount namespace, copies the source and
 * sends the copy back ("mount-source-fd"), instead of starting a process.
 */
export const MOUNT_SOURCE_MODE = 'mount-source';

/** The exec shim's memfd: /proc/PID/exe reads "/memfd:<name> (deleted)" until the program's execve. */
export const SHIM_MEMFD_NAME = 'ocirun-exec';

/** The exec shim's argv[0]: its marker, then for an exec'd process ":<sync fd>:" and its flags (native/exec-shim.c). */
export const SHIM_ARGV0 = 'ocirun-exec';
const SHIM_FLAG = { wait: 'w', fork: 'f', tty: 't', again: 'a' } as const;

export interface ShimSync {
  fd: number;
  /** Wait for "go" (the parent moves the shim into the cgroups meanwhile). */
  wait: boolean;
  /** Fork the process into the pid namespace the init joined; with `tty`, its stdin becomes its controlling terminal. */
  fork: boolean;
  tty: boolean;
  /** With `fork`: the forked process waits for a second "go" after the pid line, so that the parent sets its scheduling before the program starts. */
  again?: boolean;
}

export function shimArgv0(sync?: ShimSync): string {
  if (!sync) return SHIM_ARGV0;
  const flags = [sync.wait && SHIM_FLAG.wait, sync.fork && SHIM_FLAG.fork, sync.fork && sync.tty && SHIM_FLAG.tty, sync.fork && sync.again && SHIM_FLAG.again].filter(Boolean).join('');
  return `${SHIM_ARGV0}:${sync.fd}:${flags}`;
}

/**
 * The C side's copy of what the C stage and the exec shim read and write,
 * as ocirun-protocol.h: scripts/build.mjs writes it from here, so that the
 * two cannot drift apart.
 */
export function protocolHeader(): string {
  const prefix = (line: string, field: string) => line.slice(0, line.indexOf(field));
  // The type word of each message the C stage reads or writes.
  const stageWords: MessageType[] = ['root', 'join', 'unshare', 'timens', 'bind', 'seal', 'end', 'userns', 'maps-ok', 'bind-fd', 'mount-source-fd', 'init-fds', 'pid', 'error'];
  const defines: [string, string][] = [
    ...stageWords.map((w): [string, string] => [`OCIRUN_WORD_${w.toUpperCase().replaceAll('-', '_')}`, JSON.stringify(w)]),
    ['OCIRUN_STAGE_MOUNT_SOURCE_MODE', JSON.stringify(MOUNT_SOURCE_MODE)],
    ['OCIRUN_SHIM_ARGV0', JSON.stringify(SHIM_ARGV0)],
    ['OCIRUN_SHIM_FLAG_WAIT', `'${SHIM_FLAG.wait}'`],
    ['OCIRUN_SHIM_FLAG_FORK', `'${SHIM_FLAG.fork}'`],
    ['OCIRUN_SHIM_FLAG_TTY', `'${SHIM_FLAG.tty}'`],
    ['OCIRUN_SHIM_FLAG_AGAIN', `'${SHIM_FLAG.again}'`],
    ['OCIRUN_MSG_SHIM', JSON.stringify(encodeMessage({ type: 'shim' }))],
    ['OCIRUN_MSG_GO', JSON.stringify(encodeMessage({ type: 'go' }))],
    ['OCIRUN_MSG_PID_PREFIX', JSON.stringify(prefix(encodeMessage({ type: 'pid', pid: 7 }), '7'))],
    ['OCIRUN_MSG_ERROR_PREFIX', JSON.stringify(prefix(encodeMessage({ type: 'error', step: 'S', detail: 'D' }), 'S'))],
  ];
  return ['/* Generated by scripts/build.mjs from src/process/messages.ts: do not edit. */', ...defines.map(([k, v]) => `#define ${k} ${v}`), ''].join('\n');
}
