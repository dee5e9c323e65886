import { describe, expect, it } from 'vitest';
import { expandSlice, resourceProperties, systemdPaths, systemdUnit, unitProperties } from '../../src/cgroups/systemd.js';
import type { CgroupLayout } from '../../src/cgroups/index.js';
import { unitObjectPath } from '../../src/systemd/sdbus.js';

describe('systemd cgroup driver: names and paths (runc ExpandSlice, getUnitName)', () => {
  it('expands dashed slices into their parents', () => {
    expect(expandSlice('system.slice')).toBe('/system.slice');
    expect(expandSlice('kubepods-burstable-pod123.slice')).toBe('/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod123.slice');
    expect(expandSlice('-.slice')).toBe('/');
    for (const bad of ['foo', '.slice', 'a/b.slice', 'a--b.slice', '-a.slice']) expect(() => expandSlice(bad)).toThrow(/invalid slice name/);
  });

  it('reads "slice:prefix:name", with runc\'s defaults', () => {
    expect(systemdUnit('system.slice:docker:abc', 'id')).toEqual({ slice: 'system.slice', unit: 'docker-abc.scope' });
    expect(systemdUnit('', 'c1')).toEqual({ slice: 'system.slice', unit: 'ocirun-c1.scope' });
    expect(systemdUnit(':cri:x', 'c1')).toEqual({ slice: 'system.slice', unit: 'cri-x.scope' });
    expect(systemdUnit('machine.slice:p:my.slice', 'c1')).toEqual({ slice: 'machine.slice', unit: 'my.slice' });
    expect(() => systemdUnit('system.slice:two', 'c1')).toThrow(/expected cgroupsPath to be of format "slice:prefix:name"/);
    expect(() => systemdUnit('a:b:c:d', 'c1')).toThrow(/slice:prefix:name/);
  });

  const v1: CgroupLayout = { mode: 'v1', hierarchies: [{ name: 'memory', mountPoint: '/sys/fs/cgroup/memory', ownPath: '/' }, { name: 'cpuset', mountPoint: '/sys/fs/cgroup/cpuset', ownPath: '/' }] } as CgroupLayout;
  const v2: CgroupLayout = { mode: 'v2', hierarchies: [{ name: 'unified', mountPoint: '/sys/fs/cgroup', ownPath: '/' }] } as CgroupLayout;

  it('puts the scope at the same path under every hierarchy', () => {
    expect(systemdPaths(v1, { slice: 'a-b.slice', unit: 'x-1.scope' })).toEqual({ memory: '/sys/fs/cgroup/memory/a.slice/a-b.slice/x-1.scope', cpuset: '/sys/fs/cgroup/cpuset/a.slice/a-b.slice/x-1.scope' });
  });

  it('names the limits as systemd does on v2 and on v1', () => {
    const names = (l: CgroupLayout) => Object.fromEntries(unitProperties(l, { slice: 's.slice', unit: 'u.scope' }, 'c', 42, { memory: { limit: 1024 }, pids: { limit: 5 } }).map((p) => [p.name, p.value]));
    expect(names(v2)).toMatchObject({ Slice: 's.slice', Delegate: true, PIDs: [42], MemoryMax: 1024n, TasksMax: 5n, DefaultDependencies: false });
    expect(names(v1)).toMatchObject({ MemoryLimit: 1024n, TasksMax: 5n });
    expect(names(v1).MemoryMax).toBeUndefined();
  });

  it("maps CPU limits as runc's addCpuQuota and addCpuset do", () => {
    const props = (l: CgroupLayout, cpu: object) => Object.fromEntries(resourceProperties(l, { cpu } as never).map((p) => [p.name, p.value]));
    // 20000/100000 us: 200 ms per second; 12345/100000: 123450 us rounded up to 130 ms.
    expect(props(v2, { shares: 512, quota: 20_000, period: 100_000, cpus: '0-2,9' })).toEqual({ CPUWeight: 20n, CPUQuotaPeriodUSec: 100_000n, CPUQuotaPerSecUSec: 200_000n, AllowedCPUs: Buffer.from([0b111, 0b10]) });
    expect(props(v2, { quota: 12_345 })).toEqual({ CPUQuotaPerSecUSec: 130_000n });
    expect(props(v2, { quota: -1, period: 50_000 })).toEqual({ CPUQuotaPeriodUSec: 50_000n, CPUQuotaPerSecUSec: 2n ** 64n - 1n });
    expect(props(v1, { shares: 512 })).toEqual({ CPUShares: 512n });
  });

  it("escapes a unit's object path as sd-bus does", () => {
    expect(unitObjectPath('ocitest-c1.scope')).toBe('/org/freedesktop/systemd1/unit/ocitest_2dc1_2escope');
  });
});
