/**
 * linux.resources as cgroup file writes. `resourceWrites` is pure (it turns
 * the config into an ordered list of {controller, file, value}) so unit tests
 * can check it against fake layouts; `writeResources` performs the list.
 * v1 values go to v1 files; on v2 they are converted as runc converts them.
 * What cannot be converted was refused by src/config/validate.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RuntimeError } from '../errors.js';
import { swappinessSet } from '../config/validate.js';
import type { ResourcesConfig } from '../config/schema.js';

import { controllerDir, type CgroupLayout } from './index.js';
import { deviceRule, targetDeviceRules } from './devices/index.js';
import { deviceTransition, parseDevicesList, ruleText, type DeviceRuleSet } from './devices/emulator.js';
import { DEFAULT_DEVICES } from '../config/plan.js';
import { blkioToIoWeight, sharesToWeight } from './weights.js';

/** Writes a file the kernel made: never O_CREAT, so a file it lacks is ENOENT, as runc reports it. */
function writeExisting(file: string, value: string): void {
  const fd = fs.openSync(file, fs.constants.O_WRONLY);
  try {
    fs.writeSync(fd, value);
  } finally {
    fs.closeSync(fd);
  }
}

export interface CgroupWrite {
  /** Controller whose hierarchy holds the file ("memory", "cpu", ...; "unified" on v2). */
  controller: string;
  file: string;
  value: string;
  /** Skipped where the kernel lacks the file (memsw without swap accounting). */
  ifExists?: boolean;
  /** If the kernel refuses this write (EINVAL), it is tried again right after the write of this file. */
  retryAfter?: string;
  /** Written here instead where the kernel lacks `file` (BFQ's weights where CFQ's are gone). */
  orElse?: string;
  /**
   * v1's devices controller: the rules the cgroup must end with, written as
   * the fewest devices.allow/deny writes from what its devices.list shows.
   */
  devices?: DeviceRuleSet;
}

/** runc's default device rules, appended after the configured ones (specconv.AllowedDevices): wildcards, the default nodes, pts, ptmx, tun. */
export const DEFAULT_DEVICE_RULES = [
  'c *:* m', 'b *:* m', 'c 1:3 rwm', 'c 1:8 rwm', 'c 1:7 rwm', 'c 5:0 rwm', 'c 1:5 rwm', 'c 1:9 rwm', 'c 136:* rwm', 'c 5:2 rwm', 'c 10:200 rwm',
];

/**
 * As runc (specconv.AllowedDevices): the rules that follow the config's,
 * runc's defaults less those of default nodes that linux.devices replaces.
 * linux.devices get no rule of their own: a node the config's rules deny
 * exists but cannot be opened, by the init or by an exec'd process.
 */
export function allowedDeviceRules(linuxDevices: { path: string }[] | undefined): string[] {
  const replaced = DEFAULT_DEVICES.filter((d) => linuxDevices?.some((c) => c.path === d.path)).map((d) => deviceRule({ ...d, access: 'rwm' }));
  return DEFAULT_DEVICE_RULES.filter((r) => !replaced.includes(r));
}

const num = (v: number) => String(Math.trunc(v));
const limitOrMax = (v: number) => (v < 0 ? 'max' : num(v));
/**
 * runc's rule for most numeric resources: 0 means "not set" (Docker sends
 * zeros for every limit it was not given), so nothing is written.
 */
const set = (v: number | undefined): v is number => v !== undefined && v !== 0;
const nz = (v: number | undefined) => (set(v) ? num(v) : undefined);

