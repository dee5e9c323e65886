/** Kernel constants (x86_64 / generic Linux) used across the runtime. */
export const CLONE = {
  NEWNS: 0x00020000,
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
  NEWTIME: 0x00000080,
} as const;

export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  SYNCHRONOUS: 16,
  REMOUNT: 32,
  MANDLOCK: 64,
  DIRSYNC: 128,
  NOSYMFOLLOW: 256,
  NOATIME: 1024,
  NODIRATIME: 2048,
  BIND: 4096,
  MOVE: 8192,
  REC: 16384,
  SILENT: 32768,
  POSIXACL: 1 << 16,
  UNBINDABLE: 1 << 17,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  SHARED: 1 << 20,
  RELATIME: 1 << 21,
  I_VERSION: 1 << 23,
  STRICTATIME: 1 << 24,
  LAZYTIME: 1 << 25,
} as const;

export const MNT_DETACH = 2;

/** mount_setattr(2) and fsmount(2) attributes. */
export const MOUNT_ATTR = { RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, ATIME_MASK: 0x70, RELATIME: 0, NOATIME: 0x10, STRICTATIME: 0x20, NODIRATIME: 0x80, IDMAP: 0x100000, NOSYMFOLLOW: 0x200000 } as const;

/** The MOUNT_ATTR_* equivalents of mount(2)'s per-mount MS_* flags. */
export function mountAttrs(msFlags: number): number {
  const pairs: [number, number][] = [[1, MOUNT_ATTR.RDONLY], [2, MOUNT_ATTR.NOSUID], [4, MOUNT_ATTR.NODEV], [8, MOUNT_ATTR.NOEXEC], [1024, MOUNT_ATTR.NOATIME], [2048, MOUNT_ATTR.NODIRATIME], [1 << 24, MOUNT_ATTR.STRICTATIME], [256, MOUNT_ATTR.NOSYMFOLLOW]];
  return pairs.reduce((a, [ms, attr]) => (msFlags & ms ? a | attr : a), 0);
}
export const UMOUNT_NOFOLLOW = 8;

export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  TRUNC: 0o1000,
  NONBLOCK: 0o4000,
  DIRECTORY: 0o200000,
  NOFOLLOW: 0o400000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
} as const;

export const RESOLVE = {
  NO_XDEV: 0x01,
  NO_MAGICLINKS: 0x02,
  NO_SYMLINKS: 0x04,
  BENEATH: 0x08,
  IN_ROOT: 0x10,
} as const;

export const AT_FDCWD = -100;
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFREG = 0o100000;
export const S_IFIFO = 0o010000;
export const S_IFLNK = 0o120000;

export const PR = {
  SET_PDEATHSIG: 1,
  SET_DUMPABLE: 4,
  SET_KEEPCAPS: 8,
  SET_NAME: 15,
  CAPBSET_READ: 23,
  CAPBSET_DROP: 24,
  SET_CHILD_SUBREAPER: 36,
  SET_NO_NEW_PRIVS: 38,
  CAP_AMBIENT: 47,
  CAP_AMBIENT_RAISE: 2,
  CAP_AMBIENT_CLEAR_ALL: 4,
} as const;

export const MFD = { CLOEXEC: 1, ALLOW_SEALING: 2, EXEC: 0x10 } as const;
export const F_SEAL = { SEAL: 1, SHRINK: 2, GROW: 4, WRITE: 8 } as const;
export const LOCK = { SH: 1, EX: 2, NB: 4, UN: 8 } as const;

export const TIOCSCTTY = 0x540e;
export const TIOCGPTN = 0x80045430;
export const TIOCSPTLCK = 0x40045431;
export const TIOCSWINSZ = 0x5414;
/** struct termios get/set (asm-generic), and c_oflag's ONLCR. */
export const TCGETS = 0x5401;
export const TCSETS = 0x5402;
export const ONLCR = 0o4;
export const TIOCGWINSZ = 0x5413;
export const TIOCGPTPEER = 0x5441;

/** statfs magic numbers of the filesystems the runtime checks for. */
export const FS_MAGIC = {
  PROC: 0x9fa0,
  SYSFS: 0x62656572,
  TMPFS: 0x01021994,
  DEVPTS: 0x1cd1,
  CGROUP: 0x27e0eb,
  CGROUP2: 0x63677270,
} as const;

export const RLIMIT: Record<string, number> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/** x86-64's numbers of the system calls made through syscall(2) (native/exec-shim.c has its own). */
export const SYS = {
  RT_SIGACTION: 13,
  RT_SIGPROCMASK: 14,
  GETCWD: 79,
  SET_MEMPOLICY: 238,
  KEYCTL: 250,
  IOPRIO_SET: 251,
  SCHED_SETATTR: 314,
  SECCOMP: 317,
  BPF: 321,
  OPEN_TREE: 428,
  MOVE_MOUNT: 429,
  FSOPEN: 430,
  FSCONFIG: 431,
  FSMOUNT: 432,
  PIDFD_OPEN: 434,
  OPENAT2: 437,
  FACCESSAT2: 439,
  MOUNT_SETATTR: 442,
} as const;

export const AT_EMPTY_PATH = 0x1000;
/** faccessat2(2): check with the effective ids and capabilities, not the real ones. */
export const AT_EACCESS = 0x200;
export const AT_RECURSIVE = 0x8000;

/** fcntl(2) commands, and the one fd flag. */
export const F = { GETFD: 1, SETFD: 2, SETFL: 4, DUPFD_CLOEXEC: 1030, ADD_SEALS: 1033 } as const;
export const FD_CLOEXEC = 1;
export const CLOSE_RANGE_CLOEXEC = 4;

