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

/** The limits systemd has properties for (v2 and v1 names differ); the files carry them all too. */
export function resourceProperties(layout: CgroupLayout, r: ResourcesConfig | undefined): UnitProperty[] {
  const props: UnitProperty[] = [];
  const memory = r?.memory?.limit;
  if (memory !== undefined && memory !== null && memory > 0) props.push({ name: layout.mode === 'v2' ? 'MemoryMax' : 'MemoryLimit', type: 't', value: BigInt(memory) });
  const tasks = r?.pids?.limit;
  if (tasks !== undefined && tasks !== null && tasks > 0) props.push({ name: 'TasksMax', type: 't', value: BigInt(tasks) });
  return props;
}

/** Whether systemd is PID 1 here (runc's IsRunningSystemd). */
export function runningSystemd(): boolean {
  try {
    return fs.lstatSync('/run/systemd/system').isDirectory();
  } catch {
    return false;
  }
}
