// The managers with their systemd cgroup drivers, in the qemu guest whose
// PID 1 is systemd (scripts/systemd-vm.sh; cgroup v2, and hybrid): podman
// (its default cgroup manager there), dockerd with native.cgroupdriver=systemd,
// and containerd's CRI plugin with SystemdCgroup = true. Each calls its
// runtime with --systemd-cgroup; each scenario runs under ocirun and under
// Debian's runc in the same run, and what the host, systemd and the
// container show must be the same, ids aside.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCriContainerd, type CriContainerd } from './cri/client.js';
import { ensureImage, OCIRUN, startContainerd, startDockerd, systemctlShow as show, TEST_IMAGE, type Containerd, type Dockerd } from './helpers.js';

const runc = execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim();
const RUNTIMES = { ocirun: OCIRUN, runc };
type Name = keyof typeof RUNTIMES;
const v2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
const ulimits = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];
const MiB = 2 ** 20;

beforeAll(() => {
  if (!fs.existsSync('/run/systemd/system')) throw new Error('needs systemd as PID 1 (scripts/systemd-vm.sh)');
});

/** The process's cgroup as the host sees it: the unified line on v2, the memory line on hybrid. */
const cgroupOf = (pid: number) => {
  const lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  const line = v2 ? lines.find((l) => l.startsWith('0::')) : lines.find((l) => l.split(':')[1] === 'memory');
  return line!.slice(line!.lastIndexOf(':') + 1);
};
/** The memory limit in a cgroup directory, v2 or v1. */
const memoryLimit = (rel: string) => fs.readFileSync(v2 ? path.join('/sys/fs/cgroup', rel, 'memory.max') : path.join('/sys/fs/cgroup/memory', rel, 'memory.limit_in_bytes'), 'utf8').trim();
/** Inside a container: its own memory and pids limits (v2 with a cgroup namespace, v1 mounts). */
const LIMITS_INSIDE = v2 ? 'cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max' : 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max';
/** Container ids (64 hex digits) replaced, so that two runs compare. */
const anon = (s: string) => s.replace(/[0-9a-f]{64}/g, '<id>');

describe('podman (systemd cgroup manager)', () => {
  beforeAll(() => ensureImage(TEST_IMAGE), 180_000);
  const podman = (name: Name, args: string[]) => spawnSync('podman', ['--runtime', RUNTIMES[name], ...args], { encoding: 'utf8', timeout: 120_000 });

  function scenario(name: Name) {
    const out: Record<string, unknown> = {};
    const rm = podman(name, ['run', '--rm', '--network', 'none', ...ulimits, '--memory', '32m', '--pids-limit', '20', TEST_IMAGE, 'sh', '-c', `${LIMITS_INSIDE}; exit 3`]);
    out.runRm = { status: rm.status, stdout: rm.stdout, stderr: rm.stderr };
    const run = podman(name, ['run', '-d', '--network', 'none', ...ulimits, '--memory', '48m', TEST_IMAGE, 'sleep', '300']);
    out.runD = run.status;
    const id = run.stdout.trim();
    const unit = `libpod-${id}.scope`;
    try {
      const pid = Number(podman(name, ['inspect', '--format', '{{.State.Pid}}', id]).stdout.trim());
      const cgroup = cgroupOf(pid);
      out.cgroup = anon(cgroup);
      out.unit = show(unit, ['ActiveState', 'Slice', 'Delegate']);
      out.memoryFile = memoryLimit(cgroup);
      const exec = podman(name, ['exec', id, 'sh', '-c', 'echo $$; sleep 0.3']);
      out.exec = exec.status;
      out.stop = podman(name, ['stop', '-t', '1', id]).status;
      out.rm = podman(name, ['rm', id]).status;
      out.after = { unit: show(unit, ['LoadState']).LoadState, cgroup: fs.existsSync(path.join(v2 ? '/sys/fs/cgroup' : '/sys/fs/cgroup/memory', cgroup)) };
    } finally {
      podman(name, ['rm', '-f', id]);
    }
    return out;
  }

  it('run --rm with limits, run -d + exec + stop + rm: the scope in machine.slice, as under runc', () => {
    const mine = scenario('ocirun');
    const theirs = scenario('runc');
    expect(mine).toEqual(theirs);
    expect(mine).toEqual({
      runRm: { status: 3, stdout: `${32 * MiB}\n20\n`, stderr: '' },
      runD: 0,
      cgroup: '/machine.slice/libpod-<id>.scope',
      unit: { ActiveState: 'active', Slice: 'machine.slice', Delegate: 'yes' },
      memoryFile: String(48 * MiB),
      exec: 0,
      stop: 0,
      rm: 0,
      after: { unit: 'not-found', cgroup: false },
    });
  }, 600_000);
});

