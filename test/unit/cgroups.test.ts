// cgroup layout detection, placement and resource writes, against fake mount tables.
import { describe, expect, it } from 'vitest';
import { validateResources } from '../../src/config/validate.js';
import fs from 'node:fs';
import { cgroupPaths, createCgroups, detectLayout, initCgroupProcsV2, joinCgroups, joinedIfPossible, primeCgroupMigration } from '../../src/cgroups/index.js';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_DEVICE_RULES, resourceWrites } from '../../src/cgroups/resources.js';
import { blkioToIoWeight, sharesToWeight } from '../../src/cgroups/weights.js';
import { ConfigError } from '../../src/errors.js';

const hybridMountinfo = [
  '30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
  '31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw',
  '33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,cpu,cpuacct',
  '34 30 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,memory',
  '35 30 0:31 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,xattr,name=systemd',
].join('\n');
const hybridSelf = '3:memory:/user.slice\n2:cpu,cpuacct:/\n1:name=systemd:/init.scope\n0::/init.scope\n';
const v2Mountinfo = '25 1 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n';

describe('cgroup layout', () => {
  it('detects a hybrid host and each hierarchy', () => {
    const l = detectLayout(hybridMountinfo, hybridSelf);
    expect(l.mode).toBe('hybrid');
    expect(l.hierarchies.map((h) => h.name)).toEqual(['unified', 'cpu,cpuacct', 'memory', 'name=systemd']);
  });
  it('detects cgroup v2 only', () => {
    expect(detectLayout(v2Mountinfo, '0::/\n').mode).toBe('v2');
  });
  it('places an absolute cgroupsPath at the root, a relative one (and the default id) under our own cgroup', () => {
    const l = detectLayout(hybridMountinfo, hybridSelf);
    expect(cgroupPaths(l, '/pods/c1', 'c1').memory).toBe('/sys/fs/cgroup/memory/pods/c1');
    expect(cgroupPaths(l, 'pods/c1', 'c1').memory).toBe('/sys/fs/cgroup/memory/user.slice/pods/c1');
    expect(cgroupPaths(l, '', 'c1')['cpu,cpuacct']).toBe('/sys/fs/cgroup/cpu,cpuacct/c1');
    expect(cgroupPaths(l, '', 'c1').unified).toBe('/sys/fs/cgroup/unified/init.scope/c1');
  });
});

describe("an exec'd process's fallback to the init's cgroup (runc's setnsProcess, v2 only)", () => {
  it("is the cgroup.procs of the init's current v2 cgroup on a v2 host, none on a hybrid one", () => {
    // Our own process stands in for the init: its "0::" line is read from /proc.
    const own = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'))!.slice(3);
    expect(initCgroupProcsV2(detectLayout(v2Mountinfo, '0::/\n'), process.pid)).toBe(`/sys/fs/cgroup${own === '/' ? '' : own}/cgroup.procs`);
    expect(initCgroupProcsV2(detectLayout(hybridMountinfo, hybridSelf), process.pid)).toBeUndefined();
    expect(initCgroupProcsV2(detectLayout(v2Mountinfo, '0::/\n'), 0x7ffffffe)).toBeUndefined();
  });
});

