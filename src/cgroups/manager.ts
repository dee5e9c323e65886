/**
 * A container's cgroups behind one interface, as runc's cgroups.Manager
 * (fs, fs2, systemd) and youki's CgroupManager: the driver is chosen once,
 * when the container is made (./drivers.ts), recorded in state.json, and
 * every command goes through the manager without knowing which it has.
 */
import type { ResourcesConfig } from '../config/schema.js';
import type { UnitProperty } from '../systemd/sdbus.js';
import type { CgroupLayout, CgroupLeft } from './index.js';
import type { CgroupWrite } from './resources.js';
import type { DeviceRuleSet } from './devices/emulator.js';
import type { Stats } from './stats.js';
import type { SubCgroups } from './sub-cgroups.js';

/** cgroupfs on v1 (or a hybrid host), cgroupfs on v2, or a systemd scope (runc's fs, fs2, systemd). */
export type CgroupDriver = 'cgroupfs-v1' | 'cgroupfs-v2' | 'systemd';

/** What state.json keeps of a container's cgroups. */
export interface CgroupRecord {
  cgroupPaths: Record<string, string>;
  /** Absent in state files written before it was recorded: derived from the rest (driverOf). */
  cgroupDriver?: CgroupDriver;
  /** The systemd driver's transient scope. */
  systemdUnit?: string;
}

/** What to apply: linux.resources, and whether device rules are set with them. */
export interface ResourceRequest {
  resources: ResourcesConfig | undefined;
  /**
   * Set the device rules: linux.resources.devices, then runc's defaults less
   * those of the config's linux.devices (create and restore always; update
   * only when the new resources name rules).
   */
  devices?: { linuxDevices: { path: string }[] | undefined };
  warn: (m: string) => void;
}

/**
 * linux.resources made ready to apply: computed before anything exists, so
 * that a value that does not convert fails with nothing left behind.
 */
export interface PreparedResources {
  /** Files to write (v1 device rules among them). */
  writes: CgroupWrite[];
  /** v2: the device rules as a BPF program. */
  deviceFilter?: Buffer;
  /** The device rules as v1 would hold them (for systemd's DevicePolicy/DeviceAllow). */
  deviceRules?: DeviceRuleSet;
  /** systemd: the unit properties of these limits. */
  properties: UnitProperty[];
  warn: (m: string) => void;
}

export interface CgroupManager {
  readonly driver: CgroupDriver;
  /** The host's cgroup mounts (read once, when first needed). */
  readonly layout: CgroupLayout;
  /** The container's directory on each hierarchy ("unified" for v2's), as state.json keeps it. */
  readonly paths: Record<string, string>;
  /** What state.json records of these cgroups. */
  record(): CgroupRecord;

  /** linux.resources as this driver applies them; throws on bad input, changes nothing. */
  prepare(req: ResourceRequest): PreparedResources;
  /** Before create, as runc 1.2+: refuses a cgroup that holds processes (1.1.5 warned), or a frozen one. */
  checkReusable(): void;
  /**
   * Before the init joins them (create: once it exists, while it waits for
   * its plan; restore: before CRIU runs): makes the cgroups and applies
   * `res`, or (a driver that makes them with the init in them) gets ready to.
   */
  create(res: PreparedResources): Promise<void>;
  /**
   * Once the init exists, before it gets its plan: whether the driver has
   * put it in its cgroups now (the systemd scope is started with it in it).
   * If not, the caller joins it (join, or primeJoin then join).
   */
  adopt(pid: number): Promise<boolean>;
  /** Applies `res` to cgroups that exist: files, device rules (v1 files or v2 BPF filter), unit properties. */
  apply(res: PreparedResources): Promise<void>;

  /** exec --cgroup's "[controller[,controller]:]path" arguments, checked against these cgroups. */
  subCgroups(args: string[] | undefined): SubCgroups;
  /**
   * Puts `pid` in the cgroups (or in the sub-cgroups asked for). With
   * `initPid` (an exec, no sub-cgroups, v2): should the container's cgroup
   * refuse it (EBUSY), the cgroup that init is in now, as runc's setnsProcess.
   */
  join(pid: number, sub?: SubCgroups, initPid?: number): void;
  /** Pays the migration's RCU wait early, while `pid` starts (see primeCgroupMigration). */
  primeJoin(pid: number): void;
  /** The memory and pids limits as the cgroups hold them now. */
  currentLimits(): ResourcesConfig;

  /** Whether the cgroups can be frozen at all. */
  hasFreezer(): boolean;
  /** The directory CRIU freezes the tasks with. */
  freezerDir(): string | undefined;
  /** `written`: called once the state was first written (fault points). */
  freeze(budgetMs?: number, written?: () => void): Promise<void>;
  thaw(budgetMs?: number, written?: () => void): Promise<void>;
  /** Every task frozen. */
  isFrozen(): boolean;
  /** Frozen, or on its way: the cgroups or any sub-cgroup (teardown's question). */
  needsThaw(): boolean;
  /**
   * Whether process `pid` is frozen by something other than the container's
   * pause: a cgroup of its own that the container froze, while the
   * container's cgroup is not paused (a pause ends with resume; that one
   * does not).
   */
  frozenApart(pid: number): boolean;
  /** Teardown: thaws the cgroups and every sub-cgroup, the container's own freezes included. */
  thawTree(budgetMs: number): Promise<void>;
  /** Sends a signal to every process in the cgroups, sub-cgroups included (runc's signalAllProcesses). */
  signalAll(signal: NodeJS.Signals | number, kill: (pid: number, signal: NodeJS.Signals | number) => void): Promise<void>;

  stats(): Stats;
  oomKills(): number;
  /** Pids in the cgroups and their sub-cgroups. */
  pids(): number[];

  /**
   * Removes the cgroups, every hierarchy's together, within a bound; what is
   * left is returned, not waited on. A driver with a unit stops it first;
   * that step's failure goes to `warn` (as "stop scope: ...") and removal goes on.
   */
  destroy(killStragglers: () => void, warn: (m: string) => void): Promise<CgroupLeft[]>;
  /** Releases what the manager holds open (the systemd bus). */
  close(): void;
}
