// The systemd cgroup driver (--systemd-cgroup), in a qemu guest whose PID 1
// is systemd (scripts/systemd-vm.sh; cgroup v2, and hybrid with --hybrid).
// Each scenario runs under ocirun and under Debian's runc in the same run;
// what systemd and the cgroup files show must be the same.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULT_STEPS } from '../../src/fault.js';
import { cli, makeBundle, OCIRUN, systemctlShow as show, removeBundle } from './helpers.js';

const runc = execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim();
const RUNTIMES = { ocirun: OCIRUN, runc };
type Name = keyof typeof RUNTIMES;
const v2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
const MiB = 2 ** 20;
let root: string;

beforeAll(() => {
  if (!fs.existsSync('/run/systemd/system')) throw new Error('needs systemd as PID 1 (scripts/systemd-vm.sh)');
  root = fs.mkdtempSync('/tmp/ocirun-sd-root-');
});
afterAll(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

const sd = (name: Name, args: string[]) => cli(root, ['--systemd-cgroup', ...args], { runtime: RUNTIMES[name], detached: args[0] === 'run' || args[0] === 'create' });
/** The memory limit file of a cgroup directory, v2 or v1. */
const memoryFile = (rel: string) => (v2 ? path.join('/sys/fs/cgroup', rel, 'memory.max') : path.join('/sys/fs/cgroup/memory', rel, 'memory.limit_in_bytes'));

function lifecycle(name: Name, slice: string, expandedSlice: string) {
  const id = `sd-${name}`;
  const unit = `ocitest-${id}.scope`;
  const bundle = makeBundle(`ocirun-sd-${name}-`, ['sleep', '300'], (c) => {
    c.linux.cgroupsPath = `${slice}:ocitest:${id}`;
    c.linux.resources = { ...c.linux.resources, memory: { limit: 64 * MiB }, pids: { limit: 50 }, cpu: { shares: 512, quota: 20_000, period: 100_000, cpus: '0' } };
    // v2: a unified file with a unit property of its own (runc's unifiedResToSystemdProps).
    if (v2) c.linux.resources.unified = { 'memory.high': String(48 * MiB) };
    // Unit properties passed through, runc's "Sec" to "USec" included (one
    // that does not bear on stopping: runc 1.1.5 gives up on a stop after 30 s).
    c.annotations = { 'org.systemd.property.RuntimeMaxSec': 'uint64 3600', 'org.systemd.property.CollectMode': "'inactive-or-failed'" };
  });
  const out: Record<string, unknown> = {};
  try {
    const run = sd(name, ['run', '-d', '--bundle', bundle, id]);
    // Errors only: runc warns about device rules it cannot turn into DeviceAllow= (runc's own noise).
    out.run = { status: run.status, errors: run.stderr.split('\n').filter((l) => l.includes('level=error')) };
    if (run.status !== 0) return { run: { status: run.status, stderr: run.stderr } };
    const pid = JSON.parse(sd(name, ['state', id]).stdout || '{}').pid;
    const props = show(unit, ['ActiveState', 'Slice', 'Delegate', 'TasksMax', v2 ? 'MemoryMax' : 'MemoryLimit']);
    const memoryProperty = props[v2 ? 'MemoryMax' : 'MemoryLimit'];
    delete props[v2 ? 'MemoryMax' : 'MemoryLimit'];
    out.unit = { ...props, memoryProperty };
    const rel = path.join(expandedSlice, unit);
    // The CPU limits as systemd's properties (runc's conversions) and in the files.
    out.cpu = show(unit, v2 ? ['CPUWeight', 'CPUQuotaPerSecUSec', 'CPUQuotaPeriodUSec', 'AllowedCPUs'] : ['CPUShares', 'CPUQuotaPerSecUSec', 'CPUQuotaPeriodUSec']);
    out.cpuFiles = v2
      ? ['cpu.weight', 'cpu.max', 'cpuset.cpus'].map((f) => fs.readFileSync(path.join('/sys/fs/cgroup', rel, f), 'utf8').trim())
      : ['cpu.shares', 'cpu.cfs_quota_us', 'cpu.cfs_period_us'].map((f) => fs.readFileSync(path.join('/sys/fs/cgroup/cpu,cpuacct', rel, f), 'utf8').trim());
    out.annotations = show(unit, ['RuntimeMaxUSec', 'CollectMode']);
    if (v2) out.unified = { property: show(unit, ['MemoryHigh']).MemoryHigh, file: fs.readFileSync(path.join('/sys/fs/cgroup', rel, 'memory.high'), 'utf8').trim() };
    // The device rules as systemd's (runc's conversion: an allow-list of paths and /proc/devices groups).
    out.devices = execFileSync('systemctl', ['show', unit, '-p', 'DevicePolicy', '-p', 'DeviceAllow'], { encoding: 'utf8' }).trim().split('\n').sort();
    out.initInScope = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').some((l) => l.endsWith(rel));
    out.memoryFile = fs.readFileSync(memoryFile(rel), 'utf8').trim();
    out.update = sd(name, ['update', '--memory', String(128 * MiB), id]).status;
    out.updated = { property: show(unit, [v2 ? 'MemoryMax' : 'MemoryLimit'])[v2 ? 'MemoryMax' : 'MemoryLimit'], file: fs.readFileSync(memoryFile(rel), 'utf8').trim() };
    // An exec'd process, seen from the host: in the scope too.
    const pidFile = path.join(root, `${id}.exec.pid`);
    const exec = cli(root, ['--systemd-cgroup', 'exec', '-d', '--pid-file', pidFile, id, 'sleep', '30'], { runtime: RUNTIMES[name], detached: true });
    out.execInScope = exec.status === 0 && fs.readFileSync(`/proc/${fs.readFileSync(pidFile, 'utf8').trim()}/cgroup`, 'utf8').split('\n').some((l) => l.endsWith(rel));
    // exec --cgroup: a sub-cgroup of the scope (v1: of its memory directory only, the rest the scope's).
    fs.mkdirSync(v2 ? path.join('/sys/fs/cgroup', rel, 'sub') : path.join('/sys/fs/cgroup/memory', rel, 'sub'));
    const subExec = cli(root, ['--systemd-cgroup', 'exec', '-d', '--cgroup', v2 ? 'sub' : 'memory:sub', '--pid-file', pidFile, id, 'sleep', '30'], { runtime: RUNTIMES[name], detached: true });
    const subLines = subExec.status === 0 ? fs.readFileSync(`/proc/${fs.readFileSync(pidFile, 'utf8').trim()}/cgroup`, 'utf8').split('\n') : [];
    out.execInSubCgroup = { status: subExec.status, sub: subLines.some((l) => l.endsWith(`${rel}/sub`) && (v2 || l.includes(':memory:'))), restInScope: v2 || subLines.some((l) => l.includes(':pids:') && l.endsWith(rel)) };
    // pause/resume through the scope's freezer; ps and events read the scope's cgroup.
    const frozen = () => fs.readFileSync(v2 ? path.join('/sys/fs/cgroup', rel, 'cgroup.freeze') : path.join('/sys/fs/cgroup/freezer', rel, 'freezer.state'), 'utf8').trim();
    out.pause = [sd(name, ['pause', id]).status, JSON.parse(sd(name, ['state', id]).stdout || '{}').status, frozen()];
    out.resume = [sd(name, ['resume', id]).status, JSON.parse(sd(name, ['state', id]).stdout || '{}').status, frozen()];
    const ps = sd(name, ['ps', '--format', 'json', id]);
    out.ps = ps.status === 0 && (JSON.parse(ps.stdout) as number[]).includes(pid);
    const stats = sd(name, ['events', '--stats', id]);
    out.statsPidsLimit = stats.status === 0 && JSON.parse(stats.stdout).data?.pids?.limit;
    out.kill = sd(name, ['kill', '--all', id, 'KILL']).status;
    for (let i = 0; i < 100 && JSON.parse(sd(name, ['state', id]).stdout || '{}').status !== 'stopped'; i++) spawnSync('sleep', ['0.05']);
    out.delete = sd(name, ['delete', id]).status;
    out.unitAfter = show(unit, ['LoadState', 'ActiveState']);
    out.cgroupAfter = fs.existsSync(path.dirname(memoryFile(rel)));
  } finally {
    sd(name, ['delete', '--force', id]);
    removeBundle(bundle);
  }
  return out;
}

describe('--systemd-cgroup (systemd as PID 1)', () => {
  it('puts the container in a delegated transient scope with its limits, and removes it at delete, as runc', () => {
    const mine = lifecycle('ocirun', 'system.slice', '/system.slice');
    const theirs = lifecycle('runc', 'system.slice', '/system.slice');
    expect(mine).toEqual(theirs);
    expect(mine).toEqual({
      run: { status: 0, errors: [] },
      unit: { ActiveState: 'active', Slice: 'system.slice', Delegate: 'yes', TasksMax: '50', memoryProperty: String(64 * MiB) },
      cpu: v2 ? { CPUWeight: '20', CPUQuotaPerSecUSec: '200ms', CPUQuotaPeriodUSec: '100ms', AllowedCPUs: '0' } : { CPUShares: '512', CPUQuotaPerSecUSec: '200ms', CPUQuotaPeriodUSec: '100ms' },
      cpuFiles: v2 ? ['20', '20000 100000', '0'] : ['512', '20000', '100000'],
      annotations: { RuntimeMaxUSec: '1h', CollectMode: 'inactive-or-failed' },
      ...(v2 ? { unified: { property: String(48 * MiB), file: String(48 * MiB) } } : {}),
      devices: expect.arrayContaining(['DevicePolicy=strict', 'DeviceAllow=char-pts rwm', 'DeviceAllow=/dev/char/1:3 rwm']),
      initInScope: true,
      memoryFile: String(64 * MiB),
      update: 0,
      updated: { property: String(128 * MiB), file: String(128 * MiB) },
      execInScope: true,
      execInSubCgroup: { status: 0, sub: true, restInScope: true },
      pause: [0, 'paused', v2 ? '1' : 'FROZEN'],
      resume: [0, 'running', v2 ? '0' : 'THAWED'],
      ps: true,
      statsPidsLimit: 50,
      kill: 0,
      delete: 0,
      unitAfter: { LoadState: 'not-found', ActiveState: 'inactive' },
      cgroupAfter: false,
    });
  }, 300_000);

  it('expands a slice named with dashes into its parents, as runc', () => {
    const mine = lifecycle('ocirun', 'kubepods-burstable-pod123.slice', '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod123.slice');
    const theirs = lifecycle('runc', 'kubepods-burstable-pod123.slice', '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod123.slice');
    // runc 1.1.5 on the hybrid layout places this container as ocirun
    // does, then loses it: its `ps` and `delete` fail (exit 1, the unit left
    // active; seen with the property annotations, not without them). There
    // the two are compared up to that point, and ocirun must do what it
    // does on v2.
    const afterCreate = ['ps', 'delete', 'unitAfter', 'cgroupAfter'];
    const upTo = (o: Record<string, unknown>) => (v2 ? o : Object.fromEntries(Object.entries(o).filter(([k]) => !afterCreate.includes(k))));
    expect(upTo(mine)).toEqual(upTo(theirs));
    expect(mine).toMatchObject({ ps: true, delete: 0, unitAfter: { LoadState: 'not-found', ActiveState: 'inactive' } });
    expect(mine).toMatchObject({ run: { status: 0 }, initInScope: true, memoryFile: String(64 * MiB), delete: 0, cgroupAfter: false });
  }, 300_000);

  it('refuses a malformed cgroupsPath, a bad slice name, a bad property annotation and an unreachable bus: exit 1, one line, nothing left', () => {
    const cases: [string, Record<string, string>, boolean, RegExp][] = [
      ['system.slice:only-two', {}, false, /expected cgroupsPath to be of format \\?"slice:prefix:name\\?"/],
      ['notaslice:ocitest:bad', {}, false, /invalid slice name: notaslice/],
      ['system.slice:ocitest:bad', { 'org.systemd.property.AB': 'true' }, false, /annotation org.systemd.property.AB name incorrect: too short/],
      ['system.slice:ocitest:bad', { 'org.systemd.property.TimeoutStopSec': "'soon'" }, false, /TimeoutStopSec='soon' value parse error/],
      // No way to systemd: its socket hidden (a private mount namespace), the system bus address gone.
      ['system.slice:ocitest:bad', {}, true, /cannot connect to systemd .*ENOENT|ECONNREFUSED/],
    ];
    const noBus = (runtime: string, args: string[]) =>
      spawnSync('unshare', ['-m', 'sh', '-c', 'mount --bind /dev/null /run/systemd/private && exec "$@"', 'sh', runtime, '--root', root, ...args], {
        encoding: 'utf8',
        timeout: 60_000,
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent/bus' },
      });
    for (const [cgroupsPath, annotations, hideBus, message] of cases) {
      const bundle = makeBundle('ocirun-sd-bad-', ['true'], (c) => {
        c.linux.cgroupsPath = cgroupsPath;
        c.annotations = annotations;
      });
      try {
        const args = ['--systemd-cgroup', 'run', '-d', '--bundle', bundle, 'sd-bad'];
        const r = hideBus ? noBus(OCIRUN, args) : cli(root, args, { detached: true });
        expect(r.status, cgroupsPath).toBe(1);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(message);
        expect(fs.existsSync(path.join(root, 'sd-bad'))).toBe(false);
        expect(show('ocitest-bad.scope', ['LoadState']).LoadState).toBe('not-found');
        expect(fs.existsSync(memoryFile('/system.slice/ocitest-bad.scope'))).toBe(false);
        // runc refuses them too.
        expect((hideBus ? noBus(runc, args) : cli(root, args, { runtime: runc, detached: true })).status, cgroupsPath).not.toBe(0);
        sd('runc', ['delete', '--force', 'sd-bad']);
      } finally {
        removeBundle(bundle);
      }
    }
  }, 180_000);

  it('leaves no unit, cgroup or state after a create killed at any step and `delete -f`, or a create whose step fails', () => {
    const id = 'sd-crash';
    const unit = `ocitest-${id}.scope`;
    const left = () => ({ unit: show(unit, ['LoadState']).LoadState, cgroup: fs.existsSync(path.dirname(memoryFile(`/system.slice/${unit}`))), state: fs.existsSync(path.join(root, id)) });
    const nothing = { unit: 'not-found', cgroup: false, state: false };
    const bundle = makeBundle('ocirun-sd-crash-', ['sleep', '300'], (c) => {
      c.linux.cgroupsPath = `system.slice:ocitest:${id}`;
      c.linux.resources = { ...c.linux.resources, memory: { limit: 64 * MiB } };
    });
    try {
      // From the init's spawn on: systemd is asked for the unit after it;
      // the steps before are the cgroupfs driver's, in crash-safety.test.ts.
      for (const step of FAULT_STEPS.create.slice(FAULT_STEPS.create.indexOf('init-spawned'))) {
        const r = cli(root, ['--systemd-cgroup', 'create', '--bundle', bundle, id], { detached: true, env: { OCIRUN_FAULT_AFTER: step } });
        expect(r.signal, step).toBe('SIGKILL');
        expect(sd('ocirun', ['delete', '--force', id]).status, step).toBe(0);
        expect({ step, ...left() }).toEqual({ step, ...nothing });
      }
      // The unit exists from cgroups-made on: a failure after it undoes it.
      for (const step of ['cgroups-joined', 'init-created'] as const) {
        const r = cli(root, ['--systemd-cgroup', 'create', '--bundle', bundle, id], { detached: true, env: { OCIRUN_FAULT_FAIL: step } });
        expect(r.status, step).toBe(1);
        expect({ step, ...left() }).toEqual({ step, ...nothing });
      }
    } finally {
      sd('ocirun', ['delete', '--force', id]);
      removeBundle(bundle);
    }
  }, 300_000);
});
