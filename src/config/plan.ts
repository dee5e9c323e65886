/**
 * specconv: the one place where an OCI config becomes the runtime's plan.
 * Everything after this (the parent, the C stage, the init) works on the
 * plan, never on config.json. It converts only: whatever it is given was
 * checked by ./validate.ts, which refuses the fields this build does not
 * apply, so nothing in a config is silently ignored.
 */
import path from 'node:path';
import { parseCpuList } from './cpulist.js';
import { planCapabilities, type CapabilityPlan } from '../security/capabilities.js';
import { CLONE, MS, RLIMIT } from '../sys/constants.js';
import { parseMountOptions, ROOTFS_PROPAGATION } from '../rootfs/options.js';
import { MPOL_FLAGS, MPOL_MODES, PERSONALITY_DOMAINS, PERSONALITY_FLAGS, SchedulerFlags, SchedulerPolicies, type NamespaceType } from './constants.js';
import type { Config, DeviceConfig, IDMappingConfig, ProcessConfig, ResourcesConfig, SeccompConfig } from './schema.js';

export const NS_FLAG: Record<NamespaceType, number> = {
  mount: CLONE.NEWNS,
  pid: CLONE.NEWPID,
  network: CLONE.NEWNET,
  uts: CLONE.NEWUTS,
  ipc: CLONE.NEWIPC,
  user: CLONE.NEWUSER,
  cgroup: CLONE.NEWCGROUP,
  time: CLONE.NEWTIME,
};

/**
 * The order the stage is given the joins in. It joins them in runc's passes
 * (native/stage.c, join_namespaces): the others it may join as the caller,
 * then the user namespace, then the rest as that namespace's root.
 */
export const JOIN_ORDER: NamespaceType[] = ['user', 'ipc', 'uts', 'network', 'pid', 'cgroup', 'time', 'mount'];

export interface MountPlan {
  source: string;
  destination: string;
  type: string;
  flags: number;
  /** The MS_* flags an option asked to be off (ParsedOptions.clearedFlags). */
  clearedFlags: number;
  propagation: number[];
  data: string;
  bind: boolean;
  copyUp?: boolean;
  /** The r* options: MOUNT_ATTR_* set and cleared on the mount and all below it. */
  recursive?: { set: number; clear: number };
  /** An id-mapped bind mount: the mappings (the mount's, else the container's) or the user namespace to take them from. */
  idmap?: { uidMappings: IDMappingConfig[]; gidMappings: IDMappingConfig[]; usernsPath?: string; recursive: boolean };
}

export interface DevicePlan {
  path: string;
  type: 'c' | 'b' | 'u' | 'p';
  major: number;
  minor: number;
  mode: number;
  uid: number;
  gid: number;
}

export interface ProcessPlan {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  umask?: number;
  rlimits: { resource: number; soft: string; hard: string; name: string }[];
  oomScoreAdj?: number;
  noNewPrivileges: boolean;
  capabilities: CapabilityPlan;
  terminal: boolean;
  consoleSize?: { height: number; width: number };
  /** struct sched_attr for sched_setattr(2), hex (process.scheduler). */
  schedAttr?: string;
  /** ioprio_set(2) value: class << 13 | priority (process.ioPriority). */
  ioPriority?: number;
  /** Applied at the program's exec (src/security/lsm.ts). */
  apparmorProfile?: string;
  selinuxLabel?: string;
  /** process.execCPUAffinity as CPU numbers: set before and after an exec'd process joins the cgroups. */
  execCPUAffinity?: { initial?: number[]; final?: number[] };
}

