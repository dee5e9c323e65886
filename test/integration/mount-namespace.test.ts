// The three ways a container can have its mount namespace: its own (every
// other test), none (it shares the runtime's), or one joined by path. What
// the process sees from inside is compared with what the host sees, and the
// joined case with runc's.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, leftovers, makeBundle, startContainer } from './helpers.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-mntns-root-'));
const bundles: string[] = [];
afterAll(() => [root, `${root}-runc`, ...bundles].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const hostMntNs = fs.readlinkSync('/proc/self/ns/mnt');
const mountsUnder = (dir: string) => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4]?.startsWith(dir + '/'));

function bundle(args: string[], edit: (c: any) => void): string {
  const b = makeBundle('ocirun-mntns-', args, edit);
  bundles.push(b);
  return b;
}

/** A config that shares the runtime's mount namespace, minus what needs one of its own. */
function shareMountNs(c: any): void {
  c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'mount');
  c.linux.maskedPaths = [];
  c.linux.readonlyPaths = [];
  c.root.readonly = false;
}

function setMountNsPath(c: any, nsPath: string): void {
  c.linux.namespaces = c.linux.namespaces.map((n: any) => (n.type === 'mount' ? { type: 'mount', path: nsPath } : n));
}

/** `unshare --mount sleep`: a mount namespace that is a private copy of the host's. */
async function unsharedMountNs(): Promise<ChildProcess> {
  const p = spawn('unshare', ['--mount', '--propagation', 'private', 'sleep', '60'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      if (fs.readlinkSync(`/proc/${p.pid}/ns/mnt`) !== hostMntNs) return p;
    } catch {
      /* not there yet */
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('unshare --mount did not start');
}

describe('no mount namespace: the container shares the runtime\'s', () => {
  it('sees the host\'s namespace, its rootfs as /, and delete takes its mounts off the host', () => {
    const b = bundle(['sleep', '100'], shareMountNs);
    fs.writeFileSync(path.join(b, 'rootfs/MARKER'), 'in the rootfs\n');
    const id = `mntns-none-${process.pid}`;
    const r = cli(root, ['run', '-d', '--bundle', b, id], { detached: true });
    expect(r.status, r.stderr).toBe(0);
    try {
      const rootfs = fs.realpathSync(path.join(b, 'rootfs'));
      // runc's behaviour too: the mounts are made in the host's namespace, under the rootfs.
      const points = mountsUnder(rootfs).map((l) => l.split(' ')[4].slice(rootfs.length));
      expect(points).toEqual(expect.arrayContaining(['/proc', '/dev', '/dev/pts', '/sys']));
      const e = cli(root, ['exec', id, 'sh', '-c', 'readlink /proc/self/ns/mnt; cat /MARKER; pwd']);
      expect(e.status, e.stderr).toBe(0);
      // exec is chrooted where the init is (runc's exec would be left at the host's /).
      expect(e.stdout).toBe(`${hostMntNs}\nin the rootfs\n/\n`);
      const init = JSON.parse(cli(root, ['state', id]).stdout).pid;
      expect(fs.readlinkSync(`/proc/${init}/ns/mnt`)).toBe(hostMntNs);
      expect(fs.readlinkSync(`/proc/${init}/root`)).toBe(rootfs);
    } finally {
      const d = cli(root, ['delete', '-f', id]);
      expect(d.status, d.stderr).toBe(0);
    }
    expect(leftovers(root, id, b)).toEqual([]);
  });

  it('a foreground run leaves nothing mounted either', () => {
    const b = bundle(['sh', '-c', 'readlink /proc/self/ns/mnt; test -d /proc/self && echo proc'], shareMountNs);
    const id = `mntns-none-run-${process.pid}`;
    const r = cli(root, ['run', '--bundle', b, id]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${hostMntNs}\nproc\n`);
    expect(leftovers(root, id, b)).toEqual([]);
  });

  it('masked paths are refused, in runc\'s words, before anything exists', () => {
    const b = bundle(['true'], (c) => {
      shareMountNs(c);
      c.linux.maskedPaths = ['/proc/kcore'];
    });
    const id = `mntns-masked-${process.pid}`;
    const r = cli(root, ['run', '--bundle', b, id]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/linux\.maskedPaths: unable to restrict sys entries without a private mount namespace/);
    expect(leftovers(root, id, b)).toEqual([]);
  });
});

describe('a mount namespace joined by path', () => {
  it('one made by `unshare --mount`: the same namespace inside, nothing on the host, as with runc', async () => {
    // A holder each: the container's pivot_root replaces the namespace's root.
    const seen = async (runtime?: string) => {
      const holder = await unsharedMountNs();
      try {
        const b = bundle(['readlink', '/proc/self/ns/mnt'], (c) => setMountNsPath(c, `/proc/${holder.pid}/ns/mnt`));
        const id = `mntns-join-${process.pid}`;
        const r = cli(runtime ? `${root}-runc` : root, ['run', '--bundle', b, id], { runtime });
        expect(r.status, r.stderr).toBe(0);
        expect(mountsUnder(fs.realpathSync(b))).toEqual([]);
        return r.stdout.trim() === fs.readlinkSync(`/proc/${holder.pid}/ns/mnt`) ? 'the holder\'s' : r.stdout;
      } finally {
        holder.kill('SIGKILL');
      }
    };
    expect(await seen()).toBe("the holder's");
    expect(await seen('runc')).toBe("the holder's");
  });

  it("another container's, where node is not: the rootfs is found in that container's filesystem", () => {
    // The first container's filesystem holds the second's rootfs at the same
    // path as on the host (runc checks the path on the host too).
    const secondRootfs = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-mntns-second-'));
    bundles.push(secondRootfs);
    const first = startContainer('mntns-first', ['sleep', '100'], () => {});
    try {
      const b = bundle(['sh', '-c', 'readlink /proc/self/ns/mnt; readlink /proc/self/ns/pid; cat /MARKER'], (c) => {
        c.root.path = secondRootfs;
        // v1 cgroup mounts bind the host's cgroup directories: not in the first container.
        c.mounts = c.mounts.filter((m: any) => m.type !== 'cgroup');
        setMountNsPath(c, `/proc/${first.initPid}/ns/mnt`);
        // Its /proc shows only its own pid namespace, and the init reads /proc/self there (runc too).
        c.linux.namespaces = c.linux.namespaces.map((n: any) => (n.type === 'pid' ? { type: 'pid', path: `/proc/${first.initPid}/ns/pid` } : n));
      });
      const inFirst = path.join(first.bundle, 'rootfs', secondRootfs);
      fs.mkdirSync(path.dirname(inFirst), { recursive: true });
      fs.cpSync(path.join(b, 'rootfs'), inFirst, { recursive: true, verbatimSymlinks: true });
      fs.writeFileSync(path.join(inFirst, 'MARKER'), 'in the first container\n');
      expect(fs.existsSync(path.join(inFirst, 'usr/bin/node'))).toBe(false);
      const id = `mntns-second-${process.pid}`;
      const r = cli(root, ['run', '--bundle', b, id]);
      expect(r.status, r.stderr).toBe(0);
      const [mnt, pid, marker] = r.stdout.trim().split('\n');
      expect(mnt).toBe(fs.readlinkSync(`/proc/${first.initPid}/ns/mnt`));
      expect(pid).toBe(fs.readlinkSync(`/proc/${first.initPid}/ns/pid`));
      expect(marker).toBe('in the first container');
      expect(leftovers(root, id, b)).toEqual([]);
    } finally {
      first.remove();
    }
  });

  it("the runtime's own mount namespace is refused: pivot_root there would move the host's root", () => {
    const b = bundle(['true'], (c) => setMountNsPath(c, `/proc/${process.pid}/ns/mnt`));
    const id = `mntns-own-${process.pid}`;
    const r = cli(root, ['run', '--bundle', b, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/linux\.namespaces\[\d\]\.path: is the runtime's own mount namespace/);
    expect(leftovers(root, id, b)).toEqual([]);
  });
});
