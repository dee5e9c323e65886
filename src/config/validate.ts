/**
 * The one validator (runc's libcontainer/configs/validate): everything that
 * is checked about a config.json, an exec'd process (exec --process, or the
 * flags laid over the config's process) and the resources of `update` is
 * here. First the JSON Schema (generated from ./schema.ts), then what a
 * schema cannot say, then what this build or this host cannot do, refused
 * rather than silently ignored. Every failure is a ConfigError naming the
 * JSON path of the field. Afterwards ./plan.ts converts without checking.
 *
 * A config is checked as runc's Validate does it: a list of small named
 * checks, run in order, the first refusal reported (configChecks; restore
 * adds restoreChecks).
 *
 * Host facts (filesystems, sysctls, paths, LSMs, the cgroup layout) come
 * through `HostFacts` so that unit tests can supply their own.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ErrorObject } from 'ajv';
import type { CgroupLayout } from '../cgroups/index.js';
import { ConfigError, RuntimeError } from '../errors.js';
import { parseMountOptions } from '../rootfs/options.js';
import { checkIntelRdt, resctrlRoot } from '../cgroups/resctrl.js';
import { checkSystemdCgroupsPath, runningSystemd } from '../cgroups/systemd.js';
import { appArmorEnabled, selinuxEnabled } from '../security/lsm.js';
import { actionValue, kernelFilterFlags, usesNotify } from '../security/seccomp.js';
import { RLIMIT } from '../sys/constants.js';
import { HookKinds, NamespaceTypes, PERSONALITY_DOMAINS, PERSONALITY_FLAGS, supportedOciVersion } from './constants.js';
import { parseCpuList } from './cpulist.js';
import type { Config, ProcessConfig, ResourcesConfig, SeccompConfig } from './schema.js';
import { validateConfig as configSchema, validateProcess as processSchema, validateResources as resourcesSchema } from './validators.js';

export interface HostFacts {
  filesystems(): Set<string>;
  sysctlExists(name: string): boolean;
  /**
   * What stat(2) finds at `p`: "file", "fifo", "directory", "socket",
   * "device", or the errno code it fails with (ENOENT, EACCES, ...).
   */
  fileKind(p: string): string;
  isDirectory(p: string): boolean;
  appArmor(): boolean;
  selinux(): boolean;
  /** Whether `nsPath` is the namespace of this type (mnt, net) this process is in. */
  isOwnNamespace(nsPath: string, type: 'mnt' | 'net'): boolean;
  /** Where the resctrl filesystem (Intel RDT) is mounted, if it is. */
  resctrlRoot(): string | undefined;
  /** Whether systemd runs this host (for --systemd-cgroup). */
  systemdRunning(): boolean;
}

export const realHost: HostFacts = {
  filesystems() {
    const set = new Set<string>();
    for (const line of fs.readFileSync('/proc/filesystems', 'utf8').split('\n')) {
      const name = line.split('\t').pop()?.trim();
      if (name) set.add(name);
    }
    return set;
  },
  sysctlExists: (name) => fs.existsSync(path.join('/proc/sys', name.replace(/\./g, '/'))),
  fileKind: (p) => {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch (err) {
      return (err as NodeJS.ErrnoException).code ?? 'EIO';
    }
    return st.isFile() ? 'file' : st.isFIFO() ? 'fifo' : st.isDirectory() ? 'directory' : st.isSocket() ? 'socket' : 'device';
  },
  isDirectory: (p) => {
    try {
      return fs.statSync(p).isDirectory();
    } catch {
      return false;
    }
  },
  appArmor: appArmorEnabled,
  selinux: selinuxEnabled,
  resctrlRoot: () => resctrlRoot(fs.readFileSync('/proc/self/mountinfo', 'utf8')),
  systemdRunning: runningSystemd,
  isOwnNamespace(nsPath, type) {
    try {
      const theirs = fs.statSync(nsPath);
      const ours = fs.statSync(`/proc/self/ns/${type}`);
      return theirs.ino === ours.ino && theirs.dev === ours.dev;
    } catch {
      return false;
    }
  },
};

// ---------------------------------------------------------------- schema

interface SchemaValidator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

/** The JSON path of an ajv error, under `prefix`: `process.user.uid`, `linux.namespaces[1]`. */
export function jsonPath(e: ErrorObject, prefix = ''): string {
  const parts = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'required') parts.push(String((e.params as { missingProperty: string }).missingProperty));
  let out = prefix;
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out || '(root)';
}

