// Kubernetes' path to a runtime: the kubelet's CRI calls to containerd's CRI
// plugin, which runs the runtime through its runc shim as a RuntimeClass
// handler. A private containerd 1.6 (test/integration/cri/client.ts) has two
// handlers, ocirun and Debian's runc; each scenario runs under both in the
// same test and what it observes must be the same.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCriContainerd, type CriContainerd } from './cri/client.js';
import { captureWrapper, keepInCorpus, OCIRUN, TEST_IMAGE } from './helpers.js';

const runc = execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim();
const HANDLERS = { ocirun: OCIRUN, runc };
type Handler = keyof typeof HANDLERS;
// ocirun's handler runs it through a wrapper that keeps what containerd sends (the corpus).
const captureRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-cri-capture-'));
const capture = captureWrapper(path.join(captureRoot, 'ocirun'), OCIRUN);
const captured = (handler: Handler, name: string, kind: 'config' | 'process') => {
  if (handler !== 'ocirun') return;
  const config = capture.take(kind);
  expect(config, `containerd sent ocirun a ${kind} (${name})`).toBeDefined();
  keepInCorpus(name, config);
};
// The kubelet's cgroupfs layout (kubepods/<qos>/pod<uid>/<container>),
// under a root of this run's own so that it can be removed afterwards.
const CGROUP_ROOT = `/ocirun-cri-${process.pid}`;
// The runc shim's default --root for the k8s.io namespace.
const RUNTIME_ROOT = '/run/containerd/runc/k8s.io';
const MiB = 1024 * 1024;

let containerd: CriContainerd;
let logRoot: string;
beforeAll(async () => {
  containerd = await startCriContainerd({ ...HANDLERS, ocirun: capture.bin });
  logRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-cri-logs-'));
}, 180_000);
afterAll(async () => {
  await containerd?.stop();
  if (logRoot) fs.rmSync(logRoot, { recursive: true, force: true });
  for (const hierarchy of v1Hierarchies()) removeTree(path.join('/sys/fs/cgroup', hierarchy, CGROUP_ROOT));
  fs.rmSync(captureRoot, { recursive: true, force: true });
}, 120_000);

const cri = () => containerd.cri;

function v1Hierarchies(): string[] {
  return fs.readdirSync('/sys/fs/cgroup').filter((d) => fs.existsSync(path.join('/sys/fs/cgroup', d, 'cgroup.procs')));
}

function removeTree(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeTree(path.join(dir, e.name));
  fs.rmdirSync(dir);
}

/** The pod's config as the kubelet sends it: pid namespace per container unless `sharedPid`. */
function podConfig(handler: Handler, name: string, sharedPid = false) {
  const uid = `${handler}-${name}-${process.pid}`;
  const logDir = path.join(logRoot, uid);
  fs.mkdirSync(logDir, { recursive: true });
  return {
    metadata: { name: `${name}-${handler}`, uid, namespace: 'default', attempt: 0 },
    hostname: `${name}-pod`,
    log_directory: logDir,
    labels: { app: name },
    linux: {
      cgroup_parent: `${CGROUP_ROOT}/kubepods/burstable/pod${uid}`,
      security_context: { namespace_options: { network: 'POD', pid: sharedPid ? 'POD' : 'CONTAINER', ipc: 'POD' } },
    },
  };
}

