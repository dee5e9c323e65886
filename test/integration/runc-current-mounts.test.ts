// Mounts with current runc's semantics (1.3.6, what managers ship), each
// scenario run under ocirun and under the installed runc 1.1.5 in the same
// test. ocirun is held to runc 1.3.6's behaviour (the runc test that
// expects it is named); where 1.1.5 behaved otherwise its result is
// asserted as what it is, so that the difference stays on record.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cli, leftovers, makeBundle, OCIRUN } from './helpers.js';

const RUNC = spawnSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).stdout.trim();
const runtimes = [['ocirun', OCIRUN], ['runc', RUNC]] as const;
type Name = (typeof runtimes)[number][0];
const roots = {} as Record<Name, string>;
let scratch = '';
let seq = 0;

const sh = (cmd: string) => {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
};
const mounted = (p: string) => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === p);

beforeAll(() => {
  expect(RUNC, 'runc is needed to compare with').not.toBe('');
  for (const [name] of runtimes) roots[name] = fs.mkdtempSync(path.join(os.tmpdir(), `mounts-current-${name}-`));
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mounts-current-'));
  fs.chmodSync(scratch, 0o755);
});
afterEach(() => {
  const src = path.join(scratch, 'src');
  while (mounted(src)) spawnSync('umount', [src]);
});
afterAll(() => {
  if (scratch && !fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(`${scratch}/`)) fs.rmSync(scratch, { recursive: true, force: true });
  for (const r of Object.values(roots)) fs.rmSync(r, { recursive: true, force: true });
});

/** A container with its own user namespace (0 -> 100000, 65536 ids) and a rootfs its root owns. */
function inUserns(c: any): void {
  c.linux.namespaces.push({ type: 'user' });
  c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  // A v1 cgroup mount cannot be made from a user namespace (runc: the same).
  c.mounts = c.mounts.filter((m: any) => m.type !== 'cgroup');
}

/** A busybox bundle; `edit` gets its config and the rootfs' absolute path (the config names it relatively). */
function bundle(args: string[], edit: (c: any, rootfs: string) => void, userns = false): string {
  const b = makeBundle('mounts-current-', args);
  const file = path.join(b, 'config.json');
  const c = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (userns) inUserns(c);
  edit(c, path.join(b, 'rootfs'));
  fs.writeFileSync(file, JSON.stringify(c, null, 2));
  fs.chmodSync(b, 0o755);
  if (userns) expect(spawnSync('chown', ['-R', '-h', '100000:100000', path.join(b, 'rootfs')]).status).toBe(0);
  return b;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  left: string[];
}

/**
 * `run` of the bundle under each runtime, then what is left of the
 * container (state, cgroups, processes). A function gives each runtime a
 * fresh bundle, for a scenario the first run would change (a directory it makes).
 */
function runBoth(bundleOf: string | (() => string)): Record<Name, Run> {
  const out = {} as Record<Name, Run>;
  for (const [name, bin] of runtimes) {
    const b = typeof bundleOf === 'string' ? bundleOf : bundleOf();
    const id = `mounts-current-${process.pid}-${++seq}`;
    const r = cli(roots[name], ['run', '--bundle', b, id], { runtime: bin, timeout: 60_000, cwd: b });
    const left = leftovers(roots[name], id, b);
    cli(roots[name], ['delete', '--force', id], { runtime: bin });
    out[name] = { status: r.status, stdout: r.stdout, stderr: r.stderr };
    out[name].left = left;
    console.info(`${name}: status ${r.status}\n${r.stdout}${r.stderr}`);
  }
  return out;
}

/**
 * A fresh tmpfs at scratch/src with exactly `flags` as its per-mount flags
 * (mount --bind -o remount adds them to a mount that has none), as runc's
 * mounts_sshfs.bats makes its source where there is no sshfs.
 */
function source(flags: string): string {
  const src = path.join(scratch, 'src');
  fs.mkdirSync(src, { recursive: true });
  sh(`mount -t tmpfs -o mode=755 tmpfs ${src}`);
  if (flags) sh(`mount --bind -o remount,${flags} ${src}`);
  return src;
}

