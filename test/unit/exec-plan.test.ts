// The plan of an exec: runc's flag semantics and the stage's instructions.
import { describe, expect, it } from 'vitest';
import { execCgroupProcs, parseSubCgroups } from '../../src/container/exec.js';
import { checkExecProcess, namespaceJoins, processFromFlags, stageInstructions } from '../../src/process/exec-plan.js';

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
    expect(() => checkExecProcess({ ...base, cwd: 'rel' })).toThrow('Cwd must be an absolute path');
    expect(() => checkExecProcess({ ...base, user: { uid: 0, gid: 0, username: 'root' } } as never)).toThrow(/username is not supported/);
  });

  it('expands execCPUAffinity lists for the stage, and refuses bad ones', () => {
    const out = stageInstructions({ cgroupProcs: ['/cg/cgroup.procs'], joins: [], process: { ...base, execCPUAffinity: { initial: '0-2, 5', final: '1' } }, keep: 3, lastCap: 40 }, () => {});
    expect(out.toString('latin1').split('\n').slice(0, 3)).toEqual(['affinity initial 0,1,2,5', 'affinity final 1', 'cgroup /cg/cgroup.procs']);
    expect(() => stageInstructions({ cgroupProcs: [], joins: [], process: { ...base, execCPUAffinity: { final: '3-1' } }, keep: 3, lastCap: 40 }, () => {})).toThrow(/process.execCPUAffinity.final: "3-1" is not a CPU list/);
  });

  it('passes the LSM labels for the exec, SELinux first (runc setns init order)', () => {
    const out = stageInstructions({ cgroupProcs: [], joins: [], process: { ...base, apparmorProfile: 'docker-default', selinuxLabel: 'system_u:system_r:container_t:s0' }, keep: 3, lastCap: 40 }, () => {});
    const lines = out.toString('latin1').split('\n').filter((l) => l.startsWith('label '));
    expect(lines).toEqual(['label selinux system_u:system_r:container_t:s0', 'label apparmor exec docker-default']);
    expect(() => stageInstructions({ cgroupProcs: [], joins: [], process: { ...base, apparmorProfile: 'a\nkeep 99' }, keep: 3, lastCap: 40 }, () => {})).toThrow(/newline/);
  });

  it('parses --cgroup as runc does and points at the sub-cgroups', () => {
    expect(() => parseSubCgroups(['a', 'b'])).toThrow(/missing <controller>: prefix/);
    expect(() => parseSubCgroups([':x'])).toThrow(/empty <controller> prefix/);
    expect(() => parseSubCgroups(['cpu:a', 'cpu:b'])).toThrow(/controller cpu specified multiple times/);
    const sub = parseSubCgroups(['cpu,memory:sub']);
    const paths = { 'cpu,cpuacct': '/sys/fs/cgroup/cpu,cpuacct/c', memory: '/sys/fs/cgroup/memory/c', pids: '/sys/fs/cgroup/pids/c' };
    expect(execCgroupProcs(paths, sub)).toEqual(['/sys/fs/cgroup/cpu,cpuacct/c/sub/cgroup.procs', '/sys/fs/cgroup/memory/c/sub/cgroup.procs', '/sys/fs/cgroup/pids/c/cgroup.procs']);
    // A sub-path cannot climb out of the container's cgroup.
    expect(execCgroupProcs({ unified: '/sys/fs/cgroup/c' }, parseSubCgroups(['../../x']))).toEqual(['/sys/fs/cgroup/c/x/cgroup.procs']);
  });

  it('writes the instructions in the order the stage applies them, user namespace first', () => {
    const joins = namespaceJoins(42, ['mount', 'pid', 'user', 'network']);
    expect(joins.map((j) => j.path)).toEqual(['/proc/42/ns/user', '/proc/42/ns/net', '/proc/42/ns/pid', '/proc/42/ns/mnt']);
    const bpf = Buffer.alloc(16, 1);
    const out = stageInstructions({ cgroupProcs: ['/cg/cgroup.procs'], oomScoreAdj: -5, joins, process: { ...base, rlimits: [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 20 }] }, keep: 4, seccomp: { flags: 2, bpf }, lastCap: 40 }, () => {});
    const text = out.toString('latin1');
    const lines = text.split('\n');
    expect(lines.slice(0, 6)).toEqual(['cgroup /cg/cgroup.procs', 'oom -5', 'join 10000000 /proc/42/ns/user', 'join 40000000 /proc/42/ns/net', 'join 20000000 /proc/42/ns/pid', 'join 20000 /proc/42/ns/mnt']);
    expect(lines).toContain('rlimit 7 10 20');
    expect(lines).toContain('caps 40 20 20 20 0 0'); // CAP_KILL is bit 5
    expect(lines).toContain('nnp');
    expect(text).toContain(`seccomp 2 2\n${'\x01'.repeat(16)}argv 3\nsh\0env 10\nPATH=/bin\0end\n`);
  });
});
