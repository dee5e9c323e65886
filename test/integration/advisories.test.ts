// runc's security advisories, each as the attack it describes, made
// deterministic: where the real attack races the runtime (a volume shared
// with another container, a symlink swapped in at the right moment), a
// createContainer hook makes the same change at the same point of the
// setup, in the container's mount namespace before the root switch.
// Each attack's target is harmless (the container's own UTS domainname,
// a file of the test's own): what a naive runtime would do is seen, not done
// to the host. runc runs each case too, in the same run; where the runc
// here predates the fix, its result shows that the test catches the flaw.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, leftovers, makeBundle, OCIRUN, project } from './helpers.js';

const RUNC = spawnSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).stdout.trim();
const runtimes = [['ocirun', OCIRUN], ['runc', RUNC]] as const;
type Name = (typeof runtimes)[number][0];
const roots = {} as Record<Name, string>;
const made: string[] = [];
let seq = 0;

/** runc's version as [major, minor, patch]. */
function runcVersion(): number[] {
  const m = /runc version (\d+)\.(\d+)\.(\d+)/.exec(spawnSync(RUNC, ['--version'], { encoding: 'utf8' }).stdout);
  return m ? m.slice(1).map(Number) : [0, 0, 0];
}
const runcBefore = (...v: number[]) => {
  const have = runcVersion();
  for (let i = 0; i < 3; i++) if (have[i] !== v[i]) return have[i] < v[i];
  return false;
};

beforeAll(() => {
  expect(RUNC, 'runc is needed to compare with').not.toBe('');
  for (const [name] of runtimes) roots[name] = fs.mkdtempSync(path.join(os.tmpdir(), `ocirun-advisory-${name}-`));
});
afterAll(() => [...Object.values(roots), ...made].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function bundle(args: string[], edit?: (c: any) => void): string {
  const b = makeBundle('ocirun-advisory-', args, edit);
  made.push(b);
  return b;
}

/** A createContainer hook running `script` with the rootfs as its cwd (runc's and ours). */
const hook = (script: string) => ({ createContainer: [{ path: '/bin/sh', args: ['sh', '-c', script] }] });

interface Outcome {
  status: number | null;
  stdout: string;
  stderr: string;
  /** What the container left behind after delete -f (should be nothing). */
  left: string[];
}

/** `run` under one runtime, then delete -f; with a console socket when `tty`. */
function runUnder(name: Name, b: string, opts: { tty?: boolean } = {}): Outcome {
  const bin = runtimes.find(([n]) => n === name)![1];
  const id = `advisory-${process.pid}-${++seq}`;
  let r;
  if (opts.tty) {
    const sock = path.join(b, `console-${seq}.sock`);
    r = spawnSync('python3', [path.join(project, 'conformance/console-receiver.py'), sock, '--', bin, '--root', roots[name], 'create', '--console-socket', sock, '--bundle', b, id, '--', bin, '--root', roots[name], 'start', id], { encoding: 'utf8', timeout: 60_000 });
  } else {
    r = spawnSync(bin, ['--root', roots[name], 'run', '--bundle', b, id], { encoding: 'utf8', timeout: 60_000, input: '' });
  }
  cli(roots[name], ['delete', '--force', id], { runtime: bin });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, left: leftovers(roots[name], id, b) };
}