/** The per-mount options of /mnt as the container's process sees them in /proc/self/mounts. */
const MNT_FLAGS = ['sh', '-c', `awk '$2 == "/mnt" { print $4 }' /proc/self/mounts`];
const flagsOf = (r: Run) => r.stdout.trim().split(',');

describe('bind mount flags on a source that carries its own (runc 1.2+, mounts_sshfs.bats)', () => {
  // [source's flags, the bind's options, what ocirun and runc 1.3.6 give, what runc 1.1.5 gives]
  const plain: [string, string, { has: string[]; not: string[] }, { has: string[]; not: string[] }][] = [
    // "--bind with no options": the source's flags stay (all versions).
    ['ro,noexec,nosymfollow,nodiratime', 'bind', { has: ['ro', 'noexec', 'nosymfollow', 'nodiratime'], not: [] }, { has: ['ro', 'noexec', 'nosymfollow'], not: [] }],
    // "--bind with clearing flag": a clearing option alone remounts with exactly what is asked for;
    // the atime setting not named stays. 1.1.5 did not remount (no flag set): all kept.
    ['ro,noexec,nosymfollow,nodiratime', 'bind,dev', { has: ['rw', 'nodiratime'], not: ['ro', 'noexec', 'nosymfollow'] }, { has: ['ro', 'noexec', 'nosymfollow'], not: [] }],
    // "implied-rw bind mount of a ro mount" (the same in 1.1.5).
    ['ro', 'bind,nosuid,nodev', { has: ['rw', 'nosuid', 'nodev'], not: ['ro'] }, { has: ['rw', 'nosuid', 'nodev'], not: ['ro'] }],
    // "dev,exec,suid,atime bind mount of a nodev,nosuid,noexec,noatime mount": only clearing options; 1.1.5 kept them all.
    ['nosuid,nodev,noexec,noatime', 'bind,dev,suid,exec,atime', { has: ['rw', 'noatime'], not: ['nosuid', 'nodev', 'noexec'] }, { has: ['nosuid', 'nodev', 'noexec', 'noatime'], not: [] }],
    // "ro,symfollow bind mount of a rw,nodev,nosymfollow mount" (the same in 1.1.5, which remounted for "ro").
    ['nodev,nosymfollow', 'bind,ro,symfollow', { has: ['ro'], not: ['nodev', 'nosymfollow'] }, { has: ['ro'], not: ['nodev', 'nosymfollow'] }],
  ];
  it.each(plain)('source %s, options %s, no user namespace', (flags, options, current, old) => {
    const b = bundle(MNT_FLAGS, (c) => c.mounts.push({ source: source(flags), destination: '/mnt', type: 'bind', options: options.split(',') }));
    const r = runBoth(b);
    for (const [name, want] of [['ocirun', current], ['runc', old]] as const) {
      expect(r[name].status, `${name}: ${r[name].stderr}`).toBe(0);
      for (const f of want.has) expect(flagsOf(r[name]), `${name} has ${f}`).toContain(f);
      for (const f of want.not) expect(flagsOf(r[name]), `${name} has no ${f}`).not.toContain(f);
    }
  });

  // In a user namespace the source's lockable flags are locked on the copy.
  // [source's flags, the bind's options, what ocirun and runc 1.3.6 give, whether runc 1.1.5 gave the same or failed]
  const userns: [string, string, { has: string[]; not: string[] }, 'same' | 'fails'][] = [
    // "implied-rw ... with a user namespace": the locked ro is kept, the asked flags added.
    ['ro', 'bind,nosuid,nodev', { has: ['ro', 'nosuid', 'nodev'], not: [] }, 'same'],
    // "ro,symfollow ...": nosymfollow is not lockable and goes; the locked nodev stays.
    ['nodev,nosymfollow', 'bind,ro,symfollow', { has: ['ro', 'nodev'], not: ['nosymfollow'] }, 'fails'],
    // "ro bind mount of a nodev,nosuid,noexec mount": the locked flags are inherited.
    ['nodev,nosuid,noexec,noatime', 'bind,ro', { has: ['ro', 'nosuid', 'nodev', 'noexec', 'noatime'], not: [] }, 'fails'],
  ];
  it.each(userns)('source %s, options %s, in a user namespace: the locked flags are kept', (flags, options, want, old) => {
    const b = bundle(MNT_FLAGS, (c) => c.mounts.push({ source: source(flags), destination: '/mnt', type: 'bind', options: options.split(',') }), true);
    const r = runBoth(b);
    expect(r.ocirun.status, r.ocirun.stderr).toBe(0);
    for (const f of want.has) expect(flagsOf(r.ocirun), `has ${f}`).toContain(f);
    for (const f of want.not) expect(flagsOf(r.ocirun), `has no ${f}`).not.toContain(f);
    if (old === 'same') {
      expect(r.runc.status, r.runc.stderr).toBe(0);
      expect(flagsOf(r.runc)).toEqual(flagsOf(r.ocirun));
    } else {
      // runc 1.1.5 remounted without the locked flags, which the kernel refuses.
      expect(r.runc.status).toBe(1);
      expect(r.runc.stderr).toMatch(/operation not permitted/);
      expect(r.runc.left).toEqual([]);
    }
  });

  // What cannot be had in a user namespace is an error (runc 1.3.6), not a
  // mount with other flags than asked for, which runc 1.1.5 made where it
  // did not fail: [source, options, ocirun's error, runc 1.1.5's result]
  const refused: [string, string, RegExp, { flags: string[] } | 'fails'][] = [
    // "explicit-rw bind mount of a ro mount", with a user namespace: 1.1.5 kept ro.
    ['ro', 'bind,rw,nosuid,nodev', /cannot clear locked flags ro\b.*EPERM/, { flags: ['ro', 'nosuid', 'nodev'] }],
    // "dev,exec,suid,atime bind mount ...", with a user namespace: 1.1.5 did not remount.
    ['nodev,nosuid,noatime', 'bind,dev,suid,exec,atime', /cannot clear locked flags .*nosuid.*EPERM/, { flags: ['nosuid', 'nodev', 'noatime'] }],
    // "{no,rel,strict}atime semantics": another atime mode than the locked one.
    ['relatime', 'bind,strictatime', /cannot change locked atime flags relatime.*EPERM/, 'fails'],
    ['noatime', 'bind,relatime', /cannot change locked atime flags noatime.*EPERM/, 'fails'],
  ];
  it.each(refused)('source %s, options %s, in a user namespace: refused (exit 1, one line, nothing left)', (flags, options, message, old) => {
    const b = bundle(MNT_FLAGS, (c) => c.mounts.push({ source: source(flags), destination: '/mnt', type: 'bind', options: options.split(',') }), true);
    const r = runBoth(b);
    expect(r.ocirun.status, r.ocirun.stdout).toBe(1);
    expect(r.ocirun.stdout).toBe('');
    expect(r.ocirun.left).toEqual([]);
    expect(r.ocirun.stderr.trim().split('\n')).toEqual([expect.stringMatching(message)]);
    // runc's words: error mounting "SOURCE" to rootfs at "DEST" (quoted again in the log line)
    expect(r.ocirun.stderr).toContain(`error mounting \\"${scratch}/src\\" to rootfs at \\"/mnt\\"`);
    if (old === 'fails') {
      expect(r.runc.status).toBe(1);
      expect(r.runc.stderr).toMatch(/error mounting .*operation not permitted/);
      expect(r.runc.left).toEqual([]);
    } else {
      expect(r.runc.status, r.runc.stderr).toBe(0);
      for (const f of old.flags) expect(flagsOf(r.runc), `runc 1.1.5 has ${f}`).toContain(f);
    }
  });
});

