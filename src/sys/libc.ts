/**
 * The real system-call layer: glibc through koffi. This is the only module in
 * ocirun that names libc functions. Loaded lazily (koffi costs ~20 ms), so
 * commands that only read state never pay for it.
 */
import { loadKoffi } from '../engine.js';
import fs from 'node:fs';
import { errnoName } from './errno.js';
import { SysError, type CapSets, type Sys } from './types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const koffi: any = loadKoffi();

const SYS_openat2 = 437;
const AT_EMPTY_PATH = 0x1000;
const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const F_ADD_SEALS = 1033;
const F_DUPFD_CLOEXEC = 1030;
const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const CLOEXEC_FLAG = 0o2000000; // O_CLOEXEC, which open_tree takes as OPEN_TREE_CLOEXEC
const POLLIN = 1;
const SYS_BPF = 321;
const SYS_KEYCTL = 250;
const SYS_IOPRIO_SET = 251;
const SYS_SCHED_SETATTR = 314;
const SYS_SECCOMP = 317;
const KEYCTL_JOIN_SESSION_KEYRING = 1;
const KEYCTL_SETPERM = 5;
const KEYCTL_DESCRIBE = 6;
const BPF_CMD_NAMES: Record<number, string> = { 5: 'BPF_PROG_LOAD', 8: 'BPF_PROG_ATTACH', 9: 'BPF_PROG_DETACH', 13: 'BPF_PROG_GET_FD_BY_ID', 16: 'BPF_PROG_QUERY' };
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_CMSG_CLOEXEC = 0x40000000;
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;
const CLOSE_RANGE_CLOEXEC = 4;
const EINTR = 4;
const MSG_NOSIGNAL = 0x4000;
const SYS_RT_SIGACTION = 13;
const SYS_OPEN_TREE = 428;
const SYS_PIDFD_OPEN = 434;
const SYS_SET_MEMPOLICY = 238;
const SYS_MOVE_MOUNT = 429;
const SYS_FSOPEN = 430;
const SYS_FSCONFIG = 431;
const SYS_FSMOUNT = 432;
const SYS_MOUNT_SETATTR = 442;
const AT_RECURSIVE = 0x8000;
const OPEN_TREE_CLONE = 1;
const MOVE_MOUNT_F_EMPTY_PATH = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH = 0x40;
const FSCONFIG_SET_FLAG = 0;
const FSCONFIG_SET_STRING = 1;
const FSCONFIG_CMD_CREATE = 6;
const SYS_GETCWD = 79;
const SYS_RT_SIGPROCMASK = 14;
const SIG_SETMASK = 2;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
/** Above any fd a caller maps: where spawn() parks the sources before the dup2s. */
const SPAWN_PARK_FD = 1000;

/** Whether `pid` exists and its parent is `parent` (from /proc/PID/stat). */
function isChildOf(pid: number, parent: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent;
  } catch {
    return false;
  }
}

export class LibcSys implements Sys {
  private readonly lib = koffi.load('libc.so.6');
  private readonly fns: Record<string, (...args: unknown[]) => number>;
  private readonly strerrorFn: (n: number) => string;
  private readonly syscallFn: (...args: unknown[]) => number;
  private readonly prctlFn: (...args: unknown[]) => number;
  private readonly waitpidFn: { async: (...args: unknown[]) => void };
  private readonly pollFn: { async: (...args: unknown[]) => void };