function describe(e: ErrorObject): string {
  if (e.keyword === 'required') return 'is required';
  if (e.keyword === 'enum') return `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  return e.message ?? e.keyword;
}

function checkAgainst(validator: SchemaValidator, value: unknown, prefix: string, step: string): void {
  if (validator(value)) return;
  // The deepest error is the most specific one.
  const e = [...(validator.errors ?? [])].sort((a, b) => b.instancePath.length - a.instancePath.length)[0];
  if (!e) throw new ConfigError(prefix || '(root)', 'does not match the schema', step);
  throw new ConfigError(jsonPath(e, prefix), describe(e), step);
}

// ---------------------------------------------------------------- process

/** A cpu (or NUMA node) list ("0-3,7") as numbers, or an error naming the field. */
function cpuList(text: string, field: string, step = 'validate config', what = 'CPU'): number[] {
  const cpus = parseCpuList(text);
  if (!cpus) throw new ConfigError(field, `${JSON.stringify(text)} is not a ${what} list (such as "0-3,7") of ${what}s below 1024`, step);
  if (!cpus.length) throw new ConfigError(field, `is an empty ${what} list`, step);
  return cpus;
}

/** What a schema cannot say about a process, the same for create and exec. */
function checkProcess(p: ProcessConfig, field: string, step: string, host: HostFacts): void {
  const bad = (f: string, problem: string) => new ConfigError(`${field}.${f}`, problem, step);
  if (!p.args || p.args.length === 0 || p.args[0] === '') throw bad('args', 'must name a program (it is empty)');
  if (!p.cwd.startsWith('/')) throw bad('cwd', `"${p.cwd}" must be an absolute path`);
  for (const [i, s] of [p.cwd, ...p.args, ...(p.env ?? [])].entries()) {
    if (s.includes('\0')) throw new ConfigError(field, `a NUL byte in ${JSON.stringify(s.slice(0, 40))} (${i === 0 ? 'cwd' : 'args or env'})`, step);
  }
  for (const [i, e] of (p.env ?? []).entries()) {
    if (!e.includes('=') || e.startsWith('=')) throw bad(`env[${i}]`, `"${e}" is not of the form KEY=value`);
  }
  const seen = new Set<string>();
  for (const [i, r] of (p.rlimits ?? []).entries()) {
    if (!(r.type in RLIMIT)) throw bad(`rlimits[${i}].type`, `unknown rlimit "${r.type}"`);
    if (seen.has(r.type)) throw bad(`rlimits[${i}].type`, `duplicate rlimit "${r.type}"`);
    seen.add(r.type);
    if (r.soft > r.hard) throw bad(`rlimits[${i}]`, `soft limit ${r.soft} is above the hard limit ${r.hard}`);
  }
  if (p.consoleSize && !p.terminal) throw bad('consoleSize', 'is only meaningful with process.terminal');
  if (p.user?.username) throw bad('user.username', 'is not supported by this version of ocirun');
  const level = p.ioPriority?.priority ?? 0;
  if (p.ioPriority && (!Number.isInteger(level) || level < 0 || level > 7)) throw bad('ioPriority.priority', `must be 0 to 7, not ${level}`);
  const nice = p.scheduler?.nice;
  // runc checks the nice value only where the policy uses it.
  const usesNice = p.scheduler?.policy === 'SCHED_OTHER' || p.scheduler?.policy === 'SCHED_BATCH';
  if (usesNice && nice !== undefined && (nice < -20 || nice > 19)) throw bad('scheduler.nice', `must be -20 to 19, not ${nice}`);
  for (const when of ['initial', 'final'] as const) {
    const list = p.execCPUAffinity?.[when];
    if (list !== undefined) cpuList(list, `${field}.execCPUAffinity.${when}`, step);
  }
  if (p.apparmorProfile && !host.appArmor()) throw bad('apparmorProfile', 'an AppArmor profile is set but AppArmor is not enabled on this host');
  // runc's validator words it so.
  if (p.selinuxLabel && !host.selinux()) throw bad('selinuxLabel', 'selinux label is specified in config, but selinux is disabled or not supported');
}

/**
 * An exec'd process (exec --process FILE, or the config's process with the
 * flags over it): the schema and the same checks as config.json's process.
 */
export function validateProcess(value: unknown, host: HostFacts = realHost): asserts value is ProcessConfig {
  const step = 'validate process';
  checkAgainst(processSchema, value, 'process', step);
  checkProcess(value as ProcessConfig, 'process', step, host);
}

// ---------------------------------------------------------------- resources

/** Docker's "unset" for swappiness: -1, which reaches JSON as 2^64-1 through a uint64. */
export const swappinessSet = (v: number | undefined): v is number => v !== undefined && v !== -1 && v !== 18446744073709552000;
const nonZero = (v: number | undefined): v is number => v !== undefined && v !== 0;

/**
 * What linux.resources can be on this host's cgroups: v1 takes the v1
 * values as they are, v2 the ones runc can convert. runc's words where it
 * has them ("invalid configuration").
 */
function checkResources(r: ResourcesConfig, layout: CgroupLayout, field: string, step: string): void {
  const bad = (f: string, problem: string) => new ConfigError(`${field}.${f}`, problem, step);
  const m = r.memory;
  if (layout.mode !== 'v2') {
    if (r.unified && Object.keys(r.unified).length) throw bad('unified', 'invalid configuration: cgroup v2 (unified) resources need cgroup v2, and this host runs cgroup v1');
    if (m && swappinessSet(m.swappiness) && (m.swappiness < 0 || m.swappiness > 100)) throw bad('memory.swappiness', `invalid value ${m.swappiness}: the range is 0-100`);
    return;
  }
  if (m) {
    if (nonZero(m.swap) && m.swap > 0 && (!nonZero(m.limit) || m.limit < 0)) throw bad('memory.swap', 'needs memory.limit to be converted for cgroup v2');
    if (swappinessSet(m.swappiness)) throw bad('memory.swappiness', 'has no cgroup v2 equivalent');
    if (m.disableOOMKiller) throw bad('memory.disableOOMKiller', 'has no cgroup v2 equivalent');
  }
  if (r.cpu && (nonZero(r.cpu.realtimePeriod) || nonZero(r.cpu.realtimeRuntime))) throw bad('cpu.realtimeRuntime', 'has no cgroup v2 equivalent');
  if (r.network) throw bad('network', 'net_cls/net_prio have no cgroup v2 equivalent');
  for (const file of Object.keys(r.unified ?? {})) {
    if (file.includes('/') || file.startsWith('.')) throw bad(`unified.${file}`, 'is not a cgroup file name');
  }
}

/** `update`'s resources (-r FILE or the flags): the schema and the same checks as at create. */
export function validateResources(value: unknown, layout: CgroupLayout): asserts value is ResourcesConfig {
  const step = 'validate resources';
  checkAgainst(resourcesSchema, value, 'resources', step);
  checkResources(value as ResourcesConfig, layout, 'resources', step);
}

// ---------------------------------------------------------------- config

export interface ConfigCheckOptions {
  bundle: string;
  /** root.path as resolveRootfs (./load.ts) made it, symlinks refused; without it, root.path taken as written. */
  rootfs?: string;
  host?: HostFacts;
  /** --no-pivot */
  noPivot?: boolean;
  /** The host's cgroups, for linux.resources; without it the resources are checked against the schema only. */
  layout?: CgroupLayout;
  /** --systemd-cgroup: linux.cgroupsPath is systemd's "slice:prefix:name", and systemd must run. */
  systemdCgroup?: boolean;
}

/** What each check is given: the config (it matched the schema), the host, the options. */
interface CheckInput {
  config: Config;
  linux: NonNullable<Config['linux']>;
  /** root.path resolved against the bundle, once for every check. */
  rootfs: string;
  host: HostFacts;
  opts: ConfigCheckOptions;
}

/** One rule about a config (runc's validate.check): throws the ConfigError naming the bad field. */
type ConfigCheck = (c: CheckInput) => void;

const hasNamespace = (linux: CheckInput['linux'], type: string) => (linux.namespaces ?? []).some((n) => n.type === type);

function ociVersion({ config }: CheckInput): void {
  if (!supportedOciVersion(config.ociVersion)) {
    throw new ConfigError('ociVersion', `"${config.ociVersion}" is not a runtime-spec version this runtime reads (up to 1.3.x)`);
  }
}

function otherPlatforms({ config }: CheckInput): void {
  for (const other of ['solaris', 'windows', 'vm', 'zos', 'freebsd'] as const) {
    if (config[other] !== undefined) throw new ConfigError(other, 'is for another platform; this runtime runs Linux containers');
  }
}

/** The root-path guard: a root, and a directory where it points. */
function rootPath({ config, host, rootfs }: CheckInput): void {
  if (!config.root) throw new ConfigError('root', 'is required on Linux');
  if (!host.isDirectory(rootfs)) throw new ConfigError('root.path', `${rootfs} does not exist or is not a directory`);
}

function processPresent({ config, host }: CheckInput): void {
  if (!config.process) throw new ConfigError('process', 'is required to create a container');
  checkProcess(config.process, 'process', 'validate config', host);
}

function namespaces({ linux, host }: CheckInput): void {
  const seen = new Set<string>();
  for (const [i, ns] of (linux.namespaces ?? []).entries()) {
    if (!(NamespaceTypes as readonly string[]).includes(ns.type)) throw new ConfigError(`linux.namespaces[${i}].type`, `unknown namespace "${ns.type}"`);
    if (seen.has(ns.type)) throw new ConfigError(`linux.namespaces[${i}].type`, `namespace "${ns.type}" is listed twice`);
    seen.add(ns.type);
    // An empty path is none, as runc reads it (a new namespace; runc 1.3.6's run.bats writes one).
    if (!ns.path) continue;
    if (!ns.path.startsWith('/')) throw new ConfigError(`linux.namespaces[${i}].path`, `"${ns.path}" must be an absolute path`);
    const kind = host.fileKind(ns.path);
    // A rootless caller cannot reach another user's namespaces: EACCES, not "does not exist".
    if (/^E[A-Z]+$/.test(kind)) throw new ConfigError(`linux.namespaces[${i}].path`, kind === 'ENOENT' ? `${ns.path} does not exist` : `${ns.path}: stat: ${kind}`);
    // Namespace files (/proc/PID/ns/*, or one bound elsewhere) are regular
    // files; opening a fifo there would hang create for good (runc 1.3.6's too).
    if (kind !== 'file') throw new ConfigError(`linux.namespaces[${i}].path`, `${ns.path} is a ${kind}, not a namespace file (EINVAL)`);
    // pivot_root in the runtime's own mount namespace would move the host's root (runc does not check).
    if (ns.type === 'mount' && host.isOwnNamespace(ns.path, 'mnt')) {
      throw new ConfigError(`linux.namespaces[${i}].path`, "is the runtime's own mount namespace; leave the mount namespace out to share it");
    }
  }
}

function idMappings({ linux }: CheckInput): void {
  const userNs = linux.namespaces?.find((n) => n.type === 'user');
  const hasMaps = (linux.uidMappings?.length ?? 0) > 0 && (linux.gidMappings?.length ?? 0) > 0;
  if (userNs && !userNs.path && !hasMaps) throw new ConfigError('linux.uidMappings', 'a new user namespace needs uidMappings and gidMappings');
  if (!userNs && (linux.uidMappings?.length || linux.gidMappings?.length)) throw new ConfigError('linux.uidMappings', 'id mappings need a user namespace in linux.namespaces');
}

/** Never the host's: runc refuses these without a UTS namespace of the container's own. */
function uts({ config, linux }: CheckInput): void {
  if (config.hostname && !hasNamespace(linux, 'uts')) throw new ConfigError('hostname', 'unable to set hostname without a private UTS namespace');
  if (config.domainname && !hasNamespace(linux, 'uts')) throw new ConfigError('domainname', 'unable to set domainname without a private UTS namespace');
}

function timeOffsets({ linux }: CheckInput): void {
  if (linux.timeOffsets && !(linux.namespaces ?? []).some((n) => n.type === 'time' && !n.path)) {
    throw new ConfigError('linux.timeOffsets', 'time offsets need a new time namespace in linux.namespaces');
  }
}

/**
 * Without a mount namespace of its own, runc still makes the host's `/`
 * rslave (or as rootfsPropagation says) and moves the rootfs over the
 * host's `/` with --no-pivot. Each of those would change the host, so here
 * they are refused; masked and read-only paths are refused with runc's own
 * words. root.readonly runc (1.1.5 and 1.3.6) ignores there, and so does
 * ocirun, with a warning (planContainer), so that such configs run.
 */
function withoutMountNs({ config, linux, opts, rootfs }: CheckInput): void {
  if (hasNamespace(linux, 'mount')) return;
  const why = 'without a private mount namespace';
  if (linux.maskedPaths?.length || linux.readonlyPaths?.length) {
    throw new ConfigError(linux.maskedPaths?.length ? 'linux.maskedPaths' : 'linux.readonlyPaths', `unable to restrict sys entries ${why}`);
  }
  if (linux.rootfsPropagation) throw new ConfigError('linux.rootfsPropagation', `cannot be applied ${why}: it would change the host's own mount propagation`);
  if (opts.noPivot) throw new ConfigError('linux.namespaces', `--no-pivot cannot be used ${why}: it would move the rootfs over the host's /`);
  if ((config.mounts?.length ?? 0) > 0 && rootfs === '/') {
    throw new ConfigError('root.path', `the rootfs is the host's /: its mounts would cover the host's own directories ${why}`);
  }
}