export interface ContainerPlan {
  id: string;
  bundle: string;
  rootfs: string;
  readonlyRoot: boolean;
  /** Namespaces to join, in join order, and flags of those to create. */
  join: { type: NamespaceType; path: string; flag: number }[];
  unshareFlags: number;
  /** cgroupns is unshared by init once the parent has placed it in its cgroups. */
  newCgroupNs: boolean;
  newUserNs: boolean;
  /**
   * "new": unshared by the stage, the usual case. "joined": the stage joins
   * it by path and starts the init rooted in a copy of the host's mounts,
   * which moves into the joined root before its first mount (native/stage.c).
   * "none": the container shares the runtime's; its mounts land in the
   * host's mount namespace under the rootfs, and `delete` detaches them
   * (runc leaves them).
   */
  mountNs: 'new' | 'joined' | 'none';
  uidMappings: IDMappingConfig[];
  gidMappings: IDMappingConfig[];
  timeOffsets?: { monotonic: [number, number]; boottime: [number, number] };
  rootPropagation: number;
  /**
   * rootfsPropagation applied again to the new root after the switch, as
   * runc 1.3.6 does (so that "shared" gives a shared "/" inside; runc 1.1.5
   * did not); undefined when not configured, or private (the rootfs' parent
   * was made private already).
   */
  newRootPropagation?: number;
  mounts: MountPlan[];
  /** runc creates /dev nodes only when /dev is not bind-mounted from elsewhere. */
  setupDev: boolean;
  devices: DevicePlan[];
  maskedPaths: string[];
  readonlyPaths: string[];
  sysctl: Record<string, string>;
  hostname?: string;
  domainname?: string;
  noPivot: boolean;
  /** personality(2) for the program (linux.personality). */
  personality?: number;
  /** set_mempolicy(2) for the program and exec'd processes (linux.memoryPolicy). */
  memoryPolicy?: MemoryPolicyPlan;
  /** SELinux context for the container's own mounts (linux.mountLabel). */
  mountLabel?: string;
  process: ProcessPlan;
  cgroupsPath: string;
  resources?: ResourcesConfig;
  seccomp?: SeccompConfig;
  hooks: NonNullable<Config['hooks']>;
  annotations: Record<string, string>;
}

export interface PlanOptions {
  id: string;
  bundle: string;
  /** root.path as resolveRootfs (./load.ts) made it; without it, root.path taken as written (the unit tests). */
  rootfs?: string;
  noPivot?: boolean;
  warn?: (msg: string) => void;
}

/** runc's default devices, made in every container with its own /dev. */
export const DEFAULT_DEVICES: DevicePlan[] = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3, mode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5, mode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7, mode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/random', type: 'c', major: 1, minor: 8, mode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9, mode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0, mode: 0o666, uid: 0, gid: 0 },
];

/** An rlimit as the decimal the kernel takes. */
export function rlimitValue(v: number): string {
  // JSON numbers at or above 2^64-1 lose precision; they all mean "unlimited".
  return v >= 18446744073709551615 ? '18446744073709551615' : BigInt(Math.trunc(v)).toString();
}

function devicePlan(d: DeviceConfig): DevicePlan {
  return {
    path: d.path,
    type: d.type as DevicePlan['type'],
    major: d.major ?? 0,
    minor: d.minor ?? 0,
    mode: d.fileMode ?? 0o666,
    uid: d.uid ?? 0,
    gid: d.gid ?? 0,
  };
}

/**
 * A mount's destination inside the container. One written with the
 * rootfs' own host path in front ("/bundle/rootfs/mnt") names the same
 * place as "/mnt": runc (1.1.5 and 1.3.6, LexicallyStripRoot) takes it so,
 * and its mount-order tests write destinations that way.
 */
export function containerDestination(rootfs: string, destination: string): string {
  const root = path.posix.normalize(path.posix.join('/', rootfs)).replace(/\/+$/, '');
  const dest = path.posix.normalize(path.posix.join('/', destination));
  if (root === '' || root === '/') return dest;
  if (dest === root) return '/';
  return dest.startsWith(root + '/') ? dest.slice(root.length) : dest;
}

