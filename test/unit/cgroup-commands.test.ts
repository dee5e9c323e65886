// stats, update and events parsing against fake cgroupfs trees.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cgroupStats, oomKills, statsJson } from '../../src/cgroups/stats.js';
import { parseDuration } from '../../src/container/events.js';
import { parseBytes, resourcesFromFlags } from '../../src/container/update.js';

const made: string[] = [];
function tree(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-fakecg-'));
  made.push(dir);
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  return dir;
}
afterEach(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('stats', () => {
  it('reads v1 controllers into runc\'s shape, counters above 2^53 exact', () => {
    const root = tree({
      'cpuacct/cpuacct.usage': '1500\n',
      'cpuacct/cpuacct.usage_percpu': '1000 500 \n',
      'cpuacct/cpuacct.stat': 'user 3\nsystem 2\n',
      'cpu/cpu.stat': 'nr_periods 4\nnr_throttled 1\nthrottled_time 99\n',
      'memory/memory.usage_in_bytes': '4096\n',
      'memory/memory.limit_in_bytes': '9223372036854771712\n',
      'memory/memory.max_usage_in_bytes': '8192\n',
      'memory/memory.failcnt': '0\n',
      'memory/memory.stat': 'cache 12\nrss 34\n',
      'memory/memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n',
      'pids/pids.current': '3\n',
      'pids/pids.max': 'max\n',
      'blkio/blkio.throttle.io_service_bytes_recursive': '8:0 Read 10\n8:0 Write 20\nTotal 30\n',
    });
    const paths = { 'cpu,cpuacct': path.join(root, 'cpuacct'), memory: path.join(root, 'memory'), pids: path.join(root, 'pids'), blkio: path.join(root, 'blkio') };
    // cpu and cpuacct are one hierarchy here: cpu.stat lives in the same directory.
    fs.copyFileSync(path.join(root, 'cpu/cpu.stat'), path.join(root, 'cpuacct/cpu.stat'));
    const s = cgroupStats(paths);
    expect(s.cpu.usage).toMatchObject({ total: 1500, percpu: [1000, 500], user: 3e7, kernel: 2e7 });
    expect(s.cpu.throttling).toEqual({ periods: 4, throttledPeriods: 1, throttledTime: 99 });
    expect(s.memory.usage).toMatchObject({ usage: 4096, max: 8192, failcnt: 0 });
    expect(s.memory.cache).toBe(12);
    expect(s.pids).toEqual({ current: 3, limit: 0 });
    expect(s.blkio.ioServiceBytesRecursive).toEqual([{ major: 8, minor: 0, op: 'Read', value: 10 }, { major: 8, minor: 0, op: 'Write', value: 20 }]);
    expect(statsJson(s)).toContain('"limit":9223372036854771712');
    expect(oomKills(paths)).toBe(2);
  });

  it('reads v2 files, converting microseconds to nanoseconds', () => {
    const dir = tree({
      'cpu.stat': 'usage_usec 7\nuser_usec 5\nsystem_usec 2\nnr_periods 1\nnr_throttled 0\nthrottled_usec 0\n',
      'memory.current': '100\n',
      'memory.max': 'max\n',
      'memory.stat': 'file 40\nanon 60\n',
      'memory.events': 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n',
      'pids.current': '2\n',
      'pids.max': '50\n',
      'io.stat': '8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n',
    });
    const s = cgroupStats({ unified: dir });
    expect(s.cpu.usage).toMatchObject({ total: 7000, user: 5000, kernel: 2000 });
    expect(s.memory.usage).toMatchObject({ usage: 100, failcnt: 3 });
    expect(statsJson(s.memory.usage)).toContain('"limit":18446744073709551615');
    expect(s.memory.cache).toBe(40);
    expect(s.pids).toEqual({ current: 2, limit: 50 });
    expect(s.blkio.ioServicedRecursive).toEqual([{ major: 8, minor: 0, op: 'Read', value: 3 }, { major: 8, minor: 0, op: 'Write', value: 4 }]);
    expect(oomKills({ unified: dir })).toBe(1);
  });
});

describe('update and events arguments', () => {
  it('parses sizes as runc (docker units, binary) and durations as Go', () => {
    expect(parseBytes('memory', '64m')).toBe(64 * 2 ** 20);
    expect(parseBytes('memory', '1g')).toBe(2 ** 30);
    expect(parseBytes('memory', '512')).toBe(512);
    expect(parseBytes('memory', '-1')).toBe(-1);
    expect(() => parseBytes('memory', 'lots')).toThrow('invalid value for --memory: "lots"');
    expect(parseDuration('5s')).toBe(5000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(() => parseDuration('5')).toThrow(/invalid interval/);
  });

  it('turns only the given flags into LinuxResources', () => {
    expect(resourcesFromFlags({ memory: '8m', cpuShare: '512', pidsLimit: '-1' })).toEqual({ memory: { limit: 8 * 2 ** 20 }, cpu: { shares: 512 }, pids: { limit: -1 } });
    expect(resourcesFromFlags({})).toEqual({});
  });
});
