// The systemd cgroup driver (--systemd-cgroup), in a qemu guest whose PID 1
// is systemd (scripts/systemd-vm.sh; cgroup v2, and hybrid with --hybrid).
// Each scenario runs under ocirun and under Debian's runc in the same run;
// what systemd and the cgroup files show must be the same.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, makeBundle, OCIRUN } from './helpers.js';

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
const show = (unit: string, props: string[]) =>
  Object.fromEntries(
    execFileSync('systemctl', ['show', unit, ...props.flatMap((p) => ['-p', p])], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
/** The memory limit file of a cgroup directory, v2 or v1. */
const memoryFile = (rel: string) => (v2 ? path.join('/sys/fs/cgroup', rel, 'memory.max') : path.join('/sys/fs/cgroup/memory', rel, 'memory.limit_in_bytes'));

function lifecycle(name: Name, slice: string, expandedSlice: string) {
  const id = `sd-${name}`;
  const unit = `ocitest-${id}.scope`;
  const bundle = makeBundle(`ocirun-sd-${name}-`, ['sleep', '300'], (c) => {
    c.linux.cgroupsPath = `${slice}:ocitest:${id}`;
    c.linux.resources = { ...c.linux.resources, memory: { limit: 64 * MiB }, pids: { limit: 50 }, cpu: { shares: 512, quota: 20_000, period: 100_000, cpus: '0' } };
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
    out.initInScope = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').some((l) => l.endsWith(rel));
    out.memoryFile = fs.readFileSync(memoryFile(rel), 'utf8').trim();
    out.update = sd(name, ['update', '--memory', String(128 * MiB), id]).status;
    out.updated = { property: show(unit, [v2 ? 'MemoryMax' : 'MemoryLimit'])[v2 ? 'MemoryMax' : 'MemoryLimit'], file: fs.readFileSync(memoryFile(rel), 'utf8').trim() };
    // An exec'd process, seen from the host: in the scope too.
    const pidFile = path.join(root, `${id}.exec.pid`);
    const exec = cli(root, ['--systemd-cgroup', 'exec', '-d', '--pid-file', pidFile, id, 'sleep', '30'], { runtime: RUNTIMES[name], detached: true });
    out.execInScope = exec.status === 0 && fs.readFileSync(`/proc/${fs.readFileSync(pidFile, 'utf8').trim()}/cgroup`, 'utf8').split('\n').some((l) => l.endsWith(rel));
    out.kill = sd(name, ['kill', id, 'KILL']).status;
    for (let i = 0; i < 100 && JSON.parse(sd(name, ['state', id]).stdout || '{}').status !== 'stopped'; i++) spawnSync('sleep', ['0.05']);
    out.delete = sd(name, ['delete', id]).status;
    out.unitAfter = show(unit, ['LoadState', 'ActiveState']);
    out.cgroupAfter = fs.existsSync(path.dirname(memoryFile(rel)));
  } finally {
    sd(name, ['delete', '--force', id]);
    fs.rmSync(bundle, { recursive: true, force: true });
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
      initInScope: true,
      memoryFile: String(64 * MiB),
      update: 0,
      updated: { property: String(128 * MiB), file: String(128 * MiB) },
      execInScope: true,
      kill: 0,
      delete: 0,
      unitAfter: { LoadState: 'not-found', ActiveState: 'inactive' },
      cgroupAfter: false,
    });
  }, 300_000);

  it('expands a slice named with dashes into its parents, as runc', () => {
    const mine = lifecycle('ocirun', 'kubepods-burstable-pod123.slice', '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod123.slice');
    const theirs = lifecycle('runc', 'kubepods-burstable-pod123.slice', '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod123.slice');
    expect(mine).toEqual(theirs);
    expect(mine).toMatchObject({ run: { status: 0 }, initInScope: true, memoryFile: String(64 * MiB), delete: 0, cgroupAfter: false });
  }, 300_000);

  it('refuses a malformed cgroupsPath and a bad slice name: exit 1, one line, no unit or state left', () => {
    for (const [cgroupsPath, message] of [
      ['system.slice:only-two', /expected cgroupsPath to be of format \\?"slice:prefix:name\\?"/],
      ['notaslice:ocitest:bad', /invalid slice name: notaslice/],
    ] as const) {
      const bundle = makeBundle('ocirun-sd-bad-', ['true'], (c) => (c.linux.cgroupsPath = cgroupsPath));
      try {
        const r = sd('ocirun', ['run', '-d', '--bundle', bundle, 'sd-bad']);
        expect(r.status).toBe(1);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(message);
        expect(fs.existsSync(path.join(root, 'sd-bad'))).toBe(false);
        expect(show('ocitest-bad.scope', ['LoadState']).LoadState).toBe('not-found');
        // runc refuses them too.
        expect(sd('runc', ['run', '-d', '--bundle', bundle, 'sd-bad']).status).not.toBe(0);
        sd('runc', ['delete', '--force', 'sd-bad']);
      } finally {
        fs.rmSync(bundle, { recursive: true, force: true });
      }
    }
  }, 120_000);
});
