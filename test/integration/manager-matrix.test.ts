// What podman, Docker and containerd (ctr) really send a runtime, for a matrix of
// their common flags: each case runs under ocirun and under runc, through a
// wrapper that captures the config.json (and exec process file) the manager
// hands the runtime before running it. ocirun must accept every one, and
// what the program inside observes must be what it observes under runc.
// The captured configs are the test corpus: written to $OCIRUN_CORPUS_DIR
// (default .corpus/ in the checkout), regenerated on every run, never
// committed, so a new manager version is covered by running this again.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfsTar, captureWrapper, ensureImage, keepInCorpus, OCIRUN, startContainerd, startDockerd, TEST_IMAGE, type Containerd, type Dockerd } from './helpers.js';

const RUNC = spawnSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).stdout.trim();
const ulimits = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-matrix-'));
fs.chmodSync(work, 0o755);

const wrappers = { ocirun: captureWrapper(path.join(work, 'captures', 'ocirun'), OCIRUN), runc: captureWrapper(path.join(work, 'captures', 'runc'), RUNC) };
type Runtime = keyof typeof wrappers;
const takeCapture = (rt: Runtime, kind: 'config' | 'process') => wrappers[rt].take(kind);
const keep = keepInCorpus;

/**
 * What the program sees, in lines that do not depend on the run: ids,
 * capabilities, seccomp, limits, cwd, its mounts (point, type, ro/rw) and
 * /dev. `extra` adds what a case is about.
 */
const VIEW = [
  'id', 'pwd', 'grep -E "^(CapBnd|CapEff|CapInh|NoNewPrivs|Seccomp):" /proc/self/status',
  'echo "nofile $(ulimit -n) nproc $(ulimit -u) oom $(cat /proc/self/oom_score_adj)"',
  'while read src mp t o rest; do echo "mount $mp $t ${o%%,*}"; done < /proc/self/mounts | sort',
  'echo "dev $(ls /dev | tr "\\n" " ")"',
  'for f in memory/memory.limit_in_bytes pids/pids.max cpu/cpu.cfs_quota_us cpu/cpu.shares cpuset/cpuset.cpus; do echo "$f $(cat /sys/fs/cgroup/$f 2>&1)"; done',
].join('; ');

interface Outcome {
  status: number | null;
  out: string;
}

/** Replaces what differs from run to run (the container's id and hostname) with fixed words. */
function normalized(r: SpawnSyncReturns<string>, id: string): Outcome {
  let out = `${r.stdout}${r.stderr}`;
  if (id) out = out.split(id).join('<ID>').split(id.slice(0, 12)).join('<SHORT-ID>');
  return { status: r.status, out };
}

beforeAll(() => {
  expect(RUNC, 'runc is needed to compare with').not.toBe('');
  ensureImage();
});
afterAll(() => {
  spawnSync('podman', ['volume', 'rm', '-f', 'ocirun-matrix-vol']);
  spawnSync('umount', ['-R', '-l', work]);
  fs.rmSync(work, { recursive: true, force: true });
});

interface Case {
  name: string;
  flags: string[];
  extra?: string;
  /** Status the program ends with (default 0). */
  status?: number;
  /** When both runtimes refuse the config: only the status is compared (the error texts are each runtime's). */
  refused?: boolean;
}

function hostFiles(): { data: string; envFile: string } {
  const data = path.join(work, 'data');
  fs.mkdirSync(data, { recursive: true });
  fs.writeFileSync(path.join(data, 'hello'), 'from the host\n');
  const envFile = path.join(work, 'env-file');
  fs.writeFileSync(envFile, 'FROM_FILE=yes\nOTHER=2\n');
  return { data, envFile };
}
const host = hostFiles();

