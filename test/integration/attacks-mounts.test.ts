// Attacks by a process in a user-namespaced container that holds
// CAP_SYS_ADMIN in its user namespace, on the host mounts bound into it:
// the kernel locks the flags of the mounts a less privileged user namespace
// inherits (read-only, nosuid, nodev, noexec) and the mounts below them, and
// every bind source the container gets must carry those locks. Each attack
// runs against ocirun and runc; ocirun must refuse it and leave the host's
// mounts as they were. runc's result is recorded beside ours.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, makeBundle, OCIRUN } from './helpers.js';

const RUNC = spawnSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).stdout.trim();
const runtimes = [['ocirun', OCIRUN], ['runc', RUNC]] as const;
const roots: Record<string, string> = {};
let host = '';
let seq = 0;

const sh = (cmd: string) => {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
};

/** The host's mount at `point`: its per-mount options (field 6) and super options, as /proc/self/mountinfo shows them. */
function hostMount(point: string): string {
  const line = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[4] === point)
    .pop();
  expect(line, `${point} is a mount point on the host`).toBeDefined();
  const f = line!.split(' ');
  return `${f[5]} ${f.slice(f.indexOf('-') + 1).join(' ')}`;
}

beforeAll(() => {
  expect(RUNC, 'runc is needed to compare with').not.toBe('');
  for (const [name] of runtimes) roots[name] = fs.mkdtempSync(path.join(os.tmpdir(), `bindlocks-attacks-${name}-`));
  host = fs.mkdtempSync(path.join(os.tmpdir(), 'bindlocks-attacks-host-'));
  fs.chmodSync(host, 0o755);
  // Read-only binds of writable directories: one the container's root owns
  // (100000 on the host), one the host's root owns (id-mapped to the container's root).
  for (const [dir, owner] of [['ro', 100000], ['ro-idmap', 0]] as const) {
    fs.mkdirSync(path.join(host, dir));
    fs.writeFileSync(path.join(host, dir, 'file'), 'host\n');
    for (const f of [dir, `${dir}/file`]) fs.chownSync(path.join(host, f), owner, owner);
    sh(`mount --bind ${host}/${dir} ${host}/${dir} && mount -o remount,bind,ro ${host}/${dir}`);
  }
  // A tmpfs with the flags a container must not clear, holding a copy of busybox (for noexec).
  fs.mkdirSync(path.join(host, 'flags'));
  sh(`mount -t tmpfs -o nosuid,nodev,noexec,mode=755 tmpfs ${host}/flags && cp /bin/busybox ${host}/flags/busybox`);
  // A directory whose submount covers a file the container must not see.
  fs.mkdirSync(path.join(host, 'tree/cover'), { recursive: true });
  fs.writeFileSync(path.join(host, 'tree/cover/hidden'), 'under the mount\n');
  sh(`mount -t tmpfs -o mode=755 tmpfs ${host}/tree/cover && echo top > ${host}/tree/cover/top`);
});

afterAll(() => {
  for (const d of ['tree/cover', 'flags', 'ro', 'ro-idmap']) spawnSync('umount', [path.join(host, d)]);
  if (host && !fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(`${host}/`)) fs.rmSync(host, { recursive: true, force: true });
  for (const r of Object.values(roots)) fs.rmSync(r, { recursive: true, force: true });
});

/**
 * `sh -c script` in a container with its own user namespace (0 -> 100000,
 * 65536 ids), CAP_SYS_ADMIN in it, and `mounts` added, under each runtime.
 */
