/**
 * The systemd driver (--systemd-cgroup), as runc's systemd managers: the
 * init is put in a transient scope through systemd's D-Bus API, with
 * Delegate=yes so that the scope's files are ours to write. Everything else
 * (the files, the device filter, freezing, removal of what systemd leaves)
 * is the cgroupfs driver's, on the scope's directories (./systemd.ts maps
 * the properties).
 */
import fs from 'node:fs';
import { step } from '../errors.js';
import type { SystemdBus, UnitProperty } from '../systemd/sdbus.js';
import { CgroupfsManager, type ManagerOptions } from './cgroupfs.js';
import { createCgroups, joinCgroups, type CgroupLeft } from './index.js';
import { deviceProperties, resourceProperties, unitProperties, type SystemdUnit } from './systemd.js';
import type { CgroupRecord, PreparedResources, ResourceRequest } from './manager.js';

export interface ScopeOptions extends ManagerOptions {
  /** The container's id (the unit's description). */
  id: string;
  /** The config's org.systemd.property.* annotations, as properties (computed before anything exists). */
  annotations?: UnitProperty[];
  /** A container being made: its unit is not asked for until adopt (so not stopped on failure before it). */
  requested?: boolean;
  /** How systemd is reached (unit tests give a recording bus). */
  connect?: () => Promise<ScopeBus>;
}

/** What the driver asks of systemd's bus (src/systemd/sdbus.ts). */
export type ScopeBus = Pick<SystemdBus, 'startTransientUnit' | 'stopUnit' | 'resetFailedUnit' | 'setUnitProperties' | 'close'>;

/** Loaded when first needed: the bus needs koffi, which the read-only commands do without. */
const systemdBus = (): Promise<ScopeBus> => import('../systemd/sdbus.js').then((m) => new m.SystemdBus());

export class SystemdScopeManager extends CgroupfsManager {
  private readonly scope: SystemdUnit;
  private readonly scopeOpts: ScopeOptions;
  private bus: ScopeBus | undefined;
  private readonly connect: () => Promise<ScopeBus>;
  private pending: PreparedResources | undefined;
  /** Whether the unit was asked for: a unit never asked for is not stopped (there may be no bus to ask). */
  private requested: boolean;

  constructor(scope: SystemdUnit, paths: Record<string, string>, opts: ScopeOptions) {
    super('systemd', paths, opts);
    this.scope = scope;
    this.scopeOpts = opts;
    this.requested = opts.requested ?? true;
    this.connect = opts.connect ?? systemdBus;
  }

  override record(): CgroupRecord {
    return { ...super.record(), systemdUnit: this.scope.unit };
  }

  /** The limits systemd has properties for too (or a daemon-reload would undo the files' values, runc does both). */
  override prepare(req: ResourceRequest): PreparedResources {
    const res = super.prepare(req);
    return { ...res, properties: resourceProperties(this.layout, req.resources) };
  }

  /** The device rules as DevicePolicy/DeviceAllow (rootless: none, as the files). */
  private deviceProperties(res: PreparedResources, debug?: (m: string) => void): UnitProperty[] {
    if (this.opts.rootless || !res.deviceRules) return [];
    return deviceProperties(res.deviceRules, res.warn, undefined, debug);
  }

  /** The scope's cgroups are made when the init is moved in (adopt): now only the bus is reached. */
  override async create(res: PreparedResources): Promise<void> {
    this.pending = res;
    this.bus = await this.connect();
  }

  /**
   * StartTransientUnit moves the init into the scope; the v1 hierarchies
   * systemd leaves alone (cpuset, freezer, ... : it even removes directories
   * there that it did not ask for) are made and joined through the files,
   * as runc's v1 systemd manager does; then the limits, which the unit's
   * start would have reset, are written. Before the init gets its plan: it
   * binds the v1 directories into the container, so they must exist; under
   * small limits its setup is then charged to them, as runc's init is.
   */
  override async adopt(pid: number): Promise<boolean> {
    const res = this.pending!;
    this.requested = true;
    // Its warnings once systemd is reached, as runc's.
    const devices = this.deviceProperties(res, (m) => this.debug(m));
    await this.bus!.startTransientUnit(this.scope.unit, [...unitProperties(this.scope, this.scopeOpts.id, pid, res.properties, devices), ...(this.scopeOpts.annotations ?? [])]);
    const missing = Object.fromEntries(Object.entries(this.paths).filter(([, dir]) => !fs.existsSync(dir)));
    step('create cgroups', () => createCgroups(this.layout, missing));
    joinCgroups(this.paths, pid);
    this.debug(`systemd scope ${this.scope.slice}/${this.scope.unit}; cgroups: ${[...new Set(Object.values(this.paths))].join(' ')}`);
    this.opts.onStep?.('cgroups-made');
    this.applyFiles(res);
    this.opts.onStep?.('resources-written');
    return true;
  }

  /**
   * The unit's properties first, then the files, as runc's systemd
   * managers' Set: systemd writes its own idea of a file when a property
   * changes (cpu.max from CPUQuotaPerSecUSec, rounded to 10 ms, or with its
   * default period), and the files must have the last word.
   */
  override async apply(res: PreparedResources): Promise<void> {
    const props = [...res.properties, ...this.deviceProperties(res)];
    if (props.length) {
      const bus = await this.connect();
      try {
        bus.setUnitProperties(this.scope.unit, props);
      } finally {
        bus.close();
      }
    }
    this.applyFiles(res);
  }

  /**
   * Stops the scope (its processes are gone by now) and resets it if it
   * failed, as runc's destroy; systemd removes the cgroups it made, the
   * cgroupfs removal the others.
   */
  override async destroy(killStragglers: () => void, warn: (m: string) => void): Promise<CgroupLeft[]> {
    if (this.requested) await this.stopScope().catch((err) => warn(`stop scope: ${(err as Error).message}`));
    return super.destroy(killStragglers, warn);
  }

  private async stopScope(): Promise<void> {
    const bus = await this.connect();
    try {
      // Its processes are dead by now: the stop job is quick, or systemd is
      // stuck, and teardown goes on to the cgroups either way.
      await bus.stopUnit(this.scope.unit, 3000);
      bus.resetFailedUnit(this.scope.unit);
    } finally {
      bus.close();
    }
  }

  override close(): void {
    this.bus?.close();
    this.bus = undefined;
  }
}
