// Bad input through the real CLI: exit 1, one line naming the step or field,
// and nothing left behind (state dir, cgroup dirs, mounts).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leftovers as leftoversOf, makeBundle, OCIRUN, removeBundle } from './helpers.js';

const ocirun = OCIRUN;
let root: string;
let bundle: string;

const leftovers = (id: string) => leftoversOf(root, id, bundle);
/** A fifo in the test's root, made once. */
function fifoPath(): string {
  const p = path.join(root, 'a-fifo');
  if (!fs.existsSync(p)) expect(spawnSync('mkfifo', [p]).status).toBe(0);
  return p;
}

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-bad-root-'));
  bundle = makeBundle('ocirun-bad-', ['true']);
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
  removeBundle(bundle);
});

/** A user namespace of its own (a v1 cgroup mount cannot be made from one). */
function inUserns(c: any): void {
  c.linux.namespaces.push({ type: 'user' });
  c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  c.mounts = c.mounts.filter((m: any) => m.type !== 'cgroup');
}

const cases: [string, (c: any) => void, RegExp][] = [
  ['missing ociVersion', (c) => delete c.ociVersion, /ociVersion: is required/],
  ['unknown namespace', (c) => c.linux.namespaces.push({ type: 'bogus' }), /linux\.namespaces\[6\]\.type/],
  ['duplicate namespace', (c) => c.linux.namespaces.push({ type: 'uts' }), /linux\.namespaces\[6\]\.type: namespace "uts" is listed twice/],
  ['empty args', (c) => (c.process.args = []), /process\.args/],
  ['negative uid', (c) => (c.process.user.uid = -1), /process\.user\.uid/],
  ['unknown rlimit', (c) => (c.process.rlimits = [{ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }]), /unknown rlimit "RLIMIT_BOGUS"/],
  ['missing rootfs', (c) => (c.root.path = 'nope'), /root\.path: .*nope does not exist/],
  ['unknown filesystem type', (c) => c.mounts.push({ destination: '/x', type: 'nosuchfs', source: 'x' }), /mounts\[7\]\.type: unknown filesystem type "nosuchfs"/],
  ['unknown sysctl', (c) => (c.linux.sysctl = { 'fs.mqueue.no_such_thing': '1' }), /linux\.sysctl\.fs\.mqueue\.no_such_thing: unknown sysctl/],
  // A network sysctl is the container's network namespace's: as runc, its absence shows only when it is written there.
  ['unknown network sysctl', (c) => (c.linux.sysctl = { 'net.no.such.thing': '1' }), /sysctl net\.no\.such\.thing: .*ENOENT/],
  ['bind mount with filesystem options', (c) => c.mounts.push({ destination: '/x', type: 'bind', source: '/tmp', options: ['rbind', 'size=1m'] }), /mounts\[7\]\.options: bind mounts cannot have any filesystem-specific options applied/],
  ['user namespace without mappings', (c) => c.linux.namespaces.push({ type: 'user' }), /linux\.uidMappings/],
  ['relative hook path', (c) => (c.hooks = { poststop: [{ path: 'rel/hook' }] }), /hooks\.poststop\[0\]\.path/],
  ['cgroupsPath at the hierarchy root', (c) => (c.linux.cgroupsPath = '/'), /linux\.cgroupsPath: "\/" names the root of the cgroup hierarchy/],
  ['cgroupsPath with ..', (c) => (c.linux.cgroupsPath = '/a/../../b'), /linux\.cgroupsPath: .* must not contain "\.\."/],
  ['relative cwd', (c) => (c.process.cwd = 'rel'), /process\.cwd: "rel" must be an absolute path/],
  // runc 1.3.6 opens it and waits for good (runc 1.1.5 fails first, on the missing maps).
  ['a namespace path that is a fifo', (c) => c.linux.namespaces.push({ type: 'user', path: fifoPath() }), /linux\.namespaces\[\d+\]\.path: .* is a fifo, not a namespace file \(EINVAL\)/],
  ['program not found', (c) => (c.process.args = ['no-such-program']), /"no-such-program": executable file not found in \$PATH/],
  ['mount source missing', (c) => c.mounts.push({ destination: '/m', type: 'bind', source: '/no/such/source', options: ['bind'] }), /error mounting "\/no\/such\/source" to rootfs at "\/m": .*ENOENT/],
  // In a user namespace the C stage's helper copies the sources; its errors name the mount just the same.
  ['mount source missing, in a user namespace', (c) => (inUserns(c), c.mounts.push({ destination: '/m', type: 'bind', source: '/no/such/source', options: ['rbind'] })), /error mounting "\/no\/such\/source" to rootfs at "\/m": source \/no\/such\/source: no such file or directory \(ENOENT\)$/],
  ['a bind without rbind of a source with mounts below it, in a user namespace (runc: EINVAL too)', (c) => (inUserns(c), c.mounts.push({ destination: '/m', type: 'bind', source: '/sys/fs', options: ['bind'] })), /error mounting "\/sys\/fs" to rootfs at "\/m": open_tree: invalid argument \(EINVAL\) \(the source has mounts below it/],
  // Where the LSM is missing (these machines have neither), asking for it is an error, as with runc.
  ...(fs.existsSync('/sys/kernel/security/apparmor') ? [] : [['AppArmor profile without AppArmor', (c: any) => (c.process.apparmorProfile = 'docker-default'), /process\.apparmorProfile: an AppArmor profile is set but AppArmor is not enabled on this host/] as [string, (c: any) => void, RegExp]]),
  ...(fs.existsSync('/sys/fs/selinux/enforce') ? [] : [['SELinux label without SELinux', (c: any) => (c.process.selinuxLabel = 'system_u:system_r:container_t:s0'), /process\.selinuxLabel: selinux label is specified in config, but selinux is disabled or not supported/] as [string, (c: any) => void, RegExp]]),
  ['namespace path missing', (c) => (c.linux.namespaces[1] = { type: 'network', path: '/proc/999999999/ns/net' }), /linux\.namespaces\[1\]\.path/],
];

describe('bad input', () => {
  it('not JSON', () => {
    const file = path.join(bundle, 'config.json');
    const good = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, '{ not json');
    try {
      const r = spawnSync(ocirun, ['--root', root, 'create', '--bundle', bundle, 'notjson'], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/load config: .*config\.json: not valid JSON/);
      expect(leftovers('notjson')).toEqual([]);
    } finally {
      fs.writeFileSync(file, good);
    }
  });

  it('missing config.json', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-empty-'));
    const r = spawnSync(ocirun, ['--root', root, 'create', '--bundle', empty, 'noconfig'], { encoding: 'utf8' });
    fs.rmSync(empty, { recursive: true });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/load config: .*config\.json: no such file or directory \(ENOENT\)/);
  });

  for (const [name, mutate, message] of cases) {
    it(name, () => {
      const file = path.join(bundle, 'config.json');
      const good = fs.readFileSync(file, 'utf8');
      const config = JSON.parse(good);
      mutate(config);
      fs.writeFileSync(file, JSON.stringify(config));
      const id = `bad-${name.replace(/\W+/g, '-')}`;
      try {
        const r = spawnSync(ocirun, ['--root', root, 'create', '--bundle', bundle, id], { encoding: 'utf8', timeout: 30_000 });
        expect(r.status).toBe(1);
        const lines = r.stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        // logrus text form, as runc's: time="..." level=error msg="..."
        const m = /^time="[^"]+" level=error msg=(".*")$/.exec(lines[0]);
        expect(m, lines[0]).not.toBeNull();
        expect(JSON.parse(m![1])).toMatch(message);
        expect(leftovers(id)).toEqual([]);
      } finally {
        fs.writeFileSync(file, good);
      }
    });
  }

  it('--log-format json carries the same error', () => {
    const log = path.join(root, 'log.json');
    const r = spawnSync(ocirun, ['--root', root, '--log', log, '--log-format', 'json', 'state', 'nonexistent'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('container does not exist');
    const entry = JSON.parse(fs.readFileSync(log, 'utf8').trim().split('\n').pop()!);
    expect(entry).toMatchObject({ level: 'error', msg: 'container does not exist' });
    expect(typeof entry.time).toBe('string');
  });
});