function cgroupsPath({ linux }: CheckInput): void {
  const cg = linux.cgroupsPath;
  if (cg === undefined) return;
  if (cg.includes('\n') || cg.includes('\0')) throw new ConfigError('linux.cgroupsPath', 'must not contain a newline or NUL');
  // ".." could name a cgroup outside the runtime's reach, and the root (or
  // an empty path after cleaning) is the host's own cgroup: a container
  // there would take every host process with it on delete.
  if (cg.split('/').includes('..')) throw new ConfigError('linux.cgroupsPath', `"${cg}" must not contain ".."`);
  if (cg !== '' && cg.split('/').every((p) => p === '' || p === '.')) throw new ConfigError('linux.cgroupsPath', `"${cg}" names the root of the cgroup hierarchy`);
  if (cg.length > 3000 || cg.split('/').some((p) => Buffer.byteLength(p) > 255)) throw new ConfigError('linux.cgroupsPath', 'is too long for a cgroup directory (255 bytes a component, 3000 in all)');
}

function resources({ linux, opts }: CheckInput): void {
  if (linux.resources && opts.layout) checkResources(linux.resources, opts.layout, 'linux.resources', 'validate config');
}

// Mount types that are not filesystems of their own.
const BIND_TYPES = new Set(['bind', 'rbind', 'none', '']);