export function planContainer(config: Config, opts: PlanOptions): ContainerPlan {
  const warn = opts.warn ?? (() => {});
  const p = config.process!;
  const linux = config.linux ?? {};
  const namespaces = linux.namespaces ?? [];

  const join: ContainerPlan['join'] = [];
  let unshareFlags = 0;
  for (const type of JOIN_ORDER) {
    const ns = namespaces.find((n) => n.type === type);
    if (!ns) continue;
    if (ns.path) join.push({ type, path: ns.path, flag: NS_FLAG[type] });
    else if (type !== 'cgroup') unshareFlags |= NS_FLAG[type];
  }
  const newCgroupNs = namespaces.some((n) => n.type === 'cgroup' && !n.path);
  const mountEntry = namespaces.find((n) => n.type === 'mount');
  const mountNs: ContainerPlan['mountNs'] = !mountEntry ? 'none' : mountEntry.path ? 'joined' : 'new';

  const rootfs = opts.rootfs ?? path.resolve(opts.bundle, config.root!.path);
  if (config.root!.readonly && !mountEntry) warn('root.readonly is ignored without a mount namespace of the container\'s own (as runc ignores it)');
  const mounts: MountPlan[] = [];
  for (const m of config.mounts ?? []) {
    if (!m.destination.startsWith('/')) warn(`mount destination ${m.destination} is not absolute: taken as relative to /`);
    const o = parseMountOptions(m.options);
    const bind = m.type === 'bind' || (o.flags & 4096) !== 0;
    const source = bind && m.source && !m.source.startsWith('/') ? path.resolve(opts.bundle, m.source) : m.source ?? m.type ?? 'none';
    mounts.push({
      source,
      destination: containerDestination(rootfs, m.destination),
      type: m.type ?? (bind ? 'bind' : 'none'),
      flags: bind ? o.flags | 4096 : o.flags,
      clearedFlags: o.clearedFlags,
      propagation: o.propagation,
      data: o.data,
      bind,
      ...(o.copyUp ? { copyUp: true } : {}),
      ...(o.recursive ? { recursive: o.recursive } : {}),
      ...(o.idmap || m.uidMappings || m.gidMappings ? { idmap: idmapPlan(m, o.idmap === 'ridmap', linux) } : {}),
    });
  }
  const devBind = mounts.some((m) => m.destination === '/dev' && m.bind);

  const timeOffsets = linux.timeOffsets
    ? {
        monotonic: [linux.timeOffsets.monotonic?.secs ?? 0, linux.timeOffsets.monotonic?.nanosecs ?? 0] as [number, number],
        boottime: [linux.timeOffsets.boottime?.secs ?? 0, linux.timeOffsets.boottime?.nanosecs ?? 0] as [number, number],
      }
    : undefined;

  return {
    id: opts.id,
    bundle: opts.bundle,
    rootfs,
    readonlyRoot: (config.root!.readonly ?? false) && mountNs !== 'none',
    join,
    unshareFlags,
    newCgroupNs,
    newUserNs: (unshareFlags & CLONE.NEWUSER) !== 0,
    mountNs,
    uidMappings: linux.uidMappings ?? [],
    gidMappings: linux.gidMappings ?? [],
    timeOffsets,
    rootPropagation: linux.rootfsPropagation ? ROOTFS_PROPAGATION[linux.rootfsPropagation] : ROOTFS_PROPAGATION.rslave,
    newRootPropagation: linux.rootfsPropagation && !(ROOTFS_PROPAGATION[linux.rootfsPropagation] & MS.PRIVATE) ? ROOTFS_PROPAGATION[linux.rootfsPropagation] : undefined,
    mounts,
    setupDev: !devBind,
    devices: devBind ? [] : [...DEFAULT_DEVICES.filter((d) => !(linux.devices ?? []).some((c) => c.path === d.path)), ...(linux.devices ?? []).map(devicePlan)],
    maskedPaths: linux.maskedPaths ?? [],
    readonlyPaths: linux.readonlyPaths ?? [],
    sysctl: linux.sysctl ?? {},
    hostname: config.hostname,
    domainname: config.domainname,
    noPivot: opts.noPivot ?? false,
    process: planProcess(p, warn),
    mountLabel: linux.mountLabel || undefined,
    personality: personalityValue(linux.personality),
    memoryPolicy: memoryPolicyPlan(linux.memoryPolicy),
    cgroupsPath: linux.cgroupsPath ?? '',
    resources: linux.resources,
    seccomp: linux.seccomp,
    hooks: config.hooks ?? {},
    annotations: config.annotations ?? {},
  };
}

/** A process config as the init applies it: create's process, or an exec'd one. */
export function planProcess(p: ProcessConfig, warn: (msg: string) => void): ProcessPlan {
  const user = p.user ?? {};
  return {
    args: p.args!,
    env: p.env ?? [],
    cwd: p.cwd,
    uid: user.uid ?? 0,
    gid: user.gid ?? 0,
    additionalGids: user.additionalGids ?? [],
    umask: user.umask,
    rlimits: (p.rlimits ?? []).map((r) => ({ resource: RLIMIT[r.type], soft: rlimitValue(r.soft), hard: rlimitValue(r.hard), name: r.type })),
    oomScoreAdj: p.oomScoreAdj,
    noNewPrivileges: p.noNewPrivileges ?? false,
    capabilities: planCapabilities(p.capabilities, warn),
    terminal: p.terminal ?? false,
    consoleSize: p.consoleSize,
    ioPriority: ioPriorityValue(p.ioPriority),
    schedAttr: schedAttrHex(p.scheduler),
    apparmorProfile: p.apparmorProfile || undefined,
    selinuxLabel: p.selinuxLabel || undefined,
    execCPUAffinity: p.execCPUAffinity && {
      initial: p.execCPUAffinity.initial !== undefined ? parseCpuList(p.execCPUAffinity.initial) : undefined,
      final: p.execCPUAffinity.final !== undefined ? parseCpuList(p.execCPUAffinity.final) : undefined,
    },
  };
}