// What a failure part-way leaves, beside runc in the same test.
const RUNC = spawnSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).stdout.trim();
const both = [['ocirun', ocirun], ['runc', RUNC]] as const;

describe('a failure part-way leaves nothing running or on disk', () => {
  beforeAll(() => expect(RUNC, 'runc is needed to compare with').not.toBe(''));

  it('tmpcopyup that runs out of space: the real cause, and no staging directory left in /tmp', () => {
    const small = makeBundle('reliability-copyup-', ['true'], (c) => {
      // busybox alone is larger than the tmpfs: the copy fails with ENOSPC.
      c.mounts.push({ destination: '/bin', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'size=64k'] });
    });
    const staging = () => fs.readdirSync('/tmp').filter((e) => e.startsWith('.ocirun-copyup-')).length;
    try {
      for (const [name, bin] of both) {
        const before = staging();
        const id = `reliability-copyup-${name}`;
        const r = spawnSync(bin, ['--root', root, 'run', '--bundle', small, id], { encoding: 'utf8', timeout: 30_000 });
        spawnSync(bin, ['--root', root, 'delete', '-f', id]);
        expect(r.status, `${name}: ${r.stderr}`).toBe(1);
        expect(r.stderr, name).toMatch(/no space left on device/i);
        expect(r.stderr, name).not.toMatch(/EBUSY|rmdir/);
        expect(staging(), name).toBe(before);
        expect(leftoversOf(root, id, small), name).toEqual([]);
      }
    } finally {
      removeBundle(small);
    }
  });

  it('--preserve-fds larger than what the caller passed: refused, never ocirun\'s own fds (runc passes its own on)', () => {
    // A caller with stdio alone asks for 4 more fds. Past the caller's, the
    // numbers are ocirun's own (its engine's event loop, the --log file,
    // koffi's addon, and the state directory, whose lock the init would
    // then hold: run, kill and delete -f of the container waited on it for
    // ever). runc hands the program its own fds (its log, an epoll, a
    // directory of /sys/fs/cgroup) and runs it.
    const b = makeBundle('ocirun-preserve-', ['sh', '-c', 'ls /proc/self/fd | wc -l']);
    try {
      for (const [name, bin] of both) {
        const id = `preserve-fds-${name}-${process.pid}`;
        const log = path.join(root, `preserve-${name}.log`);
        const r = spawnSync(bin, ['--root', root, '--log', log, 'run', '--preserve-fds', '4', '--bundle', b, id], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
        const del = spawnSync(bin, ['--root', root, 'delete', '-f', id], { encoding: 'utf8', timeout: 10_000 });
        expect([r.signal, del.signal], `${name}: every command returns`).toEqual([null, null]);
        if (name === 'ocirun') {
          expect(r.status).toBe(1);
          expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/--preserve-fds 4: fd 3 was not passed by the caller \(it is ocirun's own\)$/)]);
          expect(leftoversOf(root, id, b)).toEqual([]);
        } else {
          expect(r.status, `runc: ${r.stderr}`).toBe(0);
        }
      }
      // What the caller did pass goes on, under both.
      for (const [name, bin] of both) {
        const id = `preserve-fds-ok-${name}-${process.pid}`;
        const r = spawnSync('sh', ['-c', `exec "$0" --root "$1" run --preserve-fds 2 --bundle "$2" "$3" 3</dev/null 4</dev/null`, bin, root, b, id], { encoding: 'utf8', timeout: 20_000 });
        spawnSync(bin, ['--root', root, 'delete', '-f', id], { timeout: 10_000 });
        expect([r.status, r.stdout.trim()], `${name}: ${r.stderr}`).toEqual([0, '6']);
      }
    } finally {
      removeBundle(b);
    }
  });

  it("a config nested deeper than Go's decoder allows (10000 levels): refused by both, in one line; one level less runs", () => {
    const file = path.join(bundle, 'config.json');
    const good = fs.readFileSync(file, 'utf8');
    // An unknown member, which neither runtime uses: only its depth counts.
    const nestedIn = (n: number) => `${good.trim().slice(0, -1)}, "x": ${'['.repeat(n)}${']'.repeat(n)}}`;
    try {
      for (const [name, bin] of both) {
        fs.writeFileSync(file, nestedIn(10000));
        const id = `nested-${name}-${process.pid}`;
        const deep = spawnSync(bin, ['--root', root, 'run', '--bundle', bundle, id], { encoding: 'utf8', timeout: 30_000 });
        expect([deep.status, deep.stderr.trim().split('\n').length], `${name}: ${deep.stderr}`).toEqual([1, 1]);
        expect(deep.stderr, name).toMatch(/exceeded max depth/);
        expect(leftovers(id), name).toEqual([]);
        fs.writeFileSync(file, nestedIn(9999));
        const ok = spawnSync(bin, ['--root', root, 'run', '--bundle', bundle, id], { encoding: 'utf8', timeout: 30_000 });
        expect(ok.status, `${name}: ${ok.stderr}`).toBe(0);
        expect(leftovers(id), name).toEqual([]);
      }
    } finally {
      fs.writeFileSync(file, good);
    }
  });

  it("a container the other runtime made under the same --root: each refuses it in one line and leaves it, as runc does", () => {
    // runc keeps state.json where ocirun does, in another shape: delete -f
    // crashed on it with a TypeError ("Object.keys(paths)"), kill said "not
    // running". Each runtime's container, given to the other:
    for (const [maker, makerBin] of both) {
      const id = `foreign-state-${maker}-${process.pid}`;
      expect(spawnSync(makerBin, ['--root', root, 'create', '--bundle', bundle, id], { stdio: 'ignore', timeout: 30_000 }).status, maker).toBe(0);
      try {
        const [other, otherBin] = both.find(([n]) => n !== maker)!;
        for (const args of [['delete', '-f', id], ['state', id], ['kill', id, 'KILL']]) {
          const r = spawnSync(otherBin, ['--root', root, ...args], { encoding: 'utf8', timeout: 10_000 });
          expect([r.status, r.stderr.trim().split('\n').length], `${other} ${args[0]} on ${maker}'s: ${r.stderr}`).toEqual([1, 1]);
          if (other === 'ocirun') expect(r.stderr).toMatch(/read state: \S+\/state\.json: not a state ocirun wrote \(no valid \\?"phase\\?"; .*\(EINVAL\)/);
        }
        // Left as it was: its maker still sees it created, and deletes it.
        const st = spawnSync(makerBin, ['--root', root, 'state', id], { encoding: 'utf8', timeout: 10_000 });
        expect(JSON.parse(st.stdout).status, maker).toBe('created');
      } finally {
        expect(spawnSync(makerBin, ['--root', root, 'delete', '-f', id], { timeout: 10_000 }).status, maker).toBe(0);
      }
      expect(leftovers(id), maker).toEqual([]);
    }
  });

  it('exec whose pid file cannot be written: the process is killed, exit 255 ("exec failed", as runc 1.1.5)', () => {
    for (const [name, bin] of both) {
      const id = `reliability-pidfile-${name}`;
      const sleeper = makeBundle('reliability-pidfile-', ['sleep', '1000']);
      try {
        expect(spawnSync(bin, ['--root', root, 'run', '-d', '--bundle', sleeper, id], { stdio: 'ignore', timeout: 30_000 }).status).toBe(0);
        const r = spawnSync(bin, ['--root', root, 'exec', '-d', '--pid-file', '/no/such/dir/pid', id, 'sleep', '77'], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
        expect(r.status, `${name}: ${r.stderr}`).toBe(255);
        expect(r.stderr.trim().split('\n'), name).toHaveLength(1);
        // Seen from the host: no sleep 77 among the container's processes.
        const ps = spawnSync(bin, ['--root', root, 'ps', '--format', 'json', id], { encoding: 'utf8' });
        const cmdlines = (JSON.parse(ps.stdout) as number[]).map((p) => {
          try {
            return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
          } catch {
            return '';
          }
        });
        expect(cmdlines, name).not.toContain('sleep 77');
      } finally {
        spawnSync(bin, ['--root', root, 'delete', '-f', id]);
        removeBundle(sleeper);
      }
    }
  });

  it('restore with a malformed descriptors.json: the file and the step named, nothing left', () => {
    const images = fs.mkdtempSync(path.join(os.tmpdir(), 'reliability-images-'));
    try {
      fs.writeFileSync(path.join(images, 'descriptors.json'), '{"fds": [');
      for (const [name, bin] of both) {
        const id = `reliability-restore-${name}`;
        const r = spawnSync(bin, ['--root', root, 'restore', '--image-path', images, '--bundle', bundle, id], { encoding: 'utf8', timeout: 30_000 });
        expect(r.status, name).toBe(1);
        expect(leftoversOf(root, id, bundle), name).toEqual([]);
        // runc says only "unexpected end of JSON input"; ocirun names the step and the file.
        if (name === 'ocirun') expect(r.stderr.trim()).toMatch(new RegExp(`restore: read ${images}/descriptors\\.json: not valid JSON: `));
      }
    } finally {
      fs.rmSync(images, { recursive: true, force: true });
    }
  });

  it('list skips a directory that is not a container, with one "load container" line', () => {
    for (const [name, bin] of both) {
      const r0 = fs.mkdtempSync(path.join(os.tmpdir(), `reliability-list-${name}-`));
      try {
        fs.mkdirSync(path.join(r0, 'stray'));
        const r = spawnSync(bin, ['--root', r0, 'list', '--format', 'json'], { encoding: 'utf8' });
        expect(r.status, name).toBe(0);
        expect(r.stdout.trim(), name).toBe('null');
        expect(r.stderr.trim(), name).toBe('load container stray: container does not exist');
      } finally {
        fs.rmSync(r0, { recursive: true, force: true });
      }
    }
  });
});
