/**
 * The real system-call layer: glibc through koffi. This is the only module in
 * ocirun that names libc functions. Loaded lazily (koffi costs ~20 ms), so
 * commands that only read state never pay for it.
 */
import { loadKoffi } from './koffi.js';
import fs from 'node:fs';
import { errnoName } from './errno.js';
import {
  AF_NETLINK, AF_UNIX, AT_EACCESS, AT_EMPTY_PATH, AT_FDCWD, AT_RECURSIVE, BPF_CMD, CLOSE_RANGE_CLOEXEC, ERRNO, F, FD_CLOEXEC, FSCONFIG, FSMOUNT_CLOEXEC, FSOPEN_CLOEXEC,
  IOPRIO_WHO_PROCESS, KEYCTL, LINUX_CAPABILITY_VERSION_3, MOVE_MOUNT, MSG, NETLINK_ROUTE, O, OPEN_TREE_CLONE, POLLIN, POSIX_SPAWN, SCM_CREDENTIALS, SCM_RIGHTS, SO_PASSCRED,
  SECCOMP_SET_MODE_FILTER, SIG_SETMASK, SOCK, SOL_SOCKET, SYS,
} from './constants.js';
import { endsAnswer } from './netlink.js';
import { SysError, type CapSets, type Sys } from './types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const koffi: any = loadKoffi();

const BPF_CMD_NAMES = Object.fromEntries(Object.entries(BPF_CMD).map(([name, cmd]) => [cmd, `BPF_${name}`])) as Record<number, string>;

/** An object whose each property is made by its function on first read, then kept. */
function declaredOnUse<T extends Record<string, () => unknown>>(makers: T): { readonly [K in keyof T]: ReturnType<T[K]> } {
  const lazy = {};
  for (const [name, make] of Object.entries(makers)) {
    let value: unknown;
    Object.defineProperty(lazy, name, { get: () => (value ??= make()) });
  }
  return lazy as { readonly [K in keyof T]: ReturnType<T[K]> };
}

// The C structs the calls take, laid out by koffi (x86-64's ABI); each is
// encoded into a Buffer of its size that the call gets a pointer to. Each
// is declared the first time it is used: declaring them all cost about
// 0.7 ms at every start, the init's included.
const C = declaredOnUse({
  OpenHow: () => koffi.struct('open_how', { flags: 'uint64', mode: 'uint64', resolve: 'uint64' }),
  MountAttr: () => koffi.struct('mount_attr', { attr_set: 'uint64', attr_clr: 'uint64', propagation: 'uint64', userns_fd: 'uint64' }),
  PollFd: () => koffi.struct('pollfd', { fd: 'int', events: 'short', revents: 'short' }),
  Iovec: () => koffi.struct('iovec', { iov_base: 'void *', iov_len: 'size_t' }),
  Msghdr: () => koffi.struct('msghdr', { msg_name: 'void *', msg_namelen: 'uint32', msg_iov: 'void *', msg_iovlen: 'size_t', msg_control: 'void *', msg_controllen: 'size_t', msg_flags: 'int' }),
  /** A control message carrying one fd: struct cmsghdr and its int, CMSG_SPACE(sizeof(int)) bytes. */
  CmsgFd: () => koffi.struct('cmsghdr_fd', { cmsg_len: 'size_t', cmsg_level: 'int', cmsg_type: 'int', fd: 'int' }),
  /** A received control message's header, and SCM_CREDENTIALS' payload (struct ucred). */
  CmsgHdr: () => koffi.struct('cmsghdr', { cmsg_len: 'size_t', cmsg_level: 'int', cmsg_type: 'int' }),
  Ucred: () => koffi.struct('ucred', { pid: 'int', uid: 'uint32', gid: 'uint32' }),
  SockFprog: () => koffi.struct('sock_fprog', { len: 'ushort', filter: 'void *' }),
  Rlimit: () => koffi.struct('rlimit', { rlim_cur: 'uint64', rlim_max: 'uint64' }),
  CapHeader: () => koffi.struct('cap_user_header', { version: 'uint32', pid: 'int' }),
  /** Version 3's two struct __user_cap_data_struct: the low and the high 32 capabilities. */
  CapData: () => koffi.array(koffi.struct('cap_user_data', { effective: 'uint32', permitted: 'uint32', inheritable: 'uint32' }), 2),
  Statfs: () => koffi.struct('statfs', {
    f_type: 'long', f_bsize: 'long', f_blocks: 'uint64', f_bfree: 'uint64', f_bavail: 'uint64', f_files: 'uint64', f_ffree: 'uint64',
    f_fsid: koffi.array('int', 2), f_namelen: 'long', f_frsize: 'long', f_flags: 'long', f_spare: koffi.array('long', 4),
  }),
  /** The kernel's struct sigaction (rt_sigaction(2)), not glibc's: the handler is 0 (SIG_DFL), 1 (SIG_IGN) or an address. */
  KernelSigaction: () => koffi.struct('kernel_sigaction', { handler: 'uint64', flags: 'uint64', restorer: 'uint64', mask: 'uint64' }),
  SockaddrUn: () => koffi.struct('sockaddr_un', { sun_family: 'uint16', sun_path: koffi.array('uint8', 108) }),
});
/** CMSG_LEN(sizeof(int)): the header and the fd, without the tail padding. */
const cmsgLenFd = (): number => koffi.offsetof(C.CmsgFd, 'fd') + 4;
/** Room for an fd (SCM_RIGHTS) and the sender's credentials (SCM_CREDENTIALS) together. */
const RECV_CONTROL_BYTES = 64;

