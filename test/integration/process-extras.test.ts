// Process attributes newer runc applies, each seen from inside or from the
// host: linux.personality (LINUX32 on x86_64 makes uname report i686; flags) and
// process.ioPriority (ioprio_get from the host).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, leftovers, makeBundle } from './helpers.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-persona-root-'));
const bundles: string[] = [];
afterAll(() => [root, ...bundles].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe.runIf(os.arch() === 'x64')('personality', () => {
  it('LINUX32 reaches the program and exec; LINUX leaves the native one', () => {
    const linux32 = (c: any) => (c.linux.personality = { domain: 'LINUX32' });
    const b32 = makeBundle('ocirun-persona-', ['uname', '-m'], linux32);
    const sleeper = makeBundle('ocirun-persona-', ['sleep', '100'], linux32);
    const b64 = makeBundle('ocirun-persona-', ['uname', '-m'], (c) => (c.linux.personality = { domain: 'LINUX' }));
    bundles.push(b32, sleeper, b64);
    const id = `persona-${process.pid}`;
    expect(cli(root, ['run', '--bundle', b32, id]).stdout).toBe('i686\n');
    try {
      expect(cli(root, ['run', '-d', '--bundle', sleeper, `${id}-exec`], { detached: true }).status).toBe(0);
      expect(cli(root, ['exec', `${id}-exec`, 'uname', '-m']).stdout).toBe('i686\n');
    } finally {
      cli(root, ['delete', '-f', `${id}-exec`]);
    }
    expect(cli(root, ['run', '--bundle', b64, `${id}-64`]).stdout).toBe('x86_64\n');
  });

  it('applies the flags with the domain, to the program and to exec (runc ignores them); an unknown flag is refused', () => {
    const flags = (c: any) => (c.linux.personality = { domain: 'LINUX', flags: ['ADDR_NO_RANDOMIZE', 'UNAME26'] });
    const b = makeBundle('ocirun-persona-', ['sh', '-c', 'cat /proc/self/personality; uname -r | cut -d. -f1,2'], flags);
    const sleeper = makeBundle('ocirun-persona-', ['sleep', '100'], flags);
    const bad = makeBundle('ocirun-persona-', ['true'], (c) => (c.linux.personality = { domain: 'LINUX', flags: ['NO_SUCH_FLAG'] }));
    bundles.push(b, sleeper, bad);
    const id = `persona-flags-${process.pid}`;
    // ADDR_NO_RANDOMIZE (0x40000) | UNAME26 (0x20000); UNAME26 makes the kernel say 2.6.
    expect(cli(root, ['run', '--bundle', b, id]).stdout).toBe('00060000\n2.6\n');
    try {
      expect(cli(root, ['run', '-d', '--bundle', sleeper, `${id}-exec`], { detached: true }).status).toBe(0);
      expect(cli(root, ['exec', `${id}-exec`, 'cat', '/proc/self/personality']).stdout).toBe('00060000\n');
    } finally {
      cli(root, ['delete', '-f', `${id}-exec`]);
    }
    const r = cli(root, ['run', '--bundle', bad, `persona-bad-${process.pid}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/linux\.personality\.flags\[0\]: unknown personality flag \\?"NO_SUCH_FLAG/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

/** ioprio_get(IOPRIO_WHO_PROCESS, pid) from the host. */
const ioprioOf = (pid: number) =>
  Number(execFileSync('python3', ['-c', 'import ctypes,sys; l=ctypes.CDLL(None); print(l.syscall(252, 1, int(sys.argv[1])))', String(pid)], { encoding: 'utf8' }).trim());

/**
 * Runs `sleep` detached with `edit` applied, execs a second `sleep` in it,
 * and gives `check` both pids, as the host sees them.
 */
function withProgramAndExec(name: string, edit: (c: any) => void, check: (programPid: number, execPid: number) => void): void {
  const b = makeBundle(`ocirun-${name}-`, ['sleep', '100'], edit);
  bundles.push(b);
  const id = `${name}-${process.pid}`;
  try {
    const r = cli(root, ['run', '-d', '--bundle', b, id], { detached: true });
    expect(r.status, r.stderr).toBe(0);
    const pidFile = path.join(root, `${name}-exec.pid`);
    const e = cli(root, ['exec', '-d', '--pid-file', pidFile, id, 'sleep', '100'], { detached: true });
    expect(e.status, e.stderr).toBe(0);
    check(JSON.parse(cli(root, ['state', id]).stdout).pid, Number(fs.readFileSync(pidFile, 'utf8')));
  } finally {
    cli(root, ['delete', '-f', id]);
  }
}

describe('linux.memoryPolicy', () => {
  // This VM has one NUMA node, 0. The policy shows in /proc/self/numa_maps' second field.
  const policyOf = (out: string) => out.trim().split('\n')[0];
  const program = ['sh', '-c', 'head -1 /proc/self/numa_maps | cut -d" " -f2'];
  it('binds the program and exec\'d processes to the nodes, with the flags', () => {
    const bind = makeBundle('ocirun-mpol-', program, (c) => (c.linux.memoryPolicy = { mode: 'MPOL_BIND', nodes: '0' }));
    const preferred = makeBundle('ocirun-mpol-', program, (c) => (c.linux.memoryPolicy = { mode: 'MPOL_PREFERRED', nodes: '0', flags: ['MPOL_F_STATIC_NODES'] }));
    const interleave = makeBundle('ocirun-mpol-', ['sleep', '100'], (c) => (c.linux.memoryPolicy = { mode: 'MPOL_INTERLEAVE', nodes: '0' }));
    bundles.push(bind, preferred, interleave);
    const id = `mpol-${process.pid}`;
    expect(policyOf(cli(root, ['run', '--bundle', bind, `${id}-bind`]).stdout)).toBe('bind:0');
    expect(policyOf(cli(root, ['run', '--bundle', preferred, `${id}-pref`]).stdout)).toBe('prefer=static:0');
    try {
      expect(cli(root, ['run', '-d', '--bundle', interleave, `${id}-exec`], { detached: true }).status).toBe(0);
      expect(policyOf(cli(root, ['exec', `${id}-exec`, ...program]).stdout)).toBe('interleave:0');
    } finally {
      cli(root, ['delete', '-f', `${id}-exec`]);
    }
  });

  it('refuses a node the host lacks (the kernel\'s EINVAL) and nodes a mode does not take, leaving nothing', () => {
    const cases: [any, RegExp][] = [
      [{ mode: 'MPOL_BIND', nodes: '7' }, /linux\.memoryPolicy: set_mempolicy mode 0x2 nodes 7: .*\(EINVAL\)/],
      [{ mode: 'MPOL_LOCAL', nodes: '0' }, /linux\.memoryPolicy\.nodes: MPOL_LOCAL takes no nodes/],
      [{ mode: 'MPOL_BIND' }, /linux\.memoryPolicy\.nodes: MPOL_BIND needs at least one node/],
      [{ mode: 'MPOL_BIND', nodes: '0-x' }, /linux\.memoryPolicy\.nodes: .* is not a NUMA node list/],
    ];
    for (const [policy, msg] of cases) {
      const b = makeBundle('ocirun-mpol-', ['true'], (c) => (c.linux.memoryPolicy = policy));
      bundles.push(b);
      const id = `mpol-bad-${process.pid}`;
      const r = cli(root, ['run', '--bundle', b, id]);
      expect(r.status, JSON.stringify(policy)).toBe(1);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(leftovers(root, id, b)).toEqual([]);
    }
  });
});

describe('linux.netDevices', () => {
  const hostHas = (name: string) => spawnSync('ip', ['link', 'show', name]).status === 0;
  it("moves a host interface, with its address, into the container's namespace under its new name; the kernel destroys a veth with the namespace", () => {
    const [dev, peer] = [`ocirun-nd${process.pid % 1000}`, `ocirun-np${process.pid % 1000}`];
    expect(spawnSync('ip', ['link', 'add', dev, 'type', 'veth', 'peer', 'name', peer]).status).toBe(0);
    // A permanent, global address goes with it (as runc); the kernel alone would drop it.
    expect(spawnSync('ip', ['addr', 'add', '10.77.3.1/24', 'dev', dev]).status).toBe(0);
    const b = makeBundle('ocirun-netdev-', ['sleep', '100'], (c) => (c.linux.netDevices = { [dev]: { name: 'eth7' } }));
    bundles.push(b);
    const id = `netdev-${process.pid}`;
    try {
      const r = cli(root, ['run', '-d', '--bundle', b, id], { detached: true });
      expect(r.status, r.stderr).toBe(0);
      expect(cli(root, ['exec', id, 'ls', '/sys/class/net']).stdout).toBe('eth7\nlo\n');
      expect(cli(root, ['exec', id, 'sh', '-c', 'ip -4 addr show dev eth7 | grep -o "inet [0-9./]*"']).stdout).toBe('inet 10.77.3.1/24\n');
      expect(hostHas(dev)).toBe(false);
      expect(hostHas(peer)).toBe(true);
      expect(cli(root, ['delete', '-f', id]).status).toBe(0);
      // A veth dies with the namespace it is in, and takes its peer with it:
      // the kernel tears a namespace down in a work queue, after its last
      // process is gone (a few ms, more on a loaded machine).
      const until = Date.now() + 10_000;
      while (hostHas(peer) && Date.now() < until) spawnSync('sleep', ['0.05']);
      expect(hostHas(peer)).toBe(false);
    } finally {
      cli(root, ['delete', '-f', id]);
      spawnSync('ip', ['link', 'del', dev]);
      spawnSync('ip', ['link', 'del', peer]);
    }
  });

  // The devices move once the cgroups are made and their limits written: a
  // limit the kernel refuses fails create before anything moved, and the
  // host keeps the interface (a veth moved would die with the init's
  // namespace, and its host end with it). runc 1.1.5 ignores netDevices,
  // and keeps it too.
  it('a create whose cgroup limit the kernel refuses leaves the host its interface, both ends of a veth, as runc', () => {
    const RUNC = spawnSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).stdout.trim();
    const [dev, peer] = [`ocirun-nf${process.pid % 1000}`, `ocirun-nq${process.pid % 1000}`];
    expect(spawnSync('ip', ['link', 'add', dev, 'type', 'veth', 'peer', 'name', peer]).status).toBe(0);
    // A CPU the host lacks: the kernel refuses the cpuset (ERANGE, or EINVAL on v2).
    const b = makeBundle('ocirun-netdev-', ['true'], (c) => {
      c.linux.netDevices = { [dev]: {} };
      c.linux.resources = { ...c.linux.resources, cpu: { cpus: String(os.cpus().length + 6) } };
    });
    bundles.push(b);
    try {
      for (const runtime of [undefined, RUNC]) {
        const id = `netdev-limit-${process.pid}`;
        const r = cli(root, ['create', '--bundle', b, id], { runtime, detached: true });
        expect(r.status, `${runtime ?? 'ocirun'}: ${r.stderr}`).toBe(1);
        expect(r.stderr).toMatch(/cpuset\.cpus/);
        expect({ runtime, dev: hostHas(dev), peer: hostHas(peer) }).toEqual({ runtime, dev: true, peer: true });
        if (!runtime) expect(leftovers(root, id, b)).toEqual([]);
        cli(root, ['delete', '-f', id], { runtime });
      }
    } finally {
      spawnSync('ip', ['link', 'del', dev]);
      spawnSync('ip', ['link', 'del', peer]);
    }
  });

  it('refuses an interface the host lacks, and a config without a network namespace, leaving nothing', () => {
    const missing = makeBundle('ocirun-netdev-', ['true'], (c) => (c.linux.netDevices = { 'ocirun-none0': {} }));
    const noNetns = makeBundle('ocirun-netdev-', ['true'], (c) => {
      c.linux.netDevices = { lo: {} };
      c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'network');
    });
    bundles.push(missing, noNetns);
    for (const [b, msg] of [[missing, /linux\.netDevices: ocirun-none0: no such network interface on the host \(ENODEV\)/], [noNetns, /linux\.netDevices: moving network devices needs a network namespace/]] as const) {
      const id = `netdev-bad-${process.pid}`;
      const r = cli(root, ['run', '--bundle', b, id]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(leftovers(root, id, b)).toEqual([]);
    }
  });
});

describe('id-mapped mounts', () => {
  /** A user-namespaced container with a directory of uid/gid 1000 id-mapped (1000 → the container's root) at /m. */
  function idmappedRun(source: string, options: string[]) {
    const b = makeBundle('ocirun-idmap-', ['sh', '-c', 'stat -c "%u %g" /m/f; touch /m/new && echo created'], (c) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      // A v1 cgroup mount cannot be made from a user namespace.
      c.mounts = c.mounts.filter((m: any) => m.type !== 'cgroup');
      c.mounts.push({ destination: '/m', type: 'bind', source, options, uidMappings: [{ containerID: 1000, hostID: 100000, size: 1 }], gidMappings: [{ containerID: 1000, hostID: 100000, size: 1 }] });
    });
    bundles.push(b);
    fs.chmodSync(b, 0o755);
    expect(spawnSync('chown', ['-R', '100000:100000', path.join(b, 'rootfs')]).status).toBe(0);
    const id = `idmap-${process.pid}-${bundles.length}`;
    const r = cli(root, ['run', '--bundle', b, id]);
    return { r, left: leftovers(root, id, b) };
  }
  const owned = (dir: string) => {
    fs.writeFileSync(path.join(dir, 'f'), 'x');
    for (const f of [dir, path.join(dir, 'f')]) fs.chownSync(f, 1000, 1000);
  };

  it('shows files of uid 1000 as root inside, and a file made inside is 1000\'s on the host (the host filesystem, and tmpfs)', () => {
    const onDisk = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-idmap-src-'));
    const onTmpfs = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-idmap-tmpfs-'));
    expect(spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', onTmpfs]).status).toBe(0);
    try {
      for (const [dir, options] of [[onDisk, ['bind', 'idmap']], [onTmpfs, ['rbind', 'ridmap']]] as const) {
        owned(dir);
        const { r, left } = idmappedRun(dir, [...options]);
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toBe('0 0\ncreated\n');
        const st = fs.statSync(path.join(dir, 'new'));
        expect([st.uid, st.gid]).toEqual([1000, 1000]);
        expect(left).toEqual([]);
      }
    } finally {
      spawnSync('umount', [onTmpfs]);
      fs.rmSync(onDisk, { recursive: true, force: true });
      fs.rmSync(onTmpfs, { recursive: true, force: true });
    }
  });

  it('refuses an id-mapped mount that is not a bind, or has no mappings to use, naming the mount', () => {
    const cases: [(c: any) => void, RegExp][] = [
      [(c) => c.mounts.push({ destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['idmap'] }), /mounts\[\d+\]: id-mapped mounts are only supported for bind mounts/],
      [(c) => c.mounts.push({ destination: '/t', type: 'bind', source: '/tmp', options: ['bind', 'idmap'] }), /mounts\[\d+\]\.uidMappings: id-mapped mounts need both uidMappings and gidMappings/],
    ];
    for (const [edit, msg] of cases) {
      const b = makeBundle('ocirun-idmap-', ['true'], edit);
      bundles.push(b);
      const r = cli(root, ['run', '--bundle', b, `idmap-bad-${process.pid}`]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});

describe('linux.intelRdt', () => {
  const hasResctrl = fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(' - resctrl ');
  // These VMs have no resctrl (no Intel RDT): the config is refused there, naming it; test/unit/resctrl.test.ts runs the rest against a fake tree.
  it.runIf(!hasResctrl)('is refused where the host has no resctrl filesystem, naming it, leaving nothing', () => {
    const b = makeBundle('ocirun-rdt-', ['true'], (c) => (c.linux.intelRdt = { l3CacheSchema: 'L3:0=f' }));
    bundles.push(b);
    const id = `rdt-${process.pid}`;
    const r = cli(root, ['run', '--bundle', b, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/linux\.intelRdt: Intel RDT needs the resctrl filesystem/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(leftovers(root, id, b)).toEqual([]);
  });
  it.runIf(hasResctrl)('puts the container in a resctrl group of its own, removed at delete', () => {
    const b = makeBundle('ocirun-rdt-', ['sleep', '100'], (c) => (c.linux.intelRdt = {}));
    bundles.push(b);
    const id = `rdt-${process.pid}`;
    const mount = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.includes(' - resctrl '))!.split(' ')[4];
    try {
      expect(cli(root, ['run', '-d', '--bundle', b, id], { detached: true }).status).toBe(0);
      const pid = JSON.parse(cli(root, ['state', id]).stdout).pid;
      expect(fs.readFileSync(path.join(mount, id, 'tasks'), 'utf8').split('\n')).toContain(String(pid));
    } finally {
      cli(root, ['delete', '-f', id]);
    }
    expect(fs.existsSync(path.join(mount, id))).toBe(false);
  });
});

describe('process.ioPriority', () => {
  it('the program and an exec\'d process run with the configured class and level', () => {
    withProgramAndExec('ioprio', (c) => (c.process.ioPriority = { class: 'IOPRIO_CLASS_IDLE', priority: 0 }), (program, exec) => {
      expect(ioprioOf(program)).toBe((3 << 13) | 0); // IOPRIO_CLASS_IDLE
      expect(ioprioOf(exec)).toBe(3 << 13);
      // Without it, the kernel's default: no class set.
      expect(ioprioOf(process.pid)).toBe(0);
    });
  });
});

/** The policy (from chrt) and nice value (from /proc/PID/stat) of a process, from the host. */
function schedulingOf(pid: number): { policy: string; nice: number } {
  const policy = /policy: (\S+)/.exec(execFileSync('chrt', ['-p', String(pid)], { encoding: 'utf8' }))![1];
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return { policy, nice: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) };
}

describe('process.scheduler', () => {
  it('the program and an exec\'d process run with the configured policy and nice value', () => {
    withProgramAndExec('sched', (c) => (c.process.scheduler = { policy: 'SCHED_BATCH', nice: 7 }), (program, exec) => {
      expect(schedulingOf(program)).toEqual({ policy: 'SCHED_BATCH', nice: 7 });
      expect(schedulingOf(exec)).toEqual({ policy: 'SCHED_BATCH', nice: 7 });
      expect(schedulingOf(process.pid).policy).toBe('SCHED_OTHER');
    });
  });

  // runc 1.3.6's scheduler.bats "scheduler is applied": an exec's own
  // SCHED_DEADLINE with SCHED_FLAG_RESET_ON_FORK reaches the process that
  // runs the program, the one forked into the pid namespace (set before the
  // fork, the flag would reset it there, and a deadline task cannot fork).
  it('an exec\'d process\'s own SCHED_DEADLINE, with SCHED_RESET_ON_FORK, is what the program runs with', () => {
    const b = makeBundle('ocirun-sched-', ['sleep', '100']);
    bundles.push(b);
    const id = `sched-dl-${process.pid}`;
    const proc = path.join(root, 'sched-dl.json');
    const pidFile = path.join(root, 'sched-dl.pid');
    fs.writeFileSync(proc, JSON.stringify({
      args: ['sleep', '100'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 },
      scheduler: { policy: 'SCHED_DEADLINE', flags: ['SCHED_FLAG_RESET_ON_FORK'], runtime: 42000, deadline: 100000, period: 1000000 },
    }));
    try {
      expect(cli(root, ['run', '-d', '--bundle', b, id], { detached: true }).status).toBe(0);
      const r = cli(root, ['exec', '-d', '--pid-file', pidFile, '--process', proc, id], { detached: true });
      expect(r.status, r.stderr).toBe(0);
      const out = execFileSync('chrt', ['-p', fs.readFileSync(pidFile, 'utf8').trim()], { encoding: 'utf8' });
      expect(out).toMatch(/policy: SCHED_DEADLINE\|SCHED_RESET_ON_FORK\n/);
      expect(out).toMatch(/runtime\/deadline\/period parameters: 42000\/100000\/1000000/);
    } finally {
      cli(root, ['delete', '-f', id]);
    }
  });

  // runc 1.3.6's scheduler.bats "scheduler vs cpus": in a cpuset that does
  // not span every CPU the kernel refuses SCHED_DEADLINE (EPERM), and runc
  // says why in these words. runc 1.1.5 ignores process.scheduler.
  it.runIf(os.cpus().length >= 2)('SCHED_DEADLINE with linux.resources.cpu.cpus is refused in runc 1.3\'s words, nothing left', () => {
    const b = makeBundle('ocirun-sched-', ['true'], (c) => {
      c.linux.resources = { ...c.linux.resources, cpu: { cpus: '0' } };
      c.process.scheduler = { policy: 'SCHED_DEADLINE', runtime: 42000, deadline: 1000000, period: 1000000 };
    });
    bundles.push(b);
    const id = `sched-cpus-${process.pid}`;
    const r = cli(root, ['run', '--bundle', b, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/sched_setattr: process scheduler can't be used together with AllowedCPUs/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(leftovers(root, id, b)).toEqual([]);
  });
});

describe.runIf(os.cpus().length >= 2)('process.execCPUAffinity', () => {
  it('exec runs on the final CPUs, or keeps the initial ones when the cgroup allows them', () => {
    const b = makeBundle('ocirun-affinity-', ['sleep', '100']);
    bundles.push(b);
    const id = `affinity-${process.pid}`;
    const processFile = (affinity: object) => {
      const f = path.join(root, `process-${Object.keys(affinity).join('-')}.json`);
      fs.writeFileSync(f, JSON.stringify({ args: ['grep', 'Cpus_allowed_list', '/proc/self/status'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 }, execCPUAffinity: affinity }));
      return f;
    };
    try {
      expect(cli(root, ['run', '-d', '--bundle', b, id], { detached: true }).status).toBe(0);
      const last = os.cpus().length - 1;
      expect(cli(root, ['exec', '--process', processFile({ initial: '0', final: String(last) }), id]).stdout).toMatch(new RegExp(`:\\s+${last}\\n$`));
      expect(cli(root, ['exec', '--process', processFile({ initial: '0' }), id]).stdout).toMatch(/:\s+0\n$/);
      // Without it, every CPU.
      expect(cli(root, ['exec', id, 'grep', 'Cpus_allowed_list', '/proc/self/status']).stdout).toMatch(new RegExp(`:\\s+0-${last}\\n$`));
    } finally {
      cli(root, ['delete', '-f', id]);
    }
  });
});
