// Behaviours of current runc (1.3.6, what managers ship), each run under
// ocirun and under the installed runc 1.1.5. Where 1.1.5 behaves as 1.3.6
// does both are held to it; where it does not, ocirun is held to 1.3.6's
// behaviour and the comment names the runc 1.3.6 test that expects it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, leftovers, makeBundle, OCIRUN } from './helpers.js';

const RUNC = spawnSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).stdout.trim();
const runtimes = [['ocirun', OCIRUN], ['runc', RUNC]] as const;
type Name = (typeof runtimes)[number][0];
const roots = {} as Record<Name, string>;
const made: string[] = [];
let seq = 0;

beforeAll(() => {
  expect(RUNC, 'runc is needed to compare with').not.toBe('');
  for (const [name] of runtimes) roots[name] = fs.mkdtempSync(path.join(os.tmpdir(), `ocirun-current-${name}-`));
});
afterAll(() => [...Object.values(roots), ...made].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function bundle(args: string[], edit?: (c: any) => void): string {
  const b = makeBundle('ocirun-current-', args, edit);
  fs.chmodSync(b, 0o755);
  made.push(b);
  return b;
}

/** A scratch directory the hooks (on the host) write into. */
function scratch(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-current-out-'));
  made.push(d);
  return d;
}

interface Result {
  id: string;
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * One runtime command on a fresh container id; `env` is added to the
 * runtime's environment. A create leaves the container holding its stdio:
 * such a command runs detached (stderr kept, no stdout).
 */
function runtimeCmd(name: Name, args: (id: string) => string[], env: Record<string, string> = {}): Result {
  const id = `runc13-${process.pid}-${++seq}`;
  const argv = args(id);
  const r = cli(roots[name], argv, { runtime: runtimes.find(([n]) => n === name)![1], env, timeout: 60_000, detached: argv[0] === 'create' || argv.includes('-d') });
  return { id, status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const remove = (name: Name, id: string) => cli(roots[name], ['delete', '--force', id], { runtime: runtimes.find(([n]) => n === name)![1] });

describe('hooks (runc 1.2+ semantics)', () => {
  it("runs a hook without env in the runtime's environment (PATH among it), one with env: [] in none", () => {
    for (const [name] of runtimes) {
      const out = scratch();
      // (And nothing of the runtime's own making: no _OCIRUN_ variable.)
      const dump = (file: string) => ['sh', '-c', `echo "\${PATH:-nopath} \${MARK:-nomark} $(env | grep -c ^_OCIRUN_)" > ${out}/${file}`];
      const b = bundle(['true'], (c) => {
        c.hooks = {
          prestart: [{ path: '/bin/sh', args: dump('prestart') }],
          createRuntime: [{ path: '/bin/sh', args: dump('createRuntime') }, { path: '/bin/sh', args: dump('empty'), env: [] }],
          poststart: [{ path: '/bin/sh', args: dump('poststart') }],
          poststop: [{ path: '/bin/sh', args: dump('poststop') }],
        };
      });
      const r = runtimeCmd(name, (id) => ['run', '-b', b, id], { MARK: 'from-the-caller' });
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
      for (const kind of ['prestart', 'createRuntime', 'poststart', 'poststop']) {
        expect(fs.readFileSync(path.join(out, kind), 'utf8'), `${name} ${kind}`).toBe(`${process.env.PATH} from-the-caller 0\n`);
      }
      // (sh sets a PATH of its own when it has none.)
      expect(fs.readFileSync(path.join(out, 'empty'), 'utf8'), name).toMatch(/ nomark 0\n$/);
    }
  });

  it("runs a startContainer hook without env in the process's environment, HOME added", () => {
    const b = bundle(['true'], (c) => {
      c.process.env = ['ONE=two', 'FOO=bar', 'PATH=/bin'];
      // As runc 1.3.6's hooks.bats "runc run [startContainer hook should inherit process environment]".
      c.hooks = { startContainer: [{ path: '/bin/sh', args: ['sh', '-uec', 'test $ONE = two; test $FOO = bar; test -n "$HOME"; test -z "${MARK:-}"'] }] };
    });
    for (const [name] of runtimes) {
      const r = runtimeCmd(name, (id) => ['run', '-b', b, id], { MARK: 'from-the-caller' });
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
    }
  });

  it('runs a createContainer hook without env in an empty environment (runc 1.3.6; 1.1.5 gave the process env)', () => {
    // There is no runc 1.3.6 test of this: its init clears its environment
    // (libcontainer/init_linux.go, os.Clearenv) before the createContainer
    // hooks run, and sets the process's only for the exec.
    const seen = {} as Record<Name, string>;
    for (const [name] of runtimes) {
      const out = scratch();
      const b = bundle(['true'], (c) => {
        c.process.env = ['ONE=two', 'PATH=/bin'];
        c.hooks = { createContainer: [{ path: '/bin/sh', args: ['sh', '-c', `echo "\${ONE:-none} \${MARK:-nomark}" > ${out}/cc`] }] };
      });
      const r = runtimeCmd(name, (id) => ['run', '-b', b, id], { MARK: 'from-the-caller' });
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
      seen[name] = fs.readFileSync(path.join(out, 'cc'), 'utf8');
    }
    expect(seen).toEqual({ ocirun: 'none nomark\n', runc: 'two nomark\n' });
  });

  it('fails create on a failing prestart, createRuntime, createContainer or poststart hook, and leaves nothing', () => {
    for (const kind of ['prestart', 'createRuntime', 'createContainer', 'poststart']) {
      const b = bundle(['sleep', '100'], (c) => {
        c.hooks = { [kind]: [{ path: '/bin/true' }, { path: '/bin/false' }] };
      });
      for (const [name] of runtimes) {
        const r = runtimeCmd(name, (id) => ['create', '-b', b, id]);
        // A startContainer hook fails in the init after start: its exit status
        // is the init's, 255 under runc 1.3.6 and ocirun (1 under runc 1.1.5).
        expect(r.status, `${name} ${kind}`).toBe(kind === 'startContainer' && name === 'ocirun' ? 255 : 1);
        expect(leftovers(roots[name], r.id, b), `${name} ${kind}`).toEqual([]);
        remove(name, r.id);
        // runc 1.3.6's words (its hooks.bats "runc create [hook fails]");
        // runc 1.1.5 says "error running hook #1: error running hook: ...".
        if (name === 'ocirun') expect(r.stderr.trim().split('\n'), kind).toEqual([expect.stringContaining(`error running ${kind} hook #1: /bin/false: exit status 1`)]);
        else expect(r.stderr).toContain('error running hook #1: ');
      }
    }
  });

  it('fails run on any failing hook but poststop, before the program runs', () => {
    // runc 1.3.6's hooks.bats "runc run [hook fails]": no "Hello World", a non-zero status.
    for (const kind of ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart']) {
      const b = bundle(['echo', 'Hello World'], (c) => {
        c.hooks = { [kind]: [{ path: '/bin/true' }, { path: '/bin/false' }] };
      });
      for (const [name] of runtimes) {
        const r = runtimeCmd(name, (id) => ['run', '-b', b, id]);
        // A startContainer hook fails in the init after start: its exit status
        // is the init's, 255 under runc 1.3.6 and ocirun (1 under runc 1.1.5).
        expect(r.status, `${name} ${kind}`).toBe(kind === 'startContainer' && name === 'ocirun' ? 255 : 1);
        expect(r.stdout, `${name} ${kind}`).not.toContain('Hello World');
        expect(leftovers(roots[name], r.id, b), `${name} ${kind}`).toEqual([]);
        remove(name, r.id);
        if (name === 'ocirun') expect(r.stderr, kind).toContain(`error running ${kind} hook #1: /bin/false: exit status 1`);
      }
    }
  });

  it('runs poststart hooks during create, with the container "created" (as runc does, not after start)', () => {
    for (const [name] of runtimes) {
      const out = scratch();
      const b = bundle(['sleep', '100'], (c) => {
        c.hooks = { poststart: [{ path: '/bin/sh', args: ['sh', '-c', `cat > ${out}/state`] }] };
      });
      const r = runtimeCmd(name, (id) => ['create', '-b', b, id]);
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
      const state = JSON.parse(fs.readFileSync(path.join(out, 'state'), 'utf8'));
      remove(name, r.id);
      expect(state.status, name).toBe('created');
      expect(state.id, name).toBe(r.id);
      expect(state.pid, name).toBeGreaterThan(0);
    }
  });
});

/** A file of the container's cpu cgroup, from the host's view of `pid` (v1's name, or v2's). */
function cpuCgroupFile(pid: number, v1: string, v2: string): string {
  const lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  if (fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) return fs.readFileSync(path.join('/sys/fs/cgroup', lines.find((l) => l.startsWith('0::'))!.slice(3), v2), 'utf8').trim();
  const rel = lines.find((l) => l.split(':')[1]?.split(',').includes('cpu'))!.split(':')[2];
  const mount = fs.readdirSync('/sys/fs/cgroup').find((d) => d.split(',').includes('cpu'))!;
  return fs.readFileSync(path.join('/sys/fs/cgroup', mount, rel, v1), 'utf8').trim();
}

/** The CFS quota and period as "QUOTA PERIOD" (-1 for none), on v1 or v2. */
function cpuQuota(pid: number): string {
  if (!fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) return `${cpuCgroupFile(pid, 'cpu.cfs_quota_us', '')} ${cpuCgroupFile(pid, 'cpu.cfs_period_us', '')}`;
  return cpuCgroupFile(pid, '', 'cpu.max').replace(/^max /, '-1 ');
}

describe('update (runc 1.3.6)', () => {
  /** A detached container under `name` with no CPU limits; its id and init pid. */
  function detached(name: Name): { id: string; pid: number } {
    const b = bundle(['sleep', '100'], (c) => (c.linux.resources = { ...c.linux.resources, cpu: {} }));
    const r = runtimeCmd(name, (id) => ['run', '-d', '-b', b, id]);
    expect(r.status, `${name}: ${r.stderr}`).toBe(0);
    const state = JSON.parse(cli(roots[name], ['state', r.id], { runtime: runtimes.find(([n]) => n === name)![1] }).stdout);
    return { id: r.id, pid: state.pid };
  }
  const update = (name: Name, args: string[], input = '') => cli(roots[name], ['update', ...args], { runtime: runtimes.find(([n]) => n === name)![1], input });

  it('takes flags after the container id, a period with no previous quota, RT period and runtime, and a device rule with "rwa"', () => {
    for (const [name] of runtimes) {
      const { id, pid } = detached(name);
      try {
        // As update.bats "update cpu period with no previous period/quota set" (there the flag comes first).
        let r = update(name, [id, '--cpu-period', '50000']);
        expect(r.status, `${name}: ${r.stderr}`).toBe(0);
        expect(cpuQuota(pid), name).toBe('-1 50000');
        r = update(name, [id, '--cpu-quota=30000']);
        expect(r.status, `${name}: ${r.stderr}`).toBe(0);
        expect(cpuQuota(pid), name).toBe('30000 50000');
        // update.bats "update rt period and runtime" (v1 only: v2 has no RT group files).
        if (!fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) {
          r = update(name, [id, '--cpu-rt-period', '900000', '--cpu-rt-runtime', '0']);
          expect(r.status, `${name}: ${r.stderr}`).toBe(0);
          expect(`${cpuCgroupFile(pid, 'cpu.rt_period_us', '')} ${cpuCgroupFile(pid, 'cpu.rt_runtime_us', '')}`, name).toBe('900000 0');
          // update.bats "update rt period and runtime" (runc#4094): a period
          // below the current runtime is EINVAL until the runtime is lowered;
          // runc 1.3 writes it again after the runtime, runc 1.1.5 fails.
          // Small shares of the parent's budget: siblings may hold some.
          r = update(name, [id, '--cpu-rt-period', '900000', '--cpu-rt-runtime', '20000']);
          expect(r.status, `${name}: ${r.stderr}`).toBe(0);
          r = update(name, [id, '--cpu-rt-period', '10000', '--cpu-rt-runtime', '200']);
          const rt = `${cpuCgroupFile(pid, 'cpu.rt_period_us', '')} ${cpuCgroupFile(pid, 'cpu.rt_runtime_us', '')}`;
          if (name === 'runc') {
            expect(r.status).toBe(1);
            expect(r.stderr).toMatch(/cpu\.rt_period_us: invalid argument/);
            expect(rt).toBe('900000 20000');
          } else {
            expect(r.status, `${name}: ${r.stderr}`).toBe(0);
            expect(rt).toBe('10000 200');
          }
        }
        // update.bats "update devices [minimal transition rules]" has "rwa"; the letters other than r, w, m are ignored.
        r = update(name, ['-r', '-', id], JSON.stringify({ devices: [{ allow: false, type: 'c', major: 1, minor: 11, access: 'rwa' }] }));
        expect(r.status, `${name}: ${r.stderr}`).toBe(0);
      } finally {
        remove(name, id);
      }
    }
  });

  it('sets cpu.idle and the CFS burst (--cpu-idle, --cpu-burst: runc 1.2+; runc 1.1.5 has neither flag)', () => {
    for (const [name] of runtimes) {
      const { id, pid } = detached(name);
      try {
        if (name === 'runc') {
          expect(update(name, ['--cpu-burst', '500000', id]).stderr).toContain('flag provided but not defined: -cpu-burst');
          continue;
        }
        // runc 1.3.6's update.bats "cpu burst": set, kept over another update, cleared with 0.
        expect(update(name, [id, '--cpu-period', '900000', '--cpu-burst', '500000']).status).toBe(0);
        expect(cpuCgroupFile(pid, 'cpu.cfs_burst_us', 'cpu.max.burst')).toBe('500000');
        expect(update(name, [id, '--memory', '100M']).status).toBe(0);
        expect(cpuCgroupFile(pid, 'cpu.cfs_burst_us', 'cpu.max.burst')).toBe('500000');
        expect(update(name, [id, '--cpu-period', '900000', '--cpu-burst', '0']).status).toBe(0);
        expect(cpuCgroupFile(pid, 'cpu.cfs_burst_us', 'cpu.max.burst')).toBe('0');
        // update.bats "update cgroup cpu.idle": 1 and 0 taken, other values refused (by the kernel).
        for (const v of ['1', '0', '1']) {
          expect(update(name, ['--cpu-idle', v, id]).status, v).toBe(0);
          expect(cpuCgroupFile(pid, 'cpu.idle', 'cpu.idle')).toBe(v);
        }
        for (const v of ['-1', '2']) {
          const r = update(name, ['--cpu-idle', v, id]);
          expect(r.status, v).toBe(1);
          expect(r.stderr).toMatch(/cpu\.idle.*EINVAL/);
          expect(cpuCgroupFile(pid, 'cpu.idle', 'cpu.idle')).toBe('1');
        }
      } finally {
        remove(name, id);
      }
    }
  });
});

describe('configs runc runs (ocirun was stricter)', () => {
  /** `run` under both; their results by name. */
  function runBoth(b: string): Record<Name, Result> {
    const out = {} as Record<Name, Result>;
    for (const [name] of runtimes) {
      out[name] = runtimeCmd(name, (id) => ['run', '-b', b, id]);
      remove(name, out[name].id);
    }
    return out;
  }

  it('takes every rootfsPropagation runc maps, and applies it to the container\'s "/" as runc 1.3.6 does', () => {
    // The propagation of "/" as the container sees it (the optional fields of its mountinfo line).
    const showRoot = ['sh', '-c', 'awk \'$5 == "/" { f = ""; for (i = 7; $i != "-"; i++) f = f " " $i; print f == "" ? "private" : substr(f, 2) }\' /proc/self/mountinfo | sed "s/:[0-9]*//"'];
    for (const p of ['rprivate', 'rslave', 'private', 'slave']) {
      const r = runBoth(bundle(showRoot, (c) => (c.linux.rootfsPropagation = p)));
      for (const [name] of runtimes) expect([r[name].status, r[name].stdout], `${name} ${p}: ${r[name].stderr}`).toEqual([0, 'private\n']);
    }
    // runc 1.3.6 applies it again after pivot_root: "/" is shared inside
    // (mounts_propagation.bats "runc run [rootfsPropagation shared]");
    // runc 1.1.5 leaves it private.
    for (const p of ['shared', 'rshared']) {
      const r = runBoth(bundle(showRoot, (c) => (c.linux.rootfsPropagation = p)));
      expect([r.ocirun.status, r.ocirun.stdout], `${p}: ${r.ocirun.stderr}`).toEqual([0, 'shared\n']);
      expect([r.runc.status, r.runc.stdout], p).toEqual([0, 'private\n']);
    }
    // runc 1.1.5 fails these (EINVAL binding the rootfs under an unbindable
    // parent); runc 1.3.6 makes the parent mount private first
    // (libcontainer/rootfs_linux.go rootfsParentMountPrivate), then "/" is
    // unbindable inside. A recursive "runbindable" leaves nothing to bind,
    // from the host or inside: no cgroup mount, masked or read-only paths.
    for (const p of ['unbindable', 'runbindable']) {
      const r = runBoth(bundle(showRoot, (c) => {
        c.linux.rootfsPropagation = p;
        c.mounts = c.mounts.filter((m: any) => m.type !== 'cgroup' && m.type !== 'cgroup2');
        if (p === 'runbindable') c.linux.maskedPaths = c.linux.readonlyPaths = [];
      }));
      expect([r.ocirun.status, r.ocirun.stdout], `${p}: ${r.ocirun.stderr}`).toEqual([0, 'unbindable\n']);
      expect(r.runc.stderr, p).toMatch(/error preparing rootfs: .*invalid argument/);
    }
  });

  it('makes a missing process.cwd, and a device node outside /dev where the config says', () => {
    for (const [name] of runtimes) {
      // A bundle each: the directory one runtime made must not be there for the other.
      const b = bundle(['sh', '-c', 'pwd; stat -c "%a %u" .; stat -c "%F %t:%T" /foo-dev'], (c) => {
        c.process.cwd = '/no/such/dir';
        c.linux.devices = [{ path: '/foo-dev', type: 'c', major: 1, minor: 3, fileMode: 0o666 }];
      });
      const r = runtimeCmd(name, (id) => ['run', '-b', b, id]);
      remove(name, r.id);
      expect([r.status, r.stdout], `${name}: ${r.stderr}`).toEqual([0, '/no/such/dir\n755 0\ncharacter special file 1:3\n']);
    }
  });

  it("applies a net.* sysctl in a joined network namespace or with slashes, refuses one in the runtime's own", () => {
    const ns = `runc13-${process.pid}`;
    expect(spawnSync('ip', ['netns', 'add', ns]).status).toBe(0);
    try {
      const joined = bundle(['cat', '/proc/sys/net/ipv4/ip_forward'], (c) => {
        c.linux.namespaces = c.linux.namespaces.map((n: any) => (n.type === 'network' ? { type: 'network', path: `/run/netns/${ns}` } : n));
        c.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
      });
      const slashes = bundle(['cat', '/proc/sys/net/ipv4/ip_forward'], (c) => (c.linux.sysctl = { 'net/ipv4/ip_forward': '1' }));
      for (const b of [joined, slashes]) {
        const r = runBoth(b);
        for (const [name] of runtimes) expect([r[name].status, r[name].stdout], `${name}: ${r[name].stderr}`).toEqual([0, '1\n']);
      }
      // The host's namespace, by a path: refused by both (runc: "not allowed in host network namespace").
      const host = bundle(['true'], (c) => {
        c.linux.namespaces = c.linux.namespaces.map((n: any) => (n.type === 'network' ? { type: 'network', path: `/proc/${process.pid}/ns/net` } : n));
        c.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
      });
      const r = runBoth(host);
      for (const [name] of runtimes) {
        expect(r[name].status, name).toBe(1);
        expect(r[name].stderr, name).toMatch(/not allowed in host network namespace/);
      }
    } finally {
      spawnSync('ip', ['netns', 'delete', ns]);
    }
  });

  it('runs with the loopback in linux.netDevices (not moved: the container has its own)', () => {
    // runc 1.3.6 (and 1.1.5) ignore linux.netDevices; ocirun moves the
    // others, and leaves "lo" with a warning, as the kernel refuses to move it.
    const r = runBoth(bundle(['cat', '/sys/class/net/lo/ifindex'], (c) => (c.linux.netDevices = { lo: {} })));
    for (const [name] of runtimes) expect([r[name].status, r[name].stdout], `${name}: ${r[name].stderr}`).toEqual([0, '1\n']);
    expect(r.ocirun.stderr).toMatch(/netDevices.*lo.*: the loopback device is not moved/);
  });
});

describe('--pidfd-socket (runc 1.2+; runc 1.1.5 has no such flag)', () => {
  // Accepts one connection on the socket, takes the fd sent with it, and
  // once told to (a file appears) kills the process through it
  // (pidfd_send_signal), then prints the payload.
  const RECEIVER = [
    'import socket, signal, sys, os, time',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(sys.argv[1]); s.listen(1)',
    'open(sys.argv[1] + ".ready", "w").close()',
    'c, _ = s.accept(); msg, fds, _, _ = socket.recv_fds(c, 64, 1)',
    'while not os.path.exists(sys.argv[1] + ".kill"): time.sleep(0.02)',
    'signal.pidfd_send_signal(fds[0], signal.SIGKILL)',
    'print(msg.decode(), len(fds))',
  ].join('\n');
  const kill = (sock: string) => fs.writeFileSync(`${sock}.kill`, '');

  /** The receiver, listening at a fresh socket path; resolves to what it printed. */
  async function receiver(): Promise<{ sock: string; done: Promise<string> }> {
    const dir = scratch();
    const sock = path.join(dir, 'pidfd.sock');
    const { spawn } = await import('node:child_process');
    const child = spawn('python3', ['-c', RECEIVER, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const done = new Promise<string>((resolve) => child.on('exit', () => resolve(out)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    done.finally(() => clearTimeout(timer));
    for (let i = 0; i < 200 && !fs.existsSync(`${sock}.ready`); i++) await new Promise((r) => setTimeout(r, 25));
    return { sock, done };
  }

  const status = (id: string) => JSON.parse(cli(roots.ocirun, ['state', id]).stdout).status;

  it('sends a pidfd of the init on create and run, and of the process on exec; killing through it stops them', async () => {
    // runc 1.3.6's pidfd-socket.bats: "runc create [ --pidfd-socket ]",
    // "runc run [ --pidfd-socket ]", "runc exec [ --pidfd-socket ]".
    const b = bundle(['sleep', '1000']);
    for (const [cmd, before] of [[['create'], 'created'], [['run', '-d'], 'running']] as const) {
      const r0 = await receiver();
      const r = runtimeCmd('ocirun', (id) => [...cmd, '--pidfd-socket', r0.sock, '-b', b, id]);
      expect(r.status, r.stderr).toBe(0);
      expect(status(r.id)).toBe(before);
      kill(r0.sock);
      expect(await r0.done).toBe('standard 1\n');
      for (let i = 0; i < 100 && status(r.id) !== 'stopped'; i++) await new Promise((res) => setTimeout(res, 50));
      expect(status(r.id), cmd.join(' ')).toBe('stopped');
      remove('ocirun', r.id);
    }
    const ct = runtimeCmd('ocirun', (id) => ['run', '-d', '-b', b, id]);
    try {
      const r0 = await receiver();
      const pidFile = path.join(scratch(), 'exec.pid');
      const e = cli(roots.ocirun, ['exec', '-d', '--pid-file', pidFile, '--pidfd-socket', r0.sock, ct.id, 'sleep', '1000'], { detached: true });
      expect(e.status, e.stderr).toBe(0);
      kill(r0.sock);
      expect(await r0.done).toBe('setns 1\n');
      const pid = Number(fs.readFileSync(pidFile, 'utf8'));
      for (let i = 0; i < 100 && fs.existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8')); i++) await new Promise((res) => setTimeout(res, 50));
      expect(!fs.existsSync(`/proc/${pid}`) || /^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))).toBe(true);
      expect(status(ct.id)).toBe('running');
    } finally {
      remove('ocirun', ct.id);
    }
    const old = runtimeCmd('runc', (id) => ['create', '--pidfd-socket', '/nonexistent', '-b', b, id]);
    expect(old.stderr).toContain('flag provided but not defined: -pidfd-socket');
  });

  it('fails create on a socket that is not there, leaving nothing', () => {
    const b = bundle(['sleep', '1000']);
    const r = runtimeCmd('ocirun', (id) => ['create', '--pidfd-socket', path.join(scratch(), 'none.sock'), '-b', b, id]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/connect to pidfd socket .*none\.sock.*ENOENT/)]);
    expect(leftovers(roots.ocirun, r.id, b)).toEqual([]);
  });
});

describe('a container without a pid namespace of its own, its init gone (runc#4047)', () => {
  const bin = (name: Name) => runtimes.find(([n]) => n === name)![1];
  const gone = (pid: number) => !fs.existsSync(`/proc/${pid}`) || /^State:\s+[ZX]/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  async function allGone(pids: number[]): Promise<boolean> {
    for (let i = 0; i < 100 && !pids.every(gone); i++) await new Promise((r) => setTimeout(r, 50));
    return pids.every(gone);
  }

  /**
   * runc 1.3.6's kill.bats/delete.bats setup: a container in the host's pid
   * namespace, two processes exec'd into it detached, then its init killed
   * from the host. Returns the id, the cgroup.procs file and the exec'd pids.
   */
  async function initGone(name: Name): Promise<{ id: string; procs: string; pids: number[] }> {
    const rel = `/rcbeh-hostpid-${name}-${process.pid}-${++seq}`;
    const b = bundle(['sleep', '1000'], (c) => {
      c.linux.namespaces = c.linux.namespaces.filter((n: { type: string }) => n.type !== 'pid');
      c.linux.cgroupsPath = rel;
    });
    const id = `runc13-hostpid-${process.pid}-${seq}`;
    const r = cli(roots[name], ['run', '-d', '-b', b, id], { runtime: bin(name), detached: true });
    expect(r.status, `${name}: ${r.stderr}`).toBe(0);
    for (const t of ['900', '901']) {
      const e = cli(roots[name], ['exec', '-d', id, 'sleep', t], { runtime: bin(name), detached: true });
      expect(e.status, `${name}: ${e.stderr}`).toBe(0);
    }
    const procs = fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? path.join('/sys/fs/cgroup', rel, 'cgroup.procs') : path.join('/sys/fs/cgroup/pids', rel, 'cgroup.procs');
    const init = JSON.parse(cli(roots[name], ['state', id], { runtime: bin(name) }).stdout).pid as number;
    const all = () => fs.readFileSync(procs, 'utf8').split('\n').filter(Boolean).map(Number);
    // The exec'd processes outlive the exec command (ocirun's died with it
    // before: the parent-death signal of its setup was left on them).
    await new Promise((res) => setTimeout(res, 200));
    expect(all().length, `${name}: the init and both exec'd processes`).toBe(3);
    process.kill(init, 'SIGKILL');
    expect(await allGone([init]), `${name}: init`).toBe(true);
    const pids = all();
    expect(pids.length, `${name}: the exec'd processes live on`).toBe(2);
    return { id, procs, pids };
  }

  it('kill KILL ends every process left in its cgroup (runc 1.3.6; runc 1.1.5 says "container not running" and leaves them)', async () => {
    for (const [name] of runtimes) {
      const { id, procs, pids } = await initGone(name);
      try {
        const k = cli(roots[name], ['kill', id, 'KILL'], { runtime: bin(name) });
        if (name === 'ocirun') {
          expect(k.status, k.stderr).toBe(0);
          expect(await allGone(pids), name).toBe(true);
          expect(fs.readFileSync(procs, 'utf8'), name).toBe('');
          expect(JSON.parse(cli(roots[name], ['state', id]).stdout).status).toBe('stopped');
        } else {
          expect(k.status).toBe(1);
          expect(k.stderr).toContain('container not running');
          expect(pids.some(gone), name).toBe(false);
        }
      } finally {
        remove(name, id);
        pids.forEach((p) => { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } });
      }
    }
  });

  it('delete and delete --force end every process left in its cgroup, and remove it (runc 1.1.5 and 1.3.6)', async () => {
    for (const [name] of runtimes) {
      for (const force of [[], ['--force']]) {
        const { id, procs, pids } = await initGone(name);
        try {
          const d = cli(roots[name], ['delete', ...force, id], { runtime: bin(name) });
          expect(d.status, `${name} ${force}: ${d.stderr}`).toBe(0);
          expect(await allGone(pids), `${name} ${force}`).toBe(true);
          expect(fs.existsSync(path.dirname(procs)), `${name} ${force}: cgroup left`).toBe(false);
          expect(fs.existsSync(path.join(roots[name], id)), `${name} ${force}: state left`).toBe(false);
        } finally {
          remove(name, id);
          pids.forEach((p) => { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } });
        }
      }
    }
  });
});

describe('CPU affinity (runc 1.3: not the runtime\'s; runc 1.1.5 passes its own on)', () => {
  const bin = (name: Name) => runtimes.find(([n]) => n === name)![1];
  const online = fs.readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
  const twoCpus = /^0-([1-9]\d*)$/.test(online);
  const PRINT = ['/bin/grep', 'Cpus_allowed_list', '/proc/self/status'];
  /** The runtime pinned to CPU 0, as runc's cpu_affinity.bats runs it under `taskset -c 0`; the process's Cpus_allowed_list. */
  function pinned(name: Name, args: string[]): { status: number | null; list: string; stderr: string } {
    const r = spawnSync('taskset', ['-c', '0', bin(name), '--root', roots[name], ...args], { encoding: 'utf8', timeout: 60_000, input: '' });
    return { status: r.status, list: /Cpus_allowed_list:\s+(\S+)/.exec(r.stdout)?.[1] ?? `(none: ${r.stdout})`, stderr: r.stderr };
  }

  beforeAll(() => expect(twoCpus || process.env.CI !== 'true', `these tests need two CPUs or more (online: ${online})`).toBe(true));

  it('run: the init gets every CPU, or its cgroup\'s cpuset (cpu_affinity.bats "runc run [CPU affinity should reset ...]")', () => {
    if (!twoCpus) return;
    for (const [name] of runtimes) {
      for (const [cpus, want] of [[undefined, online], ['1', '1']] as const) {
        const b = bundle(PRINT, (c) => (c.linux.resources = { ...c.linux.resources, cpu: cpus ? { cpus, mems: '0' } : {} }));
        const id = `runc13-aff-${process.pid}-${++seq}`;
        const r = pinned(name, ['run', '-b', b, id]);
        remove(name, id);
        expect(r.status, `${name}: ${r.stderr}`).toBe(0);
        // runc 1.1.5 leaves a process with no cpuset where the runtime ran (CPU 0).
        expect(r.list, `${name} cpuset ${cpus}`).toBe(name === 'runc' && !cpus ? '0' : want);
      }
    }
  });

  it('exec: every CPU of the cpuset, or process.execCPUAffinity\'s "final", "initial" set before the cgroup join', () => {
    if (!twoCpus) return;
    for (const [name] of runtimes) {
      for (const cpus of [online, '1']) {
        const b = bundle(['sleep', '100'], (c) => (c.linux.resources = { ...c.linux.resources, cpu: { cpus, mems: '0' } }));
        const id = `runc13-aff-${process.pid}-${++seq}`;
        expect(cli(roots[name], ['run', '-d', '-b', b, id], { runtime: bin(name), detached: true }).status).toBe(0);
        try {
          // cpu_affinity.bats "runc exec [default CPU affinity should reset to cgroup cpuset]".
          let r = pinned(name, ['exec', id, ...PRINT]);
          expect(r.status, `${name}: ${r.stderr}`).toBe(0);
          expect(r.list, `${name} exec in cpuset ${cpus}`).toBe(name === 'runc' && cpus === online ? '0' : cpus);
          const withAffinity = (aff: object) => {
            const file = path.join(scratch(), 'process.json');
            fs.writeFileSync(file, JSON.stringify({ terminal: false, cwd: '/', args: PRINT, execCPUAffinity: aff }));
            return pinned(name, ['exec', '--process', file, id]);
          };
          // "initial" 0 outside a cpuset of CPU 1 alone: set after the join
          // it would be refused (EINVAL); set before, the join moves the
          // process into the cpuset. runc 1.1.5 ignores the field.
          r = withAffinity({ initial: '0' });
          expect(r.status, `${name}: ${r.stderr}`).toBe(0);
          expect(r.list, `${name} initial 0, cpuset ${cpus}`).toBe(cpus === '1' ? '1' : '0');
          if (cpus === online) {
            r = withAffinity({ initial: '0', final: '1' });
            expect(r.status, `${name}: ${r.stderr}`).toBe(0);
            expect(r.list, `${name} final 1`).toBe(name === 'runc' ? '0' : '1');
          }
        } finally {
          remove(name, id);
        }
      }
    }
  });
});

describe('seccomp (runc 1.3.6\'s seccomp.bats)', () => {
  const bin = (name: Name) => runtimes.find(([n]) => n === name)![1];
  const profile = (flags: string[] | undefined, action = 'SCMP_ACT_ERRNO') => ({
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_X86_64'],
    syscalls: [{ names: ['mkdir', 'mkdirat'], action }],
    ...(flags ? { flags } : {}),
  });

  it('loads the filter with the flags asked for: none given is SPEC_ALLOW, TSYNC is taken and ignored (runc 1.1.5 refuses any flag)', () => {
    // "SECCOMP_FILTER_FLAG_*": the value passed to seccomp(2), from --debug (the kernel shows no flag of a loaded filter).
    const cases: [string[] | undefined, number][] = [[undefined, 4], [[], 0], [['SECCOMP_FILTER_FLAG_TSYNC'], 0], [['SECCOMP_FILTER_FLAG_LOG'], 2], [['SECCOMP_FILTER_FLAG_SPEC_ALLOW'], 4], [['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'], 6]];
    for (const [name] of runtimes) {
      for (const [flags, value] of cases) {
        const b = bundle(['sh', '-c', 'mkdir /dev/shm/foo'], (c) => {
          c.process.noNewPrivileges = false;
          c.linux.seccomp = profile(flags);
        });
        const id = `runc13-scf-${process.pid}-${++seq}`;
        const r = cli(roots[name], ['--debug', 'run', '-b', b, id], { runtime: bin(name) });
        remove(name, id);
        if (name === 'runc' && flags?.length) {
          expect(r.stderr, `${name} ${flags}`).toContain('seccomp flags are not yet supported by runc');
          continue;
        }
        // The filter applies: mkdir is refused inside.
        expect(r.status, `${name} ${flags}`).not.toBe(0);
        expect(r.stdout + r.stderr, `${name} ${flags}`).toMatch(/mkdir:.*\/dev\/shm\/foo.*Operation not permitted/);
        if (name === 'ocirun') expect(r.stderr, `${name} ${flags}`).toContain(`seccomp filter flags: ${value}"`);
      }
    }
  });

  it('reports a startContainer hook the filter kills as "signal: bad system call"', () => {
    const b = bundle(['/bin/true'], (c) => {
      c.linux.seccomp = profile(undefined, 'SCMP_ACT_KILL');
      c.process.rlimits = [{ type: 'RLIMIT_CORE', soft: 0, hard: 0 }];
      c.hooks = { startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'mkdir /dev/shm/foo'] }] };
    });
    for (const [name] of runtimes) {
      const r = runtimeCmd(name, (id) => ['run', '-b', b, id]);
      remove(name, r.id);
      expect(r.status, name).not.toBe(0);
      // runc 1.1.5: "error running hook #0: error running hook: signal: bad system call".
      expect(r.stderr, name).toMatch(name === 'ocirun' ? /error running startContainer hook #0: .*signal: bad system call/ : /error running hook #0: .*signal: bad system call/);
    }
  });
});

describe('terminal output (runc 1.2+ clears ONLCR on the container\'s pty)', () => {
  // runc 1.1.5 leaves ONLCR on the container's pty but clears output
  // processing on the caller's terminal; runc 1.3.6 and ocirun the other way
  // round (libuv's raw mode keeps ONLCR): one "\r" either way, as asserted.
  it('ends a line at the caller\'s terminal with one "\\r\\n", not "\\r\\r\\n"', () => {
    const b = bundle(['echo', 'hi'], (c) => (c.process.terminal = true));
    for (const [name, runtime] of runtimes) {
      const id = `runc13-onlcr-${process.pid}-${++seq}`;
      // script(1) gives the runtime a terminal of its own, as a user at a shell has.
      const r = spawnSync('script', ['-qec', `${runtime} --root ${roots[name]} run -b ${b} ${id}`, '/dev/null'], { encoding: 'utf8', input: '', timeout: 60_000 });
      remove(name, id);
      expect(r.status, `${name}: ${r.stdout}`).toBe(0);
      // script(1) echoes its stdin's end as "^@", before or after the output.
      expect(r.stdout.replace(/\^@/g, ''), name).toBe('hi\r\n');
    }
  });

  it('also for exec -t, even for what is written before the terminal is proxied (a failed execve)', () => {
    const b = bundle(['sleep', '100']);
    fs.writeFileSync(path.join(b, 'rootfs/run.sh'), '#!/mmnnttbb foo bar\nsh\n', { mode: 0o755 });
    for (const [name, runtime] of runtimes) {
      const id = `runc13-onlcr-${process.pid}-${++seq}`;
      expect(cli(roots[name], ['run', '-d', '-b', b, id], { runtime, detached: true }).status).toBe(0);
      try {
        const r = spawnSync('script', ['-qec', `${runtime} --root ${roots[name]} exec -t ${id} /run.sh`, '/dev/null'], { encoding: 'utf8', input: '', timeout: 60_000 });
        // runc 1.1.5's line endings here depend on when it sets the caller's terminal raw: its text only.
        if (name === 'ocirun') expect(r.stdout.replace(/\^@/g, '')).toBe('exec /run.sh: no such file or directory\r\n');
        else expect(r.stdout, name).toContain('exec /run.sh: no such file or directory');
      } finally {
        remove(name, id);
      }
    }
  });
});

describe('the process environment (runc 1.3.6\'s env.bats)', () => {
  it('sets a name given twice once, to its last value, and replaces an empty HOME', () => {
    const cases: [string[], string[]][] = [
      [['ONE=two', 'ONE=', 'PATH=/usr/bin:/bin'], ['ONE=', 'PATH=/usr/bin:/bin', 'HOME=/root']],
      [['HOME=', 'PATH=/usr/bin:/bin'], ['PATH=/usr/bin:/bin', 'HOME=/root']],
      [['PATH=/usr/bin:/bin', 'HOME=/override', 'HOME='], ['PATH=/usr/bin:/bin', 'HOME=/root']],
    ];
    for (const [env, want] of cases) {
      const b = bundle(['env'], (c) => (c.process.env = env));
      for (const [name] of runtimes) {
        const r = runtimeCmd(name, (id) => ['run', '-b', b, id]);
        remove(name, r.id);
        expect(r.status, `${name}: ${r.stderr}`).toBe(0);
        const got = r.stdout.trim().split('\n');
        // runc 1.1.5 puts a replaced HOME where the empty one was; 1.3.6 (and ocirun) last.
        if (name === 'ocirun') expect(got, `${env}`).toEqual(want);
        else expect([...got].sort(), `${name} ${env}`).toEqual([...want].sort());
      }
    }
  });
});

describe('the program to run (runc 1.3.6\'s start_hello.bats and run.bats)', () => {
  it('runs, as a user with CAP_DAC_OVERRIDE, a program only its owner (root) may execute; without it, refuses', () => {
    const dacOverride = (c: any, on: boolean) => {
      for (const set of ['bounding', 'effective', 'inheritable', 'ambient', 'permitted']) {
        const list: string[] = (c.process.capabilities[set] ?? []).filter((x: string) => x !== 'CAP_DAC_OVERRIDE');
        c.process.capabilities[set] = on ? [...list, 'CAP_DAC_OVERRIDE'] : list;
      }
    };
    for (const on of [false, true]) {
      const b = bundle(['/owner-only'], (c) => {
        c.process.user = { uid: 1000, gid: 100 };
        dacOverride(c, on);
      });
      const prog = path.join(b, 'rootfs/owner-only');
      fs.writeFileSync(prog, '#!/bin/sh\necho ran\n');
      fs.chownSync(prog, 0, 0);
      fs.chmodSync(prog, 0o744);
      for (const [name] of runtimes) {
        const r = runtimeCmd(name, (id) => ['run', '-b', b, id]);
        remove(name, r.id);
        if (on) {
          expect(r.status, `${name}: ${r.stderr}`).toBe(0);
          expect(r.stdout, name).toBe('ran\n');
        } else {
          expect(r.status, name).not.toBe(0);
        }
      }
    }
  });

  it('reports a failed execve as "exec /run.sh: no such file or directory", one line', () => {
    const b = bundle(['/run.sh']);
    fs.writeFileSync(path.join(b, 'rootfs/run.sh'), '#!/mmnnttbb foo bar\nsh\n', { mode: 0o755 });
    for (const [name] of runtimes) {
      const r = runtimeCmd(name, (id) => ['run', '-b', b, id]);
      remove(name, r.id);
      expect(r.status, name).not.toBe(0);
      expect(r.stderr.trim().split('\n'), name).toEqual(['exec /run.sh: no such file or directory']);
    }
  });
});

describe('ambient capabilities (runc 1.3.6\'s capabilities.bats)', () => {
  it('raises those also inheritable, and warns in runc\'s words for the others (runc 1.1.5 drops them silently)', () => {
    const b = bundle(['grep', 'CapAmb', '/proc/self/status'], (c) => {
      c.process.capabilities.inheritable = ['CAP_KILL'];
      c.process.capabilities.ambient = ['CAP_KILL', 'CAP_CHOWN'];
    });
    for (const [name] of runtimes) {
      const r = runtimeCmd(name, (id) => ['run', '-b', b, id]);
      remove(name, r.id);
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
      // CAP_KILL is 5: 0x20.
      expect(r.stdout, name).toBe('CapAmb:\t0000000000000020\n');
      if (name === 'ocirun') expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining("can't raise ambient capability CAP_CHOWN: ")]);
      else expect(r.stderr, name).toBe('');
    }
  });
});

describe('a relative mount destination (runc 1.3.6 idmap.bats "idmap mount with relative path")', () => {
  it('is taken as relative to /, with a warning, as every runc takes it', () => {
    const src = scratch();
    fs.writeFileSync(path.join(src, 'file'), 'seen\n');
    const b = bundle(['cat', '/mnt/rel/file'], (c) => c.mounts.push({ destination: 'mnt/rel', type: 'bind', source: src, options: ['bind'] }));
    for (const [name] of runtimes) {
      const r = runtimeCmd(name, (id) => ['run', '-b', b, id]);
      remove(name, r.id);
      expect([r.status, r.stdout], `${name}: ${r.stderr}`).toEqual([0, 'seen\n']);
      expect(r.stderr, name).toMatch(/level=warning msg=".*mnt\/rel.*(not absolute|relative destination path is \*\*deprecated\*\*)/);
    }
  });
});