function containerConfig(name: string, args: string[], extra: Record<string, unknown> = {}, attempt = 0) {
  return {
    metadata: { name, attempt },
    image: { image: TEST_IMAGE },
    command: ['sh', '-c'],
    args,
    log_path: `${name}/${attempt}.log`,
    linux: { security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
    ...extra,
  };
}

async function runPod(config: ReturnType<typeof podConfig>, handler: Handler): Promise<{ id: string; info: any }> {
  const { pod_sandbox_id: id } = await cri().RunPodSandbox({ config, runtime_handler: handler });
  const status = await cri().PodSandboxStatus({ pod_sandbox_id: id, verbose: true });
  return { id, info: JSON.parse(status.info.info) };
}

async function startApp(podId: string, pod: ReturnType<typeof podConfig>, config: ReturnType<typeof containerConfig>): Promise<{ id: string; info: any }> {
  const { container_id: id } = await cri().CreateContainer({ pod_sandbox_id: podId, config, sandbox_config: pod });
  await cri().StartContainer({ container_id: id });
  const status = await cri().ContainerStatus({ container_id: id, verbose: true });
  return { id, info: JSON.parse(status.info.info) };
}

async function execSync(id: string, cmd: string[], timeout = 10) {
  const r = await cri().ExecSync({ container_id: id, cmd, timeout });
  return { exitCode: r.exit_code, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

async function waitExited(id: string) {
  for (let i = 0; i < 200; i++) {
    const { status } = await cri().ContainerStatus({ container_id: id });
    if (status.state === 'CONTAINER_EXITED') return status;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`container ${id} did not exit`);
}

const ns = (pid: number, name: string) => fs.readlinkSync(`/proc/${pid}/ns/${name}`);
const cgroupFile = (controller: string, cgroupsPath: string, file: string) => fs.readFileSync(path.join('/sys/fs/cgroup', controller, cgroupsPath, file), 'utf8').trim();

/**
 * What the host still holds of a container or sandbox: the runtime's state
 * dir, containerd's task dir, cgroup dirs, mounts naming it, its process.
 */
function leftoversOf(id: string, pid: number, cgroupsPath: string): string[] {
  const found: string[] = [];
  if (fs.existsSync(path.join(RUNTIME_ROOT, id))) found.push(`runtime state ${id}`);
  if (fs.existsSync(path.join(containerd.dir, 'state/io.containerd.runtime.v2.task/k8s.io', id))) found.push(`task dir ${id}`);
  for (const h of v1Hierarchies()) if (fs.existsSync(path.join('/sys/fs/cgroup', h, cgroupsPath))) found.push(`cgroup ${h}${cgroupsPath}`);
  if (fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(id)) found.push(`mount of ${id}`);
  if (fs.existsSync(`/proc/${pid}`)) found.push(`process ${pid}`);
  return found;
}

/**
 * The main pod: a sandbox with per-container pid namespaces, an app with
 * limits, ExecSync, its log, an update, a second app, a container that
 * exits and is created again, stop and removal. Everything observed that
 * does not depend on ids or timing goes into the result.
 */
async function mainScenario(handler: Handler) {
  const out: Record<string, unknown> = {};
  const pod = podConfig(handler, 'main');
  const sandbox = await runPod(pod, handler);
  captured(handler, 'cri-sandbox', 'config');
  const app = await startApp(
    sandbox.id,
    pod,
    containerConfig('app', ['echo line1; echo line2 >&2; exec sleep 300'], {
      linux: {
        resources: { memory_limit_in_bytes: 64 * MiB, cpu_shares: 512, cpu_quota: 20_000, cpu_period: 100_000 },
        security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } },
      },
    }),
  );
  captured(handler, 'cri-container', 'config');
  const appCgroup: string = app.info.runtimeSpec.linux.cgroupsPath;
  // The handler's runtime ran it: its own state command knows the container.
  const state = spawnSync(HANDLERS[handler], ['--root', RUNTIME_ROOT, 'state', app.id], { encoding: 'utf8' });
  out.runtimeState = state.status === 0 ? { status: JSON.parse(state.stdout).status, pidMatches: JSON.parse(state.stdout).pid === app.info.pid } : state.stderr;
  out.appCgroupUnderPod = appCgroup === `${pod.linux.cgroup_parent}/${app.id}`;
  out.namespaces = Object.fromEntries(['net', 'ipc', 'uts', 'pid', 'mnt'].map((n) => [n, ns(app.info.pid, n) === ns(sandbox.info.pid, n) ? 'shared' : 'own']));
  const inside = await execSync(app.id, ['sh', '-c', 'hostname; readlink /proc/self/ns/net; cat /proc/1/cmdline | tr "\\0" " "; echo; ls /sys/class/net']);
  const [hostname, netns, pid1, ...links] = inside.stdout.trim().split('\n');
  captured(handler, 'cri-exec-process', 'process');
  out.execView = { hostname, netnsMatchesHost: netns === ns(sandbox.info.pid, 'net'), pid1: pid1.trim(), links };
  out.limits = {
    memory: Number(cgroupFile('memory', appCgroup, 'memory.limit_in_bytes')),
    shares: Number(cgroupFile('cpu', appCgroup, 'cpu.shares')),
    quota: Number(cgroupFile('cpu', appCgroup, 'cpu.cfs_quota_us')),
    period: Number(cgroupFile('cpu', appCgroup, 'cpu.cfs_period_us')),
    procsInCgroup: cgroupFile('memory', appCgroup, 'cgroup.procs').split('\n').includes(String(app.info.pid)),
  };
  out.execSync = await execSync(app.id, ['sh', '-c', 'echo out; echo err >&2; exit 3']);
  out.execTimeout = await execSync(app.id, ['sleep', '5'], 1).then(
    (r) => ({ ok: r }),
    (err: Error) => ({ error: /timeout|deadline/i.test(err.message) }),
  );
  await cri().UpdateContainerResources({ container_id: app.id, linux: { memory_limit_in_bytes: 128 * MiB, cpu_shares: 256, cpu_quota: 40_000, cpu_period: 100_000 } });
  out.updated = { memory: Number(cgroupFile('memory', appCgroup, 'memory.limit_in_bytes')), shares: Number(cgroupFile('cpu', appCgroup, 'cpu.shares')), quota: Number(cgroupFile('cpu', appCgroup, 'cpu.cfs_quota_us')) };

  // A second app in the same pod shares the pod's network with the first.
  const second = await startApp(sandbox.id, pod, containerConfig('second', ['exec sleep 300']));
  out.secondSharesNet = ns(second.info.pid, 'net') === ns(app.info.pid, 'net');
  // A container that exits with a code, then its next attempt in the same pod.
  const once = await startApp(sandbox.id, pod, containerConfig('once', ['echo first; exit 7']));
  const exited = await waitExited(once.id);
  out.onceExit = { code: exited.exit_code, reason: exited.reason };
  await cri().RemoveContainer({ container_id: once.id });
  const again = await startApp(sandbox.id, pod, containerConfig('once', ['echo second; exit 0'], {}, 1));
  out.againExit = (await waitExited(again.id)).exit_code;

  // The CRI log files: "<RFC3339Nano> <stream> F <line>" per line.
  const logLines = (name: string, attempt = 0) =>
    fs.readFileSync(path.join(pod.log_directory, name, `${attempt}.log`), 'utf8').trim().split('\n').map((l) => {
      const m = /^(\S+) (stdout|stderr) ([FP]) (.*)$/.exec(l);
      return m && !Number.isNaN(Date.parse(m[1])) ? `${m[2]} ${m[3]} ${m[4]}` : `malformed: ${l}`;
    });
  await new Promise((r) => setTimeout(r, 200));
  out.logs = { app: logLines('app').sort(), once: logLines('once'), again: logLines('once', 1) };

  // Stop: sleep as its namespace's pid 1 ignores SIGTERM, so the timeout ends in SIGKILL.
  const stopStarted = Date.now();
  await cri().StopContainer({ container_id: app.id, timeout: 2 });
  const stopped = await waitExited(app.id);
  out.stop = { exitCode: stopped.exit_code, waitedForTimeout: Date.now() - stopStarted >= 1_500 };
  const removed: { id: string; pid: number; cgroup: string }[] = [];
  for (const c of [app, second, again]) {
    await cri().StopContainer({ container_id: c.id, timeout: 0 });
    await cri().RemoveContainer({ container_id: c.id });
    removed.push({ id: c.id, pid: c.info.pid, cgroup: c.info.runtimeSpec.linux.cgroupsPath });
  }
  await cri().StopPodSandbox({ pod_sandbox_id: sandbox.id });
  await cri().RemovePodSandbox({ pod_sandbox_id: sandbox.id });
  const netnsPath: string = sandbox.info.runtimeSpec.linux.namespaces.find((n: any) => n.type === 'network').path;
  out.leftovers = [
    ...removed.flatMap((c) => leftoversOf(c.id, c.pid, c.cgroup)),
    ...leftoversOf(sandbox.id, sandbox.info.pid, sandbox.info.runtimeSpec.linux.cgroupsPath),
    ...(fs.existsSync(netnsPath) ? [`netns ${netnsPath}`] : []),
  ];
  return out;
}

/** A pod that shares one pid namespace: the app sees the pause process as pid 1. */
async function sharedPidScenario(handler: Handler) {
  const pod = podConfig(handler, 'shared', true);
  const sandbox = await runPod(pod, handler);
  const config = containerConfig('app', ['exec sleep 300']);
  config.linux.security_context.namespace_options.pid = 'POD';
  const app = await startApp(sandbox.id, pod, config);
  const out = {
    pidShared: ns(app.info.pid, 'pid') === ns(sandbox.info.pid, 'pid'),
    pid1: (await execSync(app.id, ['sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "'])).stdout.trim(),
  };
  await cri().StopContainer({ container_id: app.id, timeout: 0 });
  await cri().RemoveContainer({ container_id: app.id });
  await cri().StopPodSandbox({ pod_sandbox_id: sandbox.id });
  await cri().RemovePodSandbox({ pod_sandbox_id: sandbox.id });
  return { ...out, leftovers: [...leftoversOf(app.id, app.info.pid, app.info.runtimeSpec.linux.cgroupsPath), ...leftoversOf(sandbox.id, sandbox.info.pid, sandbox.info.runtimeSpec.linux.cgroupsPath)] };
}

describe('Kubernetes CRI through containerd', () => {
  it('runs a pod: shared namespaces, limits, ExecSync, logs, update, restart, stop and removal, as runc does', async () => {
    const mine = await mainScenario('ocirun');
    const theirs = await mainScenario('runc');
    expect(mine).toEqual(theirs);
    expect(mine).toEqual({
      runtimeState: { status: 'running', pidMatches: true },
      appCgroupUnderPod: true,
      namespaces: { net: 'shared', ipc: 'shared', uts: 'shared', pid: 'own', mnt: 'own' },
      execView: { hostname: 'main-pod', netnsMatchesHost: true, pid1: 'sleep 300', links: ['lo'] },
      limits: { memory: 64 * MiB, shares: 512, quota: 20_000, period: 100_000, procsInCgroup: true },
      execSync: { exitCode: 3, stdout: 'out\n', stderr: 'err\n' },
      execTimeout: { error: true },
      updated: { memory: 128 * MiB, shares: 256, quota: 40_000 },
      secondSharesNet: true,
      onceExit: { code: 7, reason: 'Error' },
      againExit: 0,
      logs: { app: ['stderr F line2', 'stdout F line1'], once: ['stdout F first'], again: ['stdout F second'] },
      stop: { exitCode: 137, waitedForTimeout: true },
      leftovers: [],
    });
  }, 240_000);

  it('runs a pod whose containers share the sandbox pid namespace, as runc does', async () => {
    const mine = await sharedPidScenario('ocirun');
    const theirs = await sharedPidScenario('runc');
    expect(mine).toEqual(theirs);
    expect(mine).toEqual({ pidShared: true, pid1: '/pause', leftovers: [] });
  }, 120_000);
});
