// cgroups on this host (v1 hybrid): limits written and enforced, seen from
// inside the container; update, pause/resume, events, ps; removal on delete.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OCIRUN, type RunningContainer, cli, psPids, startContainer, waitUntil } from './helpers.js';

let root: string;
let c: RunningContainer;
let id: string;
let initPid: number;

const inside = (cmd: string) => cli(root, ['exec', id, 'sh', '-c', cmd]);
/** The container's directory on a v1 hierarchy, from the host's view of its init. */
function hostDir(controller: string): string {
  const line = fs.readFileSync(`/proc/${initPid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes(controller))!;
  const mount = fs.readdirSync('/sys/fs/cgroup').find((d) => d.split(',').includes(controller))!;
  return path.join('/sys/fs/cgroup', mount, line.split(':')[2]);
}

beforeAll(() => {
  if (fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) return;
  c = startContainer('cg', ['sleep', '1000'], (config) => {
    config.linux.resources = { memory: { limit: 32 * 2 ** 20 }, pids: { limit: 12 }, cpu: { shares: 256 } };
  });
  ({ root, id, initPid } = c);
});

afterAll(() => c?.remove());

// On a cgroup v2 host (the qemu guest), cgroups-v2.test.ts runs instead.
const v2Host = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');

describe.skipIf(v2Host)('cgroups v1', () => {
  it('writes the configured limits, which the container sees', () => {
    const r = inside('cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.shares');
    expect(r.stdout).toBe(`${32 * 2 ** 20}\n12\n256\n`);
  });

  it('enforces the pids limit: forks beyond it fail', async () => {
    // 20 sleeps do not fit in 12 tasks (init and the shell count too).
    expect(inside('for i in $(seq 5); do sleep 1 & done; wait').status).toBe(0);
    const r = inside('for i in $(seq 20); do sleep 1 & done; wait');
    expect(r.stderr).toMatch(/can't fork: Resource temporarily unavailable/);
    // The sleeps that did start, gone (as zombies of the init, which does
    // not reap: they still count in pids.current): only the init lives.
    await waitUntil(() => fs.readFileSync(path.join(hostDir('pids'), 'cgroup.procs'), 'utf8') === `${initPid}\n`, 'the started sleeps to end');
  });

  it('update changes the limits (flags and -r), and they are read back inside', () => {
    expect(cli(root, ['update', '--memory', '48m', '--pids-limit', '30', id]).status).toBe(0);
    const file = path.join(root, 'res.json');
    fs.writeFileSync(file, JSON.stringify({ cpu: { shares: 300 } }));
    expect(cli(root, ['update', '-r', file, id]).status).toBe(0);
    expect(inside('cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.shares').stdout).toBe(`${48 * 2 ** 20}\n30\n300\n`);
    const bad = cli(root, ['update', '--memory', 'lots', id]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/invalid value for --memory/);
  });

  it('pause freezes every task, resume thaws them', () => {
    expect(cli(root, ['pause', id]).status).toBe(0);
    try {
      expect(JSON.parse(cli(root, ['state', id]).stdout).status).toBe('paused');
      expect(fs.readFileSync(path.join(hostDir('freezer'), 'freezer.state'), 'utf8').trim()).toBe('FROZEN');
      const e = cli(root, ['exec', id, 'true']);
      expect(e.status).toBe(255);
      expect(e.stderr).toMatch(/cannot exec in a paused container/);
      expect(cli(root, ['pause', id]).stderr).toMatch(/container not running/);
    } finally {
      expect(cli(root, ['resume', id]).status).toBe(0);
    }
    expect(JSON.parse(cli(root, ['state', id]).stdout).status).toBe('running');
    expect(fs.readFileSync(path.join(hostDir('freezer'), 'freezer.state'), 'utf8').trim()).toBe('THAWED');
    expect(cli(root, ['resume', id]).stderr).toMatch(/container not paused/);
  });

  it('events --stats reports usage in runc\'s shape', () => {
    const r = cli(root, ['events', '--stats', id]);
    expect(r.status, r.stderr).toBe(0);
    const e = JSON.parse(r.stdout);
    expect(e.type).toBe('stats');
    expect(e.id).toBe(id);
    expect(e.data.pids.current).toBeGreaterThanOrEqual(1);
    expect(e.data.memory.usage.limit).toBe(Number(fs.readFileSync(path.join(hostDir('memory'), 'memory.limit_in_bytes'), 'utf8')));
    expect(e.data.memory.usage.usage).toBeGreaterThan(0);
    expect(e.data.cpu.usage.total).toBeGreaterThan(0);
    expect(e.data.cpu.usage.percpu.length).toBe(os.cpus().length);
  });

  it('events streams stats and reports an OOM kill', async () => {
    const lines: string[] = [];
    const ev = spawn(OCIRUN, ['--root', root, 'events', '--interval', '1s', id], { stdio: ['ignore', 'pipe', 'inherit'] });
    ev.stdout.setEncoding('utf8').on('data', (d: string) => lines.push(...d.split('\n').filter(Boolean)));
    try {
      await waitUntil(() => lines.filter((l) => JSON.parse(l).type === 'stats').length >= 2, 'two stats events, a second apart');
      // A shell doubling a string until the 48m limit kills it.
      inside('s=x; while true; do s="$s$s"; done');
      for (let i = 0; i < 50 && !lines.some((l) => JSON.parse(l).type === 'oom'); i++) await new Promise((r) => setTimeout(r, 100));
    } finally {
      ev.kill();
    }
    const events = lines.map((l) => JSON.parse(l));
    expect(events.filter((e) => e.type === 'stats').length).toBeGreaterThanOrEqual(2);
    expect(events).toContainEqual({ type: 'oom', id });
  });

  it('ps lists the cgroup\'s pids; delete removes every cgroup directory', () => {
    expect(psPids(root, id)).toContain(initPid);
    const dirs = ['memory', 'pids', 'cpu', 'freezer'].map(hostDir);
    for (const d of dirs) expect(fs.existsSync(d)).toBe(true);
    expect(cli(root, ['delete', '--force', id]).status).toBe(0);
    for (const d of dirs) expect(fs.existsSync(d), d).toBe(false);
  });
});