/** `value` as the C struct `type`, in a Buffer of its size. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function encoded(type: unknown, value: Record<string, any> | unknown[]): Buffer {
  const buf = Buffer.alloc(koffi.sizeof(type));
  koffi.encode(buf, type, value);
  return buf;
}

/**
 * What a message's encoded pointers point to (its iovec, the iovec's
 * payload, the control buffer): a struct holds only their addresses, so
 * they are kept alive as long as the message is.
 */
const pointees = new WeakMap<Buffer, Buffer[]>();

/** A struct msghdr of one iovec over `payload` and the control buffer `cmsg` (sendmsg and recvmsg). */
function fdMessage(payload: Buffer, cmsg: Buffer): Buffer {
  const iov = encoded(C.Iovec, { iov_base: payload, iov_len: payload.length });
  const msg = encoded(C.Msghdr, { msg_name: null, msg_namelen: 0, msg_iov: iov, msg_iovlen: 1, msg_control: cmsg, msg_controllen: cmsg.length, msg_flags: 0 });
  pointees.set(msg, [iov, payload, cmsg]);
  return msg;
}

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
  private readonly pollFn: ((...args: unknown[]) => number) & { async: (...args: unknown[]) => void };

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
      setns: 'int setns(int fd, int nstype)',
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
      setsockopt: 'int setsockopt(int fd, int level, int name, const uint8_t *val, uint32_t len)',
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
      if (koffi.errno() !== ERRNO.EINTR) this.fail(name, target);
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
  setns(fd: number, nstype: number): void {
    this.check(this.fns.setns(fd, nstype), 'setns', `fd ${fd}`);
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
    const how = encoded(C.OpenHow, { flags, mode, resolve });
    const r = Number(this.syscallFn(SYS.OPENAT2, 'int', dirfd, 'const char *', path, 'uint8_t *', how, 'size_t', how.length));
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
    const sock = this.check(Number(this.fns.socket(AF_NETLINK, SOCK.RAW | SOCK.CLOEXEC, NETLINK_ROUTE)), 'socket', 'netlink');
    try {
      // Unconnected, a netlink socket sends to the kernel.
      const sent = Number(this.fns.write(sock, request, request.length));
      if (sent !== request.length) this.fail('netlink send', 'NETLINK_ROUTE');
      // Datagrams until the answer ends.
      const parts: Buffer[] = [];
      for (;;) {
        const buf = Buffer.alloc(32768);
        const n = Number(this.fns.read(sock, buf, buf.length));
        if (n <= 0) this.fail('netlink receive', 'NETLINK_ROUTE');
        parts.push(buf.subarray(0, n));
        if (endsAnswer(buf.subarray(0, n))) return Buffer.concat(parts);
      }
    } finally {
      this.fns.close(sock);
    }
  }
  dup(fd: number): number {
    return this.check(this.fns.fcntl(fd, F.DUPFD_CLOEXEC, 0), 'fcntl(F_DUPFD_CLOEXEC)', `fd ${fd}`);
  }
  setCloexec(fd: number, on: boolean): void {
    const cur = this.check(this.fns.fcntl(fd, F.GETFD, 0), 'fcntl(F_GETFD)', `fd ${fd}`);
    const next = on ? cur | FD_CLOEXEC : cur & ~FD_CLOEXEC;
    if (next !== cur) this.check(this.fns.fcntl(fd, F.SETFD, next), 'fcntl(F_SETFD)', `fd ${fd}`);
  }
  fstatfs(fd: number): { type: number; flags: number } {
    const buf = Buffer.alloc(koffi.sizeof(C.Statfs));
    this.check(this.fns.fstatfs(fd, buf), 'fstatfs', `fd ${fd}`);
    const st = koffi.decode(buf, C.Statfs);
    return { type: Number(st.f_type), flags: Number(st.f_flags) };
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
    const data = Buffer.alloc(koffi.sizeof(C.CapData));
    this.check(this.fns.capget(encoded(C.CapHeader, { version: LINUX_CAPABILITY_VERSION_3, pid: 0 }), data), 'capget');
    const [lo, hi] = koffi.decode(data, C.CapData);
    const word = (set: 'effective' | 'permitted' | 'inheritable') => BigInt(lo[set]) | (BigInt(hi[set]) << 32n);
    return { effective: word('effective'), permitted: word('permitted'), inheritable: word('inheritable') };
  }
  capset(sets: CapSets): void {
    const half = (shift: bigint) => {
      const bits = (v: bigint) => Number((v >> shift) & 0xffffffffn);
      return { effective: bits(sets.effective), permitted: bits(sets.permitted), inheritable: bits(sets.inheritable) };
    };
    const data = encoded(C.CapData, [half(0n), half(32n)]);
    this.check(this.fns.capset(encoded(C.CapHeader, { version: LINUX_CAPABILITY_VERSION_3, pid: 0 }), data), 'capset');
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
    const lim = encoded(C.Rlimit, { rlim_cur: soft, rlim_max: hard });
    this.check(this.fns.prlimit(0, resource, lim, null), 'setrlimit', String(resource));
  }
  memfdCreate(name: string, flags: number): number {
    return this.check(this.fns.memfd_create(name, flags), 'memfd_create', name);
  }
  addSeals(fd: number, seals: number): void {
    this.check(this.fns.fcntl(fd, F.ADD_SEALS, seals), 'fcntl(F_ADD_SEALS)', `fd ${fd}`);
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
    if (name.length > 107) this.fail(call, socketPath, ERRNO.ENAMETOOLONG);
    const abstract = socketPath.startsWith('@');
    if (abstract) name[0] = 0;
    const addr = encoded(C.SockaddrUn, { sun_family: AF_UNIX, sun_path: [...name, ...new Array(108 - name.length).fill(0)] });
    // An abstract name is exactly its bytes; a path is the whole structure (NUL-terminated).
    return [addr, abstract ? koffi.offsetof(C.SockaddrUn, 'sun_path') + name.length : addr.length];
  }
  /** A new unix socket, connected or bound to `socketPath`; closed again if that fails. */
  private unixSocket(kind: 'stream' | 'dgram', call: 'connect' | 'bind', socketPath: string): number {
    const [addr, len] = this.unixAddr(call, socketPath);
    // A listener that never accepts (a full backlog) would hold a blocking
    // connect for ever, and the command with it: without blocking it is
    // EAGAIN at once, as runc's (Go's) connect reports it.
    const sock = this.check(this.fns.socket(AF_UNIX, (kind === 'stream' ? SOCK.STREAM : SOCK.DGRAM) | SOCK.CLOEXEC | SOCK.NONBLOCK, 0), 'socket', socketPath);
    if (this.fns[call](sock, addr, len) < 0 || this.fns.fcntl(sock, F.SETFL, 0) < 0) {
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
    this.check(this.fns.pipe2(fds, O.CLOEXEC), 'pipe2');
    return [fds.readInt32LE(0), fds.readInt32LE(4)];
  }
  seccompLoad(flags: number, bpf: Buffer): number {
    // The filter is an array of struct sock_filter, 8 bytes each.
    const prog = encoded(C.SockFprog, { len: bpf.length / 8, filter: bpf });
    // Made before the call: a notify fd's hand-off follows it, with no message built between (src/process/finalize.ts).
    const detail = `flags 0x${flags.toString(16)}`;
    const r = Number(this.syscallFn(SYS.SECCOMP, 'int', SECCOMP_SET_MODE_FILTER, 'unsigned int', flags, 'uint8_t *', prog));
    return this.check(r, 'seccomp(SECCOMP_SET_MODE_FILTER)', detail);
  }
  schedSetattr(attr: Buffer, pid = 0): void {
    this.check(Number(this.syscallFn(SYS.SCHED_SETATTR, 'int', pid, 'uint8_t *', attr, 'unsigned int', 0)), 'sched_setattr');
  }
  setIoPriority(value: number): void {
    this.check(Number(this.syscallFn(SYS.IOPRIO_SET, 'int', IOPRIO_WHO_PROCESS, 'int', 0, 'int', value)), 'ioprio_set', String(value));
  }
  personality(persona: number): void {
    this.check(this.fns.personality(persona), 'personality', `0x${persona.toString(16)}`);
  }
  setMempolicy(mode: number, nodes: number[]): void {
    // A nodemask of 1024 bits (the spec's node lists are checked below that).
    const mask = Buffer.alloc(128);
    for (const n of nodes) mask[n >> 3] |= 1 << (n & 7);
    const r = Number(this.syscallFn(SYS.SET_MEMPOLICY, 'int', mode, 'uint8_t *', nodes.length ? mask : null, 'unsigned long', nodes.length ? 1025 : 0));
    this.check(r, 'set_mempolicy', `mode 0x${mode.toString(16)} nodes ${nodes.join(',') || 'none'}`);
  }
  joinSessionKeyring(name: string): number {
    const r = Number(this.syscallFn(SYS.KEYCTL, 'int', KEYCTL.JOIN_SESSION_KEYRING, 'const char *', name));
    return this.check(r, 'keyctl(KEYCTL_JOIN_SESSION_KEYRING)', name);
  }
  keyPermissions(serial: number): number {
    const buf = Buffer.alloc(512);
    const n = Number(this.syscallFn(SYS.KEYCTL, 'int', KEYCTL.DESCRIBE, 'int', serial, 'uint8_t *', buf, 'size_t', buf.length));
    this.check(n, 'keyctl(KEYCTL_DESCRIBE)', String(serial));
    // "type;uid;gid;perm;description"
    const perm = buf.toString('utf8', 0, Math.min(n, buf.length)).replace(/\0.*$/s, '').split(';')[3];
    if (perm === undefined) this.fail('keyctl(KEYCTL_DESCRIBE)', String(serial), ERRNO.EPROTO);
    return parseInt(perm, 16) >>> 0;
  }
  setKeyPermissions(serial: number, perm: number): void {
    this.check(Number(this.syscallFn(SYS.KEYCTL, 'int', KEYCTL.SETPERM, 'int', serial, 'uint32_t', perm >>> 0)), 'keyctl(KEYCTL_SETPERM)', String(serial));
  }
  address(buf: Buffer | Uint32Array): bigint {
    return BigInt(koffi.address(buf));
  }
  bpf(cmd: number, attr: Buffer): number {
    const r = Number(this.syscallFn(SYS.BPF, 'int', cmd, 'uint8_t *', attr, 'unsigned int', attr.length));
    return this.check(r, 'bpf', BPF_CMD_NAMES[cmd] ?? `cmd ${cmd}`);
  }
  pidfdOpen(pid: number): number {
    return this.check(Number(this.syscallFn(SYS.PIDFD_OPEN, 'int', pid, 'unsigned int', 0)), 'pidfd_open', String(pid));
  }
  waitReadable(fd: number, timeoutMs: number): Promise<boolean> {
    const pfd = encoded(C.PollFd, { fd, events: POLLIN, revents: 0 });
    return new Promise((resolve, reject) => {
      this.pollFn.async(pfd, 1, timeoutMs, (err: unknown, r: number) => {
        // A poll interrupted by a signal (EINTR; errno stays on the worker) says "not yet".
        if (err) reject(err);
        else resolve(r > 0);
      });
    });
  }
  pollReadable(fd: number, timeoutMs: number): boolean {
    const pfd = encoded(C.PollFd, { fd, events: POLLIN, revents: 0 });
    const r = Number(this.pollFn(pfd, 1, timeoutMs));
    if (r < 0 && koffi.errno() !== ERRNO.EINTR) this.fail('poll', `fd ${fd}`);
    return r > 0;
  }
  read(fd: number, buf: Buffer): number {
    for (;;) {
      const n = Number(this.fns.read(fd, buf, buf.length));
      if (n >= 0) return n;
      if (koffi.errno() !== ERRNO.EINTR) this.fail('read', `fd ${fd}`);
    }
  }
  write(fd: number, buf: Buffer): number {
    for (;;) {
      const n = Number(this.fns.write(fd, buf, buf.length));
      if (n >= 0) return n;
      if (koffi.errno() !== ERRNO.EINTR) this.fail('write', `fd ${fd}`);
    }
  }
  send(fd: number, buf: Buffer): number {
    for (;;) {
      const n = Number(this.fns.send(fd, buf, buf.length, MSG.NOSIGNAL));
      if (n >= 0) return n;
      if (koffi.errno() !== ERRNO.EINTR) this.fail('send', `fd ${fd}`);
    }
  }
  spawn(file: string, argv: string[], envp: string[], fds: number[]): number {
    // The sources are parked above every target first, so that mapping fd
    // 4 to 3 and 3 to 4 cannot clobber one with the other; dup2 clears
    // close-on-exec on each target, and everything above the map is closed.
    const parked = fds.map((fd) => this.check(this.fns.fcntl(fd, F.DUPFD_CLOEXEC, SPAWN_PARK_FD), 'fcntl(F_DUPFD_CLOEXEC)', `fd ${fd}`));
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
      this.fns.posix_spawnattr_setflags(attr, POSIX_SPAWN.SETSIGDEF | POSIX_SPAWN.SETSIGMASK);
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
    const flags = OPEN_TREE_CLONE | O.CLOEXEC /* OPEN_TREE_CLOEXEC */ | AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
    return this.check(Number(this.syscallFn(SYS.OPEN_TREE, 'int', fd, 'const char *', '', 'unsigned int', flags)), 'open_tree', `fd ${fd}`);
  }
  moveMount(fromFd: number, toFd: number): void {
    const r = Number(this.syscallFn(SYS.MOVE_MOUNT, 'int', fromFd, 'const char *', '', 'int', toFd, 'const char *', '', 'unsigned int', MOVE_MOUNT.F_EMPTY_PATH | MOVE_MOUNT.T_EMPTY_PATH));
    this.check(r, 'move_mount', `fd ${fromFd} onto fd ${toFd}`);
  }
  fsopen(fsname: string): number {
    return this.check(Number(this.syscallFn(SYS.FSOPEN, 'const char *', fsname, 'unsigned int', FSOPEN_CLOEXEC)), 'fsopen', fsname);
  }
  fsconfig(fd: number, key: string, value?: string): void {
    const cmd = value === undefined ? FSCONFIG.SET_FLAG : FSCONFIG.SET_STRING;
    this.check(Number(this.syscallFn(SYS.FSCONFIG, 'int', fd, 'unsigned int', cmd, 'const char *', key, 'const char *', value ?? null, 'int', 0)), 'fsconfig', value === undefined ? key : `${key}=${value}`);
  }
  fsmount(fd: number, attrs: number): number {
    this.check(Number(this.syscallFn(SYS.FSCONFIG, 'int', fd, 'unsigned int', FSCONFIG.CMD_CREATE, 'const char *', null, 'const char *', null, 'int', 0)), 'fsconfig', 'create');
    return this.check(Number(this.syscallFn(SYS.FSMOUNT, 'int', fd, 'unsigned int', FSMOUNT_CLOEXEC, 'unsigned int', attrs)), 'fsmount', `fd ${fd}`);
  }
  mountSetattr(fd: number, set: number, clear: number, recursive: boolean, usernsFd?: number): void {
    const attr = encoded(C.MountAttr, { attr_set: set, attr_clr: clear, propagation: 0, userns_fd: usernsFd ?? 0 });
    const r = Number(this.syscallFn(SYS.MOUNT_SETATTR, 'int', fd, 'const char *', '', 'unsigned int', AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), 'uint8_t *', attr, 'size_t', attr.length));
    this.check(r, 'mount_setattr', `fd ${fd}`);
  }
  eaccess(path: string, mode: number): void {
    this.check(Number(this.syscallFn(SYS.FACCESSAT2, 'int', AT_FDCWD, 'const char *', path, 'int', mode, 'int', AT_EACCESS)), 'faccessat2', path);
  }
  getcwd(): string {
    const buf = Buffer.alloc(4097);
    const n = Number(this.syscallFn(SYS.GETCWD, 'uint8_t *', buf, 'size_t', buf.length));
    this.check(n, 'getcwd');
    return buf.toString('utf8', 0, buf.indexOf(0) >= 0 ? buf.indexOf(0) : n);
  }
  schedSetaffinity(cpus: number[], pid = 0): void {
    const mask = Buffer.alloc(128);
    for (const c of cpus) mask[c >> 3] |= 1 << (c & 7);
    // The CPUs are named only on failure: all 1024 of them make a 4 KB string.
    if (this.fns.sched_setaffinity(pid, mask.length, mask) < 0) this.fail('sched_setaffinity', cpus.join(','));
  }
  resetSignals(ignored: bigint): void {
    const old = Buffer.alloc(koffi.sizeof(C.KernelSigaction));
    for (let sig = 1; sig <= 64; sig++) {
      if (sig === 9 || sig === 19) continue; // SIGKILL and SIGSTOP cannot change
      if (Number(this.syscallFn(SYS.RT_SIGACTION, 'int', sig, 'uint8_t *', null, 'uint8_t *', old, 'size_t', 8)) < 0) continue;
      const handler = BigInt(koffi.decode(old, C.KernelSigaction).handler); // 0 SIG_DFL, 1 SIG_IGN, else a handler
      const wantIgnored = ((ignored >> BigInt(sig - 1)) & 1n) === 1n;
      // A handled signal goes back to its default at exec by itself; SIG_IGN is inherited.
      if (wantIgnored ? handler === 1n : handler !== 1n) continue;
      const act = encoded(C.KernelSigaction, { handler: wantIgnored ? 1 : 0, flags: 0, restorer: 0, mask: 0 });
      this.check(Number(this.syscallFn(SYS.RT_SIGACTION, 'int', sig, 'uint8_t *', act, 'uint8_t *', null, 'size_t', 8)), 'rt_sigaction', String(sig));
    }
    this.check(Number(this.syscallFn(SYS.RT_SIGPROCMASK, 'int', SIG_SETMASK, 'uint8_t *', Buffer.alloc(8), 'uint8_t *', null, 'size_t', 8)), 'rt_sigprocmask');
  }
  sendFd(sockFd: number, fd: number, name: string): void {
    this.prepareSendFd(sockFd, name)(fd);
  }
  prepareSendFd(sockFd: number, name: string): (fd: number) => void {
    // One iovec (the name) and one SCM_RIGHTS control message, whose fd alone is written at the send.
    const payload = Buffer.from(name);
    const cmsg = encoded(C.CmsgFd, { cmsg_len: cmsgLenFd(), cmsg_level: SOL_SOCKET, cmsg_type: SCM_RIGHTS, fd: -1 });
    const msg = fdMessage(payload, cmsg);
    const fdAt = koffi.offsetof(C.CmsgFd, 'fd');
    const detail = `fd ${sockFd}`;
    return (fd) => {
      cmsg.writeInt32LE(fd, fdAt);
      this.check(Number(this.fns.sendmsg(sockFd, msg, 0)), 'sendmsg', detail);
    };
  }
  socketPair(): [number, number] {
    const sv = Buffer.alloc(8);
    this.check(this.fns.socketpair(AF_UNIX, SOCK.STREAM | SOCK.CLOEXEC, 0, sv), 'socketpair');
    return [sv.readInt32LE(0), sv.readInt32LE(4)];
  }
  passCredentials(sockFd: number): void {
    const on = Buffer.alloc(4);
    on.writeInt32LE(1, 0);
    this.check(this.fns.setsockopt(sockFd, SOL_SOCKET, SO_PASSCRED, on, on.length), 'setsockopt', `fd ${sockFd} SO_PASSCRED`);
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
    const { n, fd } = this.recvmsg(sockFd, Buffer.alloc(4096));
    if (fd === undefined) this.fail('recvmsg', `fd ${sockFd} (no file descriptor received)`, n === 0 ? ERRNO.ECONNRESET : ERRNO.EPROTO);
    return fd;
  }
  recvmsg(sockFd: number, buf: Buffer): { n: number; fd?: number; pid?: number } {
    const cmsg = Buffer.alloc(RECV_CONTROL_BYTES);
    const msg = fdMessage(buf, cmsg);
    let n: number;
    do n = Number(this.fns.recvmsg(sockFd, msg, MSG.CMSG_CLOEXEC));
    while (n < 0 && koffi.errno() === ERRNO.EINTR);
    this.check(n, 'recvmsg', `fd ${sockFd}`);
    const controlLen = Number(koffi.decode(msg, C.Msghdr).msg_controllen);
    const out: { n: number; fd?: number; pid?: number } = { n };
    // Walk the control messages (CMSG_NXTHDR: each padded to 8 bytes).
    const header = koffi.sizeof(C.CmsgHdr);
    for (let off = 0; off + header <= controlLen; ) {
      const h = koffi.decode(cmsg, off, C.CmsgHdr);
      const len = Number(h.cmsg_len);
      if (len < header || off + len > controlLen) break;
      if (h.cmsg_level === SOL_SOCKET && h.cmsg_type === SCM_RIGHTS && len >= cmsgLenFd()) {
        // Only one fd is ever sent; any more are closed rather than leaked.
        out.fd = cmsg.readInt32LE(off + header);
        for (let extra = off + header + 4; extra + 4 <= off + len; extra += 4) this.close(cmsg.readInt32LE(extra));
      } else if (h.cmsg_level === SOL_SOCKET && h.cmsg_type === SCM_CREDENTIALS) {
        out.pid = koffi.decode(cmsg, off + header, C.Ucred).pid;
      }
      off += (len + 7) & ~7;
    }
    return out;
  }

}
