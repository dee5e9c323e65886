/**
 * The systemd cgroup driver (--systemd-cgroup), as runc's: the container's
 * init is put in a transient scope `prefix-name.scope` under a slice through
 * systemd's D-Bus API (src/systemd/sdbus.ts), with Delegate=yes so that its
 * cgroup files are ours to write. Limits go both ways, as runc's do: as unit
 * properties (systemd re-applies them on reload) and through the files
 * (cgroupfs), where systemd has no property.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import type { ResourcesConfig } from '../config/schema.js';
import type { UnitProperty } from '../systemd/sdbus.js';
import { parseVariant, VariantError } from '../systemd/variant.js';
import type { CgroupLayout } from './index.js';
import type { DeviceRuleSet } from './devices/emulator.js';
import { sharesToWeight } from './weights.js';

export interface SystemdUnit {
  /** The slice, "system.slice" unless the config names one. */
  slice: string;
  /** The scope: `${prefix}-${name}.scope`. */
  unit: string;
}

/**
 * runc's cgroupsPath for systemd: "slice:prefix:name"; empty is
 * system.slice, prefix "runc" (here "ocirun"), the container id. The
 * validator (src/config/validate.ts) refuses any other form first.
 */
export function checkSystemdCgroupsPath(cgroupsPath: string): void {
  if (!cgroupsPath) return;
  const parts = cgroupsPath.split(':');
  if (parts.length !== 3) throw new ConfigError('linux.cgroupsPath', `expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got "${cgroupsPath}" instead`);
  const [slice, prefix, name] = parts;
  if (slice) expandSlice(slice);
  if (!name || /[/\\]/.test(name) || /[/\\]/.test(prefix)) throw new ConfigError('linux.cgroupsPath', `"${cgroupsPath}": the unit name must be a single path component`);
}

/** The slice and scope of a cgroupsPath checkSystemdCgroupsPath accepted. */
export function systemdUnit(cgroupsPath: string, id: string, rootless = false): SystemdUnit {
  const defaultSlice = rootless ? 'user.slice' : 'system.slice';
  if (!cgroupsPath) return { slice: defaultSlice, unit: `ocirun-${id}.scope` };
  const [slice, prefix, name] = cgroupsPath.split(':');
  return { slice: slice || defaultSlice, unit: name.endsWith('.slice') ? name : `${prefix}-${name}.scope` };
}

/** systemd's slice naming: "a-b-c.slice" is /a.slice/a-b.slice/a-b-c.slice (runc's ExpandSlice). */
export function expandSlice(slice: string): string {
  const invalid = () => new ConfigError('linux.cgroupsPath', `invalid slice name: ${slice}`);
  if (!slice.endsWith('.slice') || slice.length <= '.slice'.length || slice.includes('/')) throw invalid();
  const base = slice.slice(0, -'.slice'.length);
  if (base === '-') return '/';
  let out = '';
  let prefix = '';
  for (const component of base.split('-')) {
    if (!component) throw invalid();
    out += `/${prefix}${component}.slice`;
    prefix += `${component}-`;
  }
  return out;
}

/** The scope's directory on each hierarchy: the same path under every mount, as systemd lays it out. */
export function systemdPaths(layout: CgroupLayout, u: SystemdUnit): Record<string, string> {
  const rel = path.posix.join(expandSlice(u.slice), u.unit);
  return Object.fromEntries(layout.hierarchies.map((h) => [h.name, path.join(h.mountPoint, rel)]));
}

/**
 * The scope's properties, as runc's systemd managers set them at start:
 * the slice, delegation, accounting, the pid, and the limits systemd knows
 * (resourceProperties, computed before anything exists: a unified value
 * that does not convert is bad input); then the config's org.systemd.property.*
 * annotations (annotationProperties), which come last and so win.
 */