describe('the write to our own cgroup that pays the join\'s RCU wait ahead', () => {
  // In a cgroup namespace whose root is below our cgroup, /proc/self/cgroup
  // shows "/../..": joined to the mount point it names a file outside it,
  // and normalised, another cgroup than ours. Neither is written.
  it('goes to our own cgroup.procs, never through a path that goes up, never made, emptied or through a symlink', () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-prime-'));
    try {
      const mount = path.join(base, 'sys/fs/cgroup/cpu');
      const files = ['sys/fs/cgroup/cpu/own', 'sys/fs/cgroup/cpu/x', 'sys/fs/cgroup/x'].map((d) => path.join(base, d, 'cgroup.procs'));
      for (const f of files) fs.mkdirSync(path.dirname(f), { recursive: true }), fs.writeFileSync(f, 'before');
      const layout = (ownPath: string) => ({ mode: 'v1' as const, hierarchies: [{ name: 'cpu', mountPoint: mount, ownPath }] });
      primeCgroupMigration(layout('/../x'), 42);
      primeCgroupMigration(layout('/own/../x'), 42);
      expect(files.map((f) => fs.readFileSync(f, 'utf8'))).toEqual(['before', 'before', 'before']);
      primeCgroupMigration(layout('/own'), 42);
      expect(fs.readFileSync(files[0], 'utf8')).toBe('42fore');
      // A symlink in its place is not followed; a missing file is not made.
      fs.rmSync(files[1]);
      fs.symlinkSync(files[2], files[1]);
      primeCgroupMigration(layout('/x'), 42);
      primeCgroupMigration(layout('/missing'), 42);
      expect(fs.readFileSync(files[2], 'utf8')).toBe('before');
      expect(fs.existsSync(path.join(mount, 'missing'))).toBe(false);
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});

describe('resource writes', () => {
  const v1 = detectLayout(hybridMountinfo, hybridSelf);
  const v2 = detectLayout(v2Mountinfo, '0::/\n');
  const r = {
    devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }],
    memory: { limit: 4194304, swap: 8388608 },
    cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0' },
    pids: { limit: 64 },
    blockIO: { weight: 500 },
  };

  it('writes v1 files, and the device rules as one target: the config rules, then runc defaults, emulated', () => {
    const w = resourceWrites(v1, r, DEFAULT_DEVICE_RULES);
    const devices = w.filter((x) => x.controller === 'devices');
    expect(devices).toHaveLength(1);
    // deny-all, then c 1:3 rw and the defaults: an allow-list (written as the transition from devices.list).
    expect(devices[0].devices?.defaultAllow).toBe(false);
    const rules = devices[0].devices!.rules.map((d) => `${d.type} ${d.major < 0 ? '*' : d.major}:${d.minor < 0 ? '*' : d.minor} ${d.access}`);
    expect(rules).toEqual(['c 1:3 rwm', ...DEFAULT_DEVICE_RULES.filter((d) => d !== 'c 1:3 rwm')]);
    const files = Object.fromEntries(w.filter((x) => x.controller !== 'devices').map((x) => [x.file, x.value]));
    expect(files).toEqual({
      'memory.limit_in_bytes': '4194304',
      'memory.memsw.limit_in_bytes': '8388608',
      'cpu.shares': '512',
      'cpu.cfs_period_us': '100000',
      'cpu.cfs_quota_us': '50000',
      'cpuset.cpus': '0',
      'pids.max': '64',
      'blkio.weight': '500',
    });
    // The period is written before the quota.
    expect(w.findIndex((x) => x.file === 'cpu.cfs_period_us')).toBeLessThan(w.findIndex((x) => x.file === 'cpu.cfs_quota_us'));
  });

  it('converts to v2 as runc does', () => {
    const { devices: _d, ...noDevices } = r;
    const files = Object.fromEntries(resourceWrites(v2, noDevices, []).map((x) => [x.file, x.value]));
    expect(files).toEqual({
      'memory.max': '4194304',
      'memory.swap.max': '4194304',
      'cpu.weight': String(sharesToWeight(512)),
      'cpu.max': '50000 100000',
      'cpuset.cpus': '0',
      'pids.max': '64',
      'io.weight': String(blkioToIoWeight(500)),
    });
    expect(sharesToWeight(1024)).toBe(39);
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(262144)).toBe(10000);
    expect(blkioToIoWeight(10)).toBe(1);
    expect(blkioToIoWeight(1000)).toBe(10000);
  });

  it('refuses what it cannot apply, naming the field', () => {
    expect(() => validateResources({ unified: { 'memory.high': '1' } }, v1)).toThrow(ConfigError);
    expect(() => validateResources({ unified: { 'memory.high': '1' } }, v1)).toThrow('validate resources: resources.unified: invalid configuration');
    // v2 device rules are a BPF program (test/unit/device-filter.test.ts), not file writes.
    expect(resourceWrites(v2, { devices: [{ allow: false }] }, [])).toEqual([]);
    expect(() => validateResources({ memory: { swappiness: 10 } }, v2)).toThrow(/resources.memory.swappiness: has no cgroup v2 equivalent/);
    expect(() => validateResources({ memory: { limit: '1m' } }, v1)).toThrow('validate resources: resources.memory.limit: must be integer');
    expect(() => validateResources({ pids: {} }, v1)).toThrow('validate resources: resources.pids.limit: is required');
  });

  it('pids limit below 0 means unlimited; 0 means not set (runc)', () => {
    expect(resourceWrites(v1, { pids: { limit: -1 } }, [])).toEqual([{ controller: 'pids', file: 'pids.max', value: 'max' }]);
    expect(resourceWrites(v1, { pids: { limit: 0 } }, [])).toEqual([]);
  });

  it('writes nothing for the zeros and -1 swappiness Docker sends for limits it was not given (runc)', () => {
    const docker = { memory: { limit: 0, reservation: 0, swap: 0, kernelTCP: 0, swappiness: -1 }, cpu: { shares: 0, quota: 0, period: 0, realtimePeriod: 0, realtimeRuntime: 0 }, blockIO: { weight: 0, leafWeight: 0 }, pids: { limit: 0 } };
    expect(resourceWrites(v1, docker, [])).toEqual([]);
    expect(resourceWrites(v2, docker, [])).toEqual([]);
    // As JSON, Docker's -1 arrives as 2^64-1 (Go's uint64).
    const sent = { ...docker, memory: { ...docker.memory, swappiness: 18446744073709551615 } };
    expect(resourceWrites(v2, sent, [])).toEqual([]);
    expect(() => validateResources(sent, v1)).not.toThrow();
    expect(() => validateResources(sent, v2)).not.toThrow();
    expect(() => validateResources({ memory: { swappiness: 101 } }, v1)).toThrow(/swappiness: invalid value 101/);
  });
});

