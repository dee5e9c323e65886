// Behaviours of runc that its users rely on, each run against ocirun and
// runc in the same test, from inside the container and from the host.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, makeBundle, OCIRUN, project } from './helpers.js';

const RUNC = spawnSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).stdout.trim();
const runtimes = [['ocirun', OCIRUN], ['runc', RUNC]] as const;
const roots: Record<string, string> = {};
const made: string[] = [];
let seq = 0;

beforeAll(() => {
  expect(RUNC, 'runc is needed to compare with').not.toBe('');
  for (const [name] of runtimes) roots[name] = fs.mkdtempSync(path.join(os.tmpdir(), `ocirun-parity-${name}-`));
});
afterAll(() => [...Object.values(roots), ...made].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function bundle(args: string[], edit?: (c: any) => void): string {
  const b = makeBundle('ocirun-parity-', args, edit);
  fs.chmodSync(b, 0o755);
  made.push(b);
  return b;
}

/** `run` of the bundle under each runtime: their {status, stdout, stderr}, by name. */
function runBoth(b: string, opts: { prefix?: string[]; runArgs?: string[] } = {}) {
  const out: Record<string, { status: number | null; stdout: string; stderr: string }> = {};
  for (const [name, bin] of runtimes) {
    const id = `parity-${process.pid}-${++seq}`;
    const argv = [...(opts.prefix ?? []), bin, '--root', roots[name], 'run', ...(opts.runArgs ?? []), '--bundle', b, id];
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
    out[name] = { status: r.status, stdout: r.stdout, stderr: r.stderr };
    cli(roots[name], ['delete', '--force', id], { runtime: bin });
  }
  return out;
}

describe('the program as runc starts it', () => {
  it("inherits the caller's ignored signals, not the runtime's own (SIGPIPE was ignored)", () => {
    const b = bundle(['sh', '-c', 'grep -E "^Sig(Ign|Blk)" /proc/self/status']);
    const ignored = (out: string) => BigInt(`0x${/SigIgn:\t([0-9a-f]+)/.exec(out)![1]}`);
    const SIGQUIT = 1n << 2n, SIGPIPE = 1n << 12n, SIGXFSZ = 1n << 24n;
    // The caller as this test runs it (what it ignores is the environment's) ...
    const plain = runBoth(b);
    expect(plain.ocirun.status, plain.ocirun.stderr).toBe(0);
    expect(plain.ocirun.stdout).toBe(plain.runc.stdout);
    expect(plain.ocirun.stdout).toMatch(/^SigBlk:\t0000000000000000\n/);
    expect(ignored(plain.ocirun.stdout) & (SIGPIPE | SIGXFSZ)).toBe(0n);
    // ... and one that ignores most signals (nohup's SIGHUP among them): as
    // under runc, only a caller's SIGQUIT (and signal 34) stay ignored.
    const ignoring = runBoth(b, { prefix: ['sh', '-c', 'trap "" HUP INT QUIT USR1 PIPE TERM; exec "$@"', 'sh'] });
    expect(ignoring.ocirun.stdout).toBe(ignoring.runc.stdout);
    expect(ignored(ignoring.ocirun.stdout)).toBe(SIGQUIT);
  });

  it('takes a cwd that only the process\'s user can reach (chdir after the user switch)', () => {
    const b = bundle(['sh', '-c', 'pwd; id -u'], (c) => {
      c.process.user = { uid: 42, gid: 42 };
      c.process.cwd = '/private';
    });
    fs.mkdirSync(path.join(b, 'rootfs/private'), { mode: 0o700 });
    fs.chownSync(path.join(b, 'rootfs/private'), 42, 42);
    fs.chmodSync(path.join(b, 'rootfs/private'), 0o700);
    const r = runBoth(b);
    expect(r.runc.status, r.runc.stderr).toBe(0);
    expect(r.ocirun.status, r.ocirun.stderr).toBe(0);
    expect(r.ocirun.stdout).toBe('/private\n42\n');
    expect(r.ocirun.stdout).toBe(r.runc.stdout);
  });

  it("gives the process's user its terminal (the pty belongs to the uid, the devpts gid stays)", () => {
    const b = bundle(['sh', '-c', 'stat -c "%u %g" $(tty)'], (c) => {
      c.process.terminal = true;
      c.process.user = { uid: 1000, gid: 1000 };
    });
    const out: Record<string, string> = {};
    for (const [name, bin] of runtimes) {
      const sock = path.join(b, `console-${name}.sock`);
      const id = `parity-tty-${process.pid}-${++seq}`;
      const o = spawnSync('python3', [path.join(project, 'conformance/console-receiver.py'), sock, '--', bin, '--root', roots[name], 'create', '--console-socket', sock, '--bundle', b, id, '--', bin, '--root', roots[name], 'start', id], { encoding: 'utf8', timeout: 60_000 });
      out[name] = o.stdout;
      cli(roots[name], ['delete', '--force', id], { runtime: bin });
    }
    // make-bundle's devpts is mounted with gid=5 (tty), as runc's spec has it.
    expect(out.ocirun).toBe('1000 5\ncreate=0 start=0\n');
    expect(out.ocirun).toBe(out.runc);
  });

  it('runs createContainer hooks with the rootfs as their cwd', () => {
    const b = bundle(['true'], (c) => {
      c.hooks = { createContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'touch ./hook-was-here'] }] };
    });
    for (const [name, bin] of runtimes) {
      fs.rmSync(path.join(b, 'rootfs/hook-was-here'), { force: true });
      const id = `parity-hook-${process.pid}-${++seq}`;
      const r = cli(roots[name], ['run', '--bundle', b, id], { runtime: bin });
      cli(roots[name], ['delete', '--force', id], { runtime: bin });
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
      expect(fs.existsSync(path.join(b, 'rootfs/hook-was-here')), name).toBe(true);
    }
  });
});

