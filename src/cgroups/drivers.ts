/** Choosing a container's cgroup driver: once when it is made, then from what its state records. */
import type { Sys } from '../sys/types.js';
import { CgroupfsManager } from './cgroupfs.js';
import { cgroupPaths, type CgroupLayout } from './index.js';
import { unifiedOnly } from './paths.js';
import type { CgroupDriver, CgroupManager, CgroupRecord } from './manager.js';
import { SystemdScopeManager, type ScopeBus } from './systemd-scope.js';
import { annotationProperties, systemdPaths, systemdUnit } from './systemd.js';

export interface NewCgroupsOptions {
  layout: CgroupLayout;
  /** --systemd-cgroup. */
  systemd: boolean;
  rootless: boolean;
  sys?: Sys;
  id: string;
  /** linux.cgroupsPath (validated: "slice:prefix:name" for systemd). */
  cgroupsPath: string;
  /** The config's annotations (org.systemd.property.* become the scope's properties). */
  annotations?: Record<string, string>;
  command?: string;
  onStep?: (step: 'cgroups-made' | 'resources-written') => void;
  /** How systemd is reached (unit tests). */
  connect?: () => Promise<ScopeBus>;
}

/**
 * The manager of a container about to be made: systemd's with
 * --systemd-cgroup, else cgroupfs on the host's layout. Its paths are
 * computed, nothing is made yet; a bad annotation fails here.
 */
export function newCgroupManager(o: NewCgroupsOptions): CgroupManager {
  const opts = { layout: o.layout, rootless: o.rootless, sys: o.sys, cgroupsPath: o.cgroupsPath, command: o.command, onStep: o.onStep };
  if (o.systemd) {
    // The scope, from cgroupsPath's "slice:prefix:name".
    const scope = systemdUnit(o.cgroupsPath, o.id, o.rootless);
    return new SystemdScopeManager(scope, systemdPaths(o.layout, scope), { ...opts, id: o.id, annotations: annotationProperties(o.annotations), requested: false, connect: o.connect });
  }
  return new CgroupfsManager(o.layout.mode === 'v2' ? 'cgroupfs-v2' : 'cgroupfs-v1', cgroupPaths(o.layout, o.cgroupsPath, o.id), opts);
}

/** The driver of a state written before it was recorded: a unit is systemd's, a lone unified path v2's. */
export function driverOf(r: CgroupRecord): CgroupDriver {
  if (r.cgroupDriver) return r.cgroupDriver;
  if (r.systemdUnit) return 'systemd';
  return unifiedOnly(r.cgroupPaths) ? 'cgroupfs-v2' : 'cgroupfs-v1';
}

/** The manager of an existing container, from its state. */
export function cgroupManager(r: CgroupRecord & { id?: string }, opts: { rootless?: boolean; sys?: Sys; layout?: CgroupLayout; connect?: () => Promise<ScopeBus> } = {}): CgroupManager {
  const driver = driverOf(r);
  const o = { rootless: opts.rootless ?? false, sys: opts.sys, layout: opts.layout };
  if (driver === 'systemd' && r.systemdUnit) {
    return new SystemdScopeManager({ slice: '', unit: r.systemdUnit }, r.cgroupPaths, { ...o, id: r.id ?? '', connect: opts.connect });
  }
  return new CgroupfsManager(driver, r.cgroupPaths, o);
}