export function unitProperties(u: SystemdUnit, id: string, pid: number, resources: UnitProperty[], devices?: UnitProperty[]): UnitProperty[] {
  const props: UnitProperty[] = [
    { name: 'Description', type: 's', value: `ocirun container ${id}` },
    { name: 'Slice', type: 's', value: u.slice },
    { name: 'Delegate', type: 'b', value: true },
    { name: 'PIDs', type: 'au', value: [pid] },
    { name: 'MemoryAccounting', type: 'b', value: true },
    { name: 'CPUAccounting', type: 'b', value: true },
    { name: 'IOAccounting', type: 'b', value: true },
    { name: 'TasksAccounting', type: 'b', value: true },
    { name: 'DefaultDependencies', type: 'b', value: false },
  ];
  return [...props, ...resources, ...(devices ?? [])];
}

/** systemd's "infinity" for a uint64 property: no memory limit, no tasks limit, no quota. */
const UINT64_INFINITY = 2n ** 64n - 1n;
const DEFAULT_CFS_PERIOD = 100_000;

/**
 * The limits systemd has properties for, as runc's genV1/genV2
 * ResourcesProperties map them (v2 and v1 names differ); every limit is
 * also written to the files. Device rules: deviceProperties.
 */
export function resourceProperties(layout: CgroupLayout, r: ResourcesConfig | undefined): UnitProperty[] {
  const v2 = layout.mode === 'v2';
  const props: UnitProperty[] = [];
  const t = (name: string, value: number | bigint) => props.push({ name, type: 't', value: BigInt(value) });
  const m = r?.memory;
  const limit = m?.limit ?? 0;
  // -1 is unlimited: runc passes it on as uint64, systemd's infinity.
  if (limit > 0 || limit === -1) t(v2 ? 'MemoryMax' : 'MemoryLimit', limit > 0 ? limit : UINT64_INFINITY);
  if (v2 && m?.reservation) t('MemoryLow', m.reservation);
  // cgroup v2 counts swap alone: runc's ConvertMemorySwapToCgroupV2Value.
  // Unlimited memory without a swap limit is unlimited swap too (runc's ConvertMemorySwapToCgroupV2Value).
  if (v2 && limit === -1 && !m?.swap) t('MemorySwapMax', UINT64_INFINITY);
  else if (v2 && m?.swap !== undefined && m.swap !== null && m.swap !== 0) {
    if (m.swap === -1) t('MemorySwapMax', UINT64_INFINITY);
    else if (limit > 0 && m.swap >= limit) t('MemorySwapMax', m.swap - limit);
  }
  const c = r?.cpu;
  if (c?.shares) {
    if (v2) t('CPUWeight', sharesToWeight(c.shares));
    else t('CPUShares', c.shares);
  }
  props.push(...cpuQuota(c?.quota ?? 0, c?.period ?? 0));
  if (v2 && c?.cpus) props.push({ name: 'AllowedCPUs', type: 'ay', value: cpuMask(c.cpus) });
  if (v2 && c?.mems) props.push({ name: 'AllowedMemoryNodes', type: 'ay', value: cpuMask(c.mems) });
  const tasks = r?.pids?.limit ?? 0;
  if (tasks > 0) t('TasksMax', tasks);
  else if (tasks === -1) t('TasksMax', UINT64_INFINITY);
  if (!v2 && r?.blockIO?.weight) t('BlockIOWeight', r.blockIO.weight);
  if (v2 && r?.unified) props.push(...unifiedProperties(r.unified));
  return props;
}

/** CPUQuotaPeriodUSec and CPUQuotaPerSecUSec, as runc's addCpuQuota. */
function cpuQuota(quota: number, period: number): UnitProperty[] {
  const props: UnitProperty[] = [];
  if (period) props.push({ name: 'CPUQuotaPeriodUSec', type: 't', value: BigInt(period) });
  if (quota !== 0 || period !== 0) {
    // microseconds per CPU second, rounded up to 10 ms as systemd keeps it in percent.
    let perSec = UINT64_INFINITY;
    if (quota > 0) {
      let us = Math.floor((quota * 1_000_000) / (period || DEFAULT_CFS_PERIOD));
      if (us % 10_000 !== 0) us = (Math.floor(us / 10_000) + 1) * 10_000;
      perSec = BigInt(us);
    }
    props.push({ name: 'CPUQuotaPerSecUSec', type: 't', value: perSec });
  }
  return props;
}

