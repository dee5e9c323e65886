// The plan of an exec: runc's flag semantics and the stage's instructions.
import { describe, expect, it } from 'vitest';
import { execCgroupProcs, parseSubCgroups } from '../../src/cgroups/sub-cgroups.js';
import { namespaceJoins, processFromFlags, withContainerDefaults } from '../../src/process/exec-plan.js';
import { validateProcess, type HostFacts } from '../../src/config/validate.js';
import { prepareProcess } from '../../src/process/finalize.js';
import type { InitPlan } from '../../src/process/init-plan.js';
import { decodeMessage, encodeMessage, type Message } from '../../src/process/messages.js';
import { planProcess } from '../../src/config/plan.js';
import { RecordingSys } from '../../src/sys/recording.js';

const base = {
  args: ['sh'],
  cwd: '/',
  env: ['PATH=/bin'],
  user: { uid: 0, gid: 0 },
  capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] },
  noNewPrivileges: true,
  terminal: true,
};

describe('exec plan', () => {
  it('lays the flags over the config process as runc getProcess does', () => {
    const p = processFromFlags(base, { args: ['ls', '-l'], env: ['A=1'], cwd: '/tmp', user: '5:6', additionalGids: [7], caps: ['CAP_CHOWN'], noNewPrivs: false });
    expect(p.args).toEqual(['ls', '-l']);
    expect(p.env).toEqual(['PATH=/bin', 'A=1']);
    expect(p.cwd).toBe('/tmp');
    expect(p.user).toEqual({ uid: 5, gid: 6, additionalGids: [7] });
    expect(p.capabilities!.bounding).toEqual(['CAP_KILL', 'CAP_CHOWN']);
    // no inheritable in the config: --cap adds no ambient (runc).
    expect(p.capabilities!.ambient).toBeUndefined();
    expect(p.noNewPrivileges).toBe(false);
    // A terminal only with -t, whatever the config says.
    expect(p.terminal).toBe(false);
    expect(base.args).toEqual(['sh']); // the config is not modified
  });

  it("refuses what runc refuses, with runc's words", () => {
    expect(() => processFromFlags(base, { args: [] })).toThrow('exec args cannot be empty');
    expect(() => processFromFlags(base, { args: ['x'], user: 'root' })).toThrow(/bad uid/);
    expect(() => processFromFlags(base, { args: ['x'], additionalGids: [-1] })).toThrow('additional-gids must be a positive number -1');
  });

  it('checks a process file as strictly as config.json, naming the field', () => {
    const host = { appArmor: () => false, selinux: () => false } as HostFacts;
    expect(() => validateProcess(base, host)).not.toThrow();
    expect(() => validateProcess({ ...base, cwd: 'rel' }, host)).toThrow('validate process: process.cwd: "rel" must be an absolute path');
    expect(() => validateProcess({ ...base, user: { uid: 0, gid: 0, username: 'root' } }, host)).toThrow(/process.user.username: is not supported/);
    // runc refuses both; a -1 uid would otherwise leave the process root.
    expect(() => validateProcess({ ...base, user: { uid: -1, gid: -1 } }, host)).toThrow('validate process: process.user.uid: must be >= 0');
    expect(() => validateProcess({ ...base, user: { uid: '1000', gid: 0 } }, host)).toThrow('validate process: process.user.uid: must be integer');
    expect(() => validateProcess({ ...base, args: [] }, host)).toThrow(/process.args: must name a program/);
    expect(() => validateProcess({ args: ['sh'] }, host)).toThrow('validate process: process.cwd: is required');
    expect(() => validateProcess({ ...base, apparmorProfile: 'x' }, host)).toThrow(/process.apparmorProfile: an AppArmor profile is set but AppArmor is not enabled/);
    expect(() => validateProcess('not an object', host)).toThrow(/validate process: process: must be object/);
  });

  it('expands execCPUAffinity lists for the init, and refuses bad ones', () => {
    const p = planProcess({ ...base, execCPUAffinity: { initial: '0-2, 5', final: '1' } }, () => {});
    expect(p.execCPUAffinity).toEqual({ initial: [0, 1, 2, 5], final: [1] });
    // The validator refuses a bad list; the plan only converts.
    const host = { appArmor: () => false, selinux: () => false } as HostFacts;
    expect(() => validateProcess({ ...base, execCPUAffinity: { final: '3-1' } }, host)).toThrow(/process.execCPUAffinity.final: "3-1" is not a CPU list/);
  });

  it('writes the LSM labels for the exec, SELinux first (runc setns init order), through procfs-checked fds', () => {
    const sys = new RecordingSys();
    const process = planProcess({ ...base, apparmorProfile: 'docker-default', selinuxLabel: 'system_u:system_r:container_t:s0', rlimits: [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 20 }] }, () => {});
    // fs.writeSync on the recording fake's fds would fail: only the order of the opens is looked at.
    try {
      prepareProcess(sys, { process, keyring: '_ses.c', inUserNs: false } as InitPlan, 7);
    } catch {
      /* the first attr write */
    }
    const calls = sys.calls.map((c) => c.call);
    expect(calls.slice(0, 4)).toEqual(['setrlimit', 'prctl', 'joinSessionKeyring', 'keyPermissions']);
    expect(sys.named('setrlimit')[0]).toEqual([7, 10n, 20n]);
    expect(sys.named('openat2')[0].slice(0, 2)).toEqual([7, 'thread-self/attr/exec']);
  });

  // The hosts that run these tests have no LSM enabled, so the confinement
  // itself cannot be seen from a container: what is checked is the plan the
  // init is given, the same plan that is written to attr/exec above.
  describe("a process file that names no LSM label gets the container's (runc's newInitConfig)", () => {
    const container = { ...base, apparmorProfile: 'ctr-profile', selinuxLabel: 'system_u:system_r:container_t:s0:c1,c2', rlimits: [{ type: 'RLIMIT_NOFILE', soft: 64, hard: 64 }] };
    const plan = (proc: Record<string, unknown>) => planProcess(withContainerDefaults({ args: ['sh'], cwd: '/', ...proc } as any, container), () => {});

    it('falls back to the AppArmor profile and the SELinux label', () => {
      const p = plan({});
      expect(p.apparmorProfile).toBe('ctr-profile');
      expect(p.selinuxLabel).toBe('system_u:system_r:container_t:s0:c1,c2');
    });

    it('falls back to the capabilities only when the process has no capabilities object (runc finalizeNamespace)', () => {
      expect(plan({}).capabilities).toEqual(planProcess(container as any, () => {}).capabilities);
      const none = plan({ capabilities: {} }).capabilities;
      expect(none).toEqual(planProcess({ args: ['sh'], cwd: '/', capabilities: {} } as any, () => {}).capabilities);
      expect(none).not.toEqual(plan({}).capabilities);
    });

    it("keeps the process's own values where it names them", () => {
      const p = plan({ apparmorProfile: 'other', selinuxLabel: 'system_u:system_r:other_t:s0', rlimits: [{ type: 'RLIMIT_CORE', soft: 0, hard: 0 }] });
      expect(p.apparmorProfile).toBe('other');
      expect(p.selinuxLabel).toBe('system_u:system_r:other_t:s0');
      expect(p.rlimits.map((r) => r.name)).toEqual(['RLIMIT_CORE']);
    });

    it("does not take noNewPrivileges (runc uses the process file's value, false included) nor the rlimits (runc 1.1 never has the container's)", () => {
      expect(plan({}).noNewPrivileges).toBe(false);
      expect(plan({}).rlimits).toEqual([]);
    });

    it('leaves a container without labels unlabelled', () => {
      const p = planProcess(withContainerDefaults({ args: ['sh'], cwd: '/' } as any, { args: ['sh'], cwd: '/' } as any), () => {});
      expect(p.apparmorProfile).toBeUndefined();
      expect(p.selinuxLabel).toBeUndefined();
    });
  });

  it('parses --cgroup as runc does and points at the sub-cgroups', () => {
    expect(() => parseSubCgroups(['a', 'b'])).toThrow(/missing <controller>: prefix/);
    expect(() => parseSubCgroups([':x'])).toThrow(/empty <controller> prefix/);
    expect(() => parseSubCgroups(['cpu:a', 'cpu:b'])).toThrow(/controller cpu specified multiple times/);
    const sub = parseSubCgroups(['cpu,memory:sub']);
    const paths = { 'cpu,cpuacct': '/sys/fs/cgroup/cpu,cpuacct/c', memory: '/sys/fs/cgroup/memory/c', pids: '/sys/fs/cgroup/pids/c' };
    expect(execCgroupProcs(paths, sub)).toEqual(['/sys/fs/cgroup/cpu,cpuacct/c/sub/cgroup.procs', '/sys/fs/cgroup/memory/c/sub/cgroup.procs', '/sys/fs/cgroup/pids/c/cgroup.procs']);
    // One path without a prefix is every controller's.
    expect(execCgroupProcs(paths, parseSubCgroups(['sub']))).toEqual(['/sys/fs/cgroup/cpu,cpuacct/c/sub/cgroup.procs', '/sys/fs/cgroup/memory/c/sub/cgroup.procs', '/sys/fs/cgroup/pids/c/sub/cgroup.procs']);
    expect(execCgroupProcs({ unified: '/sys/fs/cgroup/c' }, parseSubCgroups(['a/../b']))).toEqual(['/sys/fs/cgroup/c/b/cgroup.procs']);
    // A sub-path cannot climb out of the container's cgroup: refused, as runc.
    expect(() => execCgroupProcs({ unified: '/sys/fs/cgroup/c' }, parseSubCgroups(['../../x']))).toThrow(/\.\.\/\.\.\/x is not a sub cgroup path/);
    expect(() => execCgroupProcs(paths, parseSubCgroups(['memory:..']))).toThrow(/\.\. is not a sub cgroup path/);
    expect(() => execCgroupProcs(paths, parseSubCgroups(['blkio:x']))).toThrow(/unknown controller blkio/);
  });

  it('joins user first and mount last, in the words the C stage reads', () => {
    const joins = namespaceJoins(42, ['mount', 'pid', 'user', 'network']);
    expect(joins.map((j) => j.path)).toEqual(['/proc/42/ns/user', '/proc/42/ns/net', '/proc/42/ns/pid', '/proc/42/ns/mnt']);
    const lines = [{ type: 'hosttree' }, ...joins.map((j) => ({ type: 'join', ...j })), { type: 'unshare', flags: 0x20000 }, { type: 'timens', monotonic: [5, 0], boottime: [-7, 999] }, { type: 'end' }].map((m) => encodeMessage(m as Message));
    expect(lines.join('')).toBe('hosttree\njoin 10000000 /proc/42/ns/user\njoin 40000000 /proc/42/ns/net\njoin 20000000 /proc/42/ns/pid\njoin 20000 /proc/42/ns/mnt\nunshare 20000\ntimens 5 0 -7 999\nend\n');
  });

  it('reads back every message it writes, and refuses a line that is none', () => {
    const msgs: Message[] = [
      { type: 'join', flag: 0x10000000, path: '/proc/1/ns/user' },
      { type: 'pid', pid: 1234 },
      { type: 'error', step: 'setns /proc/1/ns/mnt', detail: 'Invalid argument (errno 22)' },
      { type: 'continue', state: { ociVersion: '1.3.0', id: 'c', status: 'created', pid: 5, bundle: '/b' } },
      { type: 'ready' },
      { type: 'bind', index: 3, flags: 0x7, usernsFd: 9, path: '/srv/a dir with spaces' },
      { type: 'bind-fd', index: 3, fd: 11 },
      { type: 'init-fds', root: 4, proc: -1, engine: -1 },
    ];
    for (const m of msgs) expect(decodeMessage(encodeMessage(m).slice(0, -1), 'peer')).toEqual(m);
    // A newline in a text field cannot end the line early.
    expect(encodeMessage({ type: 'root', path: '/a\nend' })).toBe('root /a end\n');
    // A bind source's path is opened by the stage: one with a newline is refused, not changed.
    expect(() => encodeMessage({ type: 'bind', index: 0, flags: 0, usernsFd: 0, path: '/a\nb' })).toThrow(/newline/);
    expect(() => decodeMessage('bogus 1 2', 'the stage')).toThrow('unexpected message from the stage: bogus 1 2');
    expect(() => decodeMessage('plan {not json', 'parent')).toThrow(/unexpected message from parent/);
  });
});
