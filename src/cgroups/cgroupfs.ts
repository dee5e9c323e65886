/**
 * The cgroupfs drivers (runc's fs and fs2): the container's directories are
 * made, written and removed through the cgroup filesystems directly. v1
 * (and a hybrid host) writes device rules to devices.allow/deny; v2 compiles
 * them to a BPF program attached to the container's cgroup.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RuntimeError, step } from '../errors.js';
import { log } from '../log.js';
import type { ResourcesConfig } from '../config/schema.js';
import type { Sys } from '../sys/types.js';
import { cgroupPids, controllerDir, createCgroups, currentLimits, hostLayout, initCgroupProcsV2, joinCgroups, joinedIfPossible, primeCgroupMigration, refuseNonEmpty, removeCgroups, type CgroupLayout, type CgroupLeft } from './index.js';
import { freeze, hasFreezer, isFrozen, needsThaw, processFrozen, reads, refuseFrozen, thaw, thawTree } from './freezer.js';
import { allowedDeviceRules, resourceWrites, writeResources } from './resources.js';
import { deviceFilter, installDeviceFilter, targetDeviceRules } from './devices/index.js';
import { cgroupStats, oomKills, type Stats } from './stats.js';
import { unifiedOnly } from './paths.js';
import { execCgroupProcs, parseSubCgroups, type SubCgroups } from './sub-cgroups.js';
import type { CgroupDriver, CgroupManager, CgroupRecord, PreparedResources, ResourceRequest } from './manager.js';

export interface ManagerOptions {
  /** The host's layout if it was read already (else read when first needed). */
  layout?: CgroupLayout;
  rootless: boolean;
  /** For the v2 device filter's bpf(2) calls. */
  sys?: Sys;
  /**
   * A container being made: its config's cgroupsPath. Rootless, a hierarchy
   * without permission is skipped only where the config names none (runc's).
   */
  cgroupsPath?: string;
  /** The command making the container, for its --debug lines ("create", "restore"). */
  command?: string;
  /** Its steps as they are done (create's fault points). */
  onStep?: (step: 'cgroups-made' | 'resources-written') => void;
}

export class CgroupfsManager implements CgroupManager {
  readonly driver: CgroupDriver;
  readonly paths: Record<string, string>;
  protected readonly opts: ManagerOptions;
  private hostLayout: CgroupLayout | undefined;

  constructor(driver: CgroupDriver, paths: Record<string, string>, opts: ManagerOptions) {
    this.driver = driver;
    this.paths = paths;
    this.opts = opts;
    this.hostLayout = opts.layout;
  }

  get layout(): CgroupLayout {
    return (this.hostLayout ??= step('detect cgroups', () => hostLayout()));
  }

  record(): CgroupRecord {
    return { cgroupPaths: this.paths, cgroupDriver: this.driver };
  }

  prepare(req: ResourceRequest): PreparedResources {
    const allowed = req.devices ? allowedDeviceRules(req.devices.linuxDevices) : [];
    const configured = req.resources?.devices ?? [];
    const writes = resourceWrites(this.layout, req.resources, allowed, req.warn);
    // On v2 the same rules become a BPF program (v1 gets them as devices.allow/deny writes).
    const filter = req.devices && this.layout.mode === 'v2' ? step('device rules', () => deviceFilter(configured, allowed)) : undefined;
    return { writes, deviceFilter: filter, deviceRules: req.devices ? targetDeviceRules(configured, allowed) : undefined, properties: [], warn: req.warn };
  }

  checkReusable(): void {
    refuseNonEmpty(this.paths);
    refuseFrozen(this.paths);
  }

  async create(res: PreparedResources): Promise<void> {
    const rootless = this.opts.rootless ? { cgroupsPath: this.opts.cgroupsPath ?? '' } : undefined;
    const skipped = step('create cgroups', () => createCgroups(this.layout, this.paths, rootless));
    for (const name of skipped) delete this.paths[name];
    if (skipped.length) this.debug(`no cgroup of its own on ${skipped.join(', ')} (not ours to make or join); the container stays in the caller's there`);
    this.debug(`cgroups: ${[...new Set(Object.values(this.paths))].join(' ')}`);
    this.opts.onStep?.('cgroups-made');
    this.applyFiles(res);
    this.opts.onStep?.('resources-written');
  }

  protected debug(m: string): void {
    log.debug(`${this.opts.command ?? 'create'}: ${m}`);
  }

  /** The cgroups exist already: the caller joins the init when it is time to. */
  async adopt(_pid: number): Promise<boolean> {
    return false;
  }