const UNIFIED_MEMORY: Record<string, string> = { 'memory.high': 'MemoryHigh', 'memory.low': 'MemoryLow', 'memory.min': 'MemoryMin', 'memory.max': 'MemoryMax', 'memory.swap.max': 'MemorySwapMax' };

/**
 * linux.resources.unified as unit properties, as runc's
 * unifiedResToSystemdProps maps them (and in its words when a value does not
 * convert); a file systemd has no property for is only written.
 */
export function unifiedProperties(unified: Record<string, string>): UnitProperty[] {
  const props: UnitProperty[] = [];
  for (const [k, raw] of Object.entries(unified)) {
    const bad = (problem: string) => new ConfigError(`linux.resources.unified.${k}`, `unified resource "${k}" ${problem}`);
    if (k.split('.').length < 2) throw bad('must be in the form CONTROLLER.PARAMETER');
    const v = raw.trim();
    const num = (text: string, what = 'value'): bigint => {
      if (!/^\d+$/.test(text)) throw bad(`${what} conversion error: invalid syntax in ${JSON.stringify(text)}`);
      return BigInt(text);
    };
    if (k === 'cpu.max') {
      const f = v.split(/\s+/).filter(Boolean);
      if (f.length < 1 || f.length > 2) throw bad(`value invalid: ${JSON.stringify(v)}`);
      props.push(...cpuQuota(f[0] === 'max' ? 0 : Number(num(f[0], 'quota value')), f.length === 2 ? Number(num(f[1], 'period value')) : DEFAULT_CFS_PERIOD));
    } else if (k === 'cpu.weight') props.push({ name: 'CPUWeight', type: 't', value: num(v) });
    else if (k === 'cpuset.cpus' || k === 'cpuset.mems') props.push({ name: k === 'cpuset.cpus' ? 'AllowedCPUs' : 'AllowedMemoryNodes', type: 'ay', value: cpuMask(v) });
    else if (UNIFIED_MEMORY[k]) props.push({ name: UNIFIED_MEMORY[k], type: 't', value: v === 'max' ? UINT64_INFINITY : num(v) });
    else if (k === 'pids.max') props.push({ name: 'TasksMax', type: 't', value: v === 'max' ? UINT64_INFINITY : num(v) });
  }
  return props;
}

/** A cpuset list ("0-2,5") as systemd's bitmask bytes, lowest CPU in the first byte's lowest bit. */
export function cpuMask(list: string): Buffer {
  const bits: number[] = [];
  for (const part of list.split(',').map((x) => x.trim()).filter(Boolean)) {
    const [a, b] = part.split('-').map(Number);
    for (let i = a; i <= (b ?? a); i++) bits.push(i);
  }
  const out = Buffer.alloc(Math.floor(Math.max(0, ...bits) / 8) + 1);
  for (const i of bits) out[i >> 3] |= 1 << (i & 7);
  return out;
}

const PROPERTY_PREFIX = 'org.systemd.property.';

/**
 * The config's `org.systemd.property.<Name>` annotations as unit
 * properties, as runc's initSystemdProps reads them: the name is ASCII
 * letters only, at least 3; the value is GVariant text (src/systemd/variant.ts);
 * a name documented with "Sec" (TimeoutStopSec) becomes systemd's "USec"
 * property, its number of seconds microseconds.
 */