describe('CVE-2019-5736: the host runtime binary must never be writable from the container', () => {
  it('a "#!/proc/self/exe" program runs the sealed exec shim, which refuses, never the engine', () => {
    // A naive runtime execs the user's program from its own binary: the
    // kernel then starts the runtime's executable inside the container as
    // the script's interpreter, where a process can open it for writing.
    const b = bundle(['/evil']);
    fs.writeFileSync(path.join(b, 'rootfs/evil'), '#!/proc/self/exe\n', { mode: 0o755 });
    const before = fs.readFileSync(path.join(project, 'build/ocirun'));
    const ours = runUnder('ocirun', b);
    expect(ours.stderr).toContain('exec /evil: invalid argument');
    expect(ours.status).toBe(126);
    expect(fs.readFileSync(path.join(project, 'build/ocirun')).equals(before)).toBe(true);
    // runc execs it from its own memfd copy, which fails to start the script.
    const runc = runUnder('runc', b);
    expect(runc.status).not.toBe(0);
    expect(runc.stderr).toMatch(/exec \/evil/);
  });

  it("a process in the container's pid namespace cannot write the waiting init's executable", () => {
    // The created container's init is the engine, waiting for start: a
    // second container in its pid namespace goes for /proc/1/exe. Under
    // ocirun the init is not dumpable, so the link is closed to it; runc's
    // init runs from a sealed copy of runc instead.
    const seen: Record<string, string> = {};
    for (const [name, bin] of runtimes) {
      const first = bundle(['true']);
      const id = `advisory-init-${process.pid}-${++seq}`;
      expect(cli(roots[name], ['create', '--bundle', first, id], { runtime: bin, detached: true }).status).toBe(0);
      try {
        const pid = JSON.parse(cli(roots[name], ['state', id], { runtime: bin }).stdout).pid;
        const b = bundle(['sh', '-c', 'readlink /proc/1/exe >/dev/null 2>&1 && echo link || echo no-link; (printf x >>/proc/1/exe) 2>/dev/null && echo written || echo not-written'], (c) => {
          c.linux.namespaces = c.linux.namespaces.map((n: any) => (n.type === 'pid' ? { type: 'pid', path: `/proc/${pid}/ns/pid` } : n));
        });
        const r = runUnder(name, b);
        expect(r.status, `${name}: ${r.stderr}`).toBe(0);
        seen[name] = r.stdout;
      } finally {
        cli(roots[name], ['delete', '--force', id], { runtime: bin });
      }
    }
    expect(seen.ocirun).toBe('no-link\nnot-written\n');
    expect(seen.runc).toMatch(/not-written\n$/);
  });
});

describe('CVE-2021-30465: mount destinations are resolved inside the rootfs', () => {
  it('a symlink in the rootfs to a host path puts the mount inside the rootfs, never on the host', () => {
    const hostDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-advisory-host-'));
    made.push(hostDir);
    // Inside, the mount is at the link's target within the rootfs.
    const b = bundle(['sh', '-c', `grep -c " ${hostDir}/mnt " /proc/self/mountinfo; stat -f -c %T /evil/mnt`], (c) => {
      c.mounts.push({ destination: '/evil/mnt', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] });
    });
    fs.symlinkSync(hostDir, path.join(b, 'rootfs/evil'));
    const seen: Record<string, string> = {};
    for (const [name] of runtimes) {
      const r = runUnder(name, b);
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
      // A naive runtime follows the link on the host: it makes hostDir/mnt there.
      expect(fs.readdirSync(hostDir), name).toEqual([]);
      expect(fs.existsSync(path.join(b, 'rootfs', hostDir, 'mnt')), name).toBe(true);
      expect(r.left, name).toEqual([]);
      seen[name] = r.stdout;
    }
    expect(seen.ocirun).toBe('1\ntmpfs\n');
    expect(seen.ocirun).toBe(seen.runc);
  });
});

describe('CVE-2022-29162: no inheritable capabilities unless the config asks for them', () => {
  it('exec --cap adds to the bounding, effective and permitted sets only', () => {
    const seen: Record<string, string> = {};
    for (const [name, bin] of runtimes) {
      const b = bundle(['sleep', '100']);
      const id = `advisory-cap-${process.pid}-${++seq}`;
      expect(cli(roots[name], ['run', '-d', '--bundle', b, id], { runtime: bin, detached: true }).status).toBe(0);
      try {
        const r = cli(roots[name], ['exec', '--cap', 'CAP_SYS_ADMIN', id, 'grep', '-E', '^Cap(Inh|Prm|Eff|Amb)', '/proc/self/status'], { runtime: bin });
        expect(r.status, r.stderr).toBe(0);
        seen[name] = r.stdout;
      } finally {
        cli(roots[name], ['delete', '--force', id], { runtime: bin });
      }
    }
    const caps = Object.fromEntries(seen.ocirun.trim().split('\n').map((l) => l.split(/:\s+/)));
    expect(caps.CapInh).toBe('0000000000000000');
    expect(caps.CapAmb).toBe('0000000000000000');
    // CAP_SYS_ADMIN (21) was added to what the config gives.
    expect(BigInt(`0x${caps.CapEff}`) & (1n << 21n)).toBe(1n << 21n);
    expect(seen.ocirun).toBe(seen.runc);
  });
});