describe('dockerd (native.cgroupdriver=systemd)', () => {
  const IMAGE = 'ocirun-test-busybox:latest';
  let dockerd: Dockerd;
  beforeAll(async () => {
    dockerd = await startDockerd({ ocirun: OCIRUN }, IMAGE, ['--exec-opt', 'native.cgroupdriver=systemd']);
  }, 300_000);
  afterAll(() => dockerd?.stop(), 120_000);

  function scenario(name: Name) {
    const docker = (args: string[]) => dockerd.docker(args, 120_000);
    const out: Record<string, unknown> = {};
    const rm = docker(['run', '--rm', '--runtime', name, '--network', 'none', ...ulimits, '--memory', '32m', '--pids-limit', '20', IMAGE, 'sh', '-c', LIMITS_INSIDE]);
    out.runRm = { status: rm.status, stdout: rm.stdout };
    const run = docker(['run', '-d', '--runtime', name, '--network', 'none', ...ulimits, '--memory', '48m', IMAGE, 'sleep', '300']);
    out.runD = run.status;
    const id = run.stdout.trim();
    const unit = `docker-${id}.scope`;
    try {
      const pid = Number(docker(['inspect', '--format', '{{.State.Pid}}', id]).stdout.trim());
      const cgroup = cgroupOf(pid);
      out.cgroup = anon(cgroup);
      out.unit = show(unit, ['ActiveState', 'Slice', 'Delegate']);
      out.memoryFile = memoryLimit(cgroup);
      out.exec = docker(['exec', id, 'true']).status;
      out.rm = docker(['rm', '-f', id]).status;
      out.after = { unit: show(unit, ['LoadState']).LoadState, cgroup: fs.existsSync(path.join(v2 ? '/sys/fs/cgroup' : '/sys/fs/cgroup/memory', cgroup)) };
    } finally {
      docker(['rm', '-f', id]);
    }
    return out;
  }

  it('docker run --rm and -d with --memory: the scope in system.slice, as under runc', () => {
    const mine = scenario('ocirun');
    const theirs = scenario('runc');
    expect(mine).toEqual(theirs);
    expect(mine).toEqual({
      runRm: { status: 0, stdout: `${32 * MiB}\n20\n` },
      runD: 0,
      cgroup: '/system.slice/docker-<id>.scope',
      unit: { ActiveState: 'active', Slice: 'system.slice', Delegate: 'yes' },
      memoryFile: String(48 * MiB),
      exec: 0,
      rm: 0,
      after: { unit: 'not-found', cgroup: false },
    });
  }, 600_000);
});