/** A cgroup made before the container, at `rel` in every hierarchy (v1) or in the one (v2). */
function preexistingCgroup(rel: string) {
  const v2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
  const dirs = v2
    ? [path.join('/sys/fs/cgroup', rel)]
    : fs.readdirSync('/sys/fs/cgroup').filter((c) => !c.includes(',') || c === 'cpu,cpuacct').filter((c) => fs.existsSync(path.join('/sys/fs/cgroup', c, 'cgroup.procs'))).map((c) => path.join('/sys/fs/cgroup', c, rel));
  for (const d of dirs) fs.mkdirSync(d, { recursive: true });
  const freezer = v2 ? path.join(dirs[0], 'cgroup.freeze') : path.join('/sys/fs/cgroup/freezer', rel, 'freezer.state');
  const procs = v2 ? path.join(dirs[0], 'cgroup.procs') : path.join('/sys/fs/cgroup/devices', rel, 'cgroup.procs');
  return {
    freeze: (on: boolean) => fs.writeFileSync(freezer, v2 ? (on ? '1' : '0') : on ? 'FROZEN' : 'THAWED'),
    add: (pid: number) => fs.writeFileSync(procs, String(pid)),
    remove: () => dirs.forEach((d) => fs.existsSync(d) && fs.rmdirSync(d)),
  };
}

