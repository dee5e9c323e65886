// Mount and namespace planning, run against the recording fake of the syscall layer.
import { describe, expect, it } from 'vitest';
import { applyBindMount, applyFilesystemMount, makeParentMountPrivate } from '../../src/rootfs/mounts.js';
import { parseMountOptions } from '../../src/rootfs/options.js';
import { applyPathRestrictions } from '../../src/rootfs/paths.js';
import { pivotRoot } from '../../src/rootfs/pivot.js';
import { mkdirAllInRoot } from '../../src/rootfs/resolve.js';
import { defaultSpec } from '../../src/config/default.js';
import { containerDestination, planContainer } from '../../src/config/plan.js';
import { CLONE, MOUNT_ATTR, MS, RESOLVE } from '../../src/sys/constants.js';
import { openProcHandle, writeProcFile } from '../../src/process/procfs.js';
import { RecordingSys } from '../../src/sys/recording.js';
import { enterRootfs, mountRootfs } from '../../src/process/init.js';
import { switchUserAndCaps } from '../../src/process/finalize.js';
import type { ContainerSetup, InitPlan } from '../../src/process/init-plan.js';
import { detachMountsBelow, fullProcAndSysfsOutside, mountKeysBelow } from '../../src/rootfs/host-mounts.js';

const IN_ROOT = RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS;

describe('mount options', () => {
  it('parses flags, clears, propagation and data like runc', () => {
    const o = parseMountOptions(['ro', 'nosuid', 'nodev', 'rw', 'rprivate', 'mode=755', 'size=1m']);
    expect(o.flags).toBe(MS.NOSUID | MS.NODEV);
    expect(o.propagation).toEqual([MS.PRIVATE | MS.REC]);
    expect(o.data).toBe('mode=755,size=1m');
  });
  it('records the flags an option cleared, as runc\'s ClearedFlags; a later set takes one back', () => {
    expect(parseMountOptions(['bind', 'rw', 'dev', 'symfollow']).clearedFlags).toBe(MS.RDONLY | MS.NODEV | MS.NOSYMFOLLOW);
    expect(parseMountOptions(['rw', 'ro']).clearedFlags).toBe(0);
    expect(parseMountOptions(['bind']).clearedFlags).toBe(0);
  });
  it('rbind is bind plus recursive', () => {
    expect(parseMountOptions(['rbind']).flags).toBe(MS.BIND | MS.REC);
  });
  it("takes runc's recursive attributes: set, clear, and an atime mode clears the whole atime field", () => {
    expect(parseMountOptions(['rbind', 'rro', 'rnosuid']).recursive).toEqual({ set: MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID, clear: 0 });
    expect(parseMountOptions(['rrw', 'rexec']).recursive).toEqual({ set: 0, clear: MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOEXEC });
    expect(parseMountOptions(['rnoatime']).recursive).toEqual({ set: MOUNT_ATTR.NOATIME, clear: MOUNT_ATTR.ATIME_MASK });
    // Clearing an atime mode changes the field too: relatime, with the field cleared (runc 1.3.6, #5095).
    expect(parseMountOptions(['ratime']).recursive).toEqual({ set: 0, clear: MOUNT_ATTR.NOATIME | MOUNT_ATTR.ATIME_MASK });
    expect(parseMountOptions(['rnostrictatime']).recursive).toEqual({ set: 0, clear: MOUNT_ATTR.ATIME_MASK });
    expect(parseMountOptions(['rrelatime']).recursive).toEqual({ set: 0, clear: MOUNT_ATTR.ATIME_MASK });
    // The last word on a flag wins.
    expect(parseMountOptions(['rro', 'rrw']).recursive).toEqual({ set: 0, clear: MOUNT_ATTR.RDONLY });
    expect(parseMountOptions(['ro']).recursive).toBeUndefined();
    expect(parseMountOptions(['rro']).data).toBe('');
  });
});

