/**
 * The seam between ocirun's logic and the kernel. Every system call the
 * runtime makes goes through a `Sys`: `LibcSys` (koffi) in production,
 * `RecordingSys` in unit tests. Nothing outside src/sys names a libc function.
 */
import { errnoDetail } from './errno.js';

export interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

export interface Sys {
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount2(target: string, flags: number): void;
  pivotRoot(newRoot: string, putOld: string): void;
  chdir(path: string): void;
  fchdir(fd: number): void;
  chroot(path: string): void;
  unshare(flags: number): void;
  /** setns(2) of the calling thread into what `fd` is (for a pid namespace: its children's). */
  setns(fd: number, nstype: number): void;
  sethostname(name: string): void;
  setdomainname(name: string): void;

  open(path: string, flags: number, mode?: number): number;
  /** openat2(2) with RESOLVE_* flags: how paths are resolved inside the rootfs. */
  /** openat(2): for what must work under any seccomp profile a container may bring (openat2 may be denied). */
  openat(dirfd: number, path: string, flags: number, mode?: number): number;
  openat2(dirfd: number, path: string, flags: number, resolve: number, mode?: number): number;
  mkdirat(dirfd: number, name: string, mode: number): void;
  /** readlinkat(2): what the symlink `name` under `dirfd` holds. */
  readlinkat(dirfd: number, name: string): string;
  mknodat(dirfd: number, name: string, mode: number, dev: bigint): void;
  symlinkat(target: string, dirfd: number, name: string): void;
  fchown(fd: number, uid: number, gid: number): void;
  fchmod(fd: number, mode: number): void;
  close(fd: number): void;
  setCloexec(fd: number, on: boolean): void;
  /** A close-on-exec duplicate of `fd` (F_DUPFD_CLOEXEC). */
  dup(fd: number): number;
  /** statfs of the filesystem an fd lives on: its magic and mount flags (ST_*). */
  fstatfs(fd: number): { type: number; flags: number };
  dup2(oldFd: number, newFd: number): void;
  /** Marks every fd from `first` up close-on-exec (close_range CLOSE_RANGE_CLOEXEC). */
  cloexecFrom(first: number): void;
  flock(fd: number, op: number): void;
  ioctl(fd: number, request: number, arg: number | Buffer): number;

  prctl(option: number, arg2?: number, arg3?: number, arg4?: number, arg5?: number): number;
  capget(): CapSets;
  capset(sets: CapSets): void;
  setresuid(r: number, e: number, s: number): void;
  setresgid(r: number, e: number, s: number): void;
  setgroups(gids: number[]): void;
  setrlimit(resource: number, soft: bigint, hard: bigint): void;

  memfdCreate(name: string, flags: number): number;
  addSeals(fd: number, seals: number): void;
  /** execveat(fd, "", ...) with AT_EMPTY_PATH; returns only on failure (throws). */
  fexecve(fd: number, argv: string[], envp: string[]): never;

