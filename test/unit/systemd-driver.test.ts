import { describe, expect, it } from 'vitest';
import { annotationProperties, checkSystemdCgroupsPath, deviceProperties, expandSlice, resourceProperties, systemdPaths, systemdUnit, unitProperties } from '../../src/cgroups/systemd.js';
import type { CgroupLayout } from '../../src/cgroups/index.js';
import { unitObjectPath } from '../../src/systemd/sdbus.js';
import { parseVariant } from '../../src/systemd/variant.js';
import { targetDeviceRules } from '../../src/cgroups/devices/index.js';
import { DEFAULT_DEVICE_RULES } from '../../src/cgroups/resources.js';

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
    expect(() => checkSystemdCgroupsPath('system.slice:two')).toThrow(/expected cgroupsPath to be of format "slice:prefix:name"/);
    expect(() => checkSystemdCgroupsPath('a:b:c:d')).toThrow(/slice:prefix:name/);
  });

  const v1: CgroupLayout = { mode: 'v1', hierarchies: [{ name: 'memory', mountPoint: '/sys/fs/cgroup/memory', ownPath: '/' }, { name: 'cpuset', mountPoint: '/sys/fs/cgroup/cpuset', ownPath: '/' }] } as CgroupLayout;
  const v2: CgroupLayout = { mode: 'v2', hierarchies: [{ name: 'unified', mountPoint: '/sys/fs/cgroup', ownPath: '/' }] } as CgroupLayout;

  it('puts the scope at the same path under every hierarchy', () => {
    expect(systemdPaths(v1, { slice: 'a-b.slice', unit: 'x-1.scope' })).toEqual({ memory: '/sys/fs/cgroup/memory/a.slice/a-b.slice/x-1.scope', cpuset: '/sys/fs/cgroup/cpuset/a.slice/a-b.slice/x-1.scope' });
  });

  it('names the limits as systemd does on v2 and on v1', () => {
    const names = (l: CgroupLayout) => Object.fromEntries(unitProperties({ slice: 's.slice', unit: 'u.scope' }, 'c', 42, resourceProperties(l, { memory: { limit: 1024 }, pids: { limit: 5 } })).map((p) => [p.name, p.value]));
    expect(names(v2)).toMatchObject({ Slice: 's.slice', Delegate: true, PIDs: [42], MemoryMax: 1024n, TasksMax: 5n, DefaultDependencies: false });
    expect(names(v1)).toMatchObject({ MemoryLimit: 1024n, TasksMax: 5n });
    expect(names(v1).MemoryMax).toBeUndefined();
  });

  it('passes an unlimited memory limit on as infinity, and its swap with it (runc: -1 as uint64)', () => {
    const props = (l: CgroupLayout, memory: object) => Object.fromEntries(resourceProperties(l, { memory } as never).map((p) => [p.name, p.value]));
    const infinity = 2n ** 64n - 1n;
    expect(props(v2, { limit: -1 })).toEqual({ MemoryMax: infinity, MemorySwapMax: infinity });
    expect(props(v2, { limit: -1, swap: -1 })).toEqual({ MemoryMax: infinity, MemorySwapMax: infinity });
    expect(props(v1, { limit: -1 })).toEqual({ MemoryLimit: infinity });
  });

  it("maps CPU limits as runc's addCpuQuota and addCpuset do", () => {
    const props = (l: CgroupLayout, cpu: object) => Object.fromEntries(resourceProperties(l, { cpu } as never).map((p) => [p.name, p.value]));
    // 20000/100000 us: 200 ms per second; 12345/100000: 123450 us rounded up to 130 ms.
    expect(props(v2, { shares: 512, quota: 20_000, period: 100_000, cpus: '0-2,9' })).toEqual({ CPUWeight: 20n, CPUQuotaPeriodUSec: 100_000n, CPUQuotaPerSecUSec: 200_000n, AllowedCPUs: Buffer.from([0b111, 0b10]) });
    expect(props(v2, { quota: 12_345 })).toEqual({ CPUQuotaPerSecUSec: 130_000n });
    expect(props(v2, { quota: -1, period: 50_000 })).toEqual({ CPUQuotaPeriodUSec: 50_000n, CPUQuotaPerSecUSec: 2n ** 64n - 1n });
    expect(props(v1, { shares: 512 })).toEqual({ CPUShares: 512n });
  });

  it("maps linux.resources.unified as runc's unifiedResToSystemdProps does (v2 only), refusing what does not convert in its words", () => {
    const props = (l: CgroupLayout, unified: Record<string, string>) => Object.fromEntries(resourceProperties(l, { unified } as never).map((p) => [p.name, p.value]));
    expect(props(v2, { 'cpu.max': '50000 100000', 'cpu.weight': '30', 'cpuset.mems': '0', 'memory.high': ' 1048576 ', 'memory.min': 'max', 'pids.max': '9', 'io.weight': '50' })).toEqual({
      CPUQuotaPeriodUSec: 100_000n,
      CPUQuotaPerSecUSec: 500_000n,
      CPUWeight: 30n,
      AllowedMemoryNodes: Buffer.from([1]),
      MemoryHigh: 1_048_576n,
      MemoryMin: 2n ** 64n - 1n,
      TasksMax: 9n,
    });
    expect(props(v2, { 'cpu.max': 'max' })).toEqual({ CPUQuotaPeriodUSec: 100_000n, CPUQuotaPerSecUSec: 2n ** 64n - 1n });
    expect(props(v1, { 'memory.high': '1' })).toEqual({});
    expect(() => props(v2, { cpu: '1' })).toThrow('unified resource "cpu" must be in the form CONTROLLER.PARAMETER');
    expect(() => props(v2, { 'memory.max': '1k' })).toThrow('unified resource "memory.max" value conversion error');
    expect(() => props(v2, { 'cpu.max': '1 2 3' })).toThrow('unified resource "cpu.max" value invalid: "1 2 3"');
  });

  it("escapes a unit's object path as sd-bus does", () => {
    expect(unitObjectPath('ocitest-c1.scope')).toBe('/org/freedesktop/systemd1/unit/ocitest_2dc1_2escope');
  });

  it('reads GVariant text as godbus ParseVariant does, for the basic types and arrays', () => {
    expect(parseVariant('uint64 42')).toEqual({ type: 't', value: 42n });
    expect(parseVariant('@t 0x10')).toEqual({ type: 't', value: 16n });
    expect(parseVariant('42')).toEqual({ type: 'i', value: 42 });
    expect(parseVariant('010')).toEqual({ type: 'i', value: 8 });
    expect(parseVariant('-1.5')).toEqual({ type: 'd', value: -1.5 });
    expect(parseVariant('true')).toEqual({ type: 'b', value: true });
    expect(parseVariant("'idle'")).toEqual({ type: 's', value: 'idle' });
    expect(parseVariant('"a\\tb, c"')).toEqual({ type: 's', value: 'a\tb, c' });
    expect(parseVariant('objectpath "/x"')).toEqual({ type: 'o', value: '/x' });
    expect(parseVariant("['a', 'b,c']")).toEqual({ type: 'as', value: ['a', 'b,c'] });
    expect(parseVariant('@au [1, 2]')).toEqual({ type: 'au', value: [1, 2] });
    expect(parseVariant('@ay [1, 255]')).toEqual({ type: 'ay', value: Buffer.from([1, 255]) });
    for (const bad of ['uint16 70000', 'int32 x', '[]', "{'a': 1}", '<1>', 'byte -1', "'open", '@a{sv} {}']) expect(() => parseVariant(bad)).toThrow();
  });

  it("turns org.systemd.property.* annotations into properties as runc's initSystemdProps", () => {
    expect(annotationProperties({ 'org.systemd.property.CollectMode': "'inactive-or-failed'", 'org.systemd.property.TimeoutStopSec': 'uint64 42', 'org.systemd.property.RuntimeMaxUSec': 'uint64 5', other: 'x' })).toEqual([
      { name: 'CollectMode', type: 's', value: 'inactive-or-failed' },
      { name: 'TimeoutStopUSec', type: 't', value: 42_000_000n },
      { name: 'RuntimeMaxUSec', type: 't', value: 5n },
    ]);
    // "Sec" after a lowercase letter only: a double's seconds too.
    expect(annotationProperties({ 'org.systemd.property.RuntimeMaxSec': '1.5' })).toEqual([{ name: 'RuntimeMaxUSec', type: 't', value: 1_500_000n }]);
    expect(() => annotationProperties({ 'org.systemd.property.AB': '1' })).toThrow(/annotation org.systemd.property.AB name incorrect: too short/);
    expect(() => annotationProperties({ 'org.systemd.property.Cpu1': '1' })).toThrow(/name incorrect: contains non-alphabetic character/);
    expect(() => annotationProperties({ 'org.systemd.property.TimeoutStopSec': "'x'" })).toThrow(/TimeoutStopSec='x' value parse error: not a number/);
    expect(() => annotationProperties({ 'org.systemd.property.Foo': '{1: 2}' })).toThrow(/value parse error/);
  });

  it("turns device rules into DevicePolicy/DeviceAllow as runc's generateDeviceProperties", () => {
    const procDevices = () => 'Character devices:\n  1 mem\n136 pts\n\nBlock devices:\n  8 sd\n';
    const warnings: string[] = [];
    const props = deviceProperties(targetDeviceRules([{ allow: false, access: 'rwm' }, { allow: true, type: 'b', major: 8, access: 'r' }, { allow: true, type: 'c', minor: 4, access: 'r' }], DEFAULT_DEVICE_RULES), (m) => warnings.push(m), procDevices);
    expect(props[0]).toEqual({ name: 'DevicePolicy', type: 's', value: 'strict' });
    expect(props[1].value).toEqual([
      ['block-sd', 'r'],
      ['char-*', 'm'],
      ['block-*', 'm'],
      ['/dev/char/1:3', 'rwm'],
      ['/dev/char/1:8', 'rwm'],
      ['/dev/char/1:7', 'rwm'],
      ['/dev/char/5:0', 'rwm'],
      ['/dev/char/1:5', 'rwm'],
      ['/dev/char/1:9', 'rwm'],
      ['char-pts', 'rwm'],
      ['/dev/char/5:2', 'rwm'],
      ['/dev/char/10:200', 'rwm'],
    ]);
    expect(warnings).toEqual(["systemd doesn't support '*:n' device rules -- temporarily ignoring rule: c *:4 r"]);
    // Allow-all is systemd's "auto" with no list; a deny-list becomes a temporary deny-all, with runc's warning.
    expect(deviceProperties(targetDeviceRules([{ allow: true, access: 'rwm' }], []), () => {}).map((p) => p.value)).toEqual(['auto', []]);
    expect(deviceProperties(targetDeviceRules([{ allow: true, access: 'rwm' }, { allow: false, type: 'c', major: 1, minor: 3, access: 'rwm' }], []), (m) => warnings.push(m)).map((p) => p.value)).toEqual(['strict', []]);
    expect(warnings[1]).toMatch(/blacklist/);
  });
});