describe('namespace planning', () => {
  it('creates the listed namespaces and joins those with a path, user first', () => {
    const c: any = defaultSpec();
    c.linux.namespaces = [{ type: 'network', path: '/proc/1/ns/net' }, { type: 'mount' }, { type: 'user', path: '/proc/1/ns/user' }, { type: 'pid' }, { type: 'cgroup' }];
    const plan = planContainer(c, { id: 'x', bundle: '/b' });
    expect(plan.join.map((j) => j.type)).toEqual(['user', 'network']);
    expect(plan.unshareFlags).toBe(CLONE.NEWNS | CLONE.NEWPID);
    // cgroupns is left to init, after cgroup placement.
    expect(plan.newCgroupNs).toBe(true);
  });
  it('keeps default devices and adds configured ones', () => {
    const c: any = defaultSpec();
    c.linux.devices = [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o600 }];
    const plan = planContainer(c, { id: 'x', bundle: '/b' });
    expect(plan.devices.map((d) => d.path)).toEqual(['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/fuse']);
  });
  it('does not create /dev nodes when /dev is bind-mounted', () => {
    const c: any = defaultSpec();
    c.mounts = [{ destination: '/dev', type: 'bind', source: '/dev', options: ['rbind'] }];
    expect(planContainer(c, { id: 'x', bundle: '/b' }).setupDev).toBe(false);
  });
  it("reads a destination written with the rootfs' host path in front as inside the container, as runc does", () => {
    expect(containerDestination('/b/rootfs', '/b/rootfs/mnt/x')).toBe('/mnt/x');
    expect(containerDestination('/b/rootfs/', '/b/rootfs/../rootfs/final')).toBe('/final');
    expect(containerDestination('/b/rootfs', '/b/rootfs')).toBe('/');
    expect(containerDestination('/b/rootfs', '/b/rootfsx/y')).toBe('/b/rootfsx/y');
    expect(containerDestination('/b/rootfs', 'mnt/../etc')).toBe('/etc');
    const c: any = defaultSpec();
    c.root.path = 'rootfs';
    c.mounts = [{ destination: '/b/rootfs/final', type: 'bind', source: '/b/rootfs/mnt', options: ['rbind'] }];
    expect(planContainer(c, { id: 'x', bundle: '/b' }).mounts[0].destination).toBe('/final');
  });
});