describe('CVE-2023-27561 (CVE-2019-19921): procfs is never mounted through a symlink', () => {
  it('a rootfs whose /proc is a symlink is refused, leaving nothing', () => {
    const b = bundle(['true']);
    fs.rmSync(path.join(b, 'rootfs/proc'), { recursive: true, force: true });
    fs.mkdirSync(path.join(b, 'rootfs/fakeproc'));
    fs.symlinkSync('/fakeproc', path.join(b, 'rootfs/proc'));
    const ours = runUnder('ocirun', b);
    expect(ours.status).toBe(1);
    expect(ours.stderr.trim().split('\n')).toHaveLength(1);
    // runc's words, which tools look for.
    expect(ours.stderr).toMatch(/error mounting \\?"proc\\?" to rootfs at \\?"\/proc\\?": .*must be mounted on ordinary directory, not a symlink \(ELOOP\)/);
    expect(ours.left).toEqual([]);
    const runc = runUnder('runc', b);
    expect(runc.status).toBe(1);
    expect(runc.stderr).toMatch(/must be mounted on ordinary directory/);
    // Neither mounted a procfs where the link points.
    expect(fs.readdirSync(path.join(b, 'rootfs/fakeproc'))).toEqual([]);
  });
});

describe('CVE-2024-21626: the process never starts in a leaked host directory', () => {
  // A naive runtime holds host directories open (a cgroup, the state dir)
  // when it changes to process.cwd: "/proc/self/fd/N" then leads out of
  // the container. Every fd number the init could hold is tried.
  const cwds = Array.from({ length: 30 }, (_, i) => `/proc/self/fd/${i + 3}`);

  it('as the cwd of the container: refused, or a directory inside the container', () => {
    const b = bundle(['sh', '-c', 'pwd']);
    const config = path.join(b, 'config.json');
    for (const cwd of cwds) {
      const c = JSON.parse(fs.readFileSync(config, 'utf8'));
      c.process.cwd = cwd;
      fs.writeFileSync(config, JSON.stringify(c));
      const r = runUnder('ocirun', b);
      if (r.status === 0) expect(r.stdout, cwd).not.toMatch(/unreachable/);
      else expect(r.stderr, cwd).toMatch(/cwd/);
      expect(r.left, cwd).toEqual([]);
    }
  });

  it('as the cwd of exec: refused, or a directory inside the container', () => {
    const b = bundle(['sleep', '100']);
    const id = `advisory-cwd-${process.pid}-${++seq}`;
    expect(cli(roots.ocirun, ['run', '-d', '--bundle', b, id], { detached: true }).status).toBe(0);
    try {
      for (const cwd of cwds) {
        const r = cli(roots.ocirun, ['exec', '--cwd', cwd, id, 'pwd']);
        if (r.status === 0) expect(r.stdout, cwd).not.toMatch(/unreachable/);
        else expect(r.stderr, cwd).toMatch(/cwd/);
      }
    } finally {
      cli(roots.ocirun, ['delete', '--force', id]);
    }
  });
});

