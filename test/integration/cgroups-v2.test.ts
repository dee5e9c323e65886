// cgroups on a cgroup-v2-only host: the README's test command runs this
// file inside a qemu guest (scripts/cgroup2-vm.sh), since these machines
// run v1 hybrid. Limits written, converted and enforced, the eBPF device
// filter allowing and denying for real, update, pause/resume, events, ps,
// removal on delete.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningContainer, cli, makeBundle, removeBundle, startContainer, waitUntil } from './helpers.js';

const v2Host = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
let c: RunningContainer;
const inside = (cmd: string) => cli(c.root, ['exec', c.id, 'sh', '-c', cmd], { timeout: 60_000 });
/** The container's cgroup directory, from the host's view of its init. */
const hostDir = () => path.join('/sys/fs/cgroup', fs.readFileSync(`/proc/${c.initPid}/cgroup`, 'utf8').trim().replace(/^0::/, ''));

beforeAll(() => {
  // Run only where it must run (the guest project, test/run-all.sh): a host without v2 is a failure here.
  expect(v2Host, 'this test needs a cgroup-v2-only host (scripts/cgroup2-vm.sh)').toBe(true);
  // A shell as pid 1 reaps the sleeps a failed fork loop orphans (a bare
  // `sleep` would keep them as zombies, which count against pids.max).
  c = startContainer('cg2', ['sh', '-c', 'while true; do sleep 1; done'], (config) => {
    // Small enough that the Node setup (tens of MB, a dozen threads) could not run inside them.
    config.linux.resources = { devices: [{ allow: false, access: 'rwm' }], memory: { limit: 4 * 2 ** 20 }, pids: { limit: 8 }, cpu: { shares: 1024, quota: 50000, period: 100000 } };
    for (const set of ['bounding', 'effective', 'permitted']) config.process.capabilities[set].push('CAP_MKNOD');
  });
}, 120_000);
afterAll(() => c?.remove());