describe('hierarchies joined only if possible (runc NameGroup)', () => {
  /** A hybrid layout over a temp dir: v1 "memory", "name=systemd", and a v2 mount that is a file (mkdir under it fails with ENOTDIR). */
  function fakeHybrid() {
    const root = fs.mkdtempSync('/tmp/ocirun-unit-cg-');
    fs.mkdirSync(`${root}/memory`);
    fs.mkdirSync(`${root}/systemd`);
    fs.writeFileSync(`${root}/unified`, '');
    const layout = detectLayout(
      [
        `31 30 0:27 / ${root}/unified rw - cgroup2 cgroup2 rw`,
        `34 30 0:30 / ${root}/memory rw - cgroup cgroup rw,memory`,
        `35 30 0:31 / ${root}/systemd rw - cgroup cgroup rw,xattr,name=systemd`,
      ].join('\n'),
      '2:memory:/\n1:name=systemd:/\n0::/\n',
    );
    return { root, layout, paths: cgroupPaths(layout, '/ct', 'ct') };
  }

  it('skips the hybrid v2 mount where its cgroup cannot be made, root or not, and keeps the v1 one', () => {
    const { root, layout, paths } = fakeHybrid();
    try {
      expect(joinedIfPossible(paths, 'unified')).toBe(true);
      expect(joinedIfPossible(paths, 'name=systemd')).toBe(true);
      expect(joinedIfPossible(paths, 'memory')).toBe(false);
      expect(joinedIfPossible({ unified: paths.unified }, 'unified')).toBe(false); // v2 only: the one hierarchy
      expect(createCgroups(layout, paths)).toEqual(['unified']);
      expect(fs.statSync(`${root}/memory/ct`).isDirectory()).toBe(true);
      // A controller's hierarchy that cannot be made is an error.
      fs.rmdirSync(`${root}/memory/ct`);
      fs.rmdirSync(`${root}/memory`);
      fs.writeFileSync(`${root}/memory`, '');
      expect(() => createCgroups(layout, paths)).toThrow(/create cgroup: .*memory\/ct: ENOTDIR/);
    } finally {
      fs.rmSync(root, { recursive: true });
    }
  });

  it('drops a failed join where joined only if possible, not elsewhere', () => {
    const { root, paths } = fakeHybrid();
    try {
      fs.mkdirSync(`${root}/memory/ct`);
      fs.writeFileSync(`${root}/memory/ct/cgroup.procs`, '');
      // name=systemd and unified have no cgroup.procs to write: dropped, as the manager's init join drops them.
      const mayFail = (name: string) => joinedIfPossible(paths, name);
      expect(() => joinCgroups(paths, 4242, undefined, undefined, mayFail)).not.toThrow();
      expect(() => joinCgroups(paths, 4242)).toThrow(/join cgroup: adding pid 4242 to cgroups: write .*unified\/ct\/cgroup.procs/);
      expect(fs.readFileSync(`${root}/memory/ct/cgroup.procs`, 'utf8')).toBe('4242');
      fs.rmSync(`${root}/memory/ct/cgroup.procs`);
      fs.mkdirSync(`${root}/memory/ct/cgroup.procs`);
      expect(() => joinCgroups(paths, 4242, undefined, undefined, mayFail)).toThrow(/join cgroup: .*memory\/ct\/cgroup.procs/);
    } finally {
      fs.rmSync(root, { recursive: true });
    }
  });
});

describe('realtime writes', () => {
  it('writes the rt period again after the runtime when the kernel refuses it first, as runc 1.3', () => {
    const v1 = detectLayout(hybridMountinfo, hybridSelf);
    const w = resourceWrites(v1, { cpu: { realtimePeriod: 10000, realtimeRuntime: 3000 } }, []);
    expect(w.filter((x) => x.file.startsWith('cpu.rt_'))).toEqual([
      { controller: 'cpu', file: 'cpu.rt_period_us', value: '10000', retryAfter: 'cpu.rt_runtime_us' },
      { controller: 'cpu', file: 'cpu.rt_runtime_us', value: '3000' },
    ]);
    expect(resourceWrites(v1, { cpu: { realtimePeriod: 10000 } }, []).find((x) => x.file === 'cpu.rt_period_us')?.retryAfter).toBeUndefined();
  });
});
