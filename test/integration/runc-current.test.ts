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
        expect(r.status, `${name} ${kind}`).toBe(1);
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
        expect(r.status, `${name} ${kind}`).toBe(1);
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