describe('cgroups as runc treats them', () => {
  // Go's encoding/json takes a key that names a field without regard to
  // case; runc's update.bats "cpuset parameters via resources.CPU" relies on it.
  it('reads linux.resources and update -r with keys of any case (CPU, Cpus), as Go does', () => {
    const cpus = os.cpus().length;
    for (const [name, bin] of runtimes) {
      const id = `parity-keys-${process.pid}-${++seq}`;
      const rel = `/ocirun-parity-keys-${name}-${process.pid}`;
      const b = bundle(['sleep', '100'], (c) => {
        c.linux.cgroupsPath = rel;
        c.linux.resources.CPU = { Cpus: '0', Mems: '0' };
      });
      const file = path.join('/sys/fs/cgroup/cpuset', rel, 'cpuset.cpus');
      try {
        const r = cli(roots[name], ['run', '-d', '--bundle', b, id], { runtime: bin, detached: true });
        expect(r.status, `${name}: ${r.stderr}`).toBe(0);
        expect(fs.readFileSync(file, 'utf8').trim(), name).toBe('0');
        if (cpus > 1) {
          const u = cli(roots[name], ['update', '-r', '-', id], { runtime: bin, input: '{"CPU": {"Cpus": "1"}}' });
          expect(u.status, `${name}: ${u.stderr}`).toBe(0);
          expect(fs.readFileSync(file, 'utf8').trim(), name).toBe('1');
        }
      } finally {
        cli(roots[name], ['delete', '--force', id], { runtime: bin });
      }
    }
  });

  it('refuses a cgroup frozen before create, at once and leaving nothing', () => {
    for (const [name, bin] of runtimes) {
      const id = `parity-frozen-${process.pid}-${++seq}`;
      const rel = `/ocirun-parity-frozen-${name}-${process.pid}`;
      const b = bundle(['true'], (c) => (c.linux.cgroupsPath = rel));
      const cg = preexistingCgroup(rel);
      try {
        cg.freeze(true);
        const r = cli(roots[name], ['run', '-d', '--bundle', b, id], { runtime: bin, detached: true, timeout: 20_000 });
        expect(r.status, `${name}: ${r.stderr}`).toBe(1);
        expect(r.stderr, name).toMatch(/container's cgroup unexpectedly frozen/);
        if (name === 'ocirun') {
          expect(r.stderr.trim().split('\n')).toHaveLength(1);
          expect(fs.existsSync(path.join(roots[name], id))).toBe(false);
        }
      } finally {
        cli(roots[name], ['delete', '--force', id], { runtime: bin });
        cg.freeze(false);
        cg.remove();
      }
    }
  });

  // runc 1.2+ refuses a cgroup that holds a process (runc 1.3.6's cgroups.bats
  // "runc run/create should error for a non-empty cgroup"); runc 1.1.5 here
  // only warns and runs (its "should warn about a non-empty cgroup"), which
  // is recorded for it. ocirun follows 1.3.6.
  it('refuses a cgroup that already holds a process (runc 1.3.6; 1.1.5 warns), and leaves that process alone', async () => {
    for (const [name, bin] of runtimes) {
      const id = `parity-shared-${process.pid}-${++seq}`;
      const rel = `/ocirun-parity-shared-${name}-${process.pid}`;
      const b = bundle(['true'], (c) => (c.linux.cgroupsPath = rel));
      const cg = preexistingCgroup(rel);
      const { spawn } = await import('node:child_process');
      const other = spawn('sleep', ['300'], { stdio: 'ignore' });
      try {
        cg.add(other.pid!);
        for (const verb of ['run', 'create']) {
          const r = cli(roots[name], [verb, ...(verb === 'run' ? ['-d'] : []), '--bundle', b, id], { runtime: bin, detached: true });
          if (name === 'ocirun') {
            expect(r.status, `${name} ${verb}`).toBe(1);
            expect(r.stderr.trim().split('\n'), `${name} ${verb}`).toEqual([expect.stringContaining("check cgroup: container's cgroup is not empty: 1 process(es) found")]);
            expect(fs.existsSync(path.join(roots[name], id)), `${name} ${verb}: state left`).toBe(false);
          } else {
            expect(r.status, `${name} ${verb}: ${r.stderr}`).toBe(0);
            expect(r.stderr, name).toMatch(/container's cgroup is not empty: 1 process\(es\) found/);
          }
          const d = cli(roots[name], ['delete', '--force', id], { runtime: bin });
          expect(d.status, `${name}: ${d.stderr}`).toBe(0);
          expect(fs.existsSync(path.join(roots[name], id)), name).toBe(false);
        }
        // Not the container's: it lives on.
        expect(other.exitCode, name).toBe(null);
        expect(fs.existsSync(`/proc/${other.pid}`), name).toBe(true);
      } finally {
        other.kill('SIGKILL');
        await new Promise((r) => other.once('exit', r));
        cli(roots[name], ['delete', '--force', id], { runtime: bin });
        cg.remove();
      }
    }
  });
});

describe('exec as runc does it', () => {
  /** A detached container under each runtime, its own cgroup and no cgroup namespace; `use` gets its exec. */
  type Exec = (flags: string[], cmd: string[]) => ReturnType<typeof cli>;
  function withContainer(edit: (c: any) => void, use: (name: string, exec: Exec, rel: string) => void) {
    for (const [name, bin] of runtimes) {
      const id = `parity-exec-${process.pid}-${++seq}`;
      const rel = `/ocirun-parity-exec-${name}-${process.pid}-${seq}`;
      const b = bundle(['sleep', '300'], (c) => {
        c.linux.cgroupsPath = rel;
        c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'cgroup');
        edit(c);
      });
      try {
        const r = cli(roots[name], ['run', '-d', '--bundle', b, id], { runtime: bin, detached: true });
        expect(r.status, `${name}: ${r.stderr}`).toBe(0);
        use(name, (flags, cmd) => cli(roots[name], ['exec', ...flags, id, ...cmd], { runtime: bin }), rel);
      } finally {
        cli(roots[name], ['delete', '--force', id], { runtime: bin });
      }
    }
  }

  it("is in the container's cgroup for every controller, and under its device rules", () => {
    withContainer(
      (c) => (c.linux.devices = [{ path: '/dev/kmsg', type: 'c', major: 1, minor: 11, fileMode: 0o644 }]),
      (name, exec, rel) => {
        const cg = exec([], ['cat', '/proc/self/cgroup']);
        expect(cg.status, `${name}: ${cg.stderr}`).toBe(0);
        const lines = cg.stdout.trim().split('\n');
        expect(lines.length, name).toBeGreaterThan(0);
        for (const l of lines) expect(l, name).toMatch(new RegExp(`:${rel}$`));
        // The node exists (linux.devices), but the rules deny it (as runc:
        // linux.devices get no allow rule of their own).
        const k = exec([], ['sh', '-c', 'test -c /dev/kmsg && echo x > /dev/kmsg']);
        expect(k.status, name).toBe(1);
        expect(k.stderr, name).toMatch(/Operation not permitted/);
      },
    );
  });

  it('update changes device rules by the fewest writes v1 accepts, also once the cgroup has a child', () => {
    // runc 1.1.5 skips device rules on update (SkipDevices); runc 1.2 applies
    // them by the same transition, which ocirun follows.
    const fuse = { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666 };
    const [name, bin] = runtimes[0];
    const id = `parity-devupdate-${process.pid}`;
    const rel = `/ocirun-parity-devupdate-${process.pid}`;
    const b = bundle(['sleep', '300'], (c) => {
      c.linux.cgroupsPath = rel;
      c.linux.devices = [fuse];
    });
    const v1 = !fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
    const dir = path.join('/sys/fs/cgroup/devices', rel);
    const rules = (allow: boolean) => JSON.stringify({ devices: [{ allow: false, access: 'rwm' }, ...(allow ? [{ allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' }] : [])] });
    const update = (json: string) => cli(roots[name], ['update', '-r', '-', id], { runtime: bin, input: json });
    const open = () => cli(roots[name], ['exec', id, 'sh', '-c', '(exec 3</dev/fuse) 2>/dev/null && echo opened || echo denied']).stdout;
    try {
      expect(cli(roots[name], ['run', '-d', '--bundle', b, id], { runtime: bin, detached: true }).status).toBe(0);
      expect(open()).toBe('denied\n');
      let u = update(rules(true));
      expect(u.status, u.stderr).toBe(0);
      expect(open()).toBe('opened\n');
      if (v1) {
        expect(fs.readFileSync(path.join(dir, 'devices.list'), 'utf8')).toMatch(/^c 10:229 rwm$/m);
        // With a child cgroup, a wildcard write is EINVAL: the same rules again need none.
        fs.mkdirSync(path.join(dir, 'child'));
      }
      u = update(rules(true));
      expect(u.status, u.stderr).toBe(0);
      u = update(rules(false));
      expect(u.status, u.stderr).toBe(0);
      expect(open()).toBe('denied\n');
      if (v1) expect(fs.readFileSync(path.join(dir, 'devices.list'), 'utf8')).not.toMatch(/^c 10:229/m);
    } finally {
      if (v1 && fs.existsSync(path.join(dir, 'child'))) fs.rmdirSync(path.join(dir, 'child'));
      cli(roots[name], ['delete', '--force', id], { runtime: bin });
    }
  });

  it('refuses a --cgroup that is not below the container\'s cgroup', () => {
    withContainer(() => {}, (name, exec) => {
      for (const arg of ['..', 'memory:../..', 'a/../../b']) {
        const r = exec(['--cgroup', arg], ['true']);
        // runc says 255 (exec failed); ocirun 1, as for all bad input.
        expect(r.status, `${name} ${arg}`).toBe(name === 'runc' ? 255 : 1);
        expect(r.stderr, `${name} ${arg}`).toMatch(/is not a sub cgroup path/);
      }
    });
  });
});

describe('exec --cgroup errors in runc\'s words (runc 1.1.5 and 1.3.6, exec.bats "runc exec --cgroup sub-cgroups")', () => {
  it('names the pid and the cgroup.procs of a missing sub-cgroup, and an unknown controller; nothing is left running', () => {
    for (const [name, bin] of runtimes) {
      const id = `parity-execcg-${process.pid}-${++seq}`;
      const rel = `/ocirun-parity-execcg-${name}-${process.pid}-${seq}`;
      const b = bundle(['sleep', '300'], (c) => (c.linux.cgroupsPath = rel));
      try {
        expect(cli(roots[name], ['run', '-d', '--bundle', b, id], { runtime: bin, detached: true }).status).toBe(0);
        const procs = () => (fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? fs.readFileSync(path.join('/sys/fs/cgroup', rel, 'cgroup.procs'), 'utf8') : fs.readFileSync(path.join('/sys/fs/cgroup/pids', rel, 'cgroup.procs'), 'utf8'));
        const before = procs();
        for (const arg of ['nonexistent', 'pids:nonexistent']) {
          const r = cli(roots[name], ['exec', '--cgroup', arg, id, 'true'], { runtime: bin });
          expect(r.status, `${name} ${arg}`).toBe(255);
          expect(r.stderr.trim().split('\n'), `${name} ${arg}`).toEqual([expect.stringMatching(/ adding pid \d+ to cgroups: .*\/nonexistent\/cgroup\.procs: no such file /)]);
        }
        const r = cli(roots[name], ['exec', '--cgroup', 'whaaat:/', id, 'true'], { runtime: bin });
        expect(r.status, name).not.toBe(0);
        expect(r.stderr, name).toContain('unknown controller whaaat');
        // The process that could not join was ended: the cgroup holds the init alone.
        expect(procs(), name).toBe(before);
      } finally {
        cli(roots[name], ['delete', '--force', id], { runtime: bin });
      }
    }
  });
});

describe('seccomp as runc loads it', () => {
  it('answers ENOSYS, not the default errno, for syscalls newer than the profile knows', () => {
    // Every x86-64 syscall up to pidfd_open (434) but getcpu, default EPERM:
    // clone3 (435) and faccessat2 (439) are newer than the profile.
    const header = fs.readFileSync('/usr/include/x86_64-linux-gnu/asm/unistd_64.h', 'utf8');
    const names = [...header.matchAll(/^#define __NR_(\w+) (\d+)$/gm)].filter(([, name, nr]) => Number(nr) <= 434 && name !== 'getcpu').map(([, name]) => name);
    expect(names.length).toBeGreaterThan(300);
    const b = bundle(['/syscall-errno', '435', '439', '309'], (c) => {
      c.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names, action: 'SCMP_ACT_ALLOW' }] };
    });
    execFileSync('gcc', ['-static', '-O2', '-o', path.join(b, 'rootfs/syscall-errno'), path.join(project, 'test/fixtures/syscall-errno.c')]);
    const r = runBoth(b);
    expect(r.ocirun.status, r.ocirun.stderr).toBe(0);
    expect(r.ocirun.stdout).toBe('435 38\n439 38\n309 1\n');
    expect(r.ocirun.stdout).toBe(r.runc.stdout);
  });
});

describe('the rootfs and the words tools look for, as runc has them', () => {
  it('sets up /dev/pts, /dev/shm and the devices in a read-only /dev before it is made read-only', () => {
    const b = bundle(['sh', '-c', 'test -c /dev/null && test -d /dev/pts && test -d /dev/shm && echo made; grep " /dev " /proc/self/mountinfo | grep -o " ro,"; touch /dev/x 2>&1 || true'], (c) => {
      c.mounts.find((m: any) => m.destination === '/dev').options.push('ro');
    });
    const r = runBoth(b);
    expect(r.ocirun.status, r.ocirun.stderr).toBe(0);
    expect(r.ocirun.stdout).toBe('made\n ro,\ntouch: /dev/x: Read-only file system\n');
    expect(r.ocirun.stdout).toBe(r.runc.stdout);
  });

  it('--no-pivot leaves no unmasked proc in the namespace for a nested user+pid namespace to mount', () => {
    // A proc mount in a new user and pid namespace is allowed only while a
    // full one is visible in the mount namespace: under --no-pivot, the
    // host's /proc outside the chroot would be.
    const b = bundle(['sh', '-c', 'mkdir -p /tmp/p; unshare -Urmpf sh -c "mount -t proc proc /tmp/p 2>/dev/null && echo mounted || echo refused"'], (c) => {
      c.root.readonly = false;
      for (const k of ['bounding', 'effective', 'permitted']) c.process.capabilities[k] = [...c.process.capabilities[k], 'CAP_SETFCAP', 'CAP_SETUID', 'CAP_SETGID'];
    });
    const pivoted = runBoth(b);
    expect(pivoted.ocirun.stdout, pivoted.ocirun.stderr).toBe('refused\n');
    const r = runBoth(b, { runArgs: ['--no-pivot'] });
    expect(r.ocirun.status, r.ocirun.stderr).toBe(0);
    expect(r.ocirun.stdout).toBe('refused\n');
    expect(r.ocirun.stdout).toBe(r.runc.stdout);
  });

  it("binds a source under a directory only the host's root may enter, into a user namespace", () => {
    const secret = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-parity-secret-'));
    made.push(secret);
    fs.chmodSync(secret, 0o700);
    fs.mkdirSync(path.join(secret, 'shared'), { mode: 0o755 });
    fs.writeFileSync(path.join(secret, 'shared/file'), 'reached\n', { mode: 0o644 });
    const b = bundle(['cat', '/mnt/shared/file'], (c) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      // A v1 cgroup mount cannot be made from a user namespace (runc: the same).
      c.mounts = c.mounts.filter((m: any) => m.type !== 'cgroup');
      c.mounts.push({ destination: '/mnt/shared', type: 'bind', source: path.join(secret, 'shared'), options: ['rbind', 'ro'] });
    });
    expect(spawnSync('chown', ['-R', '100000:100000', path.join(b, 'rootfs')]).status).toBe(0);
    const r = runBoth(b);
    expect(r.ocirun.status, r.ocirun.stderr).toBe(0);
    expect(r.ocirun.stdout).toBe('reached\n');
    expect(r.ocirun.stdout).toBe(r.runc.stdout);
  });

  it('applies the recursive options (rro, rnoexec, rnosuid, rnoatime) to every mount below a bind, and ro to the top one only', () => {
    const src = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-parity-rbind-'));
    fs.mkdirSync(path.join(src, 'sub'));
    expect(spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', path.join(src, 'sub')]).status).toBe(0);
    try {
      for (const options of [['rbind', 'rro'], ['rbind', 'ro'], ['rbind', 'rnoexec', 'rnosuid', 'rnoatime']]) {
        const b = bundle(['sh', '-c', 'touch /mnt/r/sub/x 2>/dev/null && echo writable || echo read-only; grep " /mnt/r" /proc/self/mountinfo | cut -d" " -f5,6'], (c) => {
          c.mounts.push({ destination: '/mnt/r', type: 'bind', source: src, options });
        });
        const r = runBoth(b);
        expect(r.ocirun.status, `${options}: ${r.ocirun.stderr}`).toBe(0);
        expect(r.ocirun.stdout, options.join()).toBe(r.runc.stdout);
        const sub = r.ocirun.stdout.split('\n').find((l) => l.startsWith('/mnt/r/sub '));
        if (options.includes('rro')) expect(sub).toMatch(/ ro,/);
        if (options.includes('ro')) expect(sub).toMatch(/ rw,/);
        if (options.includes('rnoexec')) for (const flag of ['nosuid', 'noexec', 'noatime']) expect(sub).toMatch(new RegExp(`[ ,]${flag}(,|$)`));
      }
    } finally {
      spawnSync('umount', [path.join(src, 'sub')]);
      fs.rmSync(src, { recursive: true, force: true });
    }
  });

  it('says "failed to connect with seccomp agent" when the listener socket is missing', () => {
    const b = bundle(['true'], (c) => {
      c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: path.join(os.tmpdir(), `ocirun-no-agent-${process.pid}`), syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] };
    });
    const r = runBoth(b);
    for (const name of ['ocirun', 'runc']) {
      expect(r[name].status, name).toBe(1);
      expect(r[name].stderr, name).toMatch(/failed to connect with seccomp agent specified in the seccomp profile: .*(no such file or directory|ENOENT)/i);
    }
    expect(r.ocirun.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('names itself in "run failed" and "create failed" as it was called: runc\'s words when installed as runc', () => {
    // runc says "runc run failed: ..." whatever its file is called; ocirun
    // says the name it was called by, so a link named runc (Docker's and
    // containerd's default runtime binary) reads as runc does.
    const links = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-as-runc-'));
    made.push(links);
    fs.symlinkSync(OCIRUN, path.join(links, 'runc'));
    const b = bundle(['true'], (c) => {
      c.mounts.push({ destination: '/x', type: 'bind', source: path.join(links, 'no-such-source'), options: ['rbind'] });
    });
    const said: Record<string, string[]> = {};
    for (const [name, bin] of [...runtimes, ['ocirun as runc', path.join(links, 'runc')]]) {
      const root = roots[name === 'runc' ? 'runc' : 'ocirun'];
      for (const verb of ['run', 'create']) {
        const id = `parity-name-${process.pid}-${++seq}`;
        const r = spawnSync(bin, ['--root', root, verb, '--bundle', b, id], { encoding: 'utf8', timeout: 60_000 });
        cli(root, ['delete', '--force', id], { runtime: bin });
        expect(r.status, `${name} ${verb}: ${r.stderr}`).toBe(1);
        (said[name] ??= []).push(/(\w+ \w+ failed):/.exec(r.stderr)?.[1] ?? r.stderr);
      }
    }
    expect(said).toEqual({ ocirun: ['ocirun run failed', 'ocirun create failed'], runc: ['runc run failed', 'runc create failed'], 'ocirun as runc': ['runc run failed', 'runc create failed'] });
  });

  it('runs startContainer hooks under the container\'s seccomp filter', () => {
    const b = bundle(['true'], (c) => {
      c.root.readonly = false;
      c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] };
      c.hooks = { startContainer: [{ path: '/bin/mkdir', args: ['mkdir', '/hook-dir'] }] };
    });
    const r = runBoth(b);
    for (const name of ['ocirun', 'runc']) {
      expect(r[name].stderr, name).toMatch(/^error running (startContainer )?hook #0: .*exit status 1, stdout: , stderr: mkdir: can't create directory '\/hook-dir': Operation not permitted/);
    }
    // The init's own exit status: runc 1.1.5's init exits 1, runc 1.3.6's
    // 255 (measured beside it: `error running startContainer hook #0: ...`,
    // exit 255), which ocirun follows.
    expect([r.ocirun.status, r.runc.status]).toEqual([255, 1]);
    expect(r.ocirun.stderr.trim().split('\n')).toHaveLength(1);
    expect(fs.existsSync(path.join(b, 'rootfs/hook-dir'))).toBe(false);
  });
});

// The v1 controllers' rules about the order of writes (v2 has neither memsw nor a separate period file).
describe.runIf(!fs.existsSync('/sys/fs/cgroup/cgroup.controllers'))('v1 controllers: update ordered as the kernel accepts it, BFQ weights', () => {
  /** A detached `sleep` in cgroupsPath `rel` under each runtime; `use` gets its update and its cgroup dir for `controller`. */
  function withUpdatable(rel: (name: string) => string, resources: any, controller: string, use: (name: string, update: (...a: string[]) => ReturnType<typeof cli>, dir: string) => void) {
    for (const [name, bin] of runtimes) {
      const id = `parity-update-${process.pid}-${++seq}`;
      const b = bundle(['sleep', '300'], (c) => {
        c.linux.cgroupsPath = rel(name);
        c.linux.resources = { ...c.linux.resources, ...resources };
      });
      try {
        const r = cli(roots[name], ['run', '-d', '--bundle', b, id], { runtime: bin, detached: true });
        expect(r.status, `${name}: ${r.stderr}`).toBe(0);
        use(name, (...a) => cli(roots[name], ['update', ...a, id], { runtime: bin }), path.join('/sys/fs/cgroup', controller, rel(name)));
      } finally {
        cli(roots[name], ['delete', '--force', id], { runtime: bin });
      }
    }
  }
  const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file), 'utf8').trim();

  it('--memory -1 with a swap limit set makes both unlimited; raising and lowering both work', () => {
    const memsw = fs.existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes');
    expect(memsw, 'this host has swap accounting (memory.memsw)').toBe(true);
    withUpdatable((name) => `/ocirun-parity-mem-${name}-${process.pid}`, { memory: { limit: 64 << 20, swap: 128 << 20 } }, 'memory', (name, update, dir) => {
      const steps: [string[], string, string][] = [
        [['--memory', '256M', '--memory-swap', '512M'], String(256 << 20), String(512 << 20)],
        [['--memory', '32M', '--memory-swap', '48M'], String(32 << 20), String(48 << 20)],
        [['--memory', '-1'], '9223372036854771712', '9223372036854771712'],
      ];
      for (const [args, mem, swap] of steps) {
        const u = update(...args);
        expect(u.status, `${name} ${args.join(' ')}: ${u.stderr}`).toBe(0);
        expect([read(dir, 'memory.limit_in_bytes'), read(dir, 'memory.memsw.limit_in_bytes')], `${name} ${args.join(' ')}`).toEqual([mem, swap]);
      }
    });
  });

  it('a shorter --cpu-period with a --cpu-quota, under a parent that has a quota', () => {
    withUpdatable((name) => `/ocirun-parity-cpu-${name}-${process.pid}/c`, { cpu: { period: 100000, quota: 50000 } }, 'cpu', (name, update, dir) => {
      // The parent allows half a CPU: a period of 50 ms with the old 50 ms quota would be a whole one.
      const parent = path.dirname(dir);
      fs.writeFileSync(path.join(parent, 'cpu.cfs_quota_us'), '50000');
      try {
        const u = update('--cpu-period', '50000', '--cpu-quota', '25000');
        expect(u.status, `${name}: ${u.stderr}`).toBe(0);
        expect([read(dir, 'cpu.cfs_period_us'), read(dir, 'cpu.cfs_quota_us')], name).toEqual(['50000', '25000']);
      } finally {
        fs.writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), '-1');
        fs.writeFileSync(path.join(parent, 'cpu.cfs_quota_us'), '-1');
      }
    });
    // The runtimes remove the container's cgroup, not the parent made for it.
    for (const h of fs.readdirSync('/sys/fs/cgroup')) {
      for (const name of ['ocirun', 'runc']) {
        const dir = path.join('/sys/fs/cgroup', h, `ocirun-parity-cpu-${name}-${process.pid}`);
        if (fs.existsSync(dir)) fs.rmdirSync(dir);
      }
    }
  });

  it("writes blkio.weight to BFQ's file where CFQ's is gone (kernels from 5.0)", () => {
    const b = bundle(['sh', '-c', 'cat /sys/fs/cgroup/blkio/blkio.weight 2>/dev/null || cat /sys/fs/cgroup/blkio/blkio.bfq.weight'], (c) => {
      c.linux.resources = { ...c.linux.resources, blockIO: { weight: 500 } };
    });
    const r = runBoth(b);
    // A kernel with neither scheduler's weight (no BFQ, no CFQ): both refuse, naming BFQ's file.
    if (!['blkio.weight', 'blkio.bfq.weight'].some((f) => fs.existsSync(path.join('/sys/fs/cgroup/blkio', f)))) {
      expect([r.ocirun.status, r.runc.status]).toEqual([1, 1]);
      expect(r.runc.stderr).toMatch(/blkio\.bfq\.weight: no such file or directory/);
      expect(r.ocirun.stderr).toMatch(/blkio\.bfq\.weight: ENOENT: no such file or directory/);
      return;
    }
    expect(r.ocirun.status, r.ocirun.stderr).toBe(0);
    expect(r.ocirun.stdout).toMatch(/^(default )?500\n$/);
    expect(r.ocirun.stdout).toBe(r.runc.stdout);
  });
});