export const AF_UNIX = 1;
export const AF_NETLINK = 16;
/** socket(2) types; CLOEXEC is O_CLOEXEC's value, as pipe2(2) also takes it. */
export const SOCK = { STREAM: 1, DGRAM: 2, RAW: 3, NONBLOCK: 0o4000, CLOEXEC: 0o2000000 } as const;
export const SOL_SOCKET = 1;
export const SCM_RIGHTS = 1;
export const SCM_CREDENTIALS = 2;
export const SO_PASSCRED = 16;
export const MSG = { NOSIGNAL: 0x4000, CMSG_CLOEXEC: 0x40000000 } as const;
export const POLLIN = 1;

/** Mounts made and moved by file descriptor (open_tree, move_mount, fsopen, fsconfig, fsmount). */
export const OPEN_TREE_CLONE = 1;
export const MOVE_MOUNT = { F_EMPTY_PATH: 0x4, T_EMPTY_PATH: 0x40 } as const;
export const FSOPEN_CLOEXEC = 1;
export const FSMOUNT_CLOEXEC = 1;
export const FSCONFIG = { SET_FLAG: 0, SET_STRING: 1, CMD_CREATE: 6 } as const;

export const KEYCTL = { JOIN_SESSION_KEYRING: 1, SETPERM: 5, DESCRIBE: 6 } as const;
export const LINUX_CAPABILITY_VERSION_3 = 0x20080522;
export const SECCOMP_SET_MODE_FILTER = 1;
export const IOPRIO_WHO_PROCESS = 1;
export const SIG_SETMASK = 2;
export const POSIX_SPAWN = { SETSIGDEF: 0x04, SETSIGMASK: 0x08 } as const;

/** bpf(2) commands. */
export const BPF_CMD = { PROG_LOAD: 5, PROG_ATTACH: 8, PROG_DETACH: 9, PROG_GET_FD_BY_ID: 13, PROG_QUERY: 16 } as const;

export const ERRNO = { EINTR: 4, EWOULDBLOCK: 11, ENAMETOOLONG: 36, EPROTO: 71, ECONNRESET: 104 } as const;

/**
 * x86-64 Linux's errno names by number, as the engines name them
 * (node:os's errno constants, the last name of a number where two share it:
 * EWOULDBLOCK, EOPNOTSUPP; test/unit/errno.test.ts checks that they agree).
 * A table here rather than node:os, which costs the CLI and the init about
 * 0.5 ms to load.
 */
export const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 6: 'ENXIO', 7: 'E2BIG', 8: 'ENOEXEC',
  9: 'EBADF', 10: 'ECHILD', 11: 'EWOULDBLOCK', 12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT', 16: 'EBUSY',
  17: 'EEXIST', 18: 'EXDEV', 19: 'ENODEV', 20: 'ENOTDIR', 21: 'EISDIR', 22: 'EINVAL', 23: 'ENFILE',
  24: 'EMFILE', 25: 'ENOTTY', 26: 'ETXTBSY', 27: 'EFBIG', 28: 'ENOSPC', 29: 'ESPIPE', 30: 'EROFS',
  31: 'EMLINK', 32: 'EPIPE', 33: 'EDOM', 34: 'ERANGE', 35: 'EDEADLK', 36: 'ENAMETOOLONG', 37: 'ENOLCK',
  38: 'ENOSYS', 39: 'ENOTEMPTY', 40: 'ELOOP', 42: 'ENOMSG', 43: 'EIDRM', 60: 'ENOSTR', 61: 'ENODATA',
  62: 'ETIME', 63: 'ENOSR', 67: 'ENOLINK', 71: 'EPROTO', 72: 'EMULTIHOP', 74: 'EBADMSG', 75: 'EOVERFLOW',
  84: 'EILSEQ', 88: 'ENOTSOCK', 89: 'EDESTADDRREQ', 90: 'EMSGSIZE', 91: 'EPROTOTYPE', 92: 'ENOPROTOOPT',
  93: 'EPROTONOSUPPORT', 95: 'EOPNOTSUPP', 97: 'EAFNOSUPPORT', 98: 'EADDRINUSE', 99: 'EADDRNOTAVAIL',
  100: 'ENETDOWN', 101: 'ENETUNREACH', 102: 'ENETRESET', 103: 'ECONNABORTED', 104: 'ECONNRESET',
  105: 'ENOBUFS', 106: 'EISCONN', 107: 'ENOTCONN', 110: 'ETIMEDOUT', 111: 'ECONNREFUSED',
  113: 'EHOSTUNREACH', 114: 'EALREADY', 115: 'EINPROGRESS', 116: 'ESTALE', 122: 'EDQUOT', 125: 'ECANCELED',
};

/** Netlink (NETLINK_ROUTE): the message header's types and flags, and the rtnetlink messages and attributes used. */
export const NETLINK_ROUTE = 0;
export const NLMSG = { ERROR: 2, DONE: 3 } as const;
export const NLM_F = { REQUEST: 1, ACK: 4, EXCL: 0x200, DUMP: 0x300, CREATE: 0x400 } as const;
export const RTM = { NEWLINK: 16, NEWADDR: 20, GETADDR: 22 } as const;
export const IFLA = { IFNAME: 3, NET_NS_FD: 28 } as const;
export const IFA = { ADDRESS: 1, LOCAL: 2, FLAGS: 8 } as const;
export const IFA_F_PERMANENT = 0x80;
export const RT_SCOPE_UNIVERSE = 0;
export const IFF_UP = 1;