describe('recursive atime options (runc 1.3.6, mounts_recursive.bats "check rbind,r*atime mounts")', () => {
  it('ratime and rnostrictatime give relatime, rnoatime noatime, rstrictatime strictatime, on the mount and the one below it', () => {
    const vol = path.join(scratch, 'vol');
    fs.mkdirSync(path.join(vol, 'sub'), { recursive: true });
    sh(`mount -t tmpfs -o mode=755 tmpfs ${vol}/sub`);
    try {
      const opts = { mnt1: 'ratime', mnt2: 'rnoatime', mnt3: 'rstrictatime', mnt4: 'rnostrictatime', mnt5: 'rrelatime', mnt6: 'rnorelatime' };
      const script = Object.keys(opts).map((d) => `awk '$2 == "/${d}" || $2 == "/${d}/sub" { print $2, $4 }' /proc/self/mounts`).join('; ');
      const b = bundle(['sh', '-c', script], (c) => {
        for (const [d, o] of Object.entries(opts)) c.mounts.push({ source: vol, destination: `/${d}`, type: 'bind', options: ['rbind', o] });
      });
      const r = runBoth(b);
      expect(r.ocirun.status, r.ocirun.stderr).toBe(0);
      const atime = (line: string) => line.split(' ')[1].split(',').find((f) => /atime$/.test(f)) ?? 'strictatime';
      const got = Object.fromEntries(r.ocirun.stdout.trim().split('\n').map((l) => [l.split(' ')[0], atime(l)]));
      const want = { mnt1: 'relatime', mnt2: 'noatime', mnt3: 'strictatime', mnt4: 'relatime', mnt5: 'relatime', mnt6: 'relatime' };
      expect(got).toEqual(Object.fromEntries(Object.entries(want).flatMap(([d, a]) => [[`/${d}`, a], [`/${d}/sub`, a]])));
      // runc 1.1.5 cleared only the one flag for "ratime": mount_setattr(2) refuses that (EINVAL).
      expect(r.runc.status).toBe(1);
      expect(r.runc.stderr).toMatch(/invalid argument/);
      expect(r.runc.left).toEqual([]);
    } finally {
      spawnSync('umount', [`${vol}/sub`]);
    }
  });
});

