/**
 * The checks a schema cannot express. Each failure names the JSON path of the
 * field. Host facts (filesystems, sysctls, paths) come through `HostFacts`
 * so that unit tests can supply their own.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { RLIMIT } from '../sys/constants.js';
import { HookKinds, NamespaceTypes, supportedOciVersion } from './constants.js';
import type { Config } from './schema.js';

export interface HostFacts {
  filesystems(): Set<string>;
  sysctlExists(name: string): boolean;
  exists(p: string): boolean;
  isDirectory(p: string): boolean;
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
  exists: (p) => fs.existsSync(p),
  isDirectory: (p) => {
    try {
      return fs.statSync(p).isDirectory();
    } catch {
      return false;
    }
  },
};

// Mount types that are not filesystems of their own.
const BIND_TYPES = new Set(['bind', 'rbind', 'none', '']);

/** sysctls that are namespaced, and which namespace each needs (runc's list). */
function sysctlNamespace(name: string): 'ipc' | 'network' | 'uts' | undefined {
  if (['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'].includes(name)) return 'ipc';
  if (name.startsWith('fs.mqueue.')) return 'ipc';
  if (name.startsWith('net.')) return 'network';
  if (name === 'kernel.hostname' || name === 'kernel.domainname') return 'uts';
  return undefined;
}