/**
 * go-selinux's FormatMountLabel over the container's mounts: a context= for
 * the filesystems it makes, none for bind mounts (they keep their source's)
 * nor for proc, sysfs and cgroup, which runc mounts without one.
 */
export function labelMounts(mounts: MountPlan[], label: string): MountPlan[] {
  const unlabelled = new Set(['proc', 'sysfs', 'cgroup', 'cgroup2']);
  return mounts.map((m) => (m.bind || unlabelled.has(m.type) ? m : { ...m, data: [m.data, `context="${label}"`].filter(Boolean).join(',') }));
}

/**
 * As runc's specconv: a mount's own mappings, or else the container's user
 * namespace (its mappings when it makes one, its path when it joins one).
 */
function idmapPlan(m: { uidMappings?: IDMappingConfig[]; gidMappings?: IDMappingConfig[] }, recursive: boolean, linux: NonNullable<Config['linux']>): NonNullable<MountPlan['idmap']> {
  if (m.uidMappings || m.gidMappings) return { uidMappings: m.uidMappings ?? [], gidMappings: m.gidMappings ?? [], recursive };
  const joined = linux.namespaces?.find((n) => n.type === 'user' && n.path)?.path;
  return joined ? { uidMappings: [], gidMappings: [], usernsPath: joined, recursive } : { uidMappings: linux.uidMappings ?? [], gidMappings: linux.gidMappings ?? [], recursive };
}

export interface MemoryPolicyPlan {
  /** The mode with its flags or'ed in. */
  mode: number;
  nodes: number[];
}

/** linux.memoryPolicy as set_mempolicy(2)'s arguments (validate.ts checked the nodes against the mode). */
export function memoryPolicyPlan(m: { mode?: string; nodes?: string; flags?: string[] } | undefined): MemoryPolicyPlan | undefined {
  if (!m) return undefined;
  return { mode: (m.flags ?? []).reduce((v, f) => v | MPOL_FLAGS[f], MPOL_MODES[m.mode ?? '']), nodes: parseCpuList(m.nodes ?? '') ?? [] };
}

/** linux.personality as personality(2)'s argument: the domain with the flags or'ed in. */
export function personalityValue(p: { domain?: string; flags?: string[] } | undefined): number | undefined {
  return p ? (p.flags ?? []).reduce((v, f) => v | PERSONALITY_FLAGS[f], PERSONALITY_DOMAINS[p.domain ?? '']) : undefined;
}

const IOPRIO_CLASSES: Record<string, number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };

/** process.ioPriority as ioprio_set(2)'s value; levels are 0 (highest) to 7, as the kernel takes them. */
export function ioPriorityValue(p: { class: string; priority?: number } | undefined): number | undefined {
  return p ? (IOPRIO_CLASSES[p.class] << 13) | (p.priority ?? 0) : undefined;
}

/**
 * process.scheduler as struct sched_attr (48 bytes: size, policy, flags,
 * nice, priority, runtime, deadline, period), hex for the init and the exec
 * stage. The kernel checks the values against the policy (EINVAL, EPERM).
 */
export function schedAttrHex(s: ProcessConfig['scheduler']): string | undefined {
  if (!s) return undefined;
  const attr = Buffer.alloc(48);
  attr.writeUInt32LE(48, 0);
  attr.writeUInt32LE(SchedulerPolicies.indexOf(s.policy), 4);
  attr.writeBigUInt64LE(BigInt((s.flags ?? []).reduce((m, f) => m | (1 << SchedulerFlags.indexOf(f)), 0)), 8);
  attr.writeInt32LE(s.nice ?? 0, 16);
  attr.writeUInt32LE(s.priority ?? 0, 20);
  attr.writeBigUInt64LE(BigInt(s.runtime ?? 0), 24);
  attr.writeBigUInt64LE(BigInt(s.deadline ?? 0), 32);
  attr.writeBigUInt64LE(BigInt(s.period ?? 0), 40);
  return attr.toString('hex');
}