describe('paths inside the rootfs', () => {
  it('resolves every component from the root with RESOLVE_IN_ROOT and creates what is missing', () => {
    const sys = new RecordingSys().failOn('openat2', 'ENOENT', (a) => a[1] === 'a/b');
    mkdirAllInRoot(sys, 7, '/a/b/c');
    const opens = sys.named('openat2');
    expect(opens.every((a) => (a[3] as number) === IN_ROOT)).toBe(true);
    expect(opens.map((a) => a[1])).toEqual(['.', 'a', 'a/b', 'a/b', 'a/b/c']);
    expect(sys.named('mkdirat').map((a) => a[1])).toEqual(['b']);
  });

  it('follows a symlink to what does not exist yet inside the root, and makes its target there', () => {
    const sys = new RecordingSys()
      .failOn('openat2', 'ENOENT', (a) => a[1] === 'evil')
      .failOn('mkdirat', 'EEXIST', (a) => a[1] === 'evil', 17)
      .failOn('openat2', 'ENOENT', (a) => a[1] === 'host')
      .failOn('openat2', 'ENOENT', (a) => a[1] === 'host/mnt');
    sys.links = { evil: '/host' };
    mkdirAllInRoot(sys, 7, '/evil/mnt');
    expect(sys.named('readlinkat').map((a) => a[1])).toEqual(['evil']);
    expect(sys.named('mkdirat').map((a) => a[1])).toEqual(['evil', 'host', 'mnt']);
    expect(sys.named('openat2').every((a) => a[0] === 7 && a[3] === IN_ROOT)).toBe(true);
    // A link to itself ends with ELOOP, not a loop.
    const loop = new RecordingSys();
    for (let i = 0; i < 50; i++) loop.failOn('openat2', 'ENOENT', (a) => a[1] === 'self').failOn('mkdirat', 'EEXIST', (a) => a[1] === 'self', 17);
    loop.links = { self: 'self' };
    expect(() => mkdirAllInRoot(loop, 7, '/self')).toThrow(/ELOOP/);
  });

  it('mounts through /proc/self/fd/N, never through a path string', () => {
    const sys = new RecordingSys();
    applyFilesystemMount(sys, 7, { source: 'proc', destination: '/proc', type: 'proc', flags: 0, clearedFlags: 0, propagation: [], data: '', bind: false });
    const [mount] = sys.named('mount');
    expect(mount[1]).toMatch(/^\/proc\/self\/fd\/\d+$/);
    expect(mount[2]).toBe('proc');
  });

  it('remounts a read-only bind mount in a second pass', () => {
    const sys = new RecordingSys();
    applyBindMount(sys, 7, { source: '/tmp', destination: '/mnt', type: 'bind', flags: MS.BIND | MS.RDONLY | MS.NOSUID, clearedFlags: 0, propagation: [MS.SLAVE], data: '', bind: true });
    const mounts = sys.named('mount');
    expect(mounts[0][0]).toBe('/tmp');
    expect(mounts[0][3]).toBe(MS.BIND);
    expect(mounts[1][3]).toBe(MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID);
    expect(mounts[2][3]).toBe(MS.SLAVE);
  });

  it("re-applies the source's locked flags when the remount alone is refused (EPERM), as runc and mount(8) do", () => {
    const sys = new RecordingSys().failOn('mount', 'EPERM', (a) => a[3] === (MS.BIND | MS.REMOUNT | MS.RDONLY), 1);
    sys.fsFlags = 2 | 4 | 4096; // ST_NOSUID | ST_NODEV | ST_RELATIME: a bind of a source under /run
    applyBindMount(sys, 7, { source: '/tmp', destination: '/mnt', type: 'bind', flags: MS.BIND | MS.RDONLY, clearedFlags: 0, propagation: [], data: '', bind: true });
    const mounts = sys.named('mount');
    expect(mounts.map((m) => m[3])).toEqual([MS.BIND, MS.BIND | MS.REMOUNT | MS.RDONLY, MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.RELATIME]);
    // A strictatime source (statfs shows no atime flag) keeps strictatime on the retry.
    const strict = new RecordingSys().failOn('mount', 'EPERM', (a) => a[3] === (MS.BIND | MS.REMOUNT | MS.RDONLY), 1);
    strict.fsFlags = 4; // ST_NODEV
    applyBindMount(strict, 7, { source: '/tmp', destination: '/mnt', type: 'bind', flags: MS.BIND | MS.RDONLY, clearedFlags: MS.NOSYMFOLLOW, propagation: [], data: '', bind: true });
    expect(strict.named('mount').map((m) => m[3])[2]).toBe(MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NODEV | MS.STRICTATIME);
  });

  it('remounts a bind with only clearing options (runc 1.2+), and leaves one with none as it is', () => {
    const cleared = new RecordingSys();
    applyBindMount(cleared, 7, { source: '/tmp', destination: '/mnt', type: 'bind', flags: MS.BIND, clearedFlags: MS.NODEV, propagation: [], data: '', bind: true });
    expect(cleared.named('mount').map((m) => m[3])).toEqual([MS.BIND, MS.BIND | MS.REMOUNT]);
    const plain = new RecordingSys();
    applyBindMount(plain, 7, { source: '/tmp', destination: '/mnt', type: 'bind', flags: MS.BIND | MS.REC, clearedFlags: 0, propagation: [], data: '', bind: true });
    expect(plain.named('mount').map((m) => m[3])).toEqual([MS.BIND | MS.REC]);
  });

  it('refuses to keep a locked flag the options cleared ("rw" of a locked "ro" source)', () => {
    const sys = new RecordingSys().failOn('mount', 'EPERM', (a) => ((a[3] as number) & MS.REMOUNT) !== 0, 1);
    sys.fsFlags = 1 | 4096; // ST_RDONLY | ST_RELATIME
    const plan = { source: '/tmp', destination: '/mnt', type: 'bind', propagation: [], data: '', bind: true };
    expect(() => applyBindMount(sys, 7, { ...plan, flags: MS.BIND | MS.NOSUID, clearedFlags: MS.RDONLY })).toThrow(/cannot clear locked flags ro: .*EPERM/);
    expect(sys.named('mount')).toHaveLength(2);
  });

  it('refuses atime flags other than the locked ones, and passes on errors other than EPERM', () => {
    const atime = new RecordingSys().failOn('mount', 'EPERM', (a) => ((a[3] as number) & MS.REMOUNT) !== 0, 1);
    atime.fsFlags = 1024; // ST_NOATIME
    const plan = { source: '/tmp', destination: '/mnt', type: 'bind', clearedFlags: 0, propagation: [], data: '', bind: true };
    expect(() => applyBindMount(atime, 7, { ...plan, flags: MS.BIND | MS.STRICTATIME })).toThrow(/cannot change locked atime flags noatime/);
    expect(atime.named('mount')).toHaveLength(2);
    const other = new RecordingSys().failOn('mount', 'EBUSY', (a) => ((a[3] as number) & MS.REMOUNT) !== 0, 16);
    expect(() => applyBindMount(other, 7, { ...plan, flags: MS.BIND | MS.RDONLY })).toThrow(/EBUSY/);
    expect(other.named('fstatfs')).toHaveLength(0);
  });

  it('makes the parent mount private only when it is shared or unbindable', () => {
    const info = '24 1 0:22 / / rw shared:1 - ext4 /dev/vda rw\n30 24 0:30 / /var rw shared:5 - tmpfs tmpfs rw\n';
    const sys = new RecordingSys();
    makeParentMountPrivate(sys, '/var/lib/c/rootfs', info);
    expect(sys.named('mount')).toEqual([[null, '/var', null, MS.PRIVATE, null]]);
    const quiet = new RecordingSys();
    makeParentMountPrivate(quiet, '/var/lib/c/rootfs', info.replace(/shared:\d+ /g, ''));
    expect(quiet.named('mount')).toEqual([]);
    const unbindable = new RecordingSys();
    makeParentMountPrivate(unbindable, '/var/lib/c/rootfs', info.replace('shared:5', 'unbindable'));
    expect(unbindable.named('mount')).toEqual([[null, '/var', null, MS.PRIVATE, null]]);
  });

  it('pivots with pivot_root(".", ".") and detaches the old root', () => {
    const sys = new RecordingSys();
    pivotRoot(sys, '/r');
    expect(sys.calls.map((c) => c.call)).toEqual(['open', 'open', 'fchdir', 'pivotRoot', 'fchdir', 'mount', 'umount2', 'chdir', 'close', 'close']);
    expect(sys.named('pivotRoot')[0]).toEqual(['.', '.']);
  });

  it('skips masked paths that do not exist', () => {
    // /dev/null is verified with fstat, which the fake cannot answer: masking nothing must not need it.
    const sys = new RecordingSys().failOn('openat2', 'ENOENT');
    applyPathRestrictions(sys, 7, ['/proc/nothing'], []);
    expect(sys.named('mount')).toEqual([]);
    expect(sys.named('moveMount')).toEqual([]);
  });

  it('makes a path read-only by an fd-bound copy of its mounts, never through a /proc path', () => {
    const sys = new RecordingSys();
    applyPathRestrictions(sys, 7, ['/proc/sys'], []);
    expect(sys.named('openat2')[0].slice(0, 2)).toEqual([7, 'proc/sys']);
    // open_tree(recursive) of the path, read-only on the top mount only (runc's bind + remount), moved onto the path's own fd.
    const [[src, recursive]] = sys.named('openTree');
    expect(recursive).toBe(true);
    const [[tree, set, clear, rec]] = sys.named('mountSetattr');
    expect([set, clear, rec]).toEqual([MOUNT_ATTR.RDONLY, 0, false]);
    expect(sys.named('moveMount')).toEqual([[tree, src]]);
    expect(sys.named('mount')).toEqual([]);
  });
});