  constructor() {
    // The system call numbers here and the exec shim (native/exec-shim.c) are x86-64's.
    if (process.arch !== 'x64') throw new SysError('start', `architecture ${process.arch}`, 95, 'EOPNOTSUPP', 'ocirun runs on x86-64 only (its system call numbers and exec shim are x86-64\'s)');
    const decl: Record<string, string> = {
      mount: 'int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const char *data)',
      umount2: 'int umount2(const char *target, int flags)',
      pivot_root: 'int pivot_root(const char *new_root, const char *put_old)',
      chdir: 'int chdir(const char *path)',
      fchdir: 'int fchdir(int fd)',
      chroot: 'int chroot(const char *path)',
      unshare: 'int unshare(int flags)',
      sethostname: 'int sethostname(const char *name, size_t len)',
      setdomainname: 'int setdomainname(const char *name, size_t len)',
      open: 'int open(const char *path, int flags, uint32_t mode)',
      openat: 'int openat(int dirfd, const char *path, int flags, uint32_t mode)',
      mkdirat: 'int mkdirat(int dirfd, const char *path, uint32_t mode)',
      readlinkat: 'intptr_t readlinkat(int dirfd, const char *path, uint8_t *buf, size_t size)',
      mknodat: 'int mknodat(int dirfd, const char *path, uint32_t mode, uint64_t dev)',
      symlinkat: 'int symlinkat(const char *target, int dirfd, const char *path)',
      fchown: 'int fchown(int fd, uint32_t uid, uint32_t gid)',
      fchmod: 'int fchmod(int fd, uint32_t mode)',
      close: 'int close(int fd)',
      fcntl: 'int fcntl(int fd, int cmd, long arg)',
      fstatfs: 'int fstatfs(int fd, _Out_ uint8_t *buf)',
      flock: 'int flock(int fd, int op)',
      ioctl_int: 'int ioctl(int fd, unsigned long req, long arg)',
      ioctl_buf: 'int ioctl(int fd, unsigned long req, _Inout_ uint8_t *buf)',
      capget: 'int capget(_Inout_ uint8_t *hdr, _Out_ uint8_t *data)',
      capset: 'int capset(_Inout_ uint8_t *hdr, const uint8_t *data)',
      setresuid: 'int setresuid(uint32_t r, uint32_t e, uint32_t s)',
      setresgid: 'int setresgid(uint32_t r, uint32_t e, uint32_t s)',
      setgroups: 'int setgroups(size_t n, const uint32_t *gids)',
      prlimit: 'int prlimit(int pid, int res, const uint8_t *newlim, uint8_t *oldlim)',
      memfd_create: 'int memfd_create(const char *name, unsigned int flags)',
      execveat: 'int execveat(int fd, const char *path, const char **argv, const char **envp, int flags)',
      socket: 'int socket(int domain, int type, int proto)',
      getsockopt: 'int getsockopt(int fd, int level, int name, _Out_ uint8_t *val, _Inout_ uint8_t *len)',
      connect: 'int connect(int fd, const uint8_t *addr, uint32_t len)',
      bind: 'int bind(int fd, const uint8_t *addr, uint32_t len)',
      pipe2: 'int pipe2(_Out_ uint8_t *fds, int flags)',
      sendmsg: 'long sendmsg(int fd, const uint8_t *msg, int flags)',
      recvmsg: 'long recvmsg(int fd, _Inout_ uint8_t *msg, int flags)',
      socketpair: 'int socketpair(int domain, int type, int proto, _Out_ uint8_t *sv)',
      dup2: 'int dup2(int oldfd, int newfd)',
      close_range: 'int close_range(unsigned int first, unsigned int last, int flags)',
      personality: 'int personality(unsigned long persona)',
      read: 'long read(int fd, _Out_ uint8_t *buf, size_t n)',
      send: 'long send(int fd, const uint8_t *buf, size_t n, int flags)',
      write: 'long write(int fd, const uint8_t *buf, size_t n)',
      if_nametoindex: 'unsigned int if_nametoindex(const char *name)',
      sched_setaffinity: 'int sched_setaffinity(int pid, size_t size, const uint8_t *mask)',
      posix_spawn: 'int posix_spawn(_Out_ int *pid, const char *path, const uint8_t *actions, const uint8_t *attr, const char **argv, const char **envp)',
      posix_spawn_file_actions_init: 'int posix_spawn_file_actions_init(_Inout_ uint8_t *actions)',
      posix_spawn_file_actions_adddup2: 'int posix_spawn_file_actions_adddup2(_Inout_ uint8_t *actions, int fd, int newfd)',
      posix_spawn_file_actions_addclosefrom_np: 'int posix_spawn_file_actions_addclosefrom_np(_Inout_ uint8_t *actions, int from)',
      posix_spawn_file_actions_destroy: 'int posix_spawn_file_actions_destroy(_Inout_ uint8_t *actions)',
      posix_spawnattr_init: 'int posix_spawnattr_init(_Inout_ uint8_t *attr)',
      posix_spawnattr_setflags: 'int posix_spawnattr_setflags(_Inout_ uint8_t *attr, short flags)',
      posix_spawnattr_setsigdefault: 'int posix_spawnattr_setsigdefault(_Inout_ uint8_t *attr, const uint8_t *set)',
      posix_spawnattr_setsigmask: 'int posix_spawnattr_setsigmask(_Inout_ uint8_t *attr, const uint8_t *set)',
      posix_spawnattr_destroy: 'int posix_spawnattr_destroy(_Inout_ uint8_t *attr)',
      sigfillset: 'int sigfillset(_Inout_ uint8_t *set)',
    };
    // Each prototype is parsed the first time it is called: a command calls
    // a handful of the functions, and parsing all of them costs ~0.7 ms.
    const declared: Record<string, (...args: unknown[]) => number> = {};
    this.fns = new Proxy(declared, { get: (_, name: string) => (declared[name] ??= this.lib.func(decl[name])) });
    this.strerrorFn = this.lib.func('const char *strerror(int errnum)');
    this.syscallFn = this.lib.func('long syscall(long number, ...)');
    this.prctlFn = this.lib.func('int prctl(int option, ...)');
    this.waitpidFn = this.lib.func('int waitpid(int pid, _Out_ int *status, int options)');
    this.pollFn = this.lib.func('int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)');
  }