describe('cgroups v2', () => {
  it('starts under limits the setup could not live in, and the container sees them in its own cgroup2 mount', () => {
    const r = inside('cat /proc/self/cgroup; grep " /sys/fs/cgroup " /proc/self/mountinfo | cut -d" " -f4,5,9; cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.weight /sys/fs/cgroup/cpu.max');
    expect(r.status, r.stderr).toBe(0);
    // cgroup namespace rooted at the container's cgroup; the mount's source is
    // the config's ("cgroup"), as runc mounts it; runc's shares-to-weight conversion (1024 -> 39).
    expect(r.stdout).toBe(`0::/\n/ /sys/fs/cgroup cgroup\n${4 * 2 ** 20}\n8\n39\n50000 100000\n`);
    expect(fs.readFileSync(path.join(hostDir(), 'memory.max'), 'utf8')).toBe(`${4 * 2 ** 20}\n`);
  });

  it('enforces the pids limit: forks beyond it fail', async () => {
    const r = inside('for i in 1 2 3 4 5 6 7 8 9 10; do sleep 1 & done; wait');
    expect(r.stderr).toMatch(/can't fork: Resource temporarily unavailable/);
    // The sleeps that did start, gone and reaped: the shell and its own sleep at most.
    await waitUntil(() => Number(fs.readFileSync(path.join(hostDir(), 'pids.current'), 'utf8')) <= 2, 'the container\'s pids.current back to its shell');
  });

  it('the device filter denies what the rules do not allow, and allows what they do', () => {
    const r = inside('mknod /dev/ok c 1 3; mknod /dev/disk b 8 0; echo hi > /dev/ok && echo ok-writable; head -c1 /dev/disk; echo "disk=$?"');
    expect(r.stdout, `${r.status} ${r.stderr}`).toBe('ok-writable\ndisk=1\n');
    expect(r.stderr).toMatch(/head: \/dev\/disk: Operation not permitted/);
  });

  it('update changes the limits (flags and -r), read back inside', () => {
    expect(cli(c.root, ['update', '--memory', '48m', '--pids-limit', '30', c.id]).status).toBe(0);
    const file = path.join(c.root, 'res.json');
    fs.writeFileSync(file, JSON.stringify({ cpu: { shares: 2048 } }));
    expect(cli(c.root, ['update', '-r', file, c.id]).status).toBe(0);
    expect(inside('cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.weight').stdout).toBe(`${48 * 2 ** 20}\n30\n79\n`);
  });

  it('pause freezes through cgroup.freeze, resume thaws', () => {
    expect(cli(c.root, ['pause', c.id]).status).toBe(0);
    try {
      expect(JSON.parse(cli(c.root, ['state', c.id]).stdout).status).toBe('paused');
      expect(fs.readFileSync(path.join(hostDir(), 'cgroup.events'), 'utf8')).toMatch(/^frozen 1$/m);
    } finally {
      expect(cli(c.root, ['resume', c.id]).status).toBe(0);
    }
    expect(JSON.parse(cli(c.root, ['state', c.id]).stdout).status).toBe('running');
    expect(fs.readFileSync(path.join(hostDir(), 'cgroup.events'), 'utf8')).toMatch(/^frozen 0$/m);
  });

  it("events --stats reports usage in runc's shape from the v2 files", () => {
    const r = cli(c.root, ['events', '--stats', c.id]);
    expect(r.status, r.stderr).toBe(0);
    const e = JSON.parse(r.stdout);
    expect(e.type).toBe('stats');
    expect(e.data.pids.current).toBeGreaterThanOrEqual(1);
    expect(e.data.pids.limit).toBe(30);
    expect(e.data.memory.usage.limit).toBe(48 * 2 ** 20);
    expect(e.data.memory.usage.usage).toBeGreaterThan(0);
    expect(e.data.cpu.usage.total).toBeGreaterThan(0);
  });

  it("ps lists the cgroup's pids; delete removes the cgroup directory", () => {
    expect(JSON.parse(cli(c.root, ['ps', '--format', 'json', c.id]).stdout)).toContain(c.initPid);
    const dir = hostDir();
    expect(fs.existsSync(dir)).toBe(true);
    expect(cli(c.root, ['delete', '--force', c.id]).status).toBe(0);
    expect(fs.existsSync(dir)).toBe(false);
  });
});

// runc's update.bats "update cgroup cpu limits" and "update cgroup v1/v2
// common limits", beside runc 1.1.5: v2 keeps the CPU quota and period in
// one file (cpu.max) and swap apart from memory (memory.swap.max), so what
// an update was not given must come from what the container has.
describe('update on v2 keeps what it was not given, as runc', () => {
  const runtimes = [['ocirun', undefined], ['runc', '/usr/sbin/runc']] as const;
  for (const [name, runtime] of runtimes) {
    it(`${name}: --cpu-period alone keeps the quota; --memory -1 lifts the swap limit with it`, () => {
      const root = fs.mkdtempSync('/tmp/ocirun-v2-update-');
      const id = `v2-update-${name}-${process.pid}`;
      const cgroupsPath = `/ocirun-test-v2-update-${name}-${process.pid}`;
      const bundle = makeBundle('ocirun-v2-update-', ['sleep', '1000'], (config) => {
        config.linux.cgroupsPath = cgroupsPath;
        config.linux.resources = { cpu: { quota: 500000, period: 1000000 } };
      });
      const dir = path.join('/sys/fs/cgroup', cgroupsPath);
      const read = (file: string) => fs.readFileSync(path.join(dir, file), 'utf8').trim();
      const update = (...flags: string[]) => expect(cli(root, ['update', ...flags, id], { runtime }).status).toBe(0);
      try {
        expect(cli(root, ['run', '-d', '--bundle', bundle, id], { runtime, detached: true }).status).toBe(0);
        expect(read('cpu.max')).toBe('500000 1000000');
        update('--cpu-period', '900000');
        expect(read('cpu.max')).toBe('500000 900000');
        update('--memory', '52428800', '--memory-swap', '96468992');
        expect([read('memory.max'), read('memory.swap.max')]).toEqual(['52428800', '44040192']);
        update('--memory', '-1');
        expect([read('memory.max'), read('memory.swap.max')]).toEqual(['max', 'max']);
      } finally {
        cli(root, ['delete', '-f', id], { runtime });
        removeBundle(bundle);
        fs.rmSync(root, { recursive: true, force: true });
      }
    });
  }
});