export function checkSemantics(config: Config, bundle: string, host: HostFacts = realHost): void {
  if (!supportedOciVersion(config.ociVersion)) {
    throw new ConfigError('ociVersion', `"${config.ociVersion}" is not a runtime-spec version this runtime reads (up to 1.3.x)`);
  }
  for (const other of ['solaris', 'windows', 'vm', 'zos', 'freebsd'] as const) {
    if (config[other] !== undefined) throw new ConfigError(other, 'is for another platform; this runtime runs Linux containers');
  }
  if (!config.root) throw new ConfigError('root', 'is required on Linux');
  const rootfs = path.resolve(bundle, config.root.path);
  if (!host.isDirectory(rootfs)) throw new ConfigError('root.path', `${rootfs} does not exist or is not a directory`);

  const p = config.process;
  if (!p) throw new ConfigError('process', 'is required to create a container');
  if (!p.args || p.args.length === 0 || p.args[0] === '') throw new ConfigError('process.args', 'must name a program (it is empty)');
  if (!p.cwd.startsWith('/')) throw new ConfigError('process.cwd', `"${p.cwd}" must be an absolute path`);
  for (const [i, e] of (p.env ?? []).entries()) {
    if (!e.includes('=') || e.startsWith('=')) throw new ConfigError(`process.env[${i}]`, `"${e}" is not of the form KEY=value`);
  }
  const seenRlimits = new Set<string>();
  for (const [i, r] of (p.rlimits ?? []).entries()) {
    if (!(r.type in RLIMIT)) throw new ConfigError(`process.rlimits[${i}].type`, `unknown rlimit "${r.type}"`);
    if (seenRlimits.has(r.type)) throw new ConfigError(`process.rlimits[${i}].type`, `duplicate rlimit "${r.type}"`);
    seenRlimits.add(r.type);
    if (r.soft > r.hard) throw new ConfigError(`process.rlimits[${i}]`, `soft limit ${r.soft} is above the hard limit ${r.hard}`);
  }
  if (p.consoleSize && !p.terminal) throw new ConfigError('process.consoleSize', 'is only meaningful with process.terminal');

  const linux = config.linux ?? {};
  const seen = new Map<string, number>();
  for (const [i, ns] of (linux.namespaces ?? []).entries()) {
    if (!(NamespaceTypes as readonly string[]).includes(ns.type)) throw new ConfigError(`linux.namespaces[${i}].type`, `unknown namespace "${ns.type}"`);
    if (seen.has(ns.type)) throw new ConfigError(`linux.namespaces[${i}].type`, `namespace "${ns.type}" is listed twice`);
    seen.set(ns.type, i);
    if (ns.path !== undefined) {
      if (!ns.path.startsWith('/')) throw new ConfigError(`linux.namespaces[${i}].path`, `"${ns.path}" must be an absolute path`);
      if (!host.exists(ns.path)) throw new ConfigError(`linux.namespaces[${i}].path`, `${ns.path} does not exist`);
    }
  }
  const userNs = linux.namespaces?.find((n) => n.type === 'user');
  const hasMaps = (linux.uidMappings?.length ?? 0) > 0 && (linux.gidMappings?.length ?? 0) > 0;
  if (userNs && !userNs.path && !hasMaps) throw new ConfigError('linux.uidMappings', 'a new user namespace needs uidMappings and gidMappings');
  if (!userNs && (linux.uidMappings?.length || linux.gidMappings?.length)) throw new ConfigError('linux.uidMappings', 'id mappings need a user namespace in linux.namespaces');
  // Never the host's: runc refuses these without a UTS namespace of the container's own.
  const hasUts = linux.namespaces?.some((n) => n.type === 'uts');
  if (config.hostname && !hasUts) throw new ConfigError('hostname', 'unable to set hostname without a private UTS namespace');
  if (config.domainname && !hasUts) throw new ConfigError('domainname', 'unable to set domainname without a private UTS namespace');
  if (linux.timeOffsets && !linux.namespaces?.some((n) => n.type === 'time' && !n.path)) {
    throw new ConfigError('linux.timeOffsets', 'time offsets need a new time namespace in linux.namespaces');
  }
  if (linux.cgroupsPath !== undefined) {
    const cg = linux.cgroupsPath;
    if (cg.includes('\n') || cg.includes('\0')) throw new ConfigError('linux.cgroupsPath', 'must not contain a newline or NUL');
    // ".." could name a cgroup outside the runtime's reach, and the root (or
    // an empty path after cleaning) is the host's own cgroup: a container
    // there would take every host process with it on delete.
    if (cg.split('/').includes('..')) throw new ConfigError('linux.cgroupsPath', `"${cg}" must not contain ".."`);
    if (cg !== '' && cg.split('/').every((p) => p === '' || p === '.')) throw new ConfigError('linux.cgroupsPath', `"${cg}" names the root of the cgroup hierarchy`);
    if (cg.length > 3000 || cg.split('/').some((p) => Buffer.byteLength(p) > 255)) throw new ConfigError('linux.cgroupsPath', 'is too long for a cgroup directory (255 bytes a component, 3000 in all)');
  }

  const filesystems = host.filesystems();
  for (const [i, m] of (config.mounts ?? []).entries()) {
    if (!m.destination.startsWith('/') && !(config.ociVersion.startsWith('1.0.'))) {
      throw new ConfigError(`mounts[${i}].destination`, `"${m.destination}" must be an absolute path`);
    }
    const isBind = (m.options ?? []).some((o) => o === 'bind' || o === 'rbind') || m.type === 'bind';
    const type = m.type ?? '';
    if (!isBind && !BIND_TYPES.has(type)) {
      const base = type.split('.')[0];
      if (!filesystems.has(type) && !filesystems.has(base)) throw new ConfigError(`mounts[${i}].type`, `unknown filesystem type "${type}" (not in /proc/filesystems)`);
    }
    if (!isBind && BIND_TYPES.has(type) && type !== 'bind') throw new ConfigError(`mounts[${i}].type`, `"${type || '(none)'}" mounts need the bind or rbind option`);
    if (isBind && !m.source) throw new ConfigError(`mounts[${i}].source`, 'a bind mount needs a source');
    if (m.uidMappings || m.gidMappings) throw new ConfigError(`mounts[${i}].uidMappings`, 'id-mapped mounts are not supported by this runtime yet');
  }

  for (const name of Object.keys(linux.sysctl ?? {})) {
    const field = `linux.sysctl.${name}`;
    const needs = sysctlNamespace(name);
    if (!needs) throw new ConfigError(field, `sysctl "${name}" is not in a separate kernel namespace, or is unknown`);
    const ns = linux.namespaces?.find((n) => n.type === needs);
    if (!ns) throw new ConfigError(field, `sysctl "${name}" needs a ${needs} namespace, and the container shares the host's`);
    if (!host.sysctlExists(name)) throw new ConfigError(field, `unknown sysctl "${name}" (no /proc/sys entry)`);
  }

  // Only the spec's hook kinds: other keys are allowed in the object (and ignored), as in runc.
  for (const kind of HookKinds) {
    for (const [i, h] of (config.hooks?.[kind] ?? []).entries()) {
      if (!h.path.startsWith('/')) throw new ConfigError(`hooks.${kind}[${i}].path`, `"${h.path}" must be an absolute path`);
    }
  }
  for (const [i, d] of (linux.devices ?? []).entries()) {
    if (!d.path.startsWith('/dev/') && d.path !== '/dev') throw new ConfigError(`linux.devices[${i}].path`, `"${d.path}" must be under /dev`);
    if (d.type !== 'p' && (d.major === undefined || d.minor === undefined)) throw new ConfigError(`linux.devices[${i}]`, 'a block or character device needs major and minor');
  }
  for (const [field, list] of [['linux.maskedPaths', linux.maskedPaths], ['linux.readonlyPaths', linux.readonlyPaths]] as const) {
    for (const [i, p2] of (list ?? []).entries()) if (!p2.startsWith('/')) throw new ConfigError(`${field}[${i}]`, `"${p2}" must be an absolute path`);
  }
}
