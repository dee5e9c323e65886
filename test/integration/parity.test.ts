// Behaviours of runc that its users rely on, each run against ocirun and
// runc in the same test, from inside the container and from the host.
import { spawnSync } from 'node:child_process';
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
function runBoth(b: string, opts: { prefix?: string[] } = {}) {
  const out: Record<string, { status: number | null; stdout: string; stderr: string }> = {};
  for (const [name, bin] of runtimes) {
    const id = `parity-${process.pid}-${++seq}`;
    const argv = [...(opts.prefix ?? []), bin, '--root', roots[name], 'run', '--bundle', b, id];
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