function attack(script: string, mounts: object[]) {
  const b = makeBundle('bindlocks-attacks-', ['sh', '-c', script], (c) => {
    c.root.readonly = false;
    c.linux.namespaces.push({ type: 'user' });
    c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    // A v1 cgroup mount cannot be made from a user namespace (runc: the same).
    c.mounts = c.mounts.filter((m: any) => m.type !== 'cgroup');
    for (const k of ['bounding', 'effective', 'permitted']) c.process.capabilities[k] = [...c.process.capabilities[k], 'CAP_SYS_ADMIN'];
    c.mounts.push(...mounts);
  });
  fs.chmodSync(b, 0o755);
  fs.symlinkSync('busybox', path.join(b, 'rootfs/bin/umount'));
  expect(spawnSync('chown', ['-R', '-h', '100000:100000', path.join(b, 'rootfs')]).status).toBe(0);
  const out: Record<string, { status: number | null; stdout: string; stderr: string }> = {};
  for (const [name, bin] of runtimes) {
    const id = `bindlocks-attack-${process.pid}-${++seq}`;
    const r = spawnSync(bin, ['--root', roots[name], 'run', '--bundle', b, id], { encoding: 'utf8', timeout: 60_000 });
    out[name] = { status: r.status, stdout: r.stdout, stderr: r.stderr };
    cli(roots[name], ['delete', '--force', id], { runtime: bin });
    console.info(`${name}: status ${r.status}\n${r.stdout}${r.stderr}`);
  }
  return out;
}