export function annotationProperties(annotations: Record<string, string> | undefined): UnitProperty[] {
  const props: UnitProperty[] = [];
  for (const [key, text] of Object.entries(annotations ?? {})) {
    if (!key.startsWith(PROPERTY_PREFIX)) continue;
    let name = key.slice(PROPERTY_PREFIX.length);
    const bad = name.length < 3 ? 'too short' : /[^A-Za-z]/.test(name) ? 'contains non-alphabetic character' : '';
    if (bad) throw new ConfigError('annotations', `annotation ${key} name incorrect: ${bad}`);
    let prop: Pick<UnitProperty, 'type' | 'value'>;
    try {
      prop = parseVariant(text);
    } catch (err) {
      if (!(err instanceof VariantError)) throw err;
      throw new ConfigError('annotations', `annotation ${key}=${text} value parse error: ${err.message}`);
    }
    if (/[a-z]Sec$/.test(name)) {
      if (!/^[ynqiuxtd]$/.test(prop.type)) throw new ConfigError('annotations', `annotation ${key}=${text} value parse error: not a number`);
      name = `${name.slice(0, -3)}USec`;
      const v = prop.value as number | bigint;
      prop = { type: 't', value: typeof v === 'bigint' ? v * 1_000_000n : BigInt(Math.trunc(v * 1_000_000)) };
    }
    props.push({ name, ...prop });
  }
  return props;
}

/**
 * The device rules as DevicePolicy/DeviceAllow, as runc's
 * generateDeviceProperties: systemd knows allow-lists only ("strict"),
 * named by /dev/{char,block}/M:m paths, /proc/devices groups ("char-pts")
 * for a wildcard minor, and "char-*" for all. What it cannot express is
 * skipped with a warning; ocirun's own rules (v1 files, v2 BPF program)
 * still apply in the delegated cgroup, as runc's do.
 */
export function deviceProperties(set: DeviceRuleSet, warn: (m: string) => void, procDevices = () => fs.readFileSync('/proc/devices', 'utf8'), debug: (m: string) => void = () => {}): UnitProperty[] {
  const policy = (p: string, allow: [string, string][]): UnitProperty[] => [
    { name: 'DevicePolicy', type: 's', value: p },
    { name: 'DeviceAllow', type: 'a(ss)', value: allow },
  ];
  if (set.defaultAllow) {
    if (!set.rules.length) return policy('auto', []);
    warn("systemd doesn't support blacklist device rules -- applying temporary deny-all rule");
    return policy('strict', []);
  }
  const allow: [string, string][] = [];
  const kind = (t: 'c' | 'b') => (t === 'c' ? 'char' : 'block');
  let devicesList: string | undefined;
  for (const r of set.rules) {
    const text = `${r.type} ${r.major < 0 ? '*' : r.major}:${r.minor < 0 ? '*' : r.minor} ${r.access}`;
    if (r.major < 0) {
      if (r.minor >= 0) warn(`systemd doesn't support '*:n' device rules -- temporarily ignoring rule: ${text}`);
      else allow.push([`${kind(r.type)}-*`, r.access]);
    } else if (r.minor < 0) {
      const group = deviceGroup((devicesList ??= procDevices()), r.type, r.major);
      if (group) allow.push([`${kind(r.type)}-${group}`, r.access]);
      else warn(`could not find device group for '${r.type}/${r.major}' in /proc/devices -- temporarily ignoring rule: ${text}`);
    } else {
      // systemd warns about paths that do not exist; /dev/{char,block} is udev's, /sys/dev always there.
      // A device the host does not have (tun without its module) is a debug
      // line: runc warns, but under podman its warning is not seen and ours
      // would reach the container's stderr.
      const node = `/dev/${kind(r.type)}/${r.major}:${r.minor}`;
      if (fs.existsSync(node) || fs.existsSync(`/sys${node}`)) allow.push([node, r.access]);
      else debug(`skipping device ${node} for systemd: no such device`);
    }
  }
  return policy('strict', allow);
}

/** The name /proc/devices gives a major number, in the "Character devices:" or "Block devices:" part. */
function deviceGroup(procDevices: string, type: 'c' | 'b', major: number): string | undefined {
  let section = '';
  for (const line of procDevices.split('\n').map((l) => l.trim())) {
    if (line === 'Character devices:') section = 'c';
    else if (line === 'Block devices:') section = 'b';
    else if (section === type) {
      const [n, name] = line.split(/\s+/);
      if (Number(n) === major && name) return name;
    }
  }
  return undefined;
}

/** Whether systemd is PID 1 here (runc's IsRunningSystemd). */
export function runningSystemd(): boolean {
  try {
    return fs.lstatSync('/run/systemd/system').isDirectory();
  } catch {
    return false;
  }
}