describe('CVE-2025-31133: masking uses the real /dev/null or nothing', () => {
  it('a /dev/null replaced by a symlink to a /proc file fails create; runc before 1.2.8 binds the file over the masked paths', () => {
    const b = bundle(['sleep', '100'], (c) => {
      c.hooks = hook('rm -f dev/null && ln -s /proc/sys/kernel/domainname dev/null');
    });
    const ours = runUnder('ocirun', b);
    expect(ours.status).toBe(1);
    expect(ours.stderr).toMatch(/mask paths: \/dev\/null in the container is not the null device/);
    expect(ours.stderr.trim().split('\n')).toHaveLength(1);
    expect(ours.left).toEqual([]);
    // runc, detached: its process's stdio may be that /dev/null too, so
    // what is mounted where is read from the host.
    const id = `advisory-null-${process.pid}-${++seq}`;
    const r = cli(roots.runc, ['run', '-d', '--bundle', b, id], { runtime: RUNC, detached: true });
    try {
      if (runcBefore(1, 2, 8)) {
        expect(r.status, r.stderr).toBe(0);
        const pid = JSON.parse(cli(roots.runc, ['state', id], { runtime: RUNC }).stdout).pid;
        const masked = fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').find((l) => l.split(' ')[4] === '/proc/timer_list');
        // The flaw, seen: the masked path is the sysctl, bound from /proc/sys.
        expect(masked?.split(' ')[3]).toBe('/sys/kernel/domainname');
      } else {
        expect(r.status).not.toBe(0);
      }
    } finally {
      cli(roots.runc, ['delete', '--force', id], { runtime: RUNC });
    }
  });
});

describe('CVE-2025-52565: /dev/console is bound only onto a file of /dev', () => {
  it('a /dev/console replaced by a symlink to a /proc file fails create; runc before 1.2.8 binds the pty over the file', () => {
    const b = bundle(['sh', '-c', 'grep -c " /proc/sys/kernel/domainname " /proc/self/mountinfo'], (c) => {
      c.process.terminal = true;
      c.hooks = hook('rm -f dev/console && ln -s /proc/sys/kernel/domainname dev/console');
    });
    const ours = runUnder('ocirun', b, { tty: true });
    expect(ours.stdout).toBe('create=1 start=none\n');
    expect(ours.stderr).toMatch(/console: openat2 dev\/console: .*\(ELOOP\)/);
    expect(ours.left).toEqual([]);
    const runc = runUnder('runc', b, { tty: true });
    if (runcBefore(1, 2, 8)) expect(runc.stdout).toMatch(/^[1-9]\d*\ncreate=0 start=0\n$/);
    else expect(runc.stdout).toMatch(/create=1 start=none/);
  });
});

describe('CVE-2025-52881: writes to /proc cannot be redirected by a mount over their target', () => {
  it('a sysctl reaches the kernel even when a file is mounted over it in the container; runc before 1.2.8 writes the file', () => {
    const decoy = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-advisory-decoy-')), 'decoy');
    made.push(path.dirname(decoy));
    // ip_default_ttl: a sysctl of the container's own network namespace, 64 in a new one.
    const b = bundle(['sleep', '100'], (c) => {
      c.linux.sysctl = { 'net.ipv4.ip_default_ttl': '99' };
      c.hooks = hook(`mount --bind ${decoy} proc/sys/net/ipv4/ip_default_ttl`);
    });
    for (const [name, bin] of runtimes) {
      fs.writeFileSync(decoy, 'untouched\n');
      const id = `advisory-sysctl-${process.pid}-${++seq}`;
      const r = cli(roots[name], ['run', '-d', '--bundle', b, id], { runtime: bin, detached: true });
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
      try {
        const pid = JSON.parse(cli(roots[name], ['state', id], { runtime: bin }).stdout).pid;
        // The container's network namespace, as the kernel has it.
        const inNs = spawnSync('nsenter', [`--net=/proc/${pid}/ns/net`, 'cat', '/proc/sys/net/ipv4/ip_default_ttl'], { encoding: 'utf8' }).stdout;
        if (name === 'ocirun') {
          expect(fs.readFileSync(decoy, 'utf8')).toBe('untouched\n');
          expect(inNs).toBe('99\n');
        } else if (runcBefore(1, 2, 8)) {
          // The flaw, seen: the write went to the file mounted over the sysctl.
          expect(fs.readFileSync(decoy, 'utf8')).toMatch(/^99/);
          expect(inNs).toBe('64\n');
        }
      } finally {
        cli(roots[name], ['delete', '--force', id], { runtime: bin });
      }
    }
  });
});
