/**
 * A container's resource usage, shaped as runc's `events --stats` data
 * (types/events.go), read from its cgroup files on v1 or v2. Files a kernel
 * does not have are left out of the result, as runc leaves them at zero.
 */
import fs from 'node:fs';
import path from 'node:path';
import { controllerDir } from './index.js';
import { unifiedOnly } from './paths.js';

type Entry = { major: number; minor: number; op: string; value: number };

export interface Stats {
  cpu: { usage: { total?: number; percpu?: number[]; percpu_kernel?: number[]; percpu_user?: number[]; kernel: number; user: number }; throttling: { periods?: number; throttledPeriods?: number; throttledTime?: number } };
  memory: { cache?: number; usage: MemoryEntry; swap: MemoryEntry; kernel: MemoryEntry; kernelTCP: MemoryEntry; raw?: Record<string, number> };
  pids: { current?: number; limit?: number };
  blkio: { ioServiceBytesRecursive?: Entry[]; ioServicedRecursive?: Entry[] };
  hugetlb: Record<string, { usage?: number; max?: number; failcnt: number }>;
}
interface MemoryEntry { limit: number; usage?: number; max?: number; failcnt: number }

/** 2^64-1: what runc reports for "max". */
const UNLIMITED = 18446744073709551615;
/**
 * Counters above 2^53 (v1's "no limit" is 2^63 rounded down to the page)
 * are not exact as JS numbers: they are carried as marked strings and
 * written back as bare JSON numbers by `statsJson`.
 */
const U64 = '\u0000u64:';
const EXACT_LIMIT = Number.MAX_SAFE_INTEGER;
const USER_HZ = 100;

function read(dir: string | undefined, file: string): string | undefined {
  if (!dir) return undefined;
  try {
    return fs.readFileSync(path.join(dir, file), 'utf8').trim();
  } catch {
    return undefined;
  }
}
function readNum(dir: string | undefined, file: string): number | undefined {
  const v = read(dir, file);
  if (v === undefined) return undefined;
  if (v === 'max') return UNLIMITED;
  if (!/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return n > EXACT_LIMIT ? ((U64 + v) as unknown as number) : n;
}
/** "key value" lines (memory.stat, cpu.stat, ...). */
function readKeyed(dir: string | undefined, file: string): Record<string, number> | undefined {
  const v = read(dir, file);
  if (v === undefined) return undefined;
  const out: Record<string, number> = {};
  for (const line of v.split('\n')) {
    const [k, n] = line.split(/\s+/);
    if (k && n !== undefined && Number.isFinite(Number(n))) out[k] = Number(n);
  }
  return out;
}
const numbers = (v: string | undefined) => (v ? v.split(/\s+/).filter(Boolean).map(Number) : undefined);

function hugepageSizes(): string[] {
  try {
    // hugepages-2048kB → 2MB, as the cgroup files name them.
    return fs.readdirSync('/sys/kernel/mm/hugepages').map((d) => {
      const kb = Number(/hugepages-(\d+)kB/.exec(d)?.[1] ?? 0);
      return kb >= 1048576 ? `${kb / 1048576}GB` : kb >= 1024 ? `${kb / 1024}MB` : `${kb}KB`;
    });
  } catch {
    return [];
  }
}

/** blkio's "MAJ:MIN Op value" lines. */
function blkioEntries(text: string | undefined): Entry[] | undefined {
  if (text === undefined) return undefined;
  const out: Entry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):(\d+) (\w+) (\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3], value: Number(m[4]) });
  }
  return out;
}

function v1Stats(paths: Record<string, string>): Stats {
  const cpuacct = controllerDir(paths, 'cpuacct');
  const cpu = controllerDir(paths, 'cpu');
  const mem = controllerDir(paths, 'memory');
  const pids = controllerDir(paths, 'pids');
  const blkio = controllerDir(paths, 'blkio');
  const hugetlb = controllerDir(paths, 'hugetlb');
  const ticks = readKeyed(cpuacct, 'cpuacct.stat') ?? {};
  const throttle = readKeyed(cpu, 'cpu.stat') ?? {};
  const entry = (prefix: string): MemoryEntry => ({
    limit: readNum(mem, `${prefix}.limit_in_bytes`) ?? 0,
    usage: readNum(mem, `${prefix}.usage_in_bytes`),
    max: readNum(mem, `${prefix}.max_usage_in_bytes`),
    failcnt: readNum(mem, `${prefix}.failcnt`) ?? 0,
  });
  const raw = readKeyed(mem, 'memory.stat');
  const pidsMax = readNum(pids, 'pids.max');
  return {
    cpu: {
      usage: {
        total: readNum(cpuacct, 'cpuacct.usage'),
        percpu: numbers(read(cpuacct, 'cpuacct.usage_percpu')),
        percpu_kernel: numbers(read(cpuacct, 'cpuacct.usage_percpu_sys')),
        percpu_user: numbers(read(cpuacct, 'cpuacct.usage_percpu_user')),
        kernel: ((ticks.system ?? 0) * 1e9) / USER_HZ,
        user: ((ticks.user ?? 0) * 1e9) / USER_HZ,
      },
      throttling: { periods: throttle.nr_periods, throttledPeriods: throttle.nr_throttled, throttledTime: throttle.throttled_time },
    },
    memory: { cache: raw?.cache, usage: entry('memory'), swap: entry('memory.memsw'), kernel: entry('memory.kmem'), kernelTCP: entry('memory.kmem.tcp'), raw },
    pids: { current: readNum(pids, 'pids.current'), limit: pidsMax === UNLIMITED ? 0 : pidsMax },
    blkio: {
      ioServiceBytesRecursive: blkioEntries(read(blkio, 'blkio.throttle.io_service_bytes_recursive') ?? read(blkio, 'blkio.throttle.io_service_bytes')),
      ioServicedRecursive: blkioEntries(read(blkio, 'blkio.throttle.io_serviced_recursive') ?? read(blkio, 'blkio.throttle.io_serviced')),
    },
    hugetlb: Object.fromEntries(
      hugepageSizes()
        .filter((size) => read(hugetlb, `hugetlb.${size}.usage_in_bytes`) !== undefined)
        .map((size) => [size, { usage: readNum(hugetlb, `hugetlb.${size}.usage_in_bytes`), max: readNum(hugetlb, `hugetlb.${size}.max_usage_in_bytes`), failcnt: readNum(hugetlb, `hugetlb.${size}.failcnt`) ?? 0 }]),
    ),
  };
}

