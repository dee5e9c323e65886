// `ocirun exec` against a real container: what the new process sees inside,
// and what the host sees of it (its namespaces and cgroups are the init's).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningContainer, cli, makeBundle, nsOf, OCIRUN, project, psPids, startContainer, statusFields, removeBundle } from './helpers.js';

let root: string;
let c: RunningContainer;
let id: string;
let initPid: number;

const exec = (args: string[], opts: { input?: string } = {}) => cli(root, ['exec', ...args], opts);

beforeAll(() => {
  c = startContainer('exec', ['sleep', '1000'], (config) => {
    config.process.noNewPrivileges = false;
    config.process.env.push('FROM_CONFIG=yes');
    // A profile that denies mkdir: the exec'd process must carry it too.
    config.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] };
  });
  ({ root, id, initPid } = c);
});

afterAll(() => c.remove());

describe('exec', () => {
  it('joins every namespace and cgroup of the init (seen from the host)', () => {
    const pidFile = path.join(root, 'exec.pid');
    const r = cli(root, ['exec', '--detach', '--pid-file', pidFile, id, 'sleep', '100'], { detached: true });
    expect(r.status, r.stderr).toBe(0);
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    try {
      for (const ns of ['mnt', 'pid', 'net', 'ipc', 'uts', 'cgroup']) expect(nsOf(pid, ns), ns).toBe(nsOf(initPid, ns));
      expect(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toBe(fs.readFileSync(`/proc/${initPid}/cgroup`, 'utf8'));
      expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toBe('sleep\x00100\x00');
      // `ps` lists it, from the container's cgroup.
      expect(psPids(root, id), `cgroup of ${pid}: ${fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8')}`).toContain(pid);
    } finally {
      process.kill(pid, 'SIGKILL');
    }
  });

  it('--detach returns once the program runs, not while the exec shim is still there', () => {
    // The window was short: two CI runs in a row each caught one exec in
    // it. runc 1.1.5 has the same window, wider: run against it, this loop
    // saw its process still as "runc init" (README, "differs from runc").
    const pidFile = path.join(root, 'exec-race.pid');
    for (let i = 0; i < 30; i++) {
      const r = cli(root, ['exec', '--detach', '--pid-file', pidFile, id, 'sleep', '50'], { detached: true });
      expect(r.status, r.stderr).toBe(0);
      const pid = Number(fs.readFileSync(pidFile, 'utf8'));
      try {
        expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toBe('sleep\x0050\x00');
      } finally {
        process.kill(pid, 'SIGKILL');
      }
    }
  });

  it('returns the exit status, 128+N for signal N', () => {
    expect(exec([id, 'sh', '-c', 'exit 3']).status).toBe(3);
    expect(exec([id, 'sh', '-c', 'kill -9 $$']).status).toBe(137);
    expect(exec([id, 'true']).status).toBe(0);
  });

  it('passes stdin and stdout through', () => {
    const r = exec([id, 'sh', '-c', 'read x; echo "got $x"'], { input: 'hello\n' });
    expect(r.stdout).toBe('got hello\n');
  });

  it('applies --env, --cwd, --user and --additional-gids over the config', () => {
    const r = exec(['-e', 'EXTRA=1', '--cwd', '/tmp', '-u', '1000:1001', '-g', '5', '-g', '7', id, 'sh', '-c', 'echo "$EXTRA $FROM_CONFIG $HOME"; pwd; id -u; id -g; id -G']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('1 yes /\n/tmp\n1000\n1001\n1001 5 7\n');
  });

  it('has the config capabilities, plus those added with --cap', () => {
    const plain = statusFields(exec([id, 'cat', '/proc/self/status']).stdout);
    expect(BigInt(`0x${plain.CapEff}`) & (1n << 21n)).toBe(0n); // no CAP_SYS_ADMIN
    expect(plain.CapEff).toBe(plain.CapBnd);
    expect(plain.CapInh).toBe('0000000000000000');
    const added = statusFields(exec(['--cap', 'CAP_SYS_ADMIN', id, 'cat', '/proc/self/status']).stdout);
    expect(BigInt(`0x${added.CapEff}`)).toBe(BigInt(`0x${plain.CapEff}`) | (1n << 21n));
    expect(BigInt(`0x${added.CapBnd}`)).toBe(BigInt(`0x${plain.CapBnd}`) | (1n << 21n));
  });

  it('sets no_new_privs only when asked, and carries the seccomp filter', () => {
    expect(statusFields(exec([id, 'cat', '/proc/self/status']).stdout).NoNewPrivs).toBe('0');
    const s = statusFields(exec(['--no-new-privs', id, 'cat', '/proc/self/status']).stdout);
    expect(s.NoNewPrivs).toBe('1');
    expect(s.Seccomp).toBe('2');
    const r = exec([id, 'mkdir', '/tmp/denied']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Operation not permitted/);
  });

  it('runs a process.json instead of the command line', () => {
    const file = path.join(root, 'process.json');
    fs.writeFileSync(file, JSON.stringify({ args: ['sh', '-c', 'echo "$ONLY"; pwd; id -u'], env: ['ONLY=from-file', 'PATH=/bin'], cwd: '/etc', user: { uid: 42, gid: 42 } }));
    const r = exec(['--process', file, id]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('from-file\n/etc\n42\n');
  });

  it("gives a process.json without capabilities the container's, and without rlimits not the container's, as runc does", () => {
    const runc = spawnSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).stdout.trim();
    const seen: Record<string, unknown> = {};
    for (const [name, runtime] of [['ocirun', OCIRUN], ['runc', runc]] as const) {
      const caps = ['CAP_KILL', 'CAP_CHOWN'];
      const bundle = makeBundle(`ocirun-exec-fallback-${name}-`, ['sleep', '1000'], (config) => {
        config.process.capabilities = { bounding: caps, effective: caps, permitted: caps };
        config.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 123, hard: 123 }];
      });
      const fallbackRoot = fs.mkdtempSync(path.join(root, `fallback-${name}-`));
      const fid = `exec-fallback-${name}-${process.pid}`;
      try {
        const run = cli(fallbackRoot, ['run', '-d', '--bundle', bundle, fid], { runtime, detached: true });
        expect(run.status, run.stderr).toBe(0);
        const file = path.join(fallbackRoot, 'process.json');
        fs.writeFileSync(file, JSON.stringify({ args: ['sh', '-c', 'grep -E "^Cap(Eff|Bnd):" /proc/self/status; ulimit -n'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } }));
        const r = cli(fallbackRoot, ['exec', '--process', file, fid], { runtime });
        expect(r.status, `${name}: ${r.stderr}`).toBe(0);
        seen[name] = r.stdout;
      } finally {
        cli(fallbackRoot, ['delete', '-f', fid], { runtime });
        removeBundle(bundle);
      }
    }
    // CAP_CHOWN (0) and CAP_KILL (5); the open-file limit is the caller's,
    // not the container's 123 (runc 1.1's libcontainer config has no rlimits).
    expect(seen.ocirun).toMatch(/^CapEff:\t0000000000000021\nCapBnd:\t0000000000000021\n(?!123\n)\d+\n$/);
    expect(seen.ocirun).toBe(seen.runc);
  });

  it('passes --preserve-fds and nothing else (CVE-2024-21626)', () => {
    const extra = fs.openSync(path.join(project, 'package.json'), 'r');
    try {
      const r = spawnSync(OCIRUN, ['--root', root, 'exec', '--preserve-fds', '1', id, 'sh', '-c', 'ls /proc/self/fd; head -c 1 <&3'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe', extra],
        timeout: 30_000,
      });
      expect(r.status, r.stderr).toBe(0);
      // 0-2, the preserved 3, and 4: the directory ls itself opened (5 if anything had leaked).
      expect(r.stdout).toBe('0\n1\n2\n3\n4\n{');
    } finally {
      fs.closeSync(extra);
    }
  });

  it('gives the process a pty through --console-socket', () => {
    const sock = path.join(root, 'console.sock');
    const o = spawnSync('python3', [path.join(project, 'conformance/console-receiver.py'), sock, '--', OCIRUN, '--root', root, 'exec', '-t', '-d', '--console-socket', sock, id, 'sh', '-c', 'tty; [ -t 0 ] && echo stdin-is-tty', '--', 'true'], { encoding: 'utf8', timeout: 60_000 });
    expect(o.stdout).toBe('/dev/pts/0\nstdin-is-tty\ncreate=0 start=0\n');
  });

  it('fails as runc does: status 255 and its message', () => {
    const missing = exec([id, 'no-such-program']);
    expect(missing.status).toBe(255);
    expect(missing.stderr).toMatch(/exec failed: exec: .*no-such-program.*: executable file not found in \$PATH/);
    expect(exec(['no-such-container', 'true']).stderr).toMatch(/container does not exist/);
    expect(exec([id]).stderr).toMatch(/exec args cannot be empty/);
  });

  it('refuses a stopped container', () => {
    const stopped = `exec-stopped-${process.pid}`;
    const b = makeBundle('ocirun-exec-stopped-', ['true']);
    try {
      expect(cli(root, ['run', '-d', '--bundle', b, stopped], { detached: true }).status).toBe(0);
      for (let i = 0; i < 100 && JSON.parse(cli(root, ['state', stopped]).stdout).status !== 'stopped'; i++) spawnSync('sleep', ['0.05']);
      const r = exec([stopped, 'true']);
      expect(r.status).toBe(255);
      expect(r.stderr).toMatch(/cannot exec in a stopped container/);
    } finally {
      cli(root, ['delete', '--force', stopped]);
      removeBundle(b);
    }
  });
});