describe("the init's procfs handle", () => {
  it('is a new detached procfs instance, or /proc where the kernel refuses one', () => {
    const sys = new RecordingSys();
    const fresh = openProcHandle(sys, 40);
    expect(sys.named('fsopen')).toEqual([['proc']]);
    expect(sys.named('fsmount')[0][1]).toBe(MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC);
    expect(sys.named('close')).toContainEqual([40]);
    expect(fresh).not.toBe(40);
    const refused = new RecordingSys().failOn('fsopen', 'EPERM', undefined, 1);
    expect(openProcHandle(refused, 40)).toBe(40);
    const neither = new RecordingSys().failOn('fsopen', 'EPERM', undefined, 1);
    openProcHandle(neither, undefined);
    expect(neither.named('open')[0][0]).toBe('/proc');
    const notProc = new RecordingSys();
    notProc.fsType = 0x01021994; // tmpfs
    expect(() => openProcHandle(notProc, undefined)).toThrow(/is not procfs/);
  });

  it("writes only sysctls and the thread's LSM exec labels, resolved without crossing mounts", () => {
    const sys = new RecordingSys();
    sys.fsType = 0x01021994; // what a bind of a tmpfs file over the sysctl would be
    expect(() => writeProcFile(sys, 5, 'sys/../self/attr/current', 'x')).toThrow(/refusing to write/);
    expect(() => writeProcFile(sys, 5, 'self/attr/exec', 'x')).toThrow(/refusing to write/);
    expect(() => writeProcFile(sys, 5, 'sys/kernel/core_pattern', '|/x')).toThrow(/not on procfs/);
    expect(sys.named('openat2').map((a) => [a[0], a[1], a[3]])).toEqual([[5, 'sys/kernel/core_pattern', RESOLVE.NO_XDEV | RESOLVE.NO_MAGICLINKS | RESOLVE.BENEATH]]);
  });
});