  async apply(res: PreparedResources): Promise<void> {
    this.applyFiles(res);
  }

  /**
   * The files and the device rules. Rootless, device rules are not
   * enforced, as runc's managers ignore their failure (attaching a BPF
   * program needs the host's privileges).
   */
  protected applyFiles(res: PreparedResources): void {
    writeResources(this.paths, res.writes, this.opts.rootless);
    if (res.deviceFilter && !this.opts.rootless) {
      if (!this.opts.sys) throw new Error('the device filter needs the system call interface');
      installDeviceFilter(this.opts.sys, this.paths.unified, res.deviceFilter);
    }
  }

  subCgroups(args: string[] | undefined): SubCgroups {
    const sub = parseSubCgroups(args);
    execCgroupProcs(this.paths, sub);
    return sub;
  }

  join(pid: number, sub?: SubCgroups, initPid?: number): void {
    const fallback = sub?.size || initPid === undefined ? undefined : initCgroupProcsV2(this.layout, initPid);
    // As runc: the init's join drops a failure where the hierarchy is joined
    // only if possible (its NameGroup: the hybrid v2 mount, name=systemd);
    // an exec's (initPid given) drops every failure rootless (setnsProcess).
    const exec = initPid !== undefined;
    const mayFail = (name: string) => (exec ? this.opts.rootless : joinedIfPossible(this.paths, name));
    joinCgroups(this.paths, pid, sub, fallback, mayFail);
  }

  primeJoin(pid: number): void {
    primeCgroupMigration(this.layout, pid);
  }

  currentLimits(): ResourcesConfig {
    return currentLimits(this.paths);
  }

  hasFreezer(): boolean {
    return hasFreezer(this.paths);
  }

  freezerDir(): string | undefined {
    return controllerDir(this.paths, 'freezer') ?? this.paths.unified;
  }

  async freeze(budgetMs = 4000, written?: () => void): Promise<void> {
    this.needFreezer();
    return freeze(this.paths, budgetMs, written);
  }

  async thaw(budgetMs = 4000, written?: () => void): Promise<void> {
    this.needFreezer();
    return thaw(this.paths, budgetMs, written);
  }

  /** Rootless, the container may have no freezer cgroup: runc's words, and why. */
  private needFreezer(): void {
    if (this.opts.rootless && !controllerDir(this.paths, 'freezer') && !this.paths.unified) {
      throw new RuntimeError('', 'cannot toggle freezer: cgroups not configured for container (rootless: no permission to create them)');
    }
  }

  isFrozen(): boolean {
    return isFrozen(this.paths);
  }

  needsThaw(): boolean {
    return needsThaw(this.paths);
  }

  frozenApart(pid: number): boolean {
    return processFrozen(pid, this.layout) && reads(this.paths, 'thawed');
  }

  thawTree(budgetMs: number): Promise<void> {
    return thawTree(this.paths, budgetMs);
  }

  /**
   * On cgroup v2, SIGKILL is cgroup.kill: the kernel kills the whole
   * subtree, forks in flight included. Otherwise the cgroup is frozen while
   * its pids are listed and signalled, so that none forks away meanwhile,
   * then thawed.
   */
  async signalAll(signal: NodeJS.Signals | number, kill: (pid: number, signal: NodeJS.Signals | number) => void): Promise<void> {
    const paths = this.paths;
    const killFile = unifiedOnly(paths) ? path.join(paths.unified, 'cgroup.kill') : undefined;
    if ((signal === 'SIGKILL' || signal === 9) && killFile && fs.existsSync(killFile)) {
      fs.writeFileSync(killFile, '1');
      return;
    }
    // A freeze that does not complete within its budget is undone by freeze
    // itself: the signals then go to a running cgroup, as without a freezer.
    const frozen = hasFreezer(paths) && !isFrozen(paths) ? await freeze(paths, 1000).then(() => true, () => false) : false;
    try {
      for (const pid of cgroupPids(paths)) kill(pid, signal);
    } finally {
      if (frozen) await thaw(paths, 1000).catch(() => {});
    }
  }

  stats(): Stats {
    return cgroupStats(this.paths);
  }

  oomKills(): number {
    return oomKills(this.paths);
  }

  pids(): number[] {
    return cgroupPids(this.paths);
  }

  destroy(killStragglers: () => void, _warn?: (m: string) => void): Promise<CgroupLeft[]> {
    return removeCgroups(this.paths, killStragglers);
  }

  close(): void {}
}