/** The flags both podman and Docker take, with the same meaning. */
const COMMON: Case[] = [
  { name: 'plain', flags: [] },
  { name: 'device', flags: ['--device', '/dev/fuse'], extra: 'ls -l /dev/fuse | cut -c1-10; head -c0 /dev/fuse && echo fuse-open' },
  { name: 'volume', flags: ['-v', `${host.data}:/data`], extra: 'cat /data/hello; touch /data/written && echo written' },
  { name: 'volume-ro', flags: ['-v', `${host.data}:/data:ro`], extra: 'cat /data/hello; touch /data/x 2>&1 | cut -d: -f3' },
  { name: 'mount-bind-ro', flags: ['--mount', `type=bind,src=${host.data},dst=/m,ro`], extra: 'cat /m/hello; touch /m/x 2>&1 | cut -d: -f3' },
  { name: 'tmpfs', flags: ['--tmpfs', '/scratch:size=4m'], extra: 'grep " /scratch " /proc/self/mounts | cut -d" " -f3,4' },
  { name: 'sysctl', flags: ['--sysctl', 'net.ipv4.ip_forward=1'], extra: 'cat /proc/sys/net/ipv4/ip_forward' },
  { name: 'shm-size', flags: ['--shm-size', '32m'], extra: 'grep " /dev/shm " /proc/self/mounts | cut -d" " -f3,4' },
  { name: 'read-only', flags: ['--read-only'], extra: 'touch /x 2>&1 | cut -d: -f3; touch /tmp/y 2>/dev/null && echo tmp-writable || echo tmp-read-only' },
  { name: 'cpus', flags: ['--cpus', '0.5'] },
  { name: 'cpuset-cpus', flags: ['--cpuset-cpus', '0'] },
  { name: 'memory', flags: ['--memory', '16m'] },
  { name: 'memory-oom', flags: ['--memory', '16m'], extra: 's=x; while true; do s="$s$s"; done', status: 137 },
  { name: 'pids-limit', flags: ['--pids-limit', '20'] },
  { name: 'pid-host', flags: ['--pid', 'host'], extra: 'cat /proc/1/comm' },
  { name: 'ipc-host', flags: ['--ipc', 'host'], extra: `echo "ipc $(readlink /proc/self/ns/ipc)"; echo "host ${fs.readlinkSync('/proc/self/ns/ipc')}"` },
  { name: 'uts-host', flags: ['--uts', 'host'], extra: 'hostname' },
  { name: 'cgroupns-host', flags: ['--cgroupns', 'host'], extra: 'sort /proc/self/cgroup' },
  { name: 'cap-drop-all', flags: ['--cap-drop', 'all'] },
  { name: 'cap-add', flags: ['--cap-add', 'SYS_ADMIN'] },
  { name: 'group-add', flags: ['--group-add', '123'] },
  { name: 'user', flags: ['--user', '1000:1000'] },
  { name: 'oom-score-adj', flags: ['--oom-score-adj', '500'] },
  { name: 'seccomp-unconfined', flags: ['--security-opt', 'seccomp=unconfined'] },
  { name: 'no-new-privileges', flags: ['--security-opt', 'no-new-privileges'] },
  { name: 'ulimit', flags: ['--ulimit', 'nofile=500:1000'] },
  { name: 'env-file', flags: ['--env-file', host.envFile], extra: 'echo "$FROM_FILE $OTHER"' },
  { name: 'workdir', flags: ['--workdir', '/tmp'] },
  { name: 'hostname', flags: ['--hostname', 'matrix-host'], extra: 'hostname; grep -c matrix-host /etc/hostname' },
  { name: 'add-host', flags: ['--add-host', 'matrix.example:10.9.8.7'], extra: 'grep matrix.example /etc/hosts' },
  { name: 'tty', flags: ['-t'], extra: 'tty; stty size >/dev/null && echo has-size' },
  { name: 'stop-signal', flags: ['--stop-signal', 'SIGUSR1'] },
];

const PODMAN_ONLY: Case[] = [
  // The busybox image has no libc: a static tini (podman's catatonit is not packaged here).
  { name: 'init', flags: ['--init', '--init-path', '/usr/bin/tini-static'], extra: 'cat /proc/1/cmdline | tr "\\0" " "; echo' },
  { name: 'privileged', flags: ['--privileged'], extra: 'ls /dev/fuse /dev/null; cat /proc/sys/kernel/hostname >/dev/null && echo sysctl-readable' },
  { name: 'volume-z', flags: ['-v', `${host.data}:/data:z`], extra: 'cat /data/hello' },
  { name: 'named-volume', flags: ['-v', 'ocirun-matrix-vol:/vol'], extra: 'touch /vol/f && ls /vol' },
  { name: 'label-disable', flags: ['--security-opt', 'label=disable'] },
];

const DOCKER_ONLY: Case[] = [
  { name: 'init', flags: ['--init'], extra: 'cat /proc/1/cmdline | tr "\\0" " "; echo' },
  // podman refuses --dns with --network none before it calls a runtime; Docker takes it.
  { name: 'dns', flags: ['--dns', '10.9.8.53'], extra: 'grep nameserver /etc/resolv.conf' },
  // Docker grants every capability; root on these VMs lacks CAP_SYS_RESOURCE in its bounding
  // set, so both runtimes fail to set them (podman grants only what it holds, above).
  { name: 'privileged', flags: ['--privileged'], status: 125, refused: true },
  { name: 'named-volume', flags: ['-v', 'ocirun-matrix-vol:/vol'], extra: 'touch /vol/f && ls /vol' },
];