function v1Writes(r: ResourcesConfig, extraDevices: string[], warn: (m: string) => void): CgroupWrite[] {
  const w: CgroupWrite[] = [];
  const put = (controller: string, file: string, value: string | undefined) => {
    if (value !== undefined) w.push({ controller, file, value });
  };
  // Emulated now, so that rules v1 would silently ignore are refused before anything exists.
  if (r.devices?.length || extraDevices.length) w.push({ controller: 'devices', file: 'devices.list', value: '', devices: targetDeviceRules(r.devices ?? [], extraDevices) });
  const m = r.memory;
  if (m) {
    put('memory', 'memory.limit_in_bytes', nz(m.limit));
    put('memory', 'memory.soft_limit_in_bytes', nz(m.reservation));
    // As runc: unlimited memory without a swap limit is unlimited memory+swap
    // too (else the old memsw limit would refuse it), where the kernel has memsw.
    if (m.limit === -1 && !set(m.swap)) w.push({ controller: 'memory', file: 'memory.memsw.limit_in_bytes', value: '-1', ifExists: true });
    else put('memory', 'memory.memsw.limit_in_bytes', nz(m.swap));
    if (m.kernel !== undefined) warn('linux.resources.memory.kernel is deprecated and ignored by the kernel; not written (as runc)');
    put('memory', 'memory.kmem.tcp.limit_in_bytes', nz(m.kernelTCP));
    // -1 (Docker's "unset") is left alone, as runc leaves it.
    if (swappinessSet(m.swappiness)) put('memory', 'memory.swappiness', num(m.swappiness));
    put('memory', 'memory.oom_control', m.disableOOMKiller ? '1' : undefined);
    put('memory', 'memory.use_hierarchy', m.useHierarchy !== undefined ? (m.useHierarchy ? '1' : '0') : undefined);
  }
  const c = r.cpu;
  if (c) {
    put('cpu', 'cpu.shares', nz(c.shares));
    // The period first: a quota is checked against the current period. A
    // shorter period can be refused against the parent's quota until the
    // new quota is in (runc retries it after the quota).
    if (set(c.period)) w.push({ controller: 'cpu', file: 'cpu.cfs_period_us', value: num(c.period), retryAfter: set(c.quota) ? 'cpu.cfs_quota_us' : undefined });
    put('cpu', 'cpu.cfs_quota_us', nz(c.quota));
    put('cpu', 'cpu.cfs_burst_us', c.burst !== undefined ? num(c.burst) : undefined);
    // The same for the realtime pair: a period shorter than the current
    // runtime is EINVAL until the runtime is lowered (runc's SetRtSched).
    if (set(c.realtimePeriod)) w.push({ controller: 'cpu', file: 'cpu.rt_period_us', value: num(c.realtimePeriod), retryAfter: set(c.realtimeRuntime) ? 'cpu.rt_runtime_us' : undefined });
    put('cpu', 'cpu.rt_runtime_us', nz(c.realtimeRuntime));
    put('cpu', 'cpu.idle', c.idle !== undefined ? num(c.idle) : undefined);
    put('cpuset', 'cpuset.cpus', c.cpus || undefined);
    put('cpuset', 'cpuset.mems', c.mems || undefined);
  }
  if (r.pids && r.pids.limit !== 0) put('pids', 'pids.max', r.pids.limit > 0 ? num(r.pids.limit) : 'max');
  const b = r.blockIO;
  if (b) {
    // As runc: CFQ's weight files where they exist, else BFQ's (kernels from 5.0 have only BFQ).
    if (set(b.weight)) w.push({ controller: 'blkio', file: 'blkio.weight', value: num(b.weight), orElse: 'blkio.bfq.weight' });
    put('blkio', 'blkio.leaf_weight', nz(b.leafWeight));
    for (const d of b.weightDevice ?? []) {
      if (d.weight !== undefined) w.push({ controller: 'blkio', file: 'blkio.weight_device', value: `${d.major}:${d.minor} ${d.weight}`, orElse: 'blkio.bfq.weight_device' });
      if (d.leafWeight !== undefined) put('blkio', 'blkio.leaf_weight_device', `${d.major}:${d.minor} ${d.leafWeight}`);
    }
    const throttle: [keyof typeof b, string][] = [
      ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'],
      ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
      ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'],
      ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
    ];
    for (const [key, file] of throttle) for (const d of (b[key] as { major: number; minor: number; rate?: number }[] | undefined) ?? []) put('blkio', file, `${d.major}:${d.minor} ${d.rate ?? 0}`);
  }
  for (const h of r.hugepageLimits ?? []) put('hugetlb', `hugetlb.${h.pageSize}.limit_in_bytes`, num(h.limit));
  if (r.network?.classID !== undefined) put('net_cls', 'net_cls.classid', num(r.network.classID));
  for (const p of r.network?.priorities ?? []) put('net_prio', 'net_prio.ifpriomap', `${p.name} ${p.priority}`);
  for (const [dev, lim] of Object.entries(r.rdma ?? {})) {
    const parts = [dev];
    if (lim.hcaHandles !== undefined) parts.push(`hca_handle=${lim.hcaHandles}`);
    if (lim.hcaObjects !== undefined) parts.push(`hca_object=${lim.hcaObjects}`);
    put('rdma', 'rdma.max', parts.join(' '));
  }
  return w;
}