describe('user switch', () => {
  it('drops the bounding set, keeps caps across setresuid, then sets the cap sets (runc order)', () => {
    const c: any = defaultSpec();
    c.process.user = { uid: 1000, gid: 1000, additionalGids: [5] };
    c.process.cwd = '/';
    const plan = { process: planContainer(c, { id: 'x', bundle: '/b' }).process } as InitPlan;
    const sys = new RecordingSys();
    switchUserAndCaps(sys, plan);
    // (fchown: stdio becomes the user's, when it is not /dev/null already.)
    const order = sys.calls.filter((c) => c.call !== 'fchown').map((c) => (c.call === 'prctl' ? `prctl:${c.args[0]}` : c.call)).filter((c, i, a) => c !== a[i - 1]);
    expect(order).toEqual(['chdir', 'prctl:24', 'prctl:8', 'setgroups', 'setresgid', 'setresuid', 'prctl:8', 'getcwd', 'capset', 'prctl:47']);
    expect(sys.named('setresuid')[0]).toEqual([1000, 1000, 1000]);
    expect(sys.named('setgroups')[0]).toEqual([[5]]);
    // Only CAP_AUDIT_WRITE, CAP_KILL and CAP_NET_BIND_SERVICE remain.
    expect(sys.caps.permitted).toBe((1n << 29n) | (1n << 5n) | (1n << 10n));
    expect(sys.caps.inheritable).toBe(0n);
  });
});