function v2Stats(dir: string): Stats {
  const cpu = readKeyed(dir, 'cpu.stat') ?? {};
  const raw = readKeyed(dir, 'memory.stat');
  const events = readKeyed(dir, 'memory.events') ?? {};
  const pidsMax = readNum(dir, 'pids.max');
  const io: Entry[] = [];
  const ops: Entry[] = [];
  for (const line of (read(dir, 'io.stat') ?? '').split('\n')) {
    const m = /^(\d+):(\d+) (.*)$/.exec(line.trim());
    if (!m) continue;
    const kv = Object.fromEntries(m[3].split(' ').map((p) => p.split('=')));
    const dev = { major: Number(m[1]), minor: Number(m[2]) };
    io.push({ ...dev, op: 'Read', value: Number(kv.rbytes ?? 0) }, { ...dev, op: 'Write', value: Number(kv.wbytes ?? 0) });
    ops.push({ ...dev, op: 'Read', value: Number(kv.rios ?? 0) }, { ...dev, op: 'Write', value: Number(kv.wios ?? 0) });
  }
  return {
    cpu: {
      usage: { total: (cpu.usage_usec ?? 0) * 1000, kernel: (cpu.system_usec ?? 0) * 1000, user: (cpu.user_usec ?? 0) * 1000 },
      throttling: { periods: cpu.nr_periods, throttledPeriods: cpu.nr_throttled, throttledTime: cpu.throttled_usec === undefined ? undefined : cpu.throttled_usec * 1000 },
    },
    memory: {
      cache: raw?.file,
      usage: { limit: readNum(dir, 'memory.max') ?? 0, usage: readNum(dir, 'memory.current'), max: readNum(dir, 'memory.peak'), failcnt: events.max ?? 0 },
      swap: { limit: readNum(dir, 'memory.swap.max') ?? 0, usage: readNum(dir, 'memory.swap.current'), failcnt: 0 },
      kernel: { limit: 0, failcnt: 0 },
      kernelTCP: { limit: 0, failcnt: 0 },
      raw,
    },
    pids: { current: readNum(dir, 'pids.current'), limit: pidsMax === UNLIMITED ? 0 : pidsMax },
    blkio: { ioServiceBytesRecursive: io, ioServicedRecursive: ops },
    hugetlb: Object.fromEntries(
      hugepageSizes()
        .filter((size) => read(dir, `hugetlb.${size}.current`) !== undefined)
        .map((size) => [size, { usage: readNum(dir, `hugetlb.${size}.current`), max: readNum(dir, `hugetlb.${size}.max`), failcnt: readKeyed(dir, `hugetlb.${size}.events`)?.max ?? 0 }]),
    ),
  };
}

/** On a hybrid host the v1 controllers hold the numbers; on v2 the unified directory. */
export function cgroupStats(paths: Record<string, string>): Stats {
  return unifiedOnly(paths) ? v2Stats(paths.unified) : v1Stats(paths);
}

/** JSON text of a value holding stats, with every counter as an exact JSON number. */
export function statsJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (v === UNLIMITED ? U64 + '18446744073709551615' : v)).replace(/"\\u0000u64:(\d+)"/g, '$1');
}

/** How many times the kernel's OOM killer acted in the container's memory cgroup. */
export function oomKills(paths: Record<string, string>): number {
  const v1 = controllerDir(paths, 'memory');
  if (v1) return readKeyed(v1, 'memory.oom_control')?.oom_kill ?? 0;
  return readKeyed(paths.unified, 'memory.events')?.oom_kill ?? 0;
}