/** The value of "name=N" lines the scripts print. */
const field = (stdout: string, name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(stdout)?.[1];

describe('a process in the container: mount locks', () => {
  it("cannot remount a bind of the host's read-only mount read-write, nor write through it", () => {
    const before = hostMount(`${host}/ro`);
    expect(before.split(' ')[0].split(',')).toContain('ro');
    const r = attack('mount -o remount,bind,rw /mnt; echo remount=$?; touch /mnt/x; echo touch=$?', [{ destination: '/mnt', type: 'bind', source: `${host}/ro`, options: ['rbind'] }]);
    for (const [name] of runtimes) expect(r[name].status, `${name}: ${r[name].stderr}`).toBe(0);
    expect(field(r.ocirun.stdout, 'remount'), r.ocirun.stdout).not.toBe('0');
    expect(r.ocirun.stdout + r.ocirun.stderr).toMatch(/mount: permission denied/);
    expect(field(r.ocirun.stdout, 'touch')).not.toBe('0');
    expect(r.ocirun.stdout + r.ocirun.stderr).toMatch(/Read-only file system/);
    expect(fs.existsSync(path.join(host, 'ro/x'))).toBe(false);
    expect(hostMount(`${host}/ro`)).toBe(before);
    // runc 1.1.5 refuses it the same way.
    expect({ remount: field(r.runc.stdout, 'remount'), touch: field(r.runc.stdout, 'touch') }).toEqual({ remount: field(r.ocirun.stdout, 'remount'), touch: field(r.ocirun.stdout, 'touch') });
  });

  it.each([
    ['nosuid', 'suid'],
    ['nodev', 'dev'],
    ['noexec', 'exec'],
  ])('cannot clear %s on a bind of a host mount that has it (mount -o remount,bind,%s)', (flag, clearing) => {
    const before = hostMount(`${host}/flags`);
    expect(before.split(' ')[0].split(',')).toContain(flag);
    const script = [
      `mount -o remount,bind,${clearing} /mnt; echo remount=$?`,
      `grep " /mnt " /proc/self/mountinfo | cut -d" " -f6 | sed "s/^/flags=/"`,
      // noexec acted out: the copy of busybox on the mount does not run.
      '/mnt/busybox true 2>/dev/null; echo exec=$?',
    ].join('; ');
    const r = attack(script, [{ destination: '/mnt', type: 'bind', source: `${host}/flags`, options: ['rbind'] }]);
    expect(r.ocirun.status, r.ocirun.stderr).toBe(0);
    expect(field(r.ocirun.stdout, 'remount'), r.ocirun.stdout).not.toBe('0');
    expect(r.ocirun.stdout + r.ocirun.stderr).toMatch(/mount: permission denied/);
    expect(field(r.ocirun.stdout, 'flags')!.split(',')).toContain(flag);
    expect(field(r.ocirun.stdout, 'exec')).not.toBe('0');
    expect(hostMount(`${host}/flags`)).toBe(before);
    expect({ remount: field(r.runc.stdout, 'remount'), flags: field(r.runc.stdout, 'flags'), exec: field(r.runc.stdout, 'exec') }).toEqual({
      remount: field(r.ocirun.stdout, 'remount'),
      flags: field(r.ocirun.stdout, 'flags'),
      exec: field(r.ocirun.stdout, 'exec'),
    });
  });

  it("cannot unmount a host submount under a recursive bind to see what it covers", () => {
    const before = hostMount(`${host}/tree/cover`);
    const script = ['umount /mnt/cover; echo umount=$?', 'umount -l /mnt/cover; echo lazy=$?', 'cat /mnt/cover/hidden 2>/dev/null; ls /mnt/cover | sed "s/^/seen=/"'].join('; ');
    const r = attack(script, [{ destination: '/mnt', type: 'bind', source: `${host}/tree`, options: ['rbind'] }]);
    expect(r.ocirun.status, r.ocirun.stderr).toBe(0);
    expect(field(r.ocirun.stdout, 'umount'), r.ocirun.stdout).not.toBe('0');
    expect(field(r.ocirun.stdout, 'lazy')).not.toBe('0');
    expect(r.ocirun.stdout).not.toMatch(/under the mount/);
    expect(field(r.ocirun.stdout, 'seen')).toBe('top');
    expect(hostMount(`${host}/tree/cover`)).toBe(before);
    expect(r.runc.stdout).toBe(r.ocirun.stdout);
  });

  it("a bind asking for ro of a source with locked flags gets ro and keeps them (runc 1.2 on; 1.1.5 fails)", () => {
    const r = attack('grep " /mnt " /proc/self/mountinfo | cut -d" " -f6 | sed "s/^/flags=/"', [{ destination: '/mnt', type: 'bind', source: `${host}/flags`, options: ['rbind', 'ro'] }]);
    expect(r.ocirun.status, r.ocirun.stderr).toBe(0);
    expect(field(r.ocirun.stdout, 'flags')!.split(',').sort()).toEqual(['nodev', 'noexec', 'nosuid', 'relatime', 'ro']);
    // runc 1.1.5 retries with ro only, and fails (EPERM); runc 1.2 on re-applies the locked flags as we do.
    if (r.runc.status === 0) expect(field(r.runc.stdout, 'flags')).toBe(field(r.ocirun.stdout, 'flags'));
    else expect(r.runc.stderr).toMatch(/operation not permitted/);
  });

  it('cannot remount an id-mapped bind of a read-only host mount read-write', () => {
    const before = hostMount(`${host}/ro-idmap`);
    // The host's root (who owns the files) shows as the container's root (100000 on the host).
    const idmap = { uidMappings: [{ containerID: 0, hostID: 100000, size: 1 }], gidMappings: [{ containerID: 0, hostID: 100000, size: 1 }] };
    const script = 'grep " /mnt " /proc/self/mountinfo | cut -d" " -f6 | sed "s/^/flags=/"; stat -c "owner=%u" /mnt/file; mount -o remount,bind,rw /mnt; echo remount=$?; touch /mnt/x; echo touch=$?';
    const r = attack(script, [{ destination: '/mnt', type: 'bind', source: `${host}/ro-idmap`, options: ['rbind'], ...idmap }]);
    expect(r.ocirun.status, r.ocirun.stderr).toBe(0);
    // The id map is there (the host's root owns the file; inside, that is 0 through the map).
    expect(field(r.ocirun.stdout, 'flags')!.split(',')).toContain('idmapped');
    expect(field(r.ocirun.stdout, 'owner')).toBe('0');
    expect(field(r.ocirun.stdout, 'remount'), r.ocirun.stdout).not.toBe('0');
    expect(field(r.ocirun.stdout, 'touch')).not.toBe('0');
    expect(fs.existsSync(path.join(host, 'ro-idmap/x'))).toBe(false);
    expect(hostMount(`${host}/ro-idmap`)).toBe(before);
    // runc 1.1.5 has no id-mapped mounts: recorded above, not compared.
  });
});