function v2Writes(r: ResourcesConfig, warn: (m: string) => void): CgroupWrite[] {
  const w: CgroupWrite[] = [];
  const put = (file: string, value: string | undefined) => {
    if (value !== undefined) w.push({ controller: 'unified', file, value });
  };
  // Device rules on v2 are a BPF program (./devices/), not files.
  const m = r.memory;
  if (m) {
    put('memory.max', set(m.limit) ? limitOrMax(m.limit) : undefined);
    put('memory.low', set(m.reservation) ? limitOrMax(m.reservation) : undefined);
    // v1's memsw is memory+swap; v2's swap.max is swap alone. Unlimited
    // memory without a swap limit is unlimited swap too, as on v1 (runc's
    // ConvertMemorySwapToCgroupV2Value: `update --memory -1` lifts both).
    if (m.limit === -1 && !set(m.swap)) w.push({ controller: 'unified', file: 'memory.swap.max', value: 'max', ifExists: true });
    else if (set(m.swap)) put('memory.swap.max', m.swap < 0 ? 'max' : num(m.swap - (m.limit ?? 0)));
    if (m.kernel !== undefined || m.kernelTCP !== undefined) warn('kernel memory limits have no cgroup v2 equivalent; not written (as runc)');
  }
  const c = r.cpu;
  if (c) {
    if (c.shares) put('cpu.weight', num(sharesToWeight(c.shares)));
    if (set(c.quota) || set(c.period)) put('cpu.max', `${c.quota === undefined || c.quota < 0 ? 'max' : num(c.quota)} ${num(c.period || 100000)}`);
    if (c.burst !== undefined) put('cpu.max.burst', num(c.burst));
    if (c.idle !== undefined) put('cpu.idle', num(c.idle));
    put('cpuset.cpus', c.cpus || undefined);
    put('cpuset.mems', c.mems || undefined);
  }
  if (r.pids && r.pids.limit !== 0) put('pids.max', r.pids.limit > 0 ? num(r.pids.limit) : 'max');
  const b = r.blockIO;
  if (b) {
    if (b.weight) put('io.weight', num(blkioToIoWeight(b.weight)));
    for (const d of b.weightDevice ?? []) if (d.weight !== undefined) put('io.weight', `${d.major}:${d.minor} ${blkioToIoWeight(d.weight)}`);
    const keys: [keyof typeof b, string][] = [['throttleReadBpsDevice', 'rbps'], ['throttleWriteBpsDevice', 'wbps'], ['throttleReadIOPSDevice', 'riops'], ['throttleWriteIOPSDevice', 'wiops']];
    for (const [key, name] of keys) for (const d of (b[key] as { major: number; minor: number; rate?: number }[] | undefined) ?? []) put('io.max', `${d.major}:${d.minor} ${name}=${d.rate ?? 0}`);
  }
  for (const h of r.hugepageLimits ?? []) put(`hugetlb.${h.pageSize}.max`, num(h.limit));
  for (const [dev, lim] of Object.entries(r.rdma ?? {})) put('rdma.max', `${dev}${lim.hcaHandles !== undefined ? ` hca_handle=${lim.hcaHandles}` : ''}${lim.hcaObjects !== undefined ? ` hca_object=${lim.hcaObjects}` : ''}`);
  for (const [file, value] of Object.entries(r.unified ?? {})) put(file, value);
  return w;
}

export function resourceWrites(layout: CgroupLayout, r: ResourcesConfig | undefined, extraDevices: string[], warn: (m: string) => void = () => {}): CgroupWrite[] {
  if (layout.mode === 'v2') return v2Writes(r ?? {}, warn);
  return v1Writes(r ?? {}, extraDevices, warn);
}

