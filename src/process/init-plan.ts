/**
 * What the parent sends the init in its "plan" message: the process to
 * become, and for create the container to set up first. The init of an
 * exec'd process and the container's init are the same program on the same
 * plan type; only `container` tells them apart.
 */
import type { CgroupMountSource } from '../rootfs/mounts.js';
import type { ContainerPlan, ProcessPlan } from '../spec/plan.js';
import type { SeccompConfig } from '../spec/schema.js';

/** create: the rootfs and the rest of the container, set up before the process. */
export interface ContainerSetup extends Omit<ContainerPlan, 'process' | 'seccomp' | 'personality'> {
  cgroupMounts: CgroupMountSource[];
  cgroupUnified: boolean;
  hostHasKcore: boolean;
  /** The exec fifo (an O_PATH fd): `start` opens the other end. */
  fifoFd: number;
}

export interface InitPlan {
  /** create when set: set up the container, then wait for `start`; else an exec'd process. */
  container?: ContainerSetup;
  process: ProcessPlan;
  /** 3 + the preserved fds (LISTEN_FDS and --preserve-fds): fds below it reach the program. */
  keepFds: number;
  /** A unix socket connected to --console-socket (or the terminal proxy): the pty master goes there. */
  consoleFd?: number;
  /** Path of the exec shim on the host, sealed into a memfd before the root changes (CVE-2019-5736). */
  shimPath: string;
  seccomp?: SeccompConfig;
  /** A socket connected to linux.seccomp.listenerPath, and the container process state to send with the notify fd. */
  seccompAgent?: { fd: number; processState: string };
  /** personality(2) from linux.personality. */
  personality?: number;
  /** The container's session keyring to join (or make), unless it has none (--no-new-keyring). */
  keyring?: string;
  /** Whether the process is in a user namespace other than the host's (for the keyring's permissions). */
  inUserNs: boolean;
  /** The signals the caller of ocirun ignored (bit N-1 for signal N, hex): the program inherits them so, as under runc. */
  ignoredSignals: string;
}
