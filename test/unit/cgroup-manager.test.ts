// The cgroup manager's three drivers against fake cgroup trees (directories
// laid out as cgroupfs mounts, with the files the kernel would have made),
// the device filter through RecordingSys and systemd through a recording bus.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cgroupManager, driverOf, newCgroupManager } from '../../src/cgroups/drivers.js';
import type { CgroupLayout } from '../../src/cgroups/index.js';
import type { ScopeBus } from '../../src/cgroups/systemd-scope.js';
import { BPF_CMD } from '../../src/sys/constants.js';
import { RecordingSys } from '../../src/sys/recording.js';
import type { UnitProperty } from '../../src/systemd/sdbus.js';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-fake-cgroups-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const read = (file: string) => fs.readFileSync(file, 'utf8');
/** The files the kernel makes with a cgroup directory (written in place, as cgroupfs takes a write: keep them empty). */
function kernelFiles(dir: string, files: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, value] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), value);
}
/** cgroupfs' rmdir takes a directory with its files; a plain one needs them gone first. */
function asCgroupfs(top: string): void {
  for (const e of fs.readdirSync(top, { withFileTypes: true })) {
    if (e.isDirectory()) asCgroupfs(path.join(top, e.name));
    else fs.rmSync(path.join(top, e.name));
  }
}

/** A RecordingSys whose PROG_QUERY finds no program attached yet. */
class DeviceSys extends RecordingSys {
  override bpf(cmd: number, attr: Buffer): number {
    const r = super.bpf(cmd, attr);
    if (cmd === BPF_CMD.PROG_QUERY) attr.writeUInt32LE(0, 24);
    return r;
  }
}