  private fail(call: string, target?: string, errno = koffi.errno() as number): never {
    throw new SysError(call, target, errno, errnoName(errno), this.strerrorFn(errno));
  }

  private check(r: number, call: string, target?: string): number {
    if (r < 0) this.fail(call, target);
    return r;
  }

  /**
   * A call that may block (opening a fifo, flock), repeated when a signal
   * interrupts it: the engines' own signals (JavaScriptCore suspends
   * threads with one for its collector) must not fail it with EINTR.
   */
  private blocking(call: () => number, name: string, target?: string): number {
    for (;;) {
      const r = call();
      if (r >= 0) return r;
      if (koffi.errno() !== EINTR) this.fail(name, target);
    }
  }

  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void {
    this.check(this.fns.mount(source, target, fstype, flags, data), 'mount', target);
  }
  umount2(target: string, flags: number): void {
    this.check(this.fns.umount2(target, flags), 'umount2', target);
  }
  pivotRoot(newRoot: string, putOld: string): void {
    this.check(this.fns.pivot_root(newRoot, putOld), 'pivot_root', newRoot);
  }
  chdir(path: string): void {
    this.check(this.fns.chdir(path), 'chdir', path);
  }
  fchdir(fd: number): void {
    this.check(this.fns.fchdir(fd), 'fchdir', `fd ${fd}`);
  }
  chroot(path: string): void {
    this.check(this.fns.chroot(path), 'chroot', path);
  }
  unshare(flags: number): void {
    this.check(this.fns.unshare(flags), 'unshare', `0x${flags.toString(16)}`);
  }
  sethostname(name: string): void {
    this.check(this.fns.sethostname(name, Buffer.byteLength(name)), 'sethostname', name);
  }
  setdomainname(name: string): void {
    this.check(this.fns.setdomainname(name, Buffer.byteLength(name)), 'setdomainname', name);
  }
  open(path: string, flags: number, mode = 0): number {
    return this.blocking(() => this.fns.open(path, flags, mode), 'open', path);
  }
  openat(dirfd: number, path: string, flags: number, mode = 0): number {
    return this.blocking(() => this.fns.openat(dirfd, path, flags, mode), 'openat', path);
  }
  openat2(dirfd: number, path: string, flags: number, resolve: number, mode = 0): number {
    const how = Buffer.alloc(24);
    how.writeBigUInt64LE(BigInt(flags), 0);
    how.writeBigUInt64LE(BigInt(mode), 8);
    how.writeBigUInt64LE(BigInt(resolve), 16);
    const r = Number(this.syscallFn(SYS_openat2, 'int', dirfd, 'const char *', path, 'uint8_t *', how, 'size_t', 24));
    return this.check(r, 'openat2', path);
  }
  readlinkat(dirfd: number, name: string): string {
    const buf = Buffer.alloc(4096);
    const n = this.check(Number(this.fns.readlinkat(dirfd, name, buf, buf.length)), 'readlinkat', name);
    return buf.toString('utf8', 0, n);
  }
  mkdirat(dirfd: number, name: string, mode: number): void {
    this.check(this.fns.mkdirat(dirfd, name, mode), 'mkdirat', name);
  }
  mknodat(dirfd: number, name: string, mode: number, dev: bigint): void {
    this.check(this.fns.mknodat(dirfd, name, mode, dev), 'mknodat', name);
  }
  symlinkat(target: string, dirfd: number, name: string): void {
    this.check(this.fns.symlinkat(target, dirfd, name), 'symlinkat', name);
  }
  fchown(fd: number, uid: number, gid: number): void {
    this.check(this.fns.fchown(fd, uid, gid), 'fchown', `fd ${fd}`);
  }
  fchmod(fd: number, mode: number): void {
    this.check(this.fns.fchmod(fd, mode), 'fchmod', `fd ${fd}`);
  }
  close(fd: number): void {
    this.check(this.fns.close(fd), 'close', `fd ${fd}`);
  }
  ifIndex(name: string): number {
    const index = Number(this.fns.if_nametoindex(name));
    if (index === 0) this.fail('if_nametoindex', name);
    return index;
  }
  netlinkRoute(request: Buffer): Buffer {
    const sock = this.check(Number(this.fns.socket(16 /* AF_NETLINK */, 3 /* SOCK_RAW */ | SOCK_CLOEXEC, 0 /* NETLINK_ROUTE */)), 'socket', 'netlink');
    try {
      // Unconnected, a netlink socket sends to the kernel.
      const sent = Number(this.fns.write(sock, request, request.length));
      if (sent !== request.length) this.fail('netlink send', 'NETLINK_ROUTE');
      // Datagrams until the answer ends: an ACK or error (NLMSG_ERROR), or a dump's NLMSG_DONE.
      const parts: Buffer[] = [];
      for (;;) {
        const buf = Buffer.alloc(32768);
        const n = Number(this.fns.read(sock, buf, buf.length));
        if (n <= 0) this.fail('netlink receive', 'NETLINK_ROUTE');
        parts.push(buf.subarray(0, n));
        let ended = false;
        for (let at = 0; at + 16 <= n; ) {
          const len = buf.readUInt32LE(at);
          const type = buf.readUInt16LE(at + 4);
          if (type === 2 /* NLMSG_ERROR */ || type === 3 /* NLMSG_DONE */) ended = true;
          if (len < 16) break;
          at += (len + 3) & ~3;
        }
        if (ended) return Buffer.concat(parts);
      }
    } finally {
      this.fns.close(sock);
    }
  }
  dup(fd: number): number {
    return this.check(this.fns.fcntl(fd, F_DUPFD_CLOEXEC, 0), 'fcntl(F_DUPFD_CLOEXEC)', `fd ${fd}`);
  }
  setCloexec(fd: number, on: boolean): void {
    const cur = this.check(this.fns.fcntl(fd, F_GETFD, 0), 'fcntl(F_GETFD)', `fd ${fd}`);
    const next = on ? cur | FD_CLOEXEC : cur & ~FD_CLOEXEC;
    if (next !== cur) this.check(this.fns.fcntl(fd, F_SETFD, next), 'fcntl(F_SETFD)', `fd ${fd}`);
  }
  fstatfs(fd: number): { type: number; flags: number } {
    const buf = Buffer.alloc(120);
    this.check(this.fns.fstatfs(fd, buf), 'fstatfs', `fd ${fd}`);
    return { type: Number(buf.readBigInt64LE(0)), flags: Number(buf.readBigInt64LE(80)) };
  }
  dup2(oldFd: number, newFd: number): void {
    this.check(this.fns.dup2(oldFd, newFd), 'dup2', `fd ${oldFd}`);
  }
  cloexecFrom(first: number): void {
    this.check(this.fns.close_range(first, 0xffffffff, CLOSE_RANGE_CLOEXEC), 'close_range', `fd ${first}`);
  }
  flock(fd: number, op: number): void {
    this.blocking(() => this.fns.flock(fd, op), 'flock', `fd ${fd}`);
  }
  ioctl(fd: number, request: number, arg: number | Buffer): number {
    const r = typeof arg === 'number' ? this.fns.ioctl_int(fd, request, arg) : this.fns.ioctl_buf(fd, request, arg);
    return this.check(r, 'ioctl', `fd ${fd} 0x${request.toString(16)}`);
  }
  prctl(option: number, a2 = 0, a3 = 0, a4 = 0, a5 = 0): number {
    const r = this.prctlFn(option, 'unsigned long', a2, 'unsigned long', a3, 'unsigned long', a4, 'unsigned long', a5);
    return this.check(r, 'prctl', String(option));
  }
  capget(): CapSets {
    const hdr = Buffer.alloc(8);
    hdr.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
    const data = Buffer.alloc(24);
    this.check(this.fns.capget(hdr, data), 'capget');
    const word = (off: number) => BigInt(data.readUInt32LE(off)) | (BigInt(data.readUInt32LE(off + 12)) << 32n);
    return { effective: word(0), permitted: word(4), inheritable: word(8) };
  }
  capset(sets: CapSets): void {
    const hdr = Buffer.alloc(8);
    hdr.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
    const data = Buffer.alloc(24);
    const put = (v: bigint, off: number) => {
      data.writeUInt32LE(Number(v & 0xffffffffn), off);
      data.writeUInt32LE(Number((v >> 32n) & 0xffffffffn), off + 12);
    };
    put(sets.effective, 0);
    put(sets.permitted, 4);
    put(sets.inheritable, 8);
    this.check(this.fns.capset(hdr, data), 'capset');
  }
  setresuid(r: number, e: number, s: number): void {
    this.check(this.fns.setresuid(r, e, s), 'setresuid', String(e));
  }
  setresgid(r: number, e: number, s: number): void {
    this.check(this.fns.setresgid(r, e, s), 'setresgid', String(e));
  }
  setgroups(gids: number[]): void {
    this.check(this.fns.setgroups(gids.length, gids.length ? gids : null), 'setgroups', gids.join(','));
  }
  setrlimit(resource: number, soft: bigint, hard: bigint): void {
    const lim = Buffer.alloc(16);
    lim.writeBigUInt64LE(soft, 0);
    lim.writeBigUInt64LE(hard, 8);
    this.check(this.fns.prlimit(0, resource, lim, null), 'setrlimit', String(resource));
  }
  memfdCreate(name: string, flags: number): number {
    return this.check(this.fns.memfd_create(name, flags), 'memfd_create', name);
  }
  addSeals(fd: number, seals: number): void {
    this.check(this.fns.fcntl(fd, F_ADD_SEALS, seals), 'fcntl(F_ADD_SEALS)', `fd ${fd}`);
  }
  fexecve(fd: number, argv: string[], envp: string[]): never {
    this.fns.execveat(fd, '', [...argv, null], [...envp, null], AT_EMPTY_PATH);
    this.fail('execveat', argv[0]);
  }
  waitpid(pid: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const status = [0];
      const wait = () =>
        this.waitpidFn.async(pid, status, 0, (err: unknown, r: number) => {
          if (err) reject(err);
          else if (r >= 0) resolve(status[0]);
          // errno stays on the worker thread: a child of ours that is still
          // there (alive or a zombie) means the wait was interrupted, EINTR.
          else if (isChildOf(pid, process.pid)) wait();
          else reject(new SysError('waitpid', String(pid), 10, 'ECHILD', 'No child processes'));
        });
      wait();
    });
  }
  /** A sockaddr_un and its length; a leading '@' names an abstract socket, as in Go. */
  private unixAddr(call: string, socketPath: string): [Buffer, number] {
    const name = Buffer.from(socketPath);
    if (name.length > 107) this.fail(call, socketPath, 36 /* ENAMETOOLONG */);
    const addr = Buffer.alloc(110);
    addr.writeUInt16LE(AF_UNIX, 0);
    name.copy(addr, 2);
    if (socketPath.startsWith('@')) {
      addr[2] = 0;
      return [addr, 2 + name.length];
    }
    return [addr, 110];
  }
  /** A new unix socket, connected or bound to `socketPath`; closed again if that fails. */
  private unixSocket(kind: 'stream' | 'dgram', call: 'connect' | 'bind', socketPath: string): number {
    const [addr, len] = this.unixAddr(call, socketPath);
    const sock = this.check(this.fns.socket(AF_UNIX, (kind === 'stream' ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0), 'socket', socketPath);
    if (this.fns[call](sock, addr, len) < 0) {
      const errno = koffi.errno();
      this.fns.close(sock);
      this.fail(call, socketPath, errno);
    }
    return sock;
  }
  connectUnix(socketPath: string, kind: 'stream' | 'dgram' = 'stream'): number {
    return this.unixSocket(kind, 'connect', socketPath);
  }
  bindUnixDgram(socketPath: string): number {
    return this.unixSocket('dgram', 'bind', socketPath);
  }
  pipe(): [number, number] {
    const fds = Buffer.alloc(8);
    this.check(this.fns.pipe2(fds, SOCK_CLOEXEC /* = O_CLOEXEC */), 'pipe2');
    return [fds.readInt32LE(0), fds.readInt32LE(4)];
  }
  seccompLoad(flags: number, bpf: Buffer): number {
    // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
    const prog = Buffer.alloc(16);
    prog.writeUInt16LE(bpf.length / 8, 0);
    prog.writeBigUInt64LE(BigInt(koffi.address(bpf)), 8);
    const r = Number(this.syscallFn(SYS_SECCOMP, 'int', 1 /* SECCOMP_SET_MODE_FILTER */, 'unsigned int', flags, 'uint8_t *', prog));
    return this.check(r, 'seccomp(SECCOMP_SET_MODE_FILTER)', `flags 0x${flags.toString(16)}`);
  }
  schedSetattr(attr: Buffer): void {
    this.check(Number(this.syscallFn(SYS_SCHED_SETATTR, 'int', 0, 'uint8_t *', attr, 'unsigned int', 0)), 'sched_setattr');
  }
  setIoPriority(value: number): void {
    this.check(Number(this.syscallFn(SYS_IOPRIO_SET, 'int', 1 /* IOPRIO_WHO_PROCESS */, 'int', 0, 'int', value)), 'ioprio_set', String(value));
  }
  personality(persona: number): void {
    this.check(this.fns.personality(persona), 'personality', `0x${persona.toString(16)}`);
  }
  setMempolicy(mode: number, nodes: number[]): void {
    // A nodemask of 1024 bits (the spec's node lists are checked below that).
    const mask = Buffer.alloc(128);
    for (const n of nodes) mask[n >> 3] |= 1 << (n & 7);
    const r = Number(this.syscallFn(SYS_SET_MEMPOLICY, 'int', mode, 'uint8_t *', nodes.length ? mask : null, 'unsigned long', nodes.length ? 1025 : 0));
    this.check(r, 'set_mempolicy', `mode 0x${mode.toString(16)} nodes ${nodes.join(',') || 'none'}`);
  }
  joinSessionKeyring(name: string): number {
    const r = Number(this.syscallFn(SYS_KEYCTL, 'int', KEYCTL_JOIN_SESSION_KEYRING, 'const char *', name));
    return this.check(r, 'keyctl(KEYCTL_JOIN_SESSION_KEYRING)', name);
  }
  keyPermissions(serial: number): number {
    const buf = Buffer.alloc(512);
    const n = Number(this.syscallFn(SYS_KEYCTL, 'int', KEYCTL_DESCRIBE, 'int', serial, 'uint8_t *', buf, 'size_t', buf.length));
    this.check(n, 'keyctl(KEYCTL_DESCRIBE)', String(serial));
    // "type;uid;gid;perm;description"
    const perm = buf.toString('utf8', 0, Math.min(n, buf.length)).replace(/\0.*$/s, '').split(';')[3];
    if (perm === undefined) this.fail('keyctl(KEYCTL_DESCRIBE)', String(serial), 71 /* EPROTO */);
    return parseInt(perm, 16) >>> 0;
  }
  setKeyPermissions(serial: number, perm: number): void {
    this.check(Number(this.syscallFn(SYS_KEYCTL, 'int', KEYCTL_SETPERM, 'int', serial, 'uint32_t', perm >>> 0)), 'keyctl(KEYCTL_SETPERM)', String(serial));
  }
  address(buf: Buffer | Uint32Array): bigint {
    return BigInt(koffi.address(buf));
  }
  bpf(cmd: number, attr: Buffer): number {
    const r = Number(this.syscallFn(SYS_BPF, 'int', cmd, 'uint8_t *', attr, 'unsigned int', attr.length));
    return this.check(r, 'bpf', BPF_CMD_NAMES[cmd] ?? `cmd ${cmd}`);
  }
  pidfdOpen(pid: number): number {
    return this.check(Number(this.syscallFn(SYS_PIDFD_OPEN, 'int', pid, 'unsigned int', 0)), 'pidfd_open', String(pid));
  }
  waitReadable(fd: number, timeoutMs: number): Promise<boolean> {
    // struct pollfd { int fd; short events; short revents; }
    const pfd = Buffer.alloc(8);
    pfd.writeInt32LE(fd, 0);
    pfd.writeInt16LE(POLLIN, 4);
    return new Promise((resolve, reject) => {
      this.pollFn.async(pfd, 1, timeoutMs, (err: unknown, r: number) => {
        // A poll interrupted by a signal (EINTR; errno stays on the worker) says "not yet".
        if (err) reject(err);
        else resolve(r > 0);
      });
    });
  }
  read(fd: number, buf: Buffer): number {
    for (;;) {
      const n = Number(this.fns.read(fd, buf, buf.length));
      if (n >= 0) return n;
      if (koffi.errno() !== EINTR) this.fail('read', `fd ${fd}`);
    }
  }
  write(fd: number, buf: Buffer): number {
    for (;;) {
      const n = Number(this.fns.write(fd, buf, buf.length));
      if (n >= 0) return n;
      if (koffi.errno() !== EINTR) this.fail('write', `fd ${fd}`);
    }
  }
  send(fd: number, buf: Buffer): number {
    for (;;) {
      const n = Number(this.fns.send(fd, buf, buf.length, MSG_NOSIGNAL));
      if (n >= 0) return n;
      if (koffi.errno() !== EINTR) this.fail('send', `fd ${fd}`);
    }
  }
  spawn(file: string, argv: string[], envp: string[], fds: number[]): number {
    // The sources are parked above every target first, so that mapping fd
    // 4 to 3 and 3 to 4 cannot clobber one with the other; dup2 clears
    // close-on-exec on each target, and everything above the map is closed.
    const parked = fds.map((fd) => this.check(this.fns.fcntl(fd, F_DUPFD_CLOEXEC, SPAWN_PARK_FD), 'fcntl(F_DUPFD_CLOEXEC)', `fd ${fd}`));
    const actions = Buffer.alloc(256);
    const attr = Buffer.alloc(512);
    const all = Buffer.alloc(128);
    const none = Buffer.alloc(128);
    try {
      this.fns.posix_spawn_file_actions_init(actions);
      this.fns.posix_spawnattr_init(attr);
      parked.forEach((src, target) => this.fns.posix_spawn_file_actions_adddup2(actions, src, target));
      this.fns.posix_spawn_file_actions_addclosefrom_np(actions, fds.length);
      // The engines ignore SIGPIPE and friends and may block signals: the
      // child starts with every disposition at its default and nothing blocked.
      this.fns.sigfillset(all);
      this.fns.posix_spawnattr_setsigdefault(attr, all);
      this.fns.posix_spawnattr_setsigmask(attr, none);
      this.fns.posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
      const pid = [0];
      const err = this.fns.posix_spawn(pid, file, actions, attr, [...argv, null], [...envp, null]);
      if (err !== 0) this.fail('posix_spawn', file, err);
      return pid[0];
    } finally {
      this.fns.posix_spawn_file_actions_destroy(actions);
      this.fns.posix_spawnattr_destroy(attr);
      for (const fd of parked) this.fns.close(fd);
    }
  }
  openTree(fd: number, recursive: boolean): number {
    const flags = OPEN_TREE_CLONE | CLOEXEC_FLAG | AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
    return this.check(Number(this.syscallFn(SYS_OPEN_TREE, 'int', fd, 'const char *', '', 'unsigned int', flags)), 'open_tree', `fd ${fd}`);
  }
  moveMount(fromFd: number, toFd: number): void {
    const r = Number(this.syscallFn(SYS_MOVE_MOUNT, 'int', fromFd, 'const char *', '', 'int', toFd, 'const char *', '', 'unsigned int', MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH));
    this.check(r, 'move_mount', `fd ${fromFd} onto fd ${toFd}`);
  }
  fsopen(fsname: string): number {
    return this.check(Number(this.syscallFn(SYS_FSOPEN, 'const char *', fsname, 'unsigned int', 1 /* FSOPEN_CLOEXEC */)), 'fsopen', fsname);
  }
  fsconfig(fd: number, key: string, value?: string): void {
    const cmd = value === undefined ? FSCONFIG_SET_FLAG : FSCONFIG_SET_STRING;
    this.check(Number(this.syscallFn(SYS_FSCONFIG, 'int', fd, 'unsigned int', cmd, 'const char *', key, 'const char *', value ?? null, 'int', 0)), 'fsconfig', value === undefined ? key : `${key}=${value}`);
  }
  fsmount(fd: number, attrs: number): number {
    this.check(Number(this.syscallFn(SYS_FSCONFIG, 'int', fd, 'unsigned int', FSCONFIG_CMD_CREATE, 'const char *', null, 'const char *', null, 'int', 0)), 'fsconfig', 'create');
    return this.check(Number(this.syscallFn(SYS_FSMOUNT, 'int', fd, 'unsigned int', 1 /* FSMOUNT_CLOEXEC */, 'unsigned int', attrs)), 'fsmount', `fd ${fd}`);
  }
  mountSetattr(fd: number, set: number, clear: number, recursive: boolean, usernsFd?: number): void {
    const attr = Buffer.alloc(32); // struct mount_attr: set, clr, propagation, userns_fd
    attr.writeBigUInt64LE(BigInt(set), 0);
    attr.writeBigUInt64LE(BigInt(clear), 8);
    if (usernsFd !== undefined) attr.writeBigUInt64LE(BigInt(usernsFd), 24);
    const r = Number(this.syscallFn(SYS_MOUNT_SETATTR, 'int', fd, 'const char *', '', 'unsigned int', AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), 'uint8_t *', attr, 'size_t', 32));
    this.check(r, 'mount_setattr', `fd ${fd}`);
  }
  getcwd(): string {
    const buf = Buffer.alloc(4097);
    const n = Number(this.syscallFn(SYS_GETCWD, 'uint8_t *', buf, 'size_t', buf.length));
    this.check(n, 'getcwd');
    return buf.toString('utf8', 0, buf.indexOf(0) >= 0 ? buf.indexOf(0) : n);
  }
  schedSetaffinity(cpus: number[], pid = 0): void {
    const mask = Buffer.alloc(128);
    for (const c of cpus) mask[c >> 3] |= 1 << (c & 7);
    this.check(this.fns.sched_setaffinity(pid, mask.length, mask), 'sched_setaffinity', cpus.join(','));
  }
  resetSignals(ignored: bigint): void {
    const act = Buffer.alloc(32);
    const old = Buffer.alloc(32);
    for (let sig = 1; sig <= 64; sig++) {
      if (sig === 9 || sig === 19) continue; // SIGKILL and SIGSTOP cannot change
      if (Number(this.syscallFn(SYS_RT_SIGACTION, 'int', sig, 'uint8_t *', null, 'uint8_t *', old, 'size_t', 8)) < 0) continue;
      const handler = old.readBigUInt64LE(0); // 0 SIG_DFL, 1 SIG_IGN, else a handler
      const wantIgnored = ((ignored >> BigInt(sig - 1)) & 1n) === 1n;
      // A handled signal goes back to its default at exec by itself; SIG_IGN is inherited.
      if (wantIgnored ? handler === 1n : handler !== 1n) continue;
      act.writeBigUInt64LE(wantIgnored ? 1n : 0n, 0);
      this.check(Number(this.syscallFn(SYS_RT_SIGACTION, 'int', sig, 'uint8_t *', act, 'uint8_t *', null, 'size_t', 8)), 'rt_sigaction', String(sig));
    }
    this.check(Number(this.syscallFn(SYS_RT_SIGPROCMASK, 'int', SIG_SETMASK, 'uint8_t *', Buffer.alloc(8), 'uint8_t *', null, 'size_t', 8)), 'rt_sigprocmask');
  }
  sendFd(sockFd: number, fd: number, name: string): void {
    // struct msghdr with one iovec (the name) and one SCM_RIGHTS cmsg.
    const payload = Buffer.from(name);
    const iov = Buffer.alloc(16);
    iov.writeBigUInt64LE(koffi.address(payload), 0);
    iov.writeBigUInt64LE(BigInt(payload.length), 8);
    const cmsg = Buffer.alloc(24);
    cmsg.writeBigUInt64LE(20n, 0); // CMSG_LEN(sizeof(int))
    cmsg.writeInt32LE(SOL_SOCKET, 8);
    cmsg.writeInt32LE(SCM_RIGHTS, 12);
    cmsg.writeInt32LE(fd, 16);
    const msg = Buffer.alloc(56);
    msg.writeBigUInt64LE(koffi.address(iov), 16);
    msg.writeBigUInt64LE(1n, 24);
    msg.writeBigUInt64LE(koffi.address(cmsg), 32);
    msg.writeBigUInt64LE(24n, 40);
    this.check(Number(this.fns.sendmsg(sockFd, msg, 0)), 'sendmsg', `fd ${sockFd}`);
  }
  socketPair(): [number, number] {
    const sv = Buffer.alloc(8);
    this.check(this.fns.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 'socketpair');
    return [sv.readInt32LE(0), sv.readInt32LE(4)];
  }
  peerUid(sockFd: number): number {
    // struct ucred { pid_t pid; uid_t uid; gid_t gid; }; SOL_SOCKET 1, SO_PEERCRED 17.
    const cred = Buffer.alloc(12);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(cred.length, 0);
    this.check(this.fns.getsockopt(sockFd, 1, 17, cred, len), 'getsockopt', `fd ${sockFd} SO_PEERCRED`);
    return cred.readUInt32LE(4);
  }
  recvFd(sockFd: number): number {
    const payload = Buffer.alloc(4096);
    const iov = Buffer.alloc(16);
    iov.writeBigUInt64LE(koffi.address(payload), 0);
    iov.writeBigUInt64LE(BigInt(payload.length), 8);
    const cmsg = Buffer.alloc(24);
    const msg = Buffer.alloc(56);
    msg.writeBigUInt64LE(koffi.address(iov), 16);
    msg.writeBigUInt64LE(1n, 24);
    msg.writeBigUInt64LE(koffi.address(cmsg), 32);
    msg.writeBigUInt64LE(24n, 40);
    let n: number;
    do n = Number(this.fns.recvmsg(sockFd, msg, MSG_CMSG_CLOEXEC));
    while (n < 0 && koffi.errno() === 4 /* EINTR */);
    this.check(n, 'recvmsg', `fd ${sockFd}`);
    const controlLen = Number(msg.readBigUInt64LE(40));
    if (controlLen < 20 || cmsg.readInt32LE(8) !== SOL_SOCKET || cmsg.readInt32LE(12) !== SCM_RIGHTS) {
      this.fail('recvmsg', `fd ${sockFd} (no file descriptor received)`, n === 0 ? 104 /* ECONNRESET */ : 71 /* EPROTO */);
    }
    return cmsg.readInt32LE(16);
  }
}
