/**
 * What the parent sends the init in its "plan" message: the process to
 * become, and for create the container to set up first. The init of an
 * exec'd process and the container's init are the same program on the same
 * plan type; only `container` tells them apart.
 */
import type { CgroupMountSource } from '../rootfs/mounts.js';
import type { ContainerPlan, MemoryPolicyPlan, ProcessPlan } from '../config/plan.js';
import type { MovedDevice } from '../network/net-devices.js';
import type { ResourcesConfig, SeccompConfig } from '../config/schema.js';

/** create: the rootfs and the rest of the container, set up before the process. */
export interface ContainerSetup extends Omit<ContainerPlan, 'process' | 'seccomp' | 'personality' | 'memoryPolicy'> {
  cgroupMounts: CgroupMountSource[];
  cgroupUnified: boolean;
  hostHasKcore: boolean;
  /** The exec fifo (an O_PATH fd): `start` opens the other end. */
  fifoFd: number;
  /**
   * By the index of a bind mount in `mounts`, a detached copy of its source
   * (open_tree) that the stage made as root on the host before the init
   * ran: in a user namespace, binds the init may not be able to reach
   * (../rootfs/idmap.ts bindSourceRequests). Id-mapped ones come later,
   * each at its turn ("mount-source").
   */
  bindSourceFds?: Record<number, number>;
  /** linux.netDevices the parent moved into our network namespace: their addresses go back on here. */
  movedNetDevices?: MovedDevice[];
}

export interface InitPlan {
  /** create when set: set up the container, then wait for `start`; else an exec'd process. */
  container?: ContainerSetup;
  process: ProcessPlan;
  /**
   * The root the process is to have: the stage started the engine rooted
   * in a read-only copy of the host's mounts (native/stage.c), and said
   * which fd ("init-fds").
   */
  rootFd: number;
  /** The stage's copy of the host's /proc mount, if it could make one (./procfs.ts). */
  procFd?: number;
  /** The engine's own file, which its ELF interpreter opened through this fd ("init-fds"): closed first thing. */
  engineFd?: number;
  /** 3 + the preserved fds (LISTEN_FDS and --preserve-fds): fds below it reach the program. */
  keepFds: number;
  /** A unix socket connected to --console-socket (or the terminal proxy): the pty master goes there. */
  consoleFd?: number;
  /**
   * The pty goes to ocirun's own terminal proxy (run, exec -t, with no
   * --console-socket): its ONLCR is cleared before anything is written to
   * it, as runc's own console receiver does (tty.go); a --console-socket
   * listener keeps the pty as the kernel makes it.
   */
  proxiedConsole?: boolean;
  /** Path of the exec shim on the host, sealed into a memfd before the root changes (CVE-2019-5736). */
  shimPath: string;
  seccomp?: SeccompConfig;
  /** A socket connected to linux.seccomp.listenerPath, and the container process state to send with the notify fd. */
  seccompAgent?: { fd: number; processState: string };
  /** exec with a seccomp agent: the filter's notify fd goes to the parent (a "seccomp-fd" message), which hands it on. */
  seccompNotifyToParent?: boolean;
  /** personality(2) from linux.personality. */
  personality?: number;
  /** set_mempolicy(2) from linux.memoryPolicy. */
  memoryPolicy?: MemoryPolicyPlan;
  /** The container's session keyring to join (or make), unless it has none (--no-new-keyring). */
  keyring?: string;
  /** Whether the process is in a user namespace other than the host's (for the keyring's permissions). */
  inUserNs: boolean;
  /** The runtime runs with an euid other than 0 (rootless): no supplementary groups, as runc. */
  rootlessEuid?: boolean;
  /** The signals the caller of ocirun ignored (bit N-1 for signal N, hex): the program inherits them so, as under runc. */
  ignoredSignals: string;
  /**
   * exec: the parent puts the process in the container's cgroups as soon as
   * it exists (roomy limits: see tightLimits), while it sets itself up; the
   * init waits for its "go" before the exec, and the exec shim need not stop.
   */
  cgroupsJoined?: boolean;
  /**
   * exec into a container with a pid namespace of its own: an fd of it. The
   * init runs outside it, where no process of the container can see it
   * while it holds anything of the host; it joins it (for its children
   * only) just before it gives up its privileges, and the exec shim forks
   * the process into it (native/exec-shim.c).
   */
  pidNsFd?: number;
  /** exec: the pid of the ocirun waiting for the process; the init dies with it (PR_SET_PDEATHSIG). */
  runtimePid?: number;
  /** --debug: the init reports its steps, with their times, as log lines. */
  debug?: boolean;
}

/**
 * Whether the container's limits are small enough that the init's engine
 * (tens of MB, a dozen threads) must stay out of the container's cgroups
 * until its setup is done, and collect its garbage before it joins them
 * (see collectGarbage). Under roomier limits (or none) it joins them as soon
 * as it exists, as runc's init does: the join's wait for an RCU grace period
 * then overlaps the engine's start, and the collection is skipped.
 */
const ROOMY = { memory: 256 * 2 ** 20, pids: 256 };
export function tightLimits(r: ResourcesConfig | undefined): boolean {
  const small = (v: number | string | undefined, roomy: number) => {
    const n = typeof v === 'string' ? (v.trim() === 'max' ? -1 : Number(v)) : v;
    return n !== undefined && n > 0 && !(n >= roomy); // 0 and -1: no limit, as runc reads them
  };
  return (
    small(r?.memory?.limit, ROOMY.memory) ||
    small(r?.memory?.swap, ROOMY.memory) ||
    small(r?.pids?.limit ?? undefined, ROOMY.pids) ||
    small(r?.unified?.['memory.max'], ROOMY.memory) ||
    small(r?.unified?.['memory.high'], ROOMY.memory) ||
    small(r?.unified?.['pids.max'], ROOMY.pids)
  );
}