describe("containerd's runc shim with SystemdCgroup (ctr run --runc-systemd-cgroup)", () => {
  let containerd: Containerd;
  // The guest's /tmp is on its overlay root; /var/lib/containerd is a tmpfs (scripts/systemd-vm.sh).
  beforeAll(async () => {
    containerd = await startContainerd('/var/lib/containerd');
  }, 300_000);
  afterAll(() => containerd?.stop(), 120_000);

  function scenario(name: Name) {
    const ctr = (args: string[]) => containerd.ctr(args, 120_000);
    const out: Record<string, unknown> = {};
    const id = `ctr-sd-${name}`;
    const unit = `ctr-${id}.scope`;
    const task = () => ctr(['task', 'ls']).stdout.split('\n').find((l) => l.startsWith(`${id} `)) ?? '';
    const run = ctr(['run', '-d', '--runc-binary', RUNTIMES[name], '--runc-systemd-cgroup', '--cgroup', `system.slice:ctr:${id}`, '--memory-limit', String(48 * MiB), TEST_IMAGE, id, 'sleep', '300']);
    out.run = { status: run.status, stderr: run.stderr };
    try {
      const pid = Number(/\s(\d+)\s+RUNNING/.exec(task())?.[1]);
      const cgroup = cgroupOf(pid);
      out.cgroup = cgroup.replace(id, '<id>');
      out.unit = show(unit, ['ActiveState', 'Slice', 'Delegate']);
      out.memoryFile = memoryLimit(cgroup);
      out.exec = ctr(['task', 'exec', '--exec-id', 'e1', id, 'sh', '-c', 'exit 5']).status;
      out.kill = ctr(['task', 'kill', '-s', 'SIGKILL', id]).status;
      for (let i = 0; i < 600 && !task().includes('STOPPED'); i++) spawnSync('sleep', ['0.1']);
      out.taskDelete = ctr(['task', 'delete', id]).status;
      out.after = { unit: show(unit, ['LoadState']).LoadState, cgroup: fs.existsSync(path.join(v2 ? '/sys/fs/cgroup' : '/sys/fs/cgroup/memory', cgroup)) };
    } finally {
      ctr(['task', 'delete', '--force', id]);
      ctr(['container', 'delete', id]);
    }
    return out;
  }

  it('run -d with a memory limit, exec, kill, delete: the scope in system.slice, as under runc', () => {
    const mine = scenario('ocirun');
    const theirs = scenario('runc');
    expect(mine).toEqual(theirs);
    expect(mine).toEqual({
      run: { status: 0, stderr: '' },
      cgroup: '/system.slice/ctr-<id>.scope',
      unit: { ActiveState: 'active', Slice: 'system.slice', Delegate: 'yes' },
      memoryFile: String(48 * MiB),
      exec: 5,
      kill: 0,
      taskDelete: 0,
      after: { unit: 'not-found', cgroup: false },
    });
  }, 600_000);
});