  /** Waits for a child (on a worker thread) and resolves with the raw wait status. */
  waitpid(pid: number): Promise<number>;
  /** Connects a new unix socket (stream unless said otherwise) to `socketPath`; returns its fd. */
  connectUnix(socketPath: string, kind?: 'stream' | 'dgram'): number;
  /** A unix datagram socket bound to `socketPath` (which must not exist). */
  bindUnixDgram(socketPath: string): number;
  /** pipe2(O_CLOEXEC): [read end, write end]. */
  pipe(): [number, number];
  /** seccomp(SECCOMP_SET_MODE_FILTER, flags, bpf): loads a filter; returns the listener fd with NEW_LISTENER, else 0. */
  seccompLoad(flags: number, bpf: Buffer): number;
  /** sched_setattr(pid, attr, 0): the scheduling of thread `pid` (0: the calling one), kept across exec. */
  schedSetattr(attr: Buffer, pid?: number): void;
  /** ioprio_set(IOPRIO_WHO_PROCESS, 0, value): the calling thread's I/O priority, kept across exec. */
  setIoPriority(value: number): void;
  /** personality(2): the execution domain for the next exec. */
  personality(persona: number): void;
  /** A network interface's index (if_nametoindex); ENODEV when there is none. */
  ifIndex(name: string): number;
  /** One rtnetlink request to the kernel, in the caller's network namespace; its answer, to the ACK or a dump's end. */
  netlinkRoute(request: Buffer): Buffer;
  /** set_mempolicy(2): `mode` (flags or'ed in) over the NUMA `nodes`. */
  setMempolicy(mode: number, nodes: number[]): void;
  /** keyctl(KEYCTL_JOIN_SESSION_KEYRING): joins (or makes) the named session keyring; returns its serial. */
  joinSessionKeyring(name: string): number;
  /** A key's permission mask, from keyctl(KEYCTL_DESCRIBE). */
  keyPermissions(serial: number): number;
  /** keyctl(KEYCTL_SETPERM). */
  setKeyPermissions(serial: number, perm: number): void;
  /** The address of a buffer's memory, for structures that point at other buffers (bpf_attr). */
  address(buf: Buffer | Uint32Array): bigint;
  /** The bpf(2) system call with a bpf_attr the caller laid out; returns its result (an fd or 0). */
  bpf(cmd: number, attr: Buffer): number;
  /** Waits (on a worker thread) until `fd` is readable or has hung up; false on timeout or when a signal interrupted the wait. */
  waitReadable(fd: number, timeoutMs: number): Promise<boolean>;
  /** The same wait on this thread (no worker to start, for a command that has nothing else to do meanwhile). */
  pollReadable(fd: number, timeoutMs: number): boolean;
  /** pidfd_open(2): an fd of the process `pid`, readable once it has exited. */
  pidfdOpen(pid: number): number;
  /** Sends `fd` over a connected unix socket with SCM_RIGHTS, `name` as payload. */
  sendFd(sockFd: number, fd: number, name: string): void;
  /** sendFd built now, sent by the returned function with only the fd written in (no buffer built then). */
  prepareSendFd(sockFd: number, name: string): (fd: number) => void;
  /** A connected pair of unix stream sockets, both close-on-exec. */
  socketPair(): [number, number];
  /** The uid of the process at the other end of a connected unix socket (SO_PEERCRED), as seen from ours. */
  peerUid(sockFd: number): number;
  /** Receives one fd sent with SCM_RIGHTS (blocking); it arrives close-on-exec. */
  recvFd(sockFd: number): number;
  /**
   * recvmsg(2) into `buf`, retried on EINTR: the bytes read (0 at end of
   * file), an fd sent with them, if one was (close-on-exec), and, once
   * passCredentials() is on, the pid of the process that wrote them (one
   * call never returns bytes of two writers).
   */
  recvmsg(sockFd: number, buf: Buffer): { n: number; fd?: number; pid?: number };
  /** SO_PASSCRED: from now on, what is received on the socket comes with its writer's credentials. */
  passCredentials(sockFd: number): void;
  /** read(2), retried on EINTR; 0 at end of file. */
  read(fd: number, buf: Buffer): number;
  /** write(2), retried on EINTR; returns the bytes written. */
  write(fd: number, buf: Buffer): number;
  /** send(2) on a socket with MSG_NOSIGNAL (a closed peer is EPIPE, never SIGPIPE). */
  send(fd: number, buf: Buffer): number;
  /**
   * posix_spawn: runs `file` with fd i of the child being `fds[i]` of ours
   * (nothing else open), every signal at its default and none blocked.
   * Returns the pid; the child is ours to wait for with waitpid.
   */
  spawn(file: string, argv: string[], envp: string[], fds: number[]): number;
  /** open_tree(OPEN_TREE_CLONE): a detached copy of the mount (subtree) at `fd`; the new mount's fd. */
  openTree(fd: number, recursive: boolean): number;
  /** move_mount: attaches the detached mount `fromFd` onto what `toFd` is. No path is resolved. */
  moveMount(fromFd: number, toFd: number): void;
  /** fsopen: a filesystem context; fsconfig sets its options (a flag without `value`); fsmount creates it as a detached mount with MOUNT_ATTR_* `attrs`. */
  fsopen(fsname: string): number;
  fsconfig(fd: number, key: string, value?: string): void;
  fsmount(fd: number, attrs: number): number;
  /** mount_setattr: sets and clears MOUNT_ATTR_* flags of the mount at `fd` (and below it, recursively). */
  /** mount_setattr(2) on the mount `fd` is (AT_EMPTY_PATH); `usernsFd` goes with MOUNT_ATTR_IDMAP. */
  mountSetattr(fd: number, set: number, clear: number, recursive: boolean, usernsFd?: number): void;
  /** The getcwd(2) system call's answer, as is: "(unreachable)..." for a cwd outside the root. */
  getcwd(): string;
  /** faccessat2(AT_FDCWD, path, mode, AT_EACCESS): as the effective ids and capabilities may, not the real ones (access(2)). */
  eaccess(path: string, mode: number): void;
  /** sched_setaffinity: the CPUs of `pid` (0: the calling thread), kept across exec. */
  schedSetaffinity(cpus: number[], pid?: number): void;
  /**
   * Before the program's exec: the signals in `ignored` (bit N-1 for
   * signal N) are ignored, every other one at its default, none blocked.
   */
  resetSignals(ignored: bigint): void;
}

/** A failed system call: carries the call, the path or object it acted on and errno. */
export class SysError extends Error {
  constructor(
    readonly call: string,
    readonly target: string | undefined,
    readonly errno: number,
    readonly code: string,
    description: string,
  ) {
    super(`${call}${target !== undefined ? ` ${target}` : ''}: ${errnoDetail(description, code)}`);
    this.name = 'SysError';
  }
}