function mounts({ config, linux, host }: CheckInput): void {
  const filesystems = host.filesystems();
  for (const [i, m] of (config.mounts ?? []).entries()) checkMount(m, `mounts[${i}]`, config, linux, filesystems);
}

function checkMount(m: NonNullable<Config['mounts']>[number], field: string, config: Config, linux: CheckInput['linux'], filesystems: Set<string>): void {
  // A relative destination is taken as relative to "/", with a warning
  // (planContainer), as runc 1.3.6 does (mountsWarn).
  const o = parseMountOptions(m.options);
  const isBind = (m.options ?? []).some((x) => x === 'bind' || x === 'rbind') || m.type === 'bind';
  const type = m.type ?? '';
  if (o.copyUp && type !== 'tmpfs') throw new ConfigError(`${field}.options`, 'tmpcopyup applies to tmpfs mounts only');
  if (!isBind && !BIND_TYPES.has(type)) {
    const base = type.split('.')[0];
    if (!filesystems.has(type) && !filesystems.has(base)) throw new ConfigError(`${field}.type`, `unknown filesystem type "${type}" (not in /proc/filesystems)`);
  }
  if (!isBind && BIND_TYPES.has(type) && type !== 'bind') throw new ConfigError(`${field}.type`, `"${type || '(none)'}" mounts need the bind or rbind option`);
  if (isBind && !m.source) throw new ConfigError(`${field}.source`, 'a bind mount needs a source');
  // runc's checkBindOptions: the kernel ignores a filesystem's options on a bind.
  if (isBind && o.data) throw new ConfigError(`${field}.options`, `bind mounts cannot have any filesystem-specific options applied (${JSON.stringify(o.data)})`);
  if (!o.idmap && !m.uidMappings && !m.gidMappings) return;
  // runc's checkIDMapMounts, with the container's user namespace as the fallback specconv gives.
  if (!isBind) throw new ConfigError(field, 'id-mapped mounts are only supported for bind mounts');
  const own = (m.uidMappings?.length ?? 0) > 0 || (m.gidMappings?.length ?? 0) > 0;
  const fromContainer = !own && !(m.uidMappings || m.gidMappings);
  const joinedUserns = linux.namespaces?.some((n) => n.type === 'user' && n.path);
  const maps = fromContainer ? [linux.uidMappings, linux.gidMappings] : [m.uidMappings, m.gidMappings];
  if (!(fromContainer && joinedUserns) && (!maps[0]?.length || !maps[1]?.length)) {
    throw new ConfigError(`${field}.uidMappings`, 'id-mapped mounts need both uidMappings and gidMappings (the mount\'s, or the container\'s user namespace)');
  }
}