// The kubelet's path: containerd's CRI plugin with the runc shim's
// SystemdCgroup. The plugin gives a task's kill and delete 10 s; in the
// emulated guest an ocirun command takes 0.5-1.5 s (scripts/systemd-vm.sh
// keeps the checkout in the page cache; before, 5-8 s, and this failed).
describe("containerd's CRI plugin (SystemdCgroup = true)", () => {
  let containerd: CriContainerd;
  let logRoot: string;
  beforeAll(async () => {
    // The guest's /tmp is on its overlay root; /var/lib/containerd is a tmpfs (scripts/systemd-vm.sh).
    containerd = await startCriContainerd(RUNTIMES, { systemdCgroup: true, baseDir: '/var/lib/containerd' });
    logRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-sd-cri-logs-'));
  }, 300_000);
  afterAll(async () => {
    await containerd?.stop();
    if (logRoot) fs.rmSync(logRoot, { recursive: true, force: true });
  }, 120_000);

  async function scenario(handler: Name) {
    const cri = containerd.cri;
    const out: Record<string, unknown> = {};
    // The kubelet's systemd driver: the pod's slice, its uid's dashes as underscores.
    const uid = `${handler}_${process.pid}`;
    const pod = {
      metadata: { name: `sd-${handler}`, uid, namespace: 'default', attempt: 0 },
      hostname: 'sd-pod',
      log_directory: path.join(logRoot, uid),
      linux: { cgroup_parent: `kubepods-burstable-pod${uid}.slice`, security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
    };
    fs.mkdirSync(pod.log_directory, { recursive: true });
    const { pod_sandbox_id: podId } = await cri.RunPodSandbox({ config: pod, runtime_handler: handler });
    const config = {
      metadata: { name: 'app', attempt: 0 },
      image: { image: TEST_IMAGE },
      command: ['sh', '-c'],
      args: ['exec sleep 300'],
      log_path: 'app/0.log',
      linux: { resources: { memory_limit_in_bytes: 64 * MiB, cpu_shares: 512 }, security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
    };
    const { container_id: id } = await cri.CreateContainer({ pod_sandbox_id: podId, config, sandbox_config: pod });
    await cri.StartContainer({ container_id: id });
    const info = JSON.parse((await cri.ContainerStatus({ container_id: id, verbose: true })).info.info);
    const sandboxInfo = JSON.parse((await cri.PodSandboxStatus({ pod_sandbox_id: podId, verbose: true })).info.info);
    out.cgroupsPath = anon(info.runtimeSpec.linux.cgroupsPath).replace(uid, '<uid>');
    const cgroup = cgroupOf(info.pid);
    out.cgroup = anon(cgroup).replace(new RegExp(uid, 'g'), '<uid>');
    const unit = `cri-containerd-${id}.scope`;
    const sandboxUnit = `cri-containerd-${podId}.scope`;
    out.unit = show(unit, ['ActiveState', 'Slice', 'Delegate']);
    out.unit = { ...(out.unit as object), Slice: (out.unit as Record<string, string>).Slice.replace(uid, '<uid>') };
    out.sandboxInPodSlice = cgroupOf(sandboxInfo.pid) === path.join(path.dirname(cgroup), `cri-containerd-${podId}.scope`);
    out.memoryFile = memoryLimit(cgroup);
    const exec = await cri.ExecSync({ container_id: id, cmd: ['sh', '-c', 'echo in; exit 2'], timeout: 30 });
    out.execSync = { code: exec.exit_code, stdout: exec.stdout.toString() };
    await cri.UpdateContainerResources({ container_id: id, linux: { memory_limit_in_bytes: 96 * MiB, cpu_shares: 256 } });
    out.updated = memoryLimit(cgroup);
    await cri.StopContainer({ container_id: id, timeout: 0 });
    await cri.RemoveContainer({ container_id: id });
    await cri.StopPodSandbox({ pod_sandbox_id: podId });
    await cri.RemovePodSandbox({ pod_sandbox_id: podId });
    out.after = { unit: show(unit, ['LoadState']).LoadState, sandboxUnit: show(sandboxUnit, ['LoadState']).LoadState, cgroup: fs.existsSync(path.join(v2 ? '/sys/fs/cgroup' : '/sys/fs/cgroup/memory', cgroup)) };
    return out;
  }

  it('a pod under its slice, a container in its scope with limits, ExecSync, update, removal: as under runc', async () => {
    // A failure carries containerd's last words and the processes' states.
    const withDiagnostics = (handler: Name) =>
      scenario(handler).catch((err: Error) => {
        const ps = spawnSync('ps', ['-eo', 'pid,ppid,stat,wchan:20,cgroup:60,args'], { encoding: 'utf8' }).stdout;
        throw new Error(`${handler}: ${err.message}\n--- containerd log\n${containerd.log().slice(-4000)}\n--- ps\n${ps}`);
      });
    const mine = await withDiagnostics('ocirun');
    const theirs = await withDiagnostics('runc');
    expect(mine).toEqual(theirs);
    expect(mine).toEqual({
      cgroupsPath: 'kubepods-burstable-pod<uid>.slice:cri-containerd:<id>',
      cgroup: '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope',
      unit: { ActiveState: 'active', Slice: 'kubepods-burstable-pod<uid>.slice', Delegate: 'yes' },
      sandboxInPodSlice: true,
      memoryFile: String(64 * MiB),
      execSync: { code: 2, stdout: 'in\n' },
      updated: String(96 * MiB),
      after: { unit: 'not-found', sandboxUnit: 'not-found', cgroup: false },
    });
  }, 600_000);
});
