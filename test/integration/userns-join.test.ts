// User namespaces joined: an exec into a container with a user namespace of
// its own (what podman --userns=auto and Kubernetes' hostUsers: false do), a
// container that joins another's user namespace (by /proc path, by a
// bind-mounted nsfd, beside a namespace that user namespace does not own),
// all of another container's namespaces with its time namespace, and an
// id-mapped mount in a joined user namespace. Each runs under ocirun and
// under the installed runc 1.1.5. Where 1.1.5 cannot do what runc 1.3.6
// does, ocirun is held to 1.3.6's behaviour (the comment names its test)
// and 1.1.5's failure is asserted, so that the difference stays visible.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cli, leftovers, makeBundle, OCIRUN, project } from './helpers.js';

const RUNC = spawnSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).stdout.trim();
const runtimes = [['ocirun', OCIRUN], ['runc', RUNC]] as const;
type Name = (typeof runtimes)[number][0];
const binary = (name: Name) => runtimes.find(([n]) => n === name)![1];
const roots = {} as Record<Name, string>;
const made: string[] = [];
/** Bind mounts of namespace files, undone after each test. */
const nsMounts: string[] = [];
/** Containers to delete after each test. */
const started: [Name, string][] = [];
let seq = 0;

const MAP = { containerID: 0, hostID: 100000, size: 65536 };
const MAP_LINE = /^\s+0\s+100000\s+65536$/m;