function runCase(manager: (rt: Runtime, args: string[]) => SpawnSyncReturns<string>, prefix: string, c: Case, image: string): void {
  const outcomes: Partial<Record<Runtime, Outcome>> = {};
  for (const rt of ['ocirun', 'runc'] as const) {
    const cidfile = path.join(work, `${prefix}-${c.name}-${rt}.cid`);
    fs.rmSync(cidfile, { force: true });
    const r = manager(rt, ['run', '--rm', '--cidfile', cidfile, ...ulimits, '--network', 'none', ...c.flags, image, 'sh', '-c', c.extra ? `${VIEW}; ${c.extra}` : VIEW]);
    const id = fs.existsSync(cidfile) ? fs.readFileSync(cidfile, 'utf8').trim() : '';
    outcomes[rt] = normalized(r, id);
    const config = takeCapture(rt, 'config');
    if (rt === 'ocirun') {
      expect(config, `${prefix} ${c.name}: the manager called the runtime`).toBeDefined();
      keep(`${prefix}-${c.name}`, config);
    }
  }
  expect(outcomes.runc!.status, `runc: ${outcomes.runc!.out}`).toBe(c.status ?? 0);
  expect(outcomes.ocirun!.status, `ocirun: ${outcomes.ocirun!.out}`).toBe(c.status ?? 0);
  if (c.refused) expect(outcomes.ocirun!.out).toMatch(/OCI runtime create failed: .*: .*\(E[A-Z]+\)/);
  else expect(outcomes.ocirun!.out).toBe(outcomes.runc!.out);
}

describe('podman: a matrix of run flags, under ocirun as under runc', () => {
  // Default rlimits these VMs allow, for what podman starts without --ulimit (the pod's infra container).
  const containersConf = path.join(work, 'containers.conf');
  fs.writeFileSync(containersConf, '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n');
  // In the work directory: conmon writes an empty file "oom" into its
  // working directory when the container is OOM-killed (memory-oom), under
  // either runtime; from the checkout's top level that file was once
  // committed by accident.
  const podman = (rt: Runtime, args: string[]) => spawnSync('podman', ['--runtime', wrappers[rt].bin, ...args], { encoding: 'utf8', timeout: 60_000, cwd: work, env: { ...process.env, CONTAINERS_CONF: containersConf } });
  const INFRA_IMAGE = 'localhost/ocirun-test-infra:latest';
  beforeAll(() => {
    spawnSync('podman', ['volume', 'create', 'ocirun-matrix-vol']);
    const tar = path.join(work, 'infra.tar');
    busyboxRootfsTar(tar);
    const imported = spawnSync('podman', ['import', '-q', '--change', 'CMD ["sleep", "1000"]', tar, INFRA_IMAGE], { encoding: 'utf8' });
    expect(imported.status, imported.stderr).toBe(0);
  });
  for (const c of [...COMMON, ...PODMAN_ONLY]) it(c.name, () => runCase(podman, 'podman', c, TEST_IMAGE));

  it('a detached container: top, exec -u, logs, update, healthcheck, restart, stop, rm', () => {
    const seen: Partial<Record<Runtime, string[]>> = {};
    for (const rt of ['ocirun', 'runc'] as const) {
      const name = `ocirun-matrix-${rt}`;
      const steps: string[] = [];
      try {
        const run = podman(rt, ['run', '-d', '--name', name, ...ulimits, '--network', 'none', '--memory', '32m', '--health-cmd', 'true', TEST_IMAGE, 'sh', '-c', 'echo started; trap "exit 0" TERM; while true; do sleep 1; done']);
        expect(run.status, run.stderr).toBe(0);
        steps.push(`top ${podman(rt, ['top', name, 'args']).stdout.includes('sh -c echo started') ? 'lists the init' : 'misses it'}`);
        const ex = podman(rt, ['exec', '-u', '1000', name, 'id', '-u']);
        steps.push(`exec -u ${ex.status} ${ex.stdout.trim()}`);
        const exec = takeCapture(rt, 'process');
        if (rt === 'ocirun') keep('podman-exec-process', exec);
        steps.push(`logs ${podman(rt, ['logs', name]).stdout.trim()}`);
        steps.push(`update ${podman(rt, ['update', '--memory', '64m', name]).status}`);
        steps.push(`limit ${podman(rt, ['exec', name, 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes']).stdout.trim()}`);
        steps.push(`healthcheck ${podman(rt, ['healthcheck', 'run', name]).status}`);
        steps.push(`restart ${podman(rt, ['restart', name]).status}`);
        steps.push(`running ${podman(rt, ['inspect', '-f', '{{.State.Running}}', name]).stdout.trim()}`);
        steps.push(`stop ${podman(rt, ['stop', '-t', '5', name]).status}`);
        steps.push(`exit ${podman(rt, ['inspect', '-f', '{{.State.ExitCode}}', name]).stdout.trim()}`);
      } finally {
        steps.push(`rm ${podman(rt, ['rm', '-f', name]).status}`);
        takeCapture(rt, 'config');
      }
      seen[rt] = steps;
    }
    expect(seen.ocirun).toEqual(['top lists the init', 'exec -u 0 1000', 'logs started', 'update 0', `limit ${64 * 2 ** 20}`, 'healthcheck 0', 'restart 0', 'running true', 'stop 0', 'exit 0', 'rm 0']);
    expect(seen.ocirun).toEqual(seen.runc);
  });

  it('--pod: the container joins the infra container\'s namespaces by path', () => {
    const seen: Partial<Record<Runtime, string>> = {};
    for (const rt of ['ocirun', 'runc'] as const) {
      const pod = 'ocirun-matrix-pod';
      // The infra container: the busybox image whose command is a sleep,
      // instead of a pause image (none is pulled here), with the rlimits
      // these VMs allow (containers.conf: pod create takes no --ulimit).
      const created = podman(rt, ['pod', 'create', '--name', pod, '--network', 'none', '--infra-image', INFRA_IMAGE]);
      expect(created.status, created.stderr).toBe(0);
      try {
        const r = podman(rt, ['run', '--rm', '--pod', pod, ...ulimits, TEST_IMAGE, 'sh', '-c', 'hostname; readlink /proc/self/ns/pid | cut -c1-4']);
        expect(r.status, r.stderr).toBe(0);
        seen[rt] = r.stdout;
        const config = takeCapture(rt, 'config') as { linux: { namespaces: { type: string; path?: string }[] } };
        if (rt === 'ocirun') {
          keep('podman-pod-member', config);
          expect(config.linux.namespaces.filter((n) => n.path).map((n) => n.type).sort()).toEqual(expect.arrayContaining(['ipc', 'uts']));
        }
      } finally {
        spawnSync('podman', ['pod', 'rm', '-f', pod]);
      }
    }
    // The UTS namespace is the pod's: its name is the pod's hostname.
    expect(seen.ocirun).toBe('ocirun-matrix-pod\npid:\n');
    expect(seen.ocirun).toBe(seen.runc);
  });
});