describe('cgroupfs v1 driver', () => {
  const layout = (): CgroupLayout => ({ mode: 'v1', hierarchies: ['memory', 'pids', 'freezer'].map((name) => ({ name, mountPoint: path.join(root, name), ownPath: '/' })) });
  const make = (rootless = false, cgroupsPath = '') => {
    const steps: string[] = [];
    const m = newCgroupManager({ layout: layout(), systemd: false, rootless, id: 'c1', cgroupsPath, onStep: (s) => steps.push(s) });
    return { m, steps };
  };

  it('makes the directory on each hierarchy, writes the limits, records its kind', async () => {
    const { m, steps } = make();
    expect(m.driver).toBe('cgroupfs-v1');
    expect(m.paths).toEqual({ memory: path.join(root, 'memory/c1'), pids: path.join(root, 'pids/c1'), freezer: path.join(root, 'freezer/c1') });
    kernelFiles(m.paths.memory, { 'memory.limit_in_bytes': '', 'cgroup.procs': '' });
    kernelFiles(m.paths.pids, { 'pids.max': '', 'cgroup.procs': '' });
    const res = m.prepare({ resources: { memory: { limit: 1 << 20 }, pids: { limit: 10 } }, warn: () => {} });
    await m.create(res);
    expect(steps).toEqual(['cgroups-made', 'resources-written']);
    expect(fs.statSync(m.paths.freezer).isDirectory()).toBe(true);
    expect(read(path.join(m.paths.memory, 'memory.limit_in_bytes'))).toBe(String(1 << 20));
    expect(read(path.join(m.paths.pids, 'pids.max'))).toBe('10');
    expect(m.record()).toEqual({ cgroupPaths: m.paths, cgroupDriver: 'cgroupfs-v1' });
    expect(m.currentLimits()).toEqual({ memory: { limit: 1 << 20 }, pids: { limit: 10 } });
  });

  it('refuses a limit whose file the kernel lacks, before and after the others, in its words', async () => {
    const { m } = make();
    kernelFiles(m.paths.memory, {});
    await expect(m.create(m.prepare({ resources: { memory: { limit: 4096 } }, warn: () => {} }))).rejects.toThrow(/^set cgroup resources: write "4096" to .*memory\/c1\/memory\.limit_in_bytes: ENOENT/);
  });

  it('joins a process to every hierarchy, or to the sub-cgroups exec --cgroup names', async () => {
    const { m } = make();
    await m.create(m.prepare({ resources: undefined, warn: () => {} }));
    m.join(4242);
    for (const dir of Object.values(m.paths)) expect(read(path.join(dir, 'cgroup.procs'))).toBe('4242');
    fs.mkdirSync(path.join(m.paths.memory, 'sub'));
    const sub = m.subCgroups(['memory:sub']);
    m.join(4343, sub);
    expect(read(path.join(m.paths.memory, 'sub/cgroup.procs'))).toBe('4343');
    expect(read(path.join(m.paths.pids, 'cgroup.procs'))).toBe('4343');
    expect(() => m.subCgroups(['cpuset:x'])).toThrow(/unknown controller cpuset in the container's cgroups/);
    expect(() => m.subCgroups(['../../x'])).toThrow(/is not a sub cgroup path/);
    // A sub-cgroup that does not exist: the join fails, naming the file.
    expect(() => m.join(1, m.subCgroups(['pids:gone']))).toThrow(/^join cgroup: adding pid 1 to cgroups: write .*pids\/c1\/gone\/cgroup\.procs: no such file or directory \(ENOENT\)/);
  });

  it('freezes and thaws through freezer.state, lists pids of sub-cgroups, removes everything', async () => {
    const { m } = make();
    kernelFiles(m.paths.freezer, { 'freezer.state': 'THAWED\n' });
    // Listed from the first hierarchy, sub-cgroups included.
    kernelFiles(m.paths.memory, { 'cgroup.procs': '7\n' });
    kernelFiles(path.join(m.paths.memory, 'inner'), { 'cgroup.procs': '8\n9\n' });
    await m.create(m.prepare({ resources: undefined, warn: () => {} }));
    expect(m.hasFreezer()).toBe(true);
    expect(m.freezerDir()).toBe(m.paths.freezer);
    await m.freeze(1000);
    expect(read(path.join(m.paths.freezer, 'freezer.state'))).toBe('FROZEN');
    expect(m.isFrozen()).toBe(true);
    expect(m.needsThaw()).toBe(true);
    await m.thaw(1000);
    expect(m.isFrozen()).toBe(false);
    expect(m.pids().sort()).toEqual([7, 8, 9]);
    for (const dir of Object.values(m.paths)) asCgroupfs(dir);
    expect(await m.destroy(() => {}, () => {})).toEqual([]);
    for (const dir of Object.values(m.paths)) expect(fs.existsSync(dir)).toBe(false);
  });

  it("rootless, a container left without a freezer cgroup cannot be paused: runc's words, and why", async () => {
    const m = cgroupManager({ cgroupPaths: { memory: path.join(root, 'memory/c1') } }, { rootless: true, layout: layout() });
    await expect(m.freeze()).rejects.toThrow(/^cannot toggle freezer: cgroups not configured for container \(rootless: no permission to create them\)$/);
    await expect(m.thaw()).rejects.toThrow(/^cannot toggle freezer/);
    // Not rootless: no freezer at all.
    await expect(cgroupManager({ cgroupPaths: { memory: path.join(root, 'memory/c1') } }, { layout: layout() }).freeze()).rejects.toThrow(/^freeze: no freezer/);
  });
});

describe('cgroupfs v2 driver', () => {
  const layout = (): CgroupLayout => ({ mode: 'v2', hierarchies: [{ name: 'unified', mountPoint: root, ownPath: '/' }] });
  beforeEach(() => kernelFiles(root, { 'cgroup.controllers': 'cpu memory pids\n', 'cgroup.subtree_control': '' }));

  it('enables the controllers, writes converted limits, attaches the device filter to the container\'s cgroup', async () => {
    const sys = new DeviceSys();
    const m = newCgroupManager({ layout: layout(), systemd: false, rootless: false, sys, id: 'c2', cgroupsPath: '/a/c2' });
    expect(m.driver).toBe('cgroupfs-v2');
    expect(m.paths).toEqual({ unified: path.join(root, 'a/c2') });
    kernelFiles(path.join(root, 'a'), { 'cgroup.subtree_control': '' });
    kernelFiles(m.paths.unified, { 'memory.max': '', 'cpu.weight': '' });
    const res = m.prepare({ resources: { memory: { limit: 1 << 20 }, cpu: { shares: 1024 } }, devices: { linuxDevices: undefined }, warn: () => {} });
    expect(res.deviceFilter?.length).toBeGreaterThan(0);
    await m.create(res);
    expect(read(path.join(root, 'cgroup.subtree_control'))).toBe('+cpu +memory +pids');
    expect(read(path.join(root, 'a/cgroup.subtree_control'))).toBe('+cpu +memory +pids');
    expect(read(path.join(m.paths.unified, 'memory.max'))).toBe(String(1 << 20));
    expect(read(path.join(m.paths.unified, 'cpu.weight'))).toBe('39');
    expect(sys.named('open').map((a) => a[0])).toEqual([m.paths.unified]);
    expect(sys.named('bpf').map((a) => a[0])).toEqual([BPF_CMD.PROG_QUERY, BPF_CMD.PROG_LOAD, BPF_CMD.PROG_ATTACH]);
  });

  it('update: device rules only when the new resources name some; rootless, no filter at all', async () => {
    const sys = new DeviceSys();
    const m = cgroupManager({ cgroupPaths: { unified: path.join(root, 'c3') } }, { sys, layout: layout() });
    expect(m.driver).toBe('cgroupfs-v2');
    kernelFiles(m.paths.unified, { 'pids.max': '' });
    await m.apply(m.prepare({ resources: { pids: { limit: 5 } }, warn: () => {} }));
    expect(read(path.join(m.paths.unified, 'pids.max'))).toBe('5');
    expect(sys.named('bpf')).toEqual([]);
    await m.apply(m.prepare({ resources: { devices: [{ allow: false, access: 'rwm' }] }, devices: { linuxDevices: undefined }, warn: () => {} }));
    expect(sys.named('bpf').length).toBe(3);
    const rootlessSys = new DeviceSys();
    const rootless = cgroupManager({ cgroupPaths: { unified: path.join(root, 'c3') } }, { sys: rootlessSys, rootless: true, layout: layout() });
    await rootless.apply(rootless.prepare({ resources: undefined, devices: { linuxDevices: undefined }, warn: () => {} }));
    expect(rootlessSys.calls).toEqual([]);
  });

  it('freezes through cgroup.freeze, kills the subtree with one write of cgroup.kill', async () => {
    const m = cgroupManager({ cgroupPaths: { unified: path.join(root, 'c4') } }, { layout: layout() });
    kernelFiles(m.paths.unified, { 'cgroup.freeze': '0\n', 'cgroup.events': 'populated 1\nfrozen 1\n', 'cgroup.kill': '' });
    await m.freeze(1000);
    expect(read(path.join(m.paths.unified, 'cgroup.freeze'))).toBe('1');
    expect(m.isFrozen()).toBe(true);
    const signalled: number[] = [];
    await m.signalAll('SIGKILL', (pid) => signalled.push(pid));
    expect(read(path.join(m.paths.unified, 'cgroup.kill'))).toBe('1');
    expect(signalled).toEqual([]);
  });
});

/** A bus that records what the driver asks; starting the unit makes its cgroup, as systemd does. */
function recordingBus(onStart: (unit: string, props: UnitProperty[]) => void, failStop = false) {
  const calls: { call: string; unit: string; props?: UnitProperty[] }[] = [];
  const bus: ScopeBus = {
    startTransientUnit: async (unit, props) => {
      calls.push({ call: 'start', unit, props });
      onStart(unit, props);
    },
    stopUnit: async (unit) => {
      calls.push({ call: 'stop', unit });
      if (failStop) throw new Error('Unit test-c5.scope not loaded.');
    },
    resetFailedUnit: (unit) => void calls.push({ call: 'reset', unit }),
    setUnitProperties: (unit, props) => void calls.push({ call: 'set', unit, props }),
    close: () => void calls.push({ call: 'close', unit: '' }),
  };
  return { calls, connect: async () => bus };
}
const prop = (props: UnitProperty[] | undefined, name: string) => props?.find((p) => p.name === name)?.value;

describe('systemd driver', () => {
  const layout = (): CgroupLayout => ({ mode: 'v2', hierarchies: [{ name: 'unified', mountPoint: root, ownPath: '/' }] });
  const scopeDir = () => path.join(root, 'system.slice/test-c5.scope');

  it('starts the scope with the init in it and its limits as properties, then writes the files', async () => {
    const sys = new DeviceSys();
    const steps: string[] = [];
    const { calls, connect } = recordingBus(() => kernelFiles(scopeDir(), { 'memory.max': '', 'cgroup.procs': '' }));
    const m = newCgroupManager({ layout: layout(), systemd: true, rootless: false, sys, id: 'c5', cgroupsPath: 'system.slice:test:c5', annotations: { 'org.systemd.property.TimeoutStopSec': 'uint64 5' }, onStep: (s) => steps.push(s), connect });
    expect(m.driver).toBe('systemd');
    expect(m.record()).toEqual({ cgroupPaths: { unified: scopeDir() }, cgroupDriver: 'systemd', systemdUnit: 'test-c5.scope' });
    const res = m.prepare({ resources: { memory: { limit: 1 << 20 }, devices: [{ allow: false, access: 'rwm' }] }, devices: { linuxDevices: undefined }, warn: () => {} });
    await m.create(res);
    // Nothing is made before the init exists: the scope is started with it.
    expect(fs.existsSync(scopeDir())).toBe(false);
    expect(await m.adopt(4242)).toBe(true);
    const start = calls.find((c) => c.call === 'start')!;
    expect(start.unit).toBe('test-c5.scope');
    expect(prop(start.props, 'PIDs')).toEqual([4242]);
    expect(prop(start.props, 'Slice')).toBe('system.slice');
    expect(prop(start.props, 'MemoryMax')).toBe(BigInt(1 << 20));
    expect(prop(start.props, 'DevicePolicy')).toBe('strict');
    expect(prop(start.props, 'TimeoutStopUSec')).toBe(5_000_000n);
    expect(read(path.join(scopeDir(), 'cgroup.procs'))).toBe('4242');
    expect(read(path.join(scopeDir(), 'memory.max'))).toBe(String(1 << 20));
    expect(sys.named('bpf').length).toBe(3);
    expect(steps).toEqual(['cgroups-made', 'resources-written']);
    m.close();
    expect(calls.at(-1)?.call).toBe('close');
  });

  it('update writes the files and sets the unit properties; delete stops and resets the scope, then removes what is left', async () => {
    const { calls, connect } = recordingBus(() => {});
    kernelFiles(scopeDir(), { 'pids.max': '' });
    // A state written before the driver was recorded: the unit says systemd.
    const m = cgroupManager({ cgroupPaths: { unified: scopeDir() }, systemdUnit: 'test-c5.scope' }, { connect, layout: layout() });
    expect(m.driver).toBe('systemd');
    await m.apply(m.prepare({ resources: { pids: { limit: 7 } }, warn: () => {} }));
    expect(read(path.join(scopeDir(), 'pids.max'))).toBe('7');
    const set = calls.find((c) => c.call === 'set')!;
    expect(set.unit).toBe('test-c5.scope');
    expect(prop(set.props, 'TasksMax')).toBe(7n);
    asCgroupfs(scopeDir());
    expect(await m.destroy(() => {}, () => {})).toEqual([]);
    expect(calls.map((c) => c.call)).toEqual(['set', 'close', 'stop', 'reset', 'close']);
    expect(fs.existsSync(scopeDir())).toBe(false);
  });

  it('a scope that will not stop is reported and the cgroups still go; one never asked for is not stopped', async () => {
    const failing = recordingBus(() => {}, true);
    fs.mkdirSync(scopeDir(), { recursive: true });
    const m = cgroupManager({ cgroupPaths: { unified: scopeDir() }, cgroupDriver: 'systemd', systemdUnit: 'test-c5.scope' }, { connect: failing.connect, layout: layout() });
    const warnings: string[] = [];
    expect(await m.destroy(() => {}, (w) => warnings.push(w))).toEqual([]);
    expect(warnings).toEqual(['stop scope: Unit test-c5.scope not loaded.']);
    expect(fs.existsSync(scopeDir())).toBe(false);

    const fresh = recordingBus(() => {});
    const made = newCgroupManager({ layout: layout(), systemd: true, rootless: false, id: 'c5', cgroupsPath: 'system.slice:test:c5', connect: fresh.connect });
    await made.create(made.prepare({ resources: undefined, warn: () => {} }));
    await made.destroy(() => {}, () => {});
    expect(fresh.calls.map((c) => c.call)).toEqual([]);
  });
});

describe('the driver of a state file', () => {
  it('is what it records, or derived as before it was recorded', () => {
    expect(driverOf({ cgroupPaths: { unified: '/sys/fs/cgroup/c' } })).toBe('cgroupfs-v2');
    expect(driverOf({ cgroupPaths: { memory: '/m/c', unified: '/u/c' } })).toBe('cgroupfs-v1');
    expect(driverOf({ cgroupPaths: { unified: '/sys/fs/cgroup/s.scope' }, systemdUnit: 's.scope' })).toBe('systemd');
    expect(driverOf({ cgroupPaths: { unified: '/x' }, cgroupDriver: 'cgroupfs-v1' })).toBe('cgroupfs-v1');
  });
});