beforeAll(() => {
  expect(RUNC, 'runc is needed to compare with').not.toBe('');
  for (const [name] of runtimes) roots[name] = fs.mkdtempSync(path.join(os.tmpdir(), `ocirun-userns-${name}-`));
});
afterEach(() => {
  for (const [name, id] of started.splice(0).reverse()) cli(roots[name], ['delete', '--force', id], { runtime: binary(name) });
  for (const m of nsMounts.splice(0)) {
    spawnSync('umount', [m]);
    fs.rmSync(m, { force: true });
  }
});
afterAll(() => [...Object.values(roots), ...made].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/**
 * A busybox bundle running `args`, with a user namespace of its own (0 ->
 * 100000, 65536 ids) and its rootfs owned by the mapped root; `edit` then
 * changes its config.
 */
function usernsBundle(args: string[], edit?: (c: any) => void): string {
  const b = makeBundle('ocirun-userns-', args, (c) => {
    c.linux.namespaces.push({ type: 'user' });
    c.linux.uidMappings = [MAP];
    c.linux.gidMappings = [MAP];
    // A v1 cgroup mount cannot be made from a user namespace (runc: the same).
    c.mounts = c.mounts.filter((m: any) => m.type !== 'cgroup');
    edit?.(c);
  });
  fs.chmodSync(b, 0o755);
  expect(spawnSync('chown', ['-R', '-h', '100000:100000', path.join(b, 'rootfs')]).status).toBe(0);
  return b;
}

/** `run -d` under `name`; the container is deleted after the test. */
function runDetached(name: Name, bundle: string): { id: string; status: number | null; stderr: string } {
  const id = `userns-${process.pid}-${++seq}`;
  const r = cli(roots[name], ['run', '-d', '--bundle', bundle, id], { runtime: binary(name), detached: true, timeout: 60_000 });
  started.push([name, id]);
  return { id, status: r.status, stderr: r.stderr };
}

function initPid(name: Name, id: string): number {
  return JSON.parse(cli(roots[name], ['state', id], { runtime: binary(name) }).stdout).pid;
}

function exec(name: Name, id: string, args: string[]) {
  return cli(roots[name], ['exec', ...args.slice(0, -1), id, 'sh', '-c', args[args.length - 1]], { runtime: binary(name), timeout: 60_000 });
}

/** A namespace file of `pid` bind-mounted on a fresh file (a path that is no /proc/PID/ns/ one). */
function bindNsFile(source: string): string {
  const file = path.join(os.tmpdir(), `ocirun-userns-nsfd-${process.pid}-${++seq}`);
  fs.writeFileSync(file, '');
  nsMounts.push(file);
  expect(spawnSync('mount', ['--bind', source, file]).status).toBe(0);
  return file;
}

const nsInode = (file: string) => fs.statSync(file).ino;

/** The config of a container that joins the user namespace at `userns`, without maps of its own unless `maps`. */
function joinUserns(c: any, userns: string, maps: boolean): void {
  c.linux.namespaces = c.linux.namespaces.map((n: any) => (n.type === 'user' ? { type: 'user', path: userns } : n));
  if (!maps) {
    delete c.linux.uidMappings;
    delete c.linux.gidMappings;
  }
}

const view = 'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; grep -E "^Cap(Eff|Bnd)" /proc/self/status; readlink /proc/self/ns/user';

describe('exec into a container with a user namespace of its own', () => {
  it("runs as the namespace's root with the container's maps and capabilities, or as another user, in the init's user namespace", () => {
    const seen = {} as Record<Name, string>;
    for (const [name] of runtimes) {
      const r = runDetached(name, usernsBundle(['sleep', '300']));
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
      const pid = initPid(name, r.id);
      const root = exec(name, r.id, [view]);
      expect(root.status, `${name}: ${root.stderr}`).toBe(0);
      expect(root.stdout).toMatch(/^0\n0\n/);
      expect(root.stdout.split('\n').filter((l) => MAP_LINE.test(l))).toHaveLength(2);
      expect(root.stdout.trim().split('\n').pop(), name).toBe(fs.readlinkSync(`/proc/${pid}/ns/user`));
      const user = exec(name, r.id, ['-u', '1000:1000', 'id; grep ^CapEff /proc/self/status']);
      expect(user.status, `${name}: ${user.stderr}`).toBe(0);
      expect(user.stdout).toBe('uid=1000 gid=1000\nCapEff:\t0000000000000000\n');
      seen[name] = root.stdout.replace(/user:\[\d+\]/, 'user:[N]');
    }
    expect(seen.ocirun).toBe(seen.runc);
    expect(seen.ocirun).toMatch(/CapEff:\s+0000000020000420/);
  });

  it('gives the process a pty through --console-socket', () => {
    for (const [name] of runtimes) {
      const r = runDetached(name, usernsBundle(['sleep', '300']));
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
      const sock = path.join(os.tmpdir(), `ocirun-userns-${process.pid}-${++seq}.sock`);
      const o = spawnSync('python3', [path.join(project, 'conformance/console-receiver.py'), sock, '--', binary(name), '--root', roots[name], 'exec', '-t', '-d', '--console-socket', sock, r.id, 'sh', '-c', 'tty; id -u', '--', 'true'], { encoding: 'utf8', timeout: 60_000 });
      expect(o.stdout, `${name}: ${o.stderr}`).toBe('/dev/pts/0\n0\ncreate=0 start=0\n');
    }
  });
});

describe("joining another container's user namespace", () => {
  it('joins it by /proc/PID/ns/user with the maps given too (runc 1.1.5 needs them; 1.3.6 accepts matching ones)', () => {
    for (const [name] of runtimes) {
      const target = runDetached(name, usernsBundle(['sleep', '300']));
      expect(target.status, `${name}: ${target.stderr}`).toBe(0);
      const userns = `/proc/${initPid(name, target.id)}/ns/user`;
      const joiner = runDetached(name, usernsBundle(['sleep', '300'], (c) => joinUserns(c, userns, true)));
      expect(joiner.status, `${name}: ${joiner.stderr}`).toBe(0);
      const r = exec(name, joiner.id, [view]);
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
      expect(r.stdout.trim().split('\n').pop(), name).toBe(`user:[${nsInode(userns)}]`);
      expect(r.stdout.split('\n').filter((l) => MAP_LINE.test(l))).toHaveLength(2);
    }
  });

  it('joins it by path without maps, as runc 1.3.6 does (userns.bats "userns join other container userns"); runc 1.1.5 refuses', () => {
    for (const [name] of runtimes) {
      const target = runDetached(name, usernsBundle(['sleep', '300']));
      expect(target.status, `${name}: ${target.stderr}`).toBe(0);
      const userns = `/proc/${initPid(name, target.id)}/ns/user`;
      const joiner = runDetached(name, usernsBundle(['sleep', '300'], (c) => joinUserns(c, userns, false)));
      if (name === 'runc') {
        expect(joiner.status).toBe(1);
        expect(joiner.stderr).toMatch(/User namespaces enabled, but no uid mappings found/);
        continue;
      }
      expect(joiner.status, joiner.stderr).toBe(0);
      const r = exec(name, joiner.id, ['cat /proc/self/uid_map /proc/self/gid_map; readlink /proc/self/ns/user']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.split('\n').filter((l) => MAP_LINE.test(l))).toHaveLength(2);
      expect(r.stdout).toMatch(new RegExp(`^user:\\[${nsInode(userns)}\\]$`, 'm'));
    }
  });

  it('refuses maps given beside it that are not its own, as runc 1.3.6 does, and leaves nothing; runc 1.1.5 takes them', () => {
    for (const [name] of runtimes) {
      const target = runDetached(name, usernsBundle(['sleep', '300']));
      expect(target.status, `${name}: ${target.stderr}`).toBe(0);
      const userns = bindNsFile(`/proc/${initPid(name, target.id)}/ns/user`);
      const b = usernsBundle(['sleep', '300'], (c) => {
        joinUserns(c, userns, true);
        c.linux.uidMappings = [{ containerID: 0, hostID: 300000, size: 65536 }];
      });
      const joiner = runDetached(name, b);
      if (name === 'runc') {
        expect(joiner.status, joiner.stderr).toBe(0);
        continue;
      }
      expect(joiner.status).toBe(1);
      expect(joiner.stderr.trim().split('\n')).toHaveLength(1);
      expect(joiner.stderr).toMatch(/linux\.uidMappings: user namespaces enabled, but both namespace path and non-matching mapping specified -- you may only provide one \(.* maps uid 0:100000:65536, gid 0:100000:65536\)/);
      expect(leftovers(roots[name], joiner.id, b)).toEqual([]);
    }
  });

  it('joins it by a bind-mounted nsfd', () => {
    for (const [name] of runtimes) {
      const target = runDetached(name, usernsBundle(['sleep', '300']));
      expect(target.status, `${name}: ${target.stderr}`).toBe(0);
      const userns = bindNsFile(`/proc/${initPid(name, target.id)}/ns/user`);
      // (runc 1.1.5 needs the maps; userns.bats of 1.3.6 runs it without.)
      const joiner = runDetached(name, usernsBundle(['sleep', '300'], (c) => joinUserns(c, userns, name === 'runc')));
      expect(joiner.status, `${name}: ${joiner.stderr}`).toBe(0);
      const r = exec(name, joiner.id, ['cat /proc/self/uid_map; readlink /proc/self/ns/user']);
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(MAP_LINE);
      expect(r.stdout).toMatch(new RegExp(`^user:\\[${nsInode(userns)}\\]$`, 'm'));
    }
  });

  it('joins, beside it, a network namespace that user namespace does not own, as runc 1.3.6 does (userns.bats "wrong userns owner"); runc 1.1.5 cannot', () => {
    for (const [name] of runtimes) {
      const target = runDetached(name, usernsBundle(['sleep', '300']));
      expect(target.status, `${name}: ${target.stderr}`).toBe(0);
      const userns = bindNsFile(`/proc/${initPid(name, target.id)}/ns/user`);
      // A network namespace of the host's user namespace, made for the test.
      const netns = path.join(os.tmpdir(), `ocirun-userns-netns-${process.pid}-${++seq}`);
      fs.writeFileSync(netns, '');
      nsMounts.push(netns);
      const made = spawnSync('unshare', [`--net=${netns}`, 'true'], { encoding: 'utf8' });
      expect(made.status, made.stderr).toBe(0);
      const joiner = runDetached(name, usernsBundle(['sleep', '300'], (c) => {
        joinUserns(c, userns, name === 'runc');
        c.linux.namespaces = c.linux.namespaces.map((n: any) => (n.type === 'network' ? { type: 'network', path: netns } : n));
        // sysfs cannot be mounted without rights over the network namespace: the host's, bound (as the bats test does).
        c.mounts = c.mounts.map((m: any) => (m.type === 'sysfs' ? { source: '/sys', destination: m.destination, type: 'bind', options: ['rbind'] } : m));
      }));
      if (name === 'runc') {
        // 1.1.5 joins the user namespace first, and then has no rights over the network one.
        expect(joiner.status).not.toBe(0);
        expect(joiner.stderr).toMatch(/failed to setns into net namespace: Operation not permitted/);
        continue;
      }
      expect(joiner.status, joiner.stderr).toBe(0);
      const r = exec(name, joiner.id, ['readlink /proc/self/ns/user; readlink /proc/self/ns/net']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe(`user:[${nsInode(userns)}]\nnet:[${nsInode(netns)}]\n`);
    }
  });
});

describe("joining all of another container's namespaces", () => {
  const kinds = { ipc: 'ipc', uts: 'uts', network: 'net', pid: 'pid', user: 'user', cgroup: 'cgroup', time: 'time' } as Record<string, string>;
  /**
   * Every namespace of the target's init but the mount one (root.path must
   * be the joiner's own), whose path is "" as in runc 1.3.6's run.bats: none.
   */
  const joinAll = (pid: number, maps: boolean) => (c: any) => {
    c.linux.namespaces = c.linux.namespaces.map((n: any) => ({ type: n.type, path: n.type === 'mount' ? '' : `/proc/${pid}/ns/${kinds[n.type]}` }));
    if (!maps) {
      delete c.linux.uidMappings;
      delete c.linux.gidMappings;
    }
    delete c.linux.timeOffsets;
  };
  const nsView = 'for n in user ipc uts net pid cgroup time; do readlink /proc/self/ns/$n; done; ps -o args | grep -c "^sleep 300"';
  const hostView = (pid: number, names: string[]) => names.map((n) => fs.readlinkSync(`/proc/${pid}/ns/${n}`)).join('\n');

  it('with a user namespace: the same namespaces, both inits seen', () => {
    for (const [name] of runtimes) {
      const target = runDetached(name, usernsBundle(['sleep', '300']));
      expect(target.status, `${name}: ${target.stderr}`).toBe(0);
      const pid = initPid(name, target.id);
      // (runc 1.1.5 needs the maps; run.bats of 1.3.6 joins without.)
      const joiner = runDetached(name, usernsBundle(['sleep', '300'], joinAll(pid, name === 'runc')));
      expect(joiner.status, `${name}: ${joiner.stderr}`).toBe(0);
      const r = exec(name, joiner.id, [nsView]);
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toBe(`${hostView(pid, ['user', 'ipc', 'uts', 'net', 'pid', 'cgroup', 'time'])}\n2\n`);
    }
  });

  it('with a user and a time namespace with offsets, as runc 1.3.6 (run.bats "joining existing container namespaces", timens.bats); runc 1.1.5 has no time namespace', () => {
    const offsets = { monotonic: { secs: 7881, nanosecs: 2718281 }, boottime: { secs: 1337, nanosecs: 3141519 } };
    const offsetsSeen = /^monotonic\s+7881\s+2718281\nboottime\s+1337\s+3141519\n$/;
    for (const [name] of runtimes) {
      const target = runDetached(name, usernsBundle(['sleep', '300'], (c) => {
        c.linux.namespaces.push({ type: 'time' });
        c.linux.timeOffsets = offsets;
      }));
      if (name === 'runc') {
        expect(target.status).not.toBe(0);
        expect(target.stderr).toMatch(/namespace \{\\?"time\\?" \\?"\\?"\} does not exist/);
        continue;
      }
      expect(target.status, target.stderr).toBe(0);
      // runc 1.3.6 timens.bats "runc exec [simple timens]".
      const inTarget = exec(name, target.id, ['cat /proc/self/timens_offsets']);
      expect(inTarget.status, inTarget.stderr).toBe(0);
      expect(inTarget.stdout).toMatch(offsetsSeen);
      const pid = initPid(name, target.id);
      const joiner = runDetached(name, usernsBundle(['sleep', '300'], (c) => {
        c.linux.namespaces.push({ type: 'time' });
        joinAll(pid, false)(c);
      }));
      expect(joiner.status, joiner.stderr).toBe(0);
      const r = exec(name, joiner.id, [`${nsView}; cat /proc/self/timens_offsets`]);
      expect(r.status, r.stderr).toBe(0);
      const [ns, offsetsText] = [r.stdout.split('\n').slice(0, 8).join('\n'), r.stdout.split('\n').slice(8).join('\n')];
      expect(ns).toBe(`${hostView(pid, ['user', 'ipc', 'uts', 'net', 'pid', 'cgroup', 'time'])}\n2`);
      expect(offsetsText).toMatch(offsetsSeen);
    }
  });
});

describe('an id-mapped mount in a joined user namespace', () => {
  it("maps the source's ids through the joined namespace's maps, as runc 1.3.6 (idmap.bats \"userns join\"); runc 1.1.5 mounts it unmapped", () => {
    const src = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-userns-idmap-'));
    made.push(src);
    fs.chmodSync(src, 0o755);
    fs.writeFileSync(path.join(src, 'file'), '');
    fs.chownSync(path.join(src, 'file'), 1000, 1001);
    const seen = {} as Record<Name, string>;
    for (const [name] of runtimes) {
      const target = runDetached(name, usernsBundle(['sleep', '300']));
      expect(target.status, `${name}: ${target.stderr}`).toBe(0);
      const userns = `/proc/${initPid(name, target.id)}/ns/user`;
      const b = usernsBundle(['sh', '-c', 'stat -c %u:%g /mapped/file /plain/file'], (c) => {
        joinUserns(c, userns, name === 'runc');
        c.mounts.push({ destination: '/mapped', type: 'bind', source: src, options: ['bind', 'idmap'] });
        c.mounts.push({ destination: '/plain', type: 'bind', source: src, options: ['bind'] });
      });
      const r = cli(roots[name], ['run', '--bundle', b, `userns-${process.pid}-${++seq}`], { runtime: binary(name), timeout: 60_000 });
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
      seen[name] = r.stdout;
    }
    // Unmapped host ids show as the overflow id; through the id map, 1000 is the namespace's 1000.
    expect(seen).toEqual({ ocirun: '1000:1001\n65534:65534\n', runc: '65534:65534\n65534:65534\n' });
  });
});