/** sysctls that are namespaced, and which namespace each needs (runc's list). */
function sysctlNamespace(name: string): 'ipc' | 'network' | 'uts' | undefined {
  if (['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'].includes(name)) return 'ipc';
  if (name.startsWith('fs.mqueue.')) return 'ipc';
  if (name.startsWith('net.')) return 'network';
  if (name === 'kernel.hostname' || name === 'kernel.domainname') return 'uts';
  return undefined;
}

/** A sysctl named with slashes ("net/ipv4/ip_forward") in the dotted form, a dot in it being a slash (runc's convertSysctlVariableToDotsSeparator). */
const dottedSysctl = (name: string) => (/^[^./]*\//.test(name) ? name.replace(/[./]/g, (c) => (c === '.' ? '/' : '.')) : name);

/**
 * As runc 1.3.6: a net.* sysctl needs a network namespace other than the
 * runtime's own (a new one, or one joined by path), kernel.hostname is
 * refused for the hostname field, and a name may be written with slashes.
 */
function sysctls({ linux, host }: CheckInput): void {
  for (const name of Object.keys(linux.sysctl ?? {})) {
    const field = `linux.sysctl.${name}`;
    const dotted = dottedSysctl(name);
    const needs = sysctlNamespace(dotted);
    if (!needs) throw new ConfigError(field, `sysctl "${name}" is not in a separate kernel namespace, or is unknown`);
    if (!hasNamespace(linux, needs)) throw new ConfigError(field, `sysctl "${name}" needs a ${needs} namespace, and the container shares the host's`);
    const netns = needs === 'network' ? linux.namespaces?.find((n) => n.type === 'network')?.path : undefined;
    if (netns && host.isOwnNamespace(netns, 'net')) throw new ConfigError(field, `sysctl "${name}" not allowed in host network namespace (${netns} is the runtime's own)`);
    if (dotted === 'kernel.hostname') throw new ConfigError(field, 'sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" field');
    // A network sysctl is the container's network namespace's (a device
    // made there by a hook, say), which the host's /proc/sys does not show:
    // as runc, it is left to the write in the container.
    if (needs !== 'network' && !host.sysctlExists(name)) throw new ConfigError(field, `unknown sysctl "${name}" (no /proc/sys entry)`);
  }
}

/** Only the spec's hook kinds: other keys are allowed in the object (and ignored), as in runc. */
function hooks({ config }: CheckInput): void {
  for (const kind of HookKinds) {
    for (const [i, h] of (config.hooks?.[kind] ?? []).entries()) {
      if (!h.path.startsWith('/')) throw new ConfigError(`hooks.${kind}[${i}].path`, `"${h.path}" must be an absolute path`);
    }
  }
}

function devices({ linux }: CheckInput): void {
  for (const [i, d] of (linux.devices ?? []).entries()) {
    // A path outside /dev is made where the config says, as runc does.
    if (!d.path.startsWith('/')) throw new ConfigError(`linux.devices[${i}].path`, `"${d.path}" must be an absolute path`);
    if (d.type !== 'p' && (d.major === undefined || d.minor === undefined)) throw new ConfigError(`linux.devices[${i}]`, 'a block or character device needs major and minor');
  }
}

/** What can be refused before anything exists; libseccomp checks the rest in the init. */
function seccomp({ linux }: CheckInput): void {
  const s = linux.seccomp;
  if (!s) return;
  actionValue(s.defaultAction, s.defaultErrnoRet, 'linux.seccomp.defaultAction');
  for (const [i, r] of (s.syscalls ?? []).entries()) actionValue(r.action, r.errnoRet, `linux.seccomp.syscalls[${i}].action`);
  checkSeccompListener(s);
  // The kernel takes WAIT_KILLABLE_RECV only with a listener (EINVAL otherwise): say so up front.
  const i = (s.flags ?? []).indexOf('SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV');
  if (i >= 0 && !usesNotify(s)) throw new ConfigError(`linux.seccomp.flags[${i}]`, 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs an SCMP_ACT_NOTIFY rule (a listener)');
  kernelFilterFlags(s);
  for (const [i, rule] of (s.syscalls ?? []).entries()) {
    for (const [j, a] of (rule.args ?? []).entries()) {
      if (a.index > 5) throw new ConfigError(`linux.seccomp.syscalls[${i}].args[${j}].index`, `syscalls have 6 arguments; index ${a.index} is out of range`);
    }
  }
}

/**
 * The system calls that hand the notify fd over once the filter is loaded:
 * notified, they would wait for an agent that has no fd yet, for ever.
 * runc's init writes the fd's number with write(2) (the parent takes the fd
 * with pidfd_getfd); ocirun's init sends the fd itself with sendmsg(2), to
 * the agent or to the parent, so it refuses that one too (runc 1.1.5 and
 * 1.3.6 run such a profile).
 */
const HAND_OFF_SYSCALLS = ['write', 'sendmsg'];

/** runc's rules for listeners: a path to send the notify fd to; never the default action, nor the hand-off's calls. */
function checkSeccompListener(s: SeccompConfig): void {
  if (usesNotify(s)) {
    if (!s.listenerPath) throw new ConfigError('linux.seccomp.listenerPath', 'is required when an action is SCMP_ACT_NOTIFY');
    if (s.defaultAction === 'SCMP_ACT_NOTIFY') throw new ConfigError('linux.seccomp.defaultAction', 'SCMP_ACT_NOTIFY cannot be the default action');
    for (const [i, r] of (s.syscalls ?? []).entries()) {
      const name = r.action === 'SCMP_ACT_NOTIFY' ? HAND_OFF_SYSCALLS.find((n) => r.names.includes(n)) : undefined;
      if (name) throw new ConfigError(`linux.seccomp.syscalls[${i}]`, `SCMP_ACT_NOTIFY cannot be used for the ${name} syscall`);
    }
  }
  if (s.listenerPath && !path.isAbsolute(s.listenerPath)) throw new ConfigError('linux.seccomp.listenerPath', 'must be an absolute path');
}

/** runc ignores the flags with a warning; ocirun applies them (the spec names none: <sys/personality.h>'s). */
function personality({ linux }: CheckInput): void {
  const p = linux.personality;
  if (!p) return;
  for (const [i, f] of (p.flags ?? []).entries()) {
    if (!(f in PERSONALITY_FLAGS)) throw new ConfigError(`linux.personality.flags[${i}]`, `unknown personality flag ${JSON.stringify(f)} (one of ${Object.keys(PERSONALITY_FLAGS).join(', ')})`);
  }
  if (!((p.domain ?? '') in PERSONALITY_DOMAINS)) throw new ConfigError('linux.personality.domain', `must be LINUX or LINUX32, not ${JSON.stringify(p.domain ?? '')}`);
}

/** runc's rules: which modes take nodes (set_mempolicy(2) checks the nodes exist). */
function memoryPolicy({ linux }: CheckInput): void {
  const m = linux.memoryPolicy;
  if (!m) return;
  if (!m.mode) throw new ConfigError('linux.memoryPolicy.mode', 'is required');
  const nodes = m.nodes?.trim() ? cpuList(m.nodes, 'linux.memoryPolicy.nodes', 'validate config', 'NUMA node') : [];
  if ((m.mode === 'MPOL_DEFAULT' || m.mode === 'MPOL_LOCAL') && nodes.length) throw new ConfigError('linux.memoryPolicy.nodes', `${m.mode} takes no nodes, got ${nodes.length}`);
  if (m.mode !== 'MPOL_DEFAULT' && m.mode !== 'MPOL_LOCAL' && m.mode !== 'MPOL_PREFERRED' && !nodes.length) throw new ConfigError('linux.memoryPolicy.nodes', `${m.mode} needs at least one node`);
}

function intelRdt({ linux, host }: CheckInput): void {
  if (linux.intelRdt) checkIntelRdt(linux.intelRdt, host.resctrlRoot());
}

/** An interface name the kernel takes (runc's devValidName): at most 15 bytes, no '/', ':' or space, not "." or "..". */
const validIfName = (n: string) => n.length > 0 && Buffer.byteLength(n) <= 15 && n !== '.' && n !== '..' && !/[/:\s]/.test(n);

/** As runc: the devices need a network namespace of the container's (a new one or joined), and valid names. */
function netDevices({ linux }: CheckInput): void {
  if (!linux.netDevices || !Object.keys(linux.netDevices).length) return;
  if (!hasNamespace(linux, 'network')) throw new ConfigError('linux.netDevices', 'moving network devices needs a network namespace (linux.namespaces has none)');
  for (const [host, d] of Object.entries(linux.netDevices)) {
    if (!validIfName(host)) throw new ConfigError(`linux.netDevices[${JSON.stringify(host)}]`, 'is not a valid interface name');
    if (d.name && !validIfName(d.name)) throw new ConfigError(`linux.netDevices[${JSON.stringify(host)}].name`, `${JSON.stringify(d.name)} is not a valid interface name`);
  }
}

function systemdCgroupsPath({ linux, opts }: CheckInput): void {
  if (opts.systemdCgroup) checkSystemdCgroupsPath(linux.cgroupsPath ?? '');
}

function systemdRunning({ host, opts }: CheckInput): void {
  if (opts.systemdCgroup && !host.systemdRunning()) throw new RuntimeError('systemd', 'systemd not running on this host, cannot use systemd cgroups manager (no /run/systemd/system)');
}

/** In this order: the first refusal is the one reported. */
const configChecks: ConfigCheck[] = [
  ociVersion,
  otherPlatforms,
  rootPath,
  processPresent,
  namespaces,
  idMappings,
  uts,
  timeOffsets,
  withoutMountNs,
  cgroupsPath,
  resources,
  mounts,
  sysctls,
  hooks,
  devices,
  seccomp,
  personality,
  memoryPolicy,
  intelRdt,
  netDevices,
  systemdCgroupsPath,
  systemdRunning,
];

function runChecks(checks: ConfigCheck[], config: Config, opts: ConfigCheckOptions): void {
  const rootfs = opts.rootfs ?? path.resolve(opts.bundle, config.root?.path ?? '');
  const input: CheckInput = { config, linux: config.linux ?? {}, rootfs, host: opts.host ?? realHost, opts };
  for (const check of checks) check(input);
}

/** config.json as create takes it; throws a ConfigError naming the first bad field. */
export function validateConfig(value: unknown, opts: ConfigCheckOptions): asserts value is Config {
  checkAgainst(configSchema, value, '', 'validate config');
  runChecks(configChecks, value as Config, opts);
}

// ---------------------------------------------------------------- restore

const restoreRefusal = (problem: string) => new RuntimeError('restore', problem);

function restoreMountNamespace({ linux }: CheckInput): void {
  const mountNs = linux.namespaces?.find((n) => n.type === 'mount');
  if (!mountNs || mountNs.path) throw restoreRefusal('a container without a mount namespace of its own cannot be restored by this version');
}

/** CRIU's orphan-pts hand-over is not done. */
function restoreTerminal({ config }: CheckInput): void {
  if (config.process?.terminal) throw restoreRefusal('a container with process.terminal cannot be restored by this version');
}

/** runc runs them from CRIU's setup-namespaces notification, which only its RPC mode delivers. */
function restoreHooks({ config }: CheckInput): void {
  for (const kind of ['prestart', 'createRuntime'] as const) {
    if (config.hooks?.[kind]?.length) throw restoreRefusal(`hooks.${kind}: restore does not run these hooks in this version`);
  }
}

/** runc: CRIU cannot join a cgroup namespace. */
function restoreCgroupNamespace({ linux }: CheckInput): void {
  if (linux.namespaces?.some((n) => n.type === 'cgroup' && n.path)) throw restoreRefusal('Do not know how to handle namespace cgroup');
}

/** What a config that create takes can have and restore cannot do in this version, in this order. */
const restoreChecks: ConfigCheck[] = [restoreMountNamespace, restoreTerminal, restoreHooks, restoreCgroupNamespace];

/** A config validateConfig accepted, for restore: refuses what restore cannot do, before anything exists. */
export function validateForRestore(config: Config, opts: ConfigCheckOptions): void {
  runChecks(restoreChecks, config, opts);
}