describe('docker: a matrix of run flags, under ocirun as under runc', () => {
  let dockerd: Dockerd;
  const IMAGE = 'ocirun-test-busybox:latest';
  beforeAll(async () => {
    dockerd = await startDockerd({ 'ocirun-capture': wrappers.ocirun.bin, 'runc-capture': wrappers.runc.bin }, IMAGE);
  }, 120_000);
  afterAll(() => dockerd?.stop(), 60_000);
  const docker = (rt: Runtime, args: string[]) => dockerd.docker([args[0], '--runtime', `${rt}-capture`, ...args.slice(1)]);
  for (const c of [...COMMON, ...DOCKER_ONLY]) it(c.name, () => runCase(docker, 'docker', c, IMAGE));

  it('a detached container: top, exec -u, logs, update, restart, stop', () => {
    const seen: Partial<Record<Runtime, string[]>> = {};
    for (const rt of ['ocirun', 'runc'] as const) {
      const d = (args: string[]) => dockerd.docker(args);
      const run = docker(rt, ['run', '-d', ...ulimits, '--network', 'none', '--memory', '32m', IMAGE, 'sh', '-c', 'echo started; trap "exit 0" TERM; while true; do sleep 1; done']);
      expect(run.status, run.stderr).toBe(0);
      const id = run.stdout.trim();
      const steps: string[] = [];
      try {
        steps.push(`top ${d(['top', id]).stdout.includes('echo started') ? 'lists the init' : 'misses it'}`);
        const ex = d(['exec', '-u', '1000', id, 'id', '-u']);
        steps.push(`exec -u ${ex.status} ${ex.stdout.trim()}`);
        const exec = takeCapture(rt, 'process');
        if (rt === 'ocirun') keep('docker-exec-process', exec);
        steps.push(`logs ${d(['logs', id]).stdout.trim().split('\n')[0]}`);
        steps.push(`update ${d(['update', '--memory', '64m', '--memory-swap', '128m', id]).status}`);
        steps.push(`limit ${d(['exec', id, 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes']).stdout.trim()}`);
        steps.push(`restart ${d(['restart', '-t', '5', id]).status}`);
        steps.push(`running ${d(['inspect', '-f', '{{.State.Running}}', id]).stdout.trim()}`);
        steps.push(`stop ${d(['stop', '-t', '5', id]).status}`);
        steps.push(`exit ${d(['inspect', '-f', '{{.State.ExitCode}}', id]).stdout.trim()}`);
      } finally {
        steps.push(`rm ${d(['rm', '-f', id]).status}`);
        takeCapture(rt, 'config');
      }
      seen[rt] = steps;
    }
    expect(seen.ocirun).toEqual(['top lists the init', 'exec -u 0 1000', 'logs started', 'update 0', `limit ${64 * 2 ** 20}`, 'restart 0', 'running true', 'stop 0', 'exit 0', 'rm 0']);
    expect(seen.ocirun).toEqual(seen.runc);
  });
});