/**
 * v1 refuses a memory limit above the memory+swap limit, and a memsw limit
 * below the memory one. As runc: the memsw limit goes first when it becomes
 * unlimited or when it is above the current memory limit, else last.
 */
function orderMemoryWrites(paths: Record<string, string>, writes: CgroupWrite[]): CgroupWrite[] {
  const mem = writes.find((w) => w.file === 'memory.limit_in_bytes');
  const swap = writes.find((w) => w.file === 'memory.memsw.limit_in_bytes');
  const dir = controllerDir(paths, 'memory');
  if (!mem || !swap || !dir) return writes;
  let current: bigint;
  try {
    current = BigInt(fs.readFileSync(path.join(dir, 'memory.limit_in_bytes'), 'utf8').trim());
  } catch {
    return writes; // no cgroup yet: the write itself reports it
  }
  const swapFirst = swap.value === '-1' || current < BigInt(swap.value);
  const rest = writes.filter((w) => w !== mem && w !== swap);
  const at = writes.indexOf(mem);
  const pair = swapFirst ? [swap, mem] : [mem, swap];
  return [...rest.slice(0, at), ...pair, ...rest.slice(at)];
}

/**
 * The devices controller's rules by runc's transition, then read back: an
 * allow-list must come out exactly as asked, a deny-list at least in its mode.
 */
function writeDeviceRules(dir: string, target: DeviceRuleSet): void {
  const list = path.join(dir, 'devices.list');
  const read = () => parseDevicesList(fs.readFileSync(list, 'utf8'));
  for (const rule of deviceTransition(read(), target)) {
    const file = path.join(dir, rule.allow ? 'devices.allow' : 'devices.deny');
    try {
      fs.writeFileSync(file, ruleText(rule));
    } catch (err) {
      throw new RuntimeError('set device rules', `write ${JSON.stringify(ruleText(rule))} to ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  const after = read();
  const same = (a: DeviceRuleSet['rules'], b: DeviceRuleSet['rules']) => a.length === b.length && a.every((r) => b.some((o) => o.type === r.type && o.major === r.major && o.minor === r.minor && o.access === r.access));
  if (after.defaultAllow !== target.defaultAllow || (!target.defaultAllow && !same(after.rules, target.rules))) {
    throw new RuntimeError('set device rules', `${list} does not show the rules asked for (the parent cgroup's rules may not allow them)`);
  }
}

export function writeResources(paths: Record<string, string>, writes: CgroupWrite[], rootless = false): void {
  const retries: CgroupWrite[] = [];
  const write = (w: CgroupWrite) => {
    const dir = controllerDir(paths, w.controller);
    if (!dir && rootless && w.devices) return;
    // Rootless, a hierarchy may have been skipped (createCgroups): runc's words.
    if (!dir && rootless) throw new RuntimeError('set cgroup resources', `cannot set ${w.controller} limit: container could not join or create cgroup (rootless: no permission to create it)`);
    if (!dir) throw new RuntimeError('set cgroup resources', `the ${w.controller} controller is not mounted on this host (needed for ${w.file})`);
    if (w.devices) {
      // Rootless, runc ignores the devices controller's errors: not expected to work.
      try {
        return writeDeviceRules(dir, w.devices);
      } catch (err) {
        if (rootless) return;
        throw err;
      }
    }
    let file = path.join(dir, w.file);
    if ((w.ifExists || w.orElse) && !fs.existsSync(file)) {
      if (!w.orElse) return;
      file = path.join(dir, w.orElse);
    }
    try {
      writeExisting(file, w.value);
    } catch (err) {
      if (w.retryAfter && (err as NodeJS.ErrnoException).code === 'EINVAL' && !retries.includes(w)) {
        retries.push(w);
        return;
      }
      throw new RuntimeError('set cgroup resources', `write ${JSON.stringify(w.value)} to ${file}: ${(err as Error).message}`, { cause: err });
    }
    for (const r of retries.filter((r) => r.retryAfter === w.file)) write(r);
  };
  for (const w of orderMemoryWrites(paths, writes)) write(w);
}
