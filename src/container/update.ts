/**
 * `update`: change a running container's resources, from runc's flags or a
 * LinuxResources JSON (-r FILE, or - for stdin). The values go through the
 * same conversion as at create (resources.ts), and the saved config is
 * updated so that it keeps describing the container.
 */
import { faultPoint } from '../fault.js';
import { cgroupManager } from '../cgroups/drivers.js';
import { ERR, RuntimeError } from '../errors.js';
import type { ResourcesConfig } from '../config/schema.js';
import { validateResources } from '../config/validate.js';
import type { Context } from './context.js';
import { lockDir } from './lock.js';
import { currentStatus, readSavedConfig, readState, stateDir, writeSavedConfig } from './state.js';
import type { Sys } from '../sys/types.js';

export interface UpdateFlags {
  memory?: string;
  memoryReservation?: string;
  memorySwap?: string;
  kernelMemory?: string;
  kernelMemoryTcp?: string;
  cpuShare?: string;
  cpuQuota?: string;
  cpuBurst?: string;
  cpuIdle?: string;
  cpuPeriod?: string;
  cpuRtPeriod?: string;
  cpuRtRuntime?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  pidsLimit?: string;
  blkioWeight?: string;
}

/** docker's units.RAMInBytes, which runc uses: 512, 64k, 100m, 1g (binary); -1 is unlimited. */
export function parseBytes(flag: string, text: string): number {
  if (text === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(text.trim());
  if (!m) throw new RuntimeError('', `invalid value for --${flag}: "${text}"`);
  const scale = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 }[m[2].toLowerCase() as 'k'];
  return Math.trunc(Number(m[1]) * scale);
}

function parseInteger(flag: string, text: string): number {
  if (!/^-?\d+$/.test(text)) throw new RuntimeError('', `invalid value for --${flag}: "${text}"`);
  return Number(text);
}

/** runc's update flags as a LinuxResources object (only what was given). */
export function resourcesFromFlags(f: UpdateFlags): ResourcesConfig {
  const r: ResourcesConfig = {};
  const mem: NonNullable<ResourcesConfig['memory']> = {};
  if (f.memory !== undefined) mem.limit = parseBytes('memory', f.memory);
  if (f.memoryReservation !== undefined) mem.reservation = parseBytes('memory-reservation', f.memoryReservation);
  if (f.memorySwap !== undefined) mem.swap = parseBytes('memory-swap', f.memorySwap);
  if (f.kernelMemory !== undefined) mem.kernel = parseBytes('kernel-memory', f.kernelMemory);
  if (f.kernelMemoryTcp !== undefined) mem.kernelTCP = parseBytes('kernel-memory-tcp', f.kernelMemoryTcp);
  if (Object.keys(mem).length) r.memory = mem;
  const cpu: NonNullable<ResourcesConfig['cpu']> = {};
  if (f.cpuShare !== undefined) cpu.shares = parseInteger('cpu-share', f.cpuShare);
  if (f.cpuQuota !== undefined) cpu.quota = parseInteger('cpu-quota', f.cpuQuota);
  if (f.cpuPeriod !== undefined) cpu.period = parseInteger('cpu-period', f.cpuPeriod);
  // runc 1.2+ (not 1.1.5): cpu.cfs_burst_us / cpu.max.burst, and cpu.idle.
  if (f.cpuBurst !== undefined) cpu.burst = parseInteger('cpu-burst', f.cpuBurst);
  if (f.cpuIdle !== undefined) cpu.idle = parseInteger('cpu-idle', f.cpuIdle);
  if (f.cpuRtPeriod !== undefined) cpu.realtimePeriod = parseInteger('cpu-rt-period', f.cpuRtPeriod);
  if (f.cpuRtRuntime !== undefined) cpu.realtimeRuntime = parseInteger('cpu-rt-runtime', f.cpuRtRuntime);
  if (f.cpusetCpus !== undefined) cpu.cpus = f.cpusetCpus;
  if (f.cpusetMems !== undefined) cpu.mems = f.cpusetMems;
  if (Object.keys(cpu).length) r.cpu = cpu;
  if (f.pidsLimit !== undefined) r.pids = { limit: parseInteger('pids-limit', f.pidsLimit) };
  if (f.blkioWeight !== undefined) r.blockIO = { weight: parseInteger('blkio-weight', f.blkioWeight) };
  return r;
}

function merge(into: ResourcesConfig, r: ResourcesConfig): ResourcesConfig {
  const out: Record<string, unknown> = { ...into };
  for (const [k, v] of Object.entries(r)) {
    const prev = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' ? { ...prev, ...v } : v;
  }
  return out as ResourcesConfig;
}

/**
 * A CPU quota or period given alone keeps the other's saved value, as
 * runc's update does ("set new quota, leave period at old value"): cgroup
 * v2 holds both in one file (cpu.max), which would otherwise lose the
 * quota when only the period changes.
 */
function withSavedCpuPair(r: ResourcesConfig, saved: ResourcesConfig | undefined): ResourcesConfig {
  const cpu = r.cpu;
  const old = saved?.cpu;
  if (!cpu || !old || (cpu.quota === undefined) === (cpu.period === undefined)) return r;
  return { ...r, cpu: { ...cpu, quota: cpu.quota ?? old.quota, period: cpu.period ?? old.period } };
}

export async function update(sys: Sys, ctx: Context, id: string, resources: unknown): Promise<void> {
  const s = readState(ctx.root, id);
  const cgroups = cgroupManager(s, { rootless: ctx.rootless, sys });
  validateResources(resources, cgroups.layout);
  const unlock = lockDir(sys, stateDir(ctx.root, id));
  try {
    if (currentStatus(ctx.root, s) === 'stopped') throw new RuntimeError('', ERR.notRunning);
    const config = readSavedConfig(ctx.root, id);
    // New device rules replace the old ones, followed by runc's defaults as
    // at create (runc 1.1.5 skips them on update; runc 1.2 applies them).
    // Computed first, so that a value that does not convert changes nothing.
    const devices = resources.devices?.length ? { linuxDevices: config.linux?.devices } : undefined;
    await cgroups.apply(cgroups.prepare({ resources: withSavedCpuPair(resources, config.linux?.resources), devices, warn: ctx.warn }));
    faultPoint('update-written');
    config.linux = { ...config.linux, resources: merge(config.linux?.resources ?? {}, resources) };
    writeSavedConfig(ctx.root, id, config);
    faultPoint('update-saved');
  } finally {
    unlock();
  }
}