/**
 * ctr's own flags for the same ideas (containerd 1.6's `ctr run`). Not
 * --no-pivot: with it, ctr 1.6 replaces the runtime options that carry
 * --runc-binary, and runs Debian's runc whatever the test asks.
 */
const CTR: Case[] = [
  { name: 'plain', flags: [] },
  { name: 'memory-limit', flags: ['--memory-limit', String(32 * 2 ** 20)] },
  { name: 'cpus', flags: ['--cpus', '0.5'] },
  { name: 'cpu-shares', flags: ['--cpu-shares', '512'] },
  { name: 'cpu-quota-period', flags: ['--cpu-quota', '20000', '--cpu-period', '100000'] },
  { name: 'cap-add', flags: ['--cap-add', 'CAP_NET_ADMIN'] },
  { name: 'cap-drop', flags: ['--cap-drop', 'CAP_CHOWN'] },
  { name: 'read-only', flags: ['--read-only'], extra: 'touch /x 2>&1 | cut -d: -f3' },
  { name: 'env', flags: ['--env', 'FOO=bar', '--env-file', host.envFile], extra: 'echo "$FOO $FROM_FILE $OTHER"' },
  { name: 'cwd', flags: ['--cwd', '/tmp'] },
  { name: 'mount-bind-ro', flags: ['--mount', `type=bind,src=${host.data},dst=/m,options=rbind:ro`], extra: 'cat /m/hello; touch /m/x 2>&1 | cut -d: -f3' },
  { name: 'seccomp', flags: ['--seccomp'], extra: 'grep ^Seccomp: /proc/self/status' },
  { name: 'allow-new-privs', flags: ['--allow-new-privs'] },
  { name: 'device', flags: ['--device', '/dev/fuse'], extra: 'ls -l /dev/fuse | cut -c1-10; head -c0 /dev/fuse && echo fuse-open' },
  { name: 'net-host', flags: ['--net-host'], extra: 'readlink /proc/self/ns/net | cut -c1-4' },
  { name: 'privileged', flags: ['--privileged'], extra: 'grep ^CapEff: /proc/self/status' },
];

describe('containerd (ctr run): a matrix of its flags, under ocirun as under runc', () => {
  let containerd: Containerd;
  beforeAll(async () => {
    containerd = await startContainerd();
  }, 120_000);
  afterAll(() => containerd?.stop(), 60_000);
  for (const c of CTR) {
    it(c.name, () => {
      const outcomes: Partial<Record<Runtime, Outcome>> = {};
      for (const rt of ['ocirun', 'runc'] as const) {
        const id = `ocirun-matrix-ctr-${c.name}-${rt}`;
        const r = containerd.ctr(['run', '--rm', '--runc-binary', wrappers[rt].bin, ...c.flags, TEST_IMAGE, id, 'sh', '-c', c.extra ? `${VIEW}; ${c.extra}` : VIEW], 60_000);
        outcomes[rt] = normalized(r, id);
        const config = takeCapture(rt, 'config');
        if (rt === 'ocirun') {
          expect(config, `ctr ${c.name}: containerd called the runtime: ${outcomes[rt]!.out}`).toBeDefined();
          keep(`ctr-${c.name}`, config);
        }
      }
      expect(outcomes.runc!.status, `runc: ${outcomes.runc!.out}`).toBe(c.status ?? 0);
      expect(outcomes.ocirun!.status, `ocirun: ${outcomes.ocirun!.out}`).toBe(c.status ?? 0);
      expect(outcomes.ocirun!.out).toBe(outcomes.runc!.out);
    });
  }
});

