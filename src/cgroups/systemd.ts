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
import type { ResourcesConfig } from '../spec/schema.js';
import type { UnitProperty } from '../systemd/sdbus.js';
import type { CgroupLayout } from './index.js';
import { sharesToWeight } from './resources.js';

export interface SystemdUnit {
  /** The slice, "system.slice" unless the config names one. */
  slice: string;
  /** The scope: `${prefix}-${name}.scope`. */
  unit: string;
}

/**
 * runc's cgroupsPath for systemd: "slice:prefix:name"; empty is
 * system.slice, prefix "runc" (here "ocirun"), the container id.
 */
export function systemdUnit(cgroupsPath: string, id: string, rootless = false): SystemdUnit {
  if (!cgroupsPath) return { slice: rootless ? 'user.slice' : 'system.slice', unit: `ocirun-${id}.scope` };
  const parts = cgroupsPath.split(':');
  if (parts.length !== 3) throw new ConfigError('linux.cgroupsPath', `expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got "${cgroupsPath}" instead`);
  const [slice, prefix, name] = parts;
  const s = slice || (rootless ? 'user.slice' : 'system.slice');
  expandSlice(s);
  if (!name || /[/\\]/.test(name) || /[/\\]/.test(prefix)) throw new ConfigError('linux.cgroupsPath', `"${cgroupsPath}": the unit name must be a single path component`);
  return { slice: s, unit: name.endsWith('.slice') ? name : `${prefix}-${name}.scope` };
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
 * (v2 and v1 names differ); org.systemd.property.* annotations are not
 * passed (a value's D-Bus type is not known from the annotation).
 */
export function unitProperties(layout: CgroupLayout, u: SystemdUnit, id: string, pid: number, r: ResourcesConfig | undefined): UnitProperty[] {
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
  return [...props, ...resourceProperties(layout, r)];
}

const USEC_INFINITY = 2n ** 64n - 1n;
const DEFAULT_CFS_PERIOD = 100_000;

/**
 * The limits systemd has properties for, as runc's genV1/genV2
 * ResourcesProperties map them (v2 and v1 names differ); every limit is
 * also written to the files. Device rules stay ocirun's (its v2 program,
 * its v1 rules), not DeviceAllow=.
 */
export function resourceProperties(layout: CgroupLayout, r: ResourcesConfig | undefined): UnitProperty[] {
  const v2 = layout.mode === 'v2';
  const props: UnitProperty[] = [];
  const t = (name: string, value: number | bigint) => props.push({ name, type: 't', value: BigInt(value) });
  const m = r?.memory;
  const limit = m?.limit ?? 0;
  if (limit > 0) t(v2 ? 'MemoryMax' : 'MemoryLimit', limit);
  if (v2 && m?.reservation) t('MemoryLow', m.reservation);
  // cgroup v2 counts swap alone: runc's ConvertMemorySwapToCgroupV2Value.
  if (v2 && m?.swap !== undefined && m.swap !== null && m.swap !== 0) {
    if (m.swap === -1) t('MemorySwapMax', USEC_INFINITY);
    else if (limit > 0 && m.swap >= limit) t('MemorySwapMax', m.swap - limit);
  }
  const c = r?.cpu;
  if (c?.shares) {
    if (v2) t('CPUWeight', sharesToWeight(c.shares));
    else t('CPUShares', c.shares);
  }
  const quota = c?.quota ?? 0;
  const period = c?.period ?? 0;
  if (period) t('CPUQuotaPeriodUSec', period);
  if (quota !== 0 || period !== 0) {
    // microseconds per CPU second, rounded up to 10 ms as systemd keeps it in percent (runc's addCpuQuota).
    let perSec = USEC_INFINITY;
    if (quota > 0) {
      let us = Math.floor((quota * 1_000_000) / (period || DEFAULT_CFS_PERIOD));
      if (us % 10_000 !== 0) us = (Math.floor(us / 10_000) + 1) * 10_000;
      perSec = BigInt(us);
    }
    t('CPUQuotaPerSecUSec', perSec);
  }
  if (v2 && c?.cpus) props.push({ name: 'AllowedCPUs', type: 'ay', value: cpuMask(c.cpus) });
  if (v2 && c?.mems) props.push({ name: 'AllowedMemoryNodes', type: 'ay', value: cpuMask(c.mems) });
  const tasks = r?.pids?.limit ?? 0;
  if (tasks > 0) t('TasksMax', tasks);
  else if (tasks === -1) t('TasksMax', USEC_INFINITY);
  if (!v2 && r?.blockIO?.weight) t('BlockIOWeight', r.blockIO.weight);
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

/** Whether systemd is PID 1 here (runc's IsRunningSystemd). */
export function runningSystemd(): boolean {
  try {
    return fs.lstatSync('/run/systemd/system').isDirectory();
  } catch {
    return false;
  }
}