describe('a container that shares the host mount namespace', () => {
  const initPlan = (c: any): InitPlan & { container: ContainerSetup } => {
    c.process.terminal = false;
    const { process, seccomp, personality, ...container } = planContainer(c, { id: 'x', bundle: '/b' });
    return { container: { ...container, cgroupMounts: [], cgroupUnified: false, hostHasKcore: true, fifoFd: 9 }, process, keepFds: 3, shimPath: '/shim', inUserNs: false, ignoredSignals: '0' };
  };
  const sharing = () => {
    const c: any = defaultSpec();
    c.linux.namespaces = [{ type: 'pid' }];
    c.linux.maskedPaths = [];
    c.linux.readonlyPaths = [];
    c.root.readonly = false;
    c.mounts = [];
    return initPlan(c);
  };
  it('leaves the propagation of / alone and chroots instead of pivot_root', () => {
    const sys = new RecordingSys();
    const plan = sharing();
    plan.container.setupDev = false;
    mountRootfs(sys, plan.container, false, () => {
      throw new Error('no source is asked for at its turn here');
    });
    expect(sys.named('mount')).toEqual([]);
    enterRootfs(sys, plan, plan.container);
    expect(sys.named('pivotRoot')).toEqual([]);
    expect(sys.named('chdir')).toEqual([['/b/rootfs'], ['/']]);
    expect(sys.named('chroot')).toEqual([['.']]);
  });
  it('pivots as usual with a mount namespace of its own', () => {
    const sys = new RecordingSys();
    const plan = initPlan(defaultSpec());
    enterRootfs(sys, plan, plan.container);
    expect(sys.named('pivotRoot')).toEqual([['.', '.']]);
    expect(sys.named('chroot')).toEqual([]);
  });
  const mountinfo = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    '40 22 0:50 / /b/rootfs rw shared:2 - overlay overlay rw',
    '41 40 0:51 / /b/rootfs/proc rw - proc proc rw',
    '42 40 0:52 / /b/rootfs/dev rw - tmpfs tmpfs rw',
    '43 42 0:53 / /b/rootfs/dev/pts rw - devpts devpts rw',
    '44 22 0:54 / /b/rootfs2/proc rw - proc proc rw',
    '45 40 0:55 / /b/rootfs/with\\040space rw - tmpfs tmpfs rw',
  ].join('\n');
  it('finds the mounts below the rootfs by ID and place, not the rootfs itself nor a sibling', () => {
    expect(mountKeysBelow(mountinfo, '/b/rootfs')).toEqual(['41 /b/rootfs/proc', '42 /b/rootfs/dev', '43 /b/rootfs/dev/pts', '45 /b/rootfs/with space']);
  });
  it('detaches only what create made: not what was there before, nor what was mounted after', () => {
    const made = new RecordingSys();
    detachMountsBelow(made, '/b/rootfs', () => mountinfo, { before: ['41 /b/rootfs/proc'], made: ['42 /b/rootfs/dev', '43 /b/rootfs/dev/pts'] });
    expect(made.named('umount2').map((a) => a[0])).toEqual(['/b/rootfs/dev/pts', '/b/rootfs/dev']);
    // A create that failed before recording what it made: all but what was there before.
    const failed = new RecordingSys();
    detachMountsBelow(failed, '/b/rootfs', () => mountinfo, { before: ['41 /b/rootfs/proc'] });
    expect(failed.named('umount2').map((a) => a[0])).toEqual(['/b/rootfs/with space', '/b/rootfs/dev/pts', '/b/rootfs/dev']);
  });
  it('detaches them at teardown, and tolerates one already gone', () => {
    const sys = new RecordingSys().failOn('umount2', 'EINVAL', (a) => a[0] === '/b/rootfs/dev/pts');
    detachMountsBelow(sys, '/b/rootfs', () => mountinfo);
    expect(sys.named('umount2').map((a) => a[0])).toEqual(['/b/rootfs/with space', '/b/rootfs/dev/pts', '/b/rootfs/dev', '/b/rootfs/proc']);
    expect(() => detachMountsBelow(sys, '/', () => mountinfo)).toThrow(/refusing/);
  });
  it('finds the full proc and sysfs mounts outside the rootfs (what --no-pivot must remove)', () => {
    const host = [
      mountinfo,
      '46 22 0:56 / /proc rw - proc proc rw',
      '47 46 0:57 / /proc/sys/fs/binfmt_misc rw - binfmt_misc binfmt_misc rw',
      '48 22 0:58 / /sys rw - sysfs sysfs rw',
      '49 22 0:56 /sys /mnt/procsys rw - proc proc rw',
    ].join('\n');
    // Not the container's own /proc, nor a sub-tree bind of proc (not full).
    expect(fullProcAndSysfsOutside(host, '/b/rootfs')).toEqual(['/b/rootfs2/proc', '/proc', '/sys']);
  });
});