describe('mount order (runc 1.3.6, mounts.bats "mount order, container bind-mount source")', () => {
  /**
   * runc's scenario: a tree of binds at /mnt (through symlinked sources),
   * then binds whose sources are inside the rootfs, made by those earlier
   * binds, written with the rootfs' host path (as their destinations are),
   * and /final a bind of the whole. The bind sources sit in a directory
   * others cannot search.
   */
  function mountOrderBundle(userns: boolean, args = ['cat', '/final/x/y/z/z/x/y/z/x/file'], idmap = false): string {
    return bundle(args, (c, rootfs) => c.mounts.push(...mountTree(rootfs, idmap, userns)), userns);
  }
  /** In a user namespace the id-mapped binds name no maps of their own (the container's apply), as in runc's test. */
  function mountTree(rootfs: string, idmap: boolean, userns = false): object[] {
    const treeDir = fs.mkdtempSync(path.join(scratch, 'tree-'));
    fs.chmodSync(treeDir, 0o755);
    const src = path.join(treeDir, 'bind-src');
    for (const sub of ['a/x', 'b/y', 'c/z']) {
      fs.mkdirSync(path.join(src, sub), { recursive: true });
      fs.writeFileSync(path.join(src, sub, 'file'), `${sub}\n`);
      fs.symlinkSync(path.dirname(sub), path.join(src, `sym-${path.dirname(sub)}`));
    }
    fs.chmodSync(src, 0o750);
    fs.mkdirSync(path.join(rootfs, 'final'), { recursive: true });
    const maps = [{ containerID: 0, hostID: 100000, size: 65536 }];
    const ownMaps = userns ? {} : { uidMappings: maps, gidMappings: maps };
    const bind = (s: string, d: string, o = 'bind') =>
      o === 'rbind' && idmap ? { source: s, destination: d, type: 'bind', options: [o, 'rprivate', 'idmap'], ...ownMaps } : { source: s, destination: d, type: 'bind', options: [o, 'rprivate'] };
    return [
      bind(`${src}/a`, '/mnt'),
      bind(`${src}/sym-b`, '/mnt/x'),
      bind(`${src}/c`, '/mnt/x/y'),
      bind(`${src}/sym-a`, '/mnt/x/y/z'),
      bind(`${rootfs}/mnt/x`, `${rootfs}/mnt/x/y/z/x`, 'rbind'),
      bind(`${rootfs}/mnt/x/y`, `${rootfs}/mnt/x/y/z`, 'rbind'),
      bind(`${rootfs}/mnt`, `${rootfs}/final`, 'rbind'),
    ];
  }

  it('binds sources made by earlier mounts, in order (runc 1.1.5 as well)', () => {
    const r = runBoth(mountOrderBundle(false));
    for (const [name] of runtimes) {
      expect(r[name].status, `${name}: ${r[name].stderr}`).toBe(0);
      expect(r[name].stdout, name).toBe('a/x\n');
    }
  });

  it('id-maps such sources in their turn, without a user namespace (runc 1.1.5 ignores the id map)', () => {
    const r = runBoth(mountOrderBundle(false, ['sh', '-c', `cat /final/x/y/z/z/x/y/z/x/file; awk '$5 == "/final" { print $6 }' /proc/self/mountinfo`], true));
    for (const [name] of runtimes) expect(r[name].status, `${name}: ${r[name].stderr}`).toBe(0);
    expect(r.ocirun.stdout.split('\n')[0]).toBe('a/x');
    expect(r.ocirun.stdout.split('\n')[1].split(',')).toContain('idmapped');
    expect(r.runc.stdout.split('\n')[0]).toBe('a/x');
    expect(r.runc.stdout.split('\n')[1].split(',')).not.toContain('idmapped');
  });

  it('does so in a user namespace too (runc 1.1.5 fails: it opened the source before the mounts)', () => {
    const r = runBoth(mountOrderBundle(true));
    expect(r.ocirun.status, r.ocirun.stderr).toBe(0);
    expect(r.ocirun.stdout).toBe('a/x\n');
    expect(r.runc.status).toBe(1);
    expect(r.runc.stderr).toMatch(/failed to open mount source .*\/mnt\/x: No such file or directory/);
    expect(r.runc.left).toEqual([]);
  });

  // runc 1.3.6: mounts.bats "mount order, container idmap source (userns)".
  it('id-maps such sources in their turn in a user namespace, with the container\'s maps (runc 1.1.5 fails: it opened the source before the mounts)', () => {
    // The binds' sources are root's on the host: nobody (65534) in the container, root (0) through the id map.
    const script = `cat /final/x/y/z/z/x/y/z/x/file; stat -c %u /mnt /final; awk '$5 == "/final" { print $6 }' /proc/self/mountinfo`;
    const r = runBoth(mountOrderBundle(true, ['sh', '-c', script], true));
    expect(r.ocirun.status, r.ocirun.stderr).toBe(0);
    expect(r.ocirun.stdout.split('\n').slice(0, 3)).toEqual(['a/x', '65534', '0']);
    expect(r.ocirun.stdout.split('\n')[3].split(',')).toContain('idmapped');
    expect(r.ocirun.left).toEqual([]);
    expect(r.runc.status).toBe(1);
    expect(r.runc.stderr).toMatch(/failed to open mount source .*\/mnt\/x: No such file or directory/);
    expect(r.runc.left).toEqual([]);
  });

  it('a source that is not there at its turn either: exit 1, one line naming the mount, the step and the errno, nothing left', () => {
    const r = runBoth(() =>
      bundle(['true'], (c, rootfs) => {
        c.mounts.push(...mountTree(rootfs, true, true).slice(0, 4), { source: `${rootfs}/mnt/none`, destination: '/final', type: 'bind', options: ['rbind', 'idmap'] });
      }, true),
    );
    expect(r.ocirun.status).toBe(1);
    expect(r.ocirun.stdout).toBe('');
    const lines = r.ocirun.stderr.trim().split('\n');
    expect(lines).toEqual([expect.stringMatching(/error mounting \\".*\/rootfs\/mnt\/none\\" to rootfs at \\"\/final\\": source .*\/mnt\/none: no such file or directory \(ENOENT\)"$/)]);
    expect(r.ocirun.left).toEqual([]);
    expect(r.runc.status).toBe(1);
    // runc 1.1.5 opens it before the mounts, as every bind source in a user namespace.
    expect(r.runc.stderr).toMatch(/failed to open mount source .*\/mnt\/none: No such file or directory/);
    expect(r.runc.left).toEqual([]);
  });
});

describe('an id-mapped source that does not answer at its turn', () => {
  it('fails the create within the bound: exit 1, one line naming the mount, the step and the errno, nothing left; runc 1.1.5 waits with no bound', async () => {
    // A FUSE mount whose server never answers (not even its INIT): a lookup
    // below it waits, killably, until the connection is aborted, which
    // closing the server's /dev/fuse (killing it) does.
    const hang = path.join(scratch, 'hang');
    fs.mkdirSync(hang, { recursive: true });
    const server = spawn('sh', ['-c', `exec 3<>/dev/fuse; mount -i -t fuse -o fd=3,rootmode=40000,user_id=0,group_id=0 ocirun-test-hang ${hang} && exec sleep 600`], { stdio: 'ignore' });
    const runcId = `mounts-current-${process.pid}-hang`;
    try {
      for (let i = 0; i < 100 && !mounted(hang); i++) await new Promise((r) => setTimeout(r, 50));
      expect(mounted(hang), 'the FUSE mount').toBe(true);
      const b = bundle(['true'], (c) => c.mounts.push({ source: `${hang}/sub`, destination: '/hang', type: 'bind', options: ['rbind', 'idmap'] }), true);
      const id = `mounts-current-${process.pid}-${++seq}`;
      const started = Date.now();
      const r = cli(roots.ocirun, ['run', '--bundle', b, id], { timeout: 60_000, cwd: b });
      const took = Date.now() - started;
      const left = leftovers(roots.ocirun, id, b);
      console.info(`ocirun: status ${r.status} after ${took} ms\n${r.stderr}`);
      expect(r.status).toBe(1);
      expect(took).toBeGreaterThanOrEqual(15_000);
      expect(took).toBeLessThan(30_000);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(/error mounting \\".*\/hang\/sub\\" to rootfs at \\"\/hang\\": id-mapped copy of the source: no answer from the stage within 15 s \(ETIMEDOUT\)"$/),
      ]);
      // The stage that waited is gone too (it carries the container's id).
      expect(left).toEqual([]);
      // runc 1.1.5 opens the source in its nsexec before the mounts and waits there for as long as it takes.
      const rr = spawnSync(RUNC, ['--root', roots.runc, 'run', '--bundle', b, runcId], { cwd: b, encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
      expect((rr.error as NodeJS.ErrnoException | undefined)?.code, `runc 1.1.5: status ${rr.status} ${rr.stderr}`).toBe('ETIMEDOUT');
    } finally {
      server.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 200));
      spawnSync('umount', ['-l', hang]);
      cli(roots.runc, ['delete', '--force', runcId], { runtime: RUNC });
      // runc 1.1.5 leaves its cgroups when killed part-way; delete does not find them.
      for (const l of leftovers(roots.runc, runcId, '/nonexistent', { processes: false }).filter((x) => x.startsWith('cgroup '))) spawnSync('rmdir', [l.slice('cgroup '.length)]);
    }
  }, 90_000);
});

describe('masked directories share one read-only tmpfs (runc 1.3.6, mask.bats "directories share tmpfs")', () => {
  it('gives every masked directory the same empty read-only tmpfs; runc 1.1.5 gave each its own', () => {
    const script = 'stat -c %d /testdir /testdir2 /testdir3 /proc/acpi; touch /testdir2/foo 2>&1; awk \'$2 == "/testdir2" { print $4 }\' /proc/self/mounts';
    const b = bundle(['sh', '-c', script], (c, rootfs) => {
      for (const d of ['testdir', 'testdir2', 'testdir3']) fs.mkdirSync(path.join(rootfs, d));
      c.linux.maskedPaths = [...(c.linux.maskedPaths ?? []), '/testdir', '/testdir2', '/testdir3'];
    });
    const r = runBoth(b);
    for (const [name] of runtimes) {
      expect(r[name].status, `${name}: ${r[name].stderr}`).toBe(0);
      const lines = r[name].stdout.trim().split('\n');
      expect(lines[4], name).toMatch(/Read-only file system/);
      expect(lines[5].split(','), name).toContain('ro');
      const devices = lines.slice(0, 3);
      if (name === 'ocirun') expect(new Set(devices).size).toBe(1);
      else expect(new Set(devices).size).toBe(3);
    }
    // /proc/acpi, masked first by the default config, is that same tmpfs.
    const ocirun = r.ocirun.stdout.trim().split('\n');
    if (fs.existsSync('/proc/acpi')) expect(ocirun[3]).toBe(ocirun[0]);
  });
});

describe('tmpfs mode (runc 1.3.6, mounts.bats "tmpfs mount mode=")', () => {
  it('takes the mode of the directory it covers, unless the options name one; 1777 on one it makes', () => {
    let b = '';
    const fresh = () => (b = bundle(['sh', '-c', 'stat -c %a /tmpfs /tmpfs2 /new/x'], (c, rootfs) => {
      for (const d of ['tmpfs', 'tmpfs2']) {
        fs.mkdirSync(path.join(rootfs, d));
        fs.chmodSync(path.join(rootfs, d), 0o710);
      }
      c.mounts.push(
        { type: 'tmpfs', source: 'tmpfs', destination: '/tmpfs', options: ['rw', 'nodev', 'nosuid'] },
        { type: 'tmpfs', source: 'tmpfs', destination: '/tmpfs2', options: ['nosuid', 'mode=1500'] },
        { type: 'tmpfs', source: 'tmpfs', destination: '/new/x', options: ['nosuid'] },
      );
    }));
    const r = runBoth(fresh);
    expect(r.ocirun.status, r.ocirun.stderr).toBe(0);
    expect(r.ocirun.stdout).toBe('710\n1500\n1777\n');
    // runc 1.1.5 chmod-ed the tmpfs to the covered directory's mode after mounting, over an explicit mode= too.
    expect(r.runc.stdout).toBe('710\n710\n1777\n');
    expect(fs.statSync(path.join(b, 'rootfs/tmpfs2')).mode & 0o7777).toBe(0o710);
  });
});

describe("the host's mount namespace (runc 1.3.6, host-mntns.bats)", () => {
  it('runs a createRuntime hook once (runc 1.1.5: twice), a read-only root ignored as runc ignores it, with a warning', () => {
    let b = '';
    const fresh = () =>
      (b = bundle(['/bin/echo', 'Hello World'], (c) => {
        c.hooks = { createRuntime: [{ path: '/bin/sh', args: ['/bin/sh', '-c', 'touch createRuntimeHook.$$'] }] };
        c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'mount');
        c.linux.maskedPaths = [];
        c.linux.readonlyPaths = [];
        c.root.readonly = true;
      }));
    const made: string[] = [];
    const r = runBoth(() => (made.push(fresh()), b));
    // runc leaves the container's mounts on the host (ocirun detaches them: leftovers found none).
    spawnSync('umount', ['-R', '--lazy', path.join(made[1], 'rootfs')]);
    for (const [i, [name]] of runtimes.entries()) {
      expect(r[name].status, `${name}: ${r[name].stderr}`).toBe(0);
      expect(r[name].stdout, name).toBe('Hello World\n');
      // runc 1.1.5 runs the hook twice here (the bug host-mntns.bats was written for; fixed in 1.2).
      expect(fs.readdirSync(made[i]).filter((f) => f.startsWith('createRuntimeHook.')), name).toHaveLength(name === 'ocirun' ? 1 : 2);
    }
    expect(r.ocirun.left).toEqual([]);
    expect(r.ocirun.stderr).toMatch(/root\.readonly is ignored without a mount namespace/);
    // runc says nothing, and its rootfs is as writable as ocirun's.
    expect(r.runc.stderr).toBe('');
  });
});
