/**
 * The OCI runtime-spec v1.3.0 config and state, written once with TypeBox.
 * This one description gives both the TypeScript types (Static<...>) and the
 * JSON Schema that the build compiles with ajv into a standalone validator
 * (schemas/*.schema.json and dist/config/validators.js). Nothing else may
 * describe the shape of a config.
 *
 * Non-Linux platform sections (solaris, windows, vm, zos, freebsd) are
 * described loosely: a Linux runtime rejects them in the semantic pass.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  NamespaceTypes, SchedulerFlags, SchedulerPolicies, SeccompActions, SeccompArchs, SeccompFlags, SeccompOperators,
} from './constants.js';

const Int = (min: number, max: number) => Type.Integer({ minimum: min, maximum: max });
const int32 = Int(-2147483648, 2147483647);
const int64 = Int(-9223372036854775808, 9223372036854775807);
const uint16 = Int(0, 65535);
const uint32 = Int(0, 4294967295);
const uint64 = Int(0, 18446744073709551615);
const Strings = Type.Array(Type.String());
const MapStringString = Type.Record(Type.String({ minLength: 1 }), Type.String());
const Enum = <T extends string>(values: readonly T[]) => Type.Unsafe<T>({ type: 'string', enum: [...values] });
const Opt = <T extends TSchema>(s: T) => Type.Optional(s);

export const IDMapping = Type.Object({ containerID: uint32, hostID: uint32, size: uint32 });

export const Mount = Type.Object({
  destination: Type.String(),
  source: Opt(Type.String()),
  type: Opt(Type.String()),
  options: Opt(Strings),
  uidMappings: Opt(Type.Array(IDMapping)),
  gidMappings: Opt(Type.Array(IDMapping)),
});

export const Hook = Type.Object({
  path: Type.String(),
  args: Opt(Strings),
  env: Opt(Strings),
  timeout: Opt(Type.Integer({ minimum: 1 })),
});
const Hooks = Type.Array(Hook);

export const Rlimit = Type.Object({
  type: Type.String({ pattern: '^RLIMIT_[A-Z]+$' }),
  soft: uint64,
  hard: uint64,
});

export const Capabilities = Type.Object({
  bounding: Opt(Strings),
  permitted: Opt(Strings),
  effective: Opt(Strings),
  inheritable: Opt(Strings),
  ambient: Opt(Strings),
});

export const User = Type.Object({
  uid: Opt(uint32),
  gid: Opt(uint32),
  umask: Opt(uint32),
  additionalGids: Opt(Type.Array(uint32)),
  username: Opt(Type.String()),
});


export const Process = Type.Object({
  cwd: Type.String(),
  args: Opt(Strings),
  commandLine: Opt(Type.String()),
  consoleSize: Opt(Type.Object({ height: uint64, width: uint64 })),
  env: Opt(Strings),
  terminal: Opt(Type.Boolean()),
  user: Opt(User),
  capabilities: Opt(Capabilities),
  apparmorProfile: Opt(Type.String()),
  oomScoreAdj: Opt(Type.Integer()),
  selinuxLabel: Opt(Type.String()),
  ioPriority: Opt(Type.Object({ class: Enum(['IOPRIO_CLASS_RT', 'IOPRIO_CLASS_BE', 'IOPRIO_CLASS_IDLE'] as const), priority: Opt(int32) })),
  noNewPrivileges: Opt(Type.Boolean()),
  scheduler: Opt(Type.Object({
    policy: Enum(SchedulerPolicies),
    nice: Opt(int32),
    priority: Opt(int32),
    flags: Opt(Type.Array(Enum(SchedulerFlags))),
    runtime: Opt(uint64),
    deadline: Opt(uint64),
    period: Opt(uint64),
  })),
  rlimits: Opt(Type.Array(Rlimit)),
  execCPUAffinity: Opt(Type.Object({
    initial: Opt(Type.String({ pattern: '^[0-9, -]*$' })),
    final: Opt(Type.String({ pattern: '^[0-9, -]*$' })),
  })),
});

export const Namespace = Type.Object({ type: Enum(NamespaceTypes), path: Opt(Type.String()) });

const Major = int64;
const Minor = int64;
export const Device = Type.Object({
  type: Type.String({ pattern: '^[cbup]$' }),
  path: Type.String(),
  major: Opt(Major),
  minor: Opt(Minor),
  // uint32, as the spec has it: podman puts the file-type bits in (8630 = S_IFCHR | 0666); the permission bits count.
  fileMode: Opt(uint32),
  uid: Opt(uint32),
  gid: Opt(uint32),
});

export const DeviceCgroup = Type.Object({
  allow: Type.Boolean(),
  type: Opt(Type.String()),
  major: Opt(Major),
  minor: Opt(Minor),
  access: Opt(Type.String()),
});

const BlockIODeviceWeight = Type.Object({ major: Major, minor: Minor, weight: Opt(uint16), leafWeight: Opt(uint16) });
const BlockIODeviceThrottle = Type.Object({ major: Major, minor: Minor, rate: Opt(uint64) });

export const Resources = Type.Object({
  devices: Opt(Type.Array(DeviceCgroup)),
  memory: Opt(Type.Object({
    limit: Opt(int64),
    reservation: Opt(int64),
    swap: Opt(int64),
    kernel: Opt(int64),
    kernelTCP: Opt(int64),
    swappiness: Opt(uint64),
    disableOOMKiller: Opt(Type.Boolean()),
    useHierarchy: Opt(Type.Boolean()),
    checkBeforeUpdate: Opt(Type.Boolean()),
  })),
  cpu: Opt(Type.Object({
    shares: Opt(uint64),
    quota: Opt(int64),
    burst: Opt(uint64),
    period: Opt(uint64),
    realtimeRuntime: Opt(int64),
    realtimePeriod: Opt(uint64),
    cpus: Opt(Type.String()),
    mems: Opt(Type.String()),
    idle: Opt(int64),
  })),
  pids: Opt(Type.Object({ limit: int64 })),
  blockIO: Opt(Type.Object({
    weight: Opt(uint16),
    leafWeight: Opt(uint16),
    weightDevice: Opt(Type.Array(BlockIODeviceWeight)),
    throttleReadBpsDevice: Opt(Type.Array(BlockIODeviceThrottle)),
    throttleWriteBpsDevice: Opt(Type.Array(BlockIODeviceThrottle)),
    throttleReadIOPSDevice: Opt(Type.Array(BlockIODeviceThrottle)),
    throttleWriteIOPSDevice: Opt(Type.Array(BlockIODeviceThrottle)),
  })),
  hugepageLimits: Opt(Type.Array(Type.Object({ pageSize: Type.String({ pattern: '^[1-9][0-9]*[KMG]B$' }), limit: uint64 }))),
  network: Opt(Type.Object({
    classID: Opt(uint32),
    priorities: Opt(Type.Array(Type.Object({ name: Type.String(), priority: uint32 }))),
  })),
  rdma: Opt(Type.Record(Type.String(), Type.Object({ hcaHandles: Opt(uint32), hcaObjects: Opt(uint32) }))),
  unified: Opt(MapStringString),
});


export const Seccomp = Type.Object({
  defaultAction: Enum(SeccompActions),
  defaultErrnoRet: Opt(uint32),
  flags: Opt(Type.Array(Enum(SeccompFlags))),
  listenerPath: Opt(Type.String()),
  listenerMetadata: Opt(Type.String()),
  architectures: Opt(Type.Array(Enum(SeccompArchs))),
  syscalls: Opt(Type.Array(Type.Object({
    names: Type.Array(Type.String(), { minItems: 1 }),
    action: Enum(SeccompActions),
    errnoRet: Opt(uint32),
    args: Opt(Type.Array(Type.Object({ index: uint32, value: uint64, valueTwo: Opt(uint64), op: Enum(SeccompOperators) }))),
  }))),
});

const TimeOffset = Type.Object({ secs: Opt(int64), nanosecs: Opt(uint32) });

export const Linux = Type.Object({
  namespaces: Opt(Type.Array(Namespace)),
  uidMappings: Opt(Type.Array(IDMapping)),
  gidMappings: Opt(Type.Array(IDMapping)),
  timeOffsets: Opt(Type.Object({ boottime: Opt(TimeOffset), monotonic: Opt(TimeOffset) })),
  devices: Opt(Type.Array(Device)),
  netDevices: Opt(Type.Record(Type.String(), Type.Object({ name: Opt(Type.String()) }))),
  cgroupsPath: Opt(Type.String()),
  resources: Opt(Resources),
  rootfsPropagation: Opt(Enum(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'unbindable', 'runbindable'] as const)),
  seccomp: Opt(Seccomp),
  sysctl: Opt(MapStringString),
  maskedPaths: Opt(Strings),
  readonlyPaths: Opt(Strings),
  mountLabel: Opt(Type.String()),
  intelRdt: Opt(Type.Object({
    closID: Opt(Type.String()),
    schemata: Opt(Strings),
    l3CacheSchema: Opt(Type.String()),
    memBwSchema: Opt(Type.String({ pattern: '^MB:[^\\n]*$' })),
    enableMonitoring: Opt(Type.Boolean()),
  })),
  memoryPolicy: Opt(Type.Object({
    mode: Opt(Enum(['MPOL_DEFAULT', 'MPOL_BIND', 'MPOL_INTERLEAVE', 'MPOL_WEIGHTED_INTERLEAVE', 'MPOL_PREFERRED', 'MPOL_PREFERRED_MANY', 'MPOL_LOCAL'] as const)),
    nodes: Opt(Type.String()),
    flags: Opt(Type.Array(Enum(['MPOL_F_NUMA_BALANCING', 'MPOL_F_RELATIVE_NODES', 'MPOL_F_STATIC_NODES'] as const))),
  })),
  personality: Opt(Type.Object({ domain: Opt(Enum(['LINUX', 'LINUX32'] as const)), flags: Opt(Strings) })),
});

// FreeBSD's jail section is the only non-Linux one with constraints a fixture
// checks; the others are accepted as objects and refused later as off-platform.
const FreeBSD = Type.Object({
  jail: Opt(Type.Object({ vnet: Opt(Enum(['new', 'inherit'] as const)) })),
});

export const Config = Type.Object({
  ociVersion: Type.String(),
  root: Opt(Type.Object({ path: Type.String(), readonly: Opt(Type.Boolean()) })),
  mounts: Opt(Type.Array(Mount)),
  process: Opt(Process),
  hostname: Opt(Type.String()),
  domainname: Opt(Type.String()),
  hooks: Opt(Type.Object({
    prestart: Opt(Hooks),
    createRuntime: Opt(Hooks),
    createContainer: Opt(Hooks),
    startContainer: Opt(Hooks),
    poststart: Opt(Hooks),
    poststop: Opt(Hooks),
  })),
  annotations: Opt(MapStringString),
  linux: Opt(Linux),
  solaris: Opt(Type.Object({})),
  windows: Opt(Type.Object({})),
  vm: Opt(Type.Object({})),
  zos: Opt(Type.Object({})),
  freebsd: Opt(FreeBSD),
}, { $id: 'https://ocirun.dev/schemas/config.schema.json', title: 'OCI runtime config (v1.0.0 to v1.3.x), as ocirun reads it' });

export const State = Type.Object({
  ociVersion: Type.String(),
  id: Type.String(),
  status: Enum(['creating', 'created', 'running', 'stopped', 'paused'] as const),
  pid: Opt(Type.Integer({ minimum: 0 })),
  bundle: Type.String(),
  annotations: Opt(MapStringString),
}, { $id: 'https://ocirun.dev/schemas/state.schema.json', title: 'OCI container state' });

export type Config = Static<typeof Config>;
export type ProcessConfig = Static<typeof Process>;
export type LinuxConfig = Static<typeof Linux>;
export type MountConfig = Static<typeof Mount>;
export type HookConfig = Static<typeof Hook>;
export type IDMappingConfig = Static<typeof IDMapping>;
export type DeviceConfig = Static<typeof Device>;
export type ResourcesConfig = Static<typeof Resources>;
export type SeccompConfig = Static<typeof Seccomp>;
export type OciState = Static<typeof State>;
