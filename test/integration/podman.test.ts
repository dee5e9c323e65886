// podman (Debian's 4.3) drives ocirun for real, and the same scenario under
// Debian's runc must look the same. These VMs refuse raising hard rlimits,
// hence the --ulimit flags (runc needs them too).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureImage, OCIRUN, TEST_IMAGE } from './helpers.js';

const ocirun = OCIRUN;
const runc = execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim();
const image = TEST_IMAGE;
const ulimits = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];

function podman(runtime: string, args: string[], timeout = 60_000) {
  return spawnSync('podman', ['--runtime', runtime, ...args], { encoding: 'utf8', timeout });
}

beforeAll(() => ensureImage(image));

describe('podman run --rm', () => {
  const view = 'id; grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; touch /x 2>&1; touch /tmp/y && echo tmp-writable; hostname';
  // 16m: runc's own init is OOM-killed now and then at 4m on these machines.
  const args = ['run', '--rm', ...ulimits, '--hostname', 'podtest', '--memory', '16m', '--pids-limit', '20', '--cap-drop', 'all', '--cap-add', 'CAP_KILL', '--read-only', '--user', '1000:1000', '--network', 'none', '--security-opt', 'no-new-privileges', image, 'sh', '-c', view];

  it('shows the configured view inside, the same as under runc', () => {
    const mine = podman(ocirun, args);
    const theirs = podman(runc, args);
    expect(mine.status, mine.stderr).toBe(0);
    expect(theirs.status, theirs.stderr).toBe(0);
    expect(mine.stdout).toBe(theirs.stdout);
    expect(mine.stdout).toMatch(/^uid=1000\(1000\) gid=1000\(1000\)/);
    expect(mine.stdout).toMatch(/CapEff:\s+0000000000000020/);
    expect(mine.stdout).toMatch(/Seccomp:\s+2/);
    expect(mine.stdout).toMatch(/\n16777216\n20\n.*Read-only file system\ntmp-writable\npodtest\n$/s);
    expect(mine.stderr).toBe('');
  });

  it('starts with --memory 4m every time (the Node setup is not charged to the container)', () => {
    for (let i = 0; i < 5; i++) {
      const r = podman(ocirun, ['run', '--rm', ...ulimits, '--memory', '4m', image, 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe('4194304\n');
    }
  });

  it('passes the exit status through', () => {
    expect(podman(ocirun, ['run', '--rm', ...ulimits, image, 'sh', '-c', 'exit 3']).status).toBe(3);
  });
});

describe('podman run -d, stop, rm', () => {
  it('runs detached, is listed as running, stops and is removed without leftovers', () => {
    const run = podman(ocirun, ['run', '-d', ...ulimits, image, 'sleep', '300']);
    expect(run.status, run.stderr).toBe(0);
    const id = run.stdout.trim();
    try {
      const inspect = JSON.parse(podman(ocirun, ['inspect', id]).stdout)[0];
      expect(inspect.State.Status).toBe('running');
      const pid = inspect.State.Pid;
      expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]).toBe('sleep');
      expect(podman(ocirun, ['stop', '-t', '1', id]).status).toBe(0);
      expect(fs.existsSync(`/proc/${pid}/cmdline`) && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep')).toBe(false);
    } finally {
      podman(ocirun, ['rm', '-f', id]);
    }
    // podman's runtime state root for ocirun holds nothing of it any more.
    const stateRoots = ['/run/ocirun'].filter((d) => fs.existsSync(d));
    for (const d of stateRoots) expect(fs.readdirSync(d).filter((e) => e.startsWith(id.slice(0, 12)))).toEqual([]);
  });
});

describe('podman exec and top', () => {
  // The same exec calls in a container of each runtime; the results must match.
  function scenario(runtime: string) {
    const run = podman(runtime, ['run', '-d', ...ulimits, image, 'sleep', '300']);
    expect(run.status, run.stderr).toBe(0);
    const id = run.stdout.trim();
    try {
      const view = podman(runtime, ['exec', '-u', '1000:1000', '-e', 'X=1', '-w', '/tmp', id, 'sh', '-c', 'id; echo $X; pwd; grep -E "^(CapEff|Seccomp):" /proc/self/status; cat /proc/1/cmdline; echo']);
      const status = podman(runtime, ['exec', id, 'sh', '-c', 'exit 7']).status;
      const missing = podman(runtime, ['exec', id, 'no-such-program']);
      const top = podman(runtime, ['top', id, 'args']);
      return { view: view.stdout + view.stderr, status, missingStatus: missing.status, top: top.stdout };
    } finally {
      podman(runtime, ['rm', '-f', '-t', '0', id]);
    }
  }

  it('runs processes in the container as under runc', () => {
    const mine = scenario(ocirun);
    const theirs = scenario(runc);
    expect(mine).toEqual(theirs);
    expect(mine.view).toMatch(/^uid=1000 gid=1000\n1\n\/tmp\nCapEff:\s+0+\nSeccomp:\s+2\nsleep.300.\n$/);
    expect(mine.status).toBe(7);
    expect(mine.missingStatus).toBe(127);
    expect(mine.top).toMatch(/COMMAND\nsleep 300 ?\n/);
  });
});

describe('podman pause, unpause, stats', () => {
  function scenario(runtime: string) {
    const run = podman(runtime, ['run', '-d', ...ulimits, '--memory', '32m', image, 'sleep', '300']);
    expect(run.status, run.stderr).toBe(0);
    const id = run.stdout.trim();
    const statusOf = () => JSON.parse(podman(runtime, ['inspect', id]).stdout)[0].State.Status;
    try {
      const pause = podman(runtime, ['pause', id]);
      const paused = statusOf();
      const unpause = podman(runtime, ['unpause', id]);
      const resumed = statusOf();
      const stats = podman(runtime, ['stats', '--no-stream', '--format', '{{.MemUsage}}', id]);
      return { pause: pause.status, paused, unpause: unpause.status, resumed, statsStatus: stats.status, memLimit: stats.stdout.trim().split(' / ')[1] };
    } finally {
      podman(runtime, ['rm', '-f', '-t', '0', id]);
    }
  }

  it('pauses and resumes as under runc, and stats sees the limit', () => {
    const mine = scenario(ocirun);
    expect(mine).toEqual(scenario(runc));
    expect(mine).toEqual({ pause: 0, paused: 'paused', unpause: 0, resumed: 'running', statsStatus: 0, memLimit: '33.55MB' });
  });
});

describe('podman --uidmap/--gidmap and --security-opt seccomp=FILE', () => {
  it('runs in a user namespace with the given maps, as under runc', () => {
    const args = ['run', '--rm', ...ulimits, '--uidmap', '0:200000:65536', '--gidmap', '0:200000:65536', image, 'sh', '-c', 'id; cat /proc/self/uid_map /proc/self/gid_map; ls -ln /bin/busybox'];
    const mine = podman(ocirun, args);
    const theirs = podman(runc, args);
    expect(mine.status, mine.stderr).toBe(0);
    expect(mine.stdout).toBe(theirs.stdout);
    // Root inside, 200000 outside; the image's files are owned by the mapped root.
    expect(mine.stdout).toMatch(/^uid=0 gid=0\n\s+0\s+200000\s+65536\n\s+0\s+200000\s+65536\n-rwxr-xr-x\s+1 0\s+0 /);
  });

  it('loads a seccomp profile from a file, as under runc', () => {
    const profile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-seccomp-')), 'profile.json');
    fs.writeFileSync(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] }));
    try {
      const args = ['run', '--rm', ...ulimits, '--security-opt', `seccomp=${profile}`, image, 'sh', '-c', 'mkdir /tmp/x 2>&1; echo "mkdir=$?"; touch /tmp/y && echo touch-ok; grep Seccomp: /proc/self/status'];
      const mine = podman(ocirun, args);
      expect(mine.status, mine.stderr).toBe(0);
      expect(mine.stdout).toBe(podman(runc, args).stdout);
      expect(mine.stdout).toMatch(/Operation not permitted\nmkdir=1\ntouch-ok\nSeccomp:\s+2\n$/);
    } finally {
      fs.rmSync(path.dirname(profile), { recursive: true, force: true });
    }
  });
});

// --userns=auto (what Kubernetes' hostUsers: false amounts to): podman
// picks a free range of the subordinate ids of its auto-userns user
// (storage.conf's root-auto-userns-user, "containers" by default). The test
// names the rootless tests' user, whose /etc/subuid range exists here
// (scripts/setup-and-test.sh makes it), in a storage.conf of its own that
// keeps the host's store.
const autoUser = process.env.OCIRUN_TEST_USER ?? 'ocirun-test';
const hasSubids = (file: string) => fs.existsSync(file) && fs.readFileSync(file, 'utf8').split('\n').some((l) => l.startsWith(`${autoUser}:`));
const autoUserns = hasSubids('/etc/subuid') && hasSubids('/etc/subgid');
(autoUserns || process.env.CI === 'true' ? describe : describe.skip)('podman --userns=auto and exec', () => {
  function scenario(runtime: string, storageConf: string) {
    const env = { ...process.env, CONTAINERS_STORAGE_CONF: storageConf };
    const pm = (args: string[]) => spawnSync('podman', ['--runtime', runtime, ...args], { encoding: 'utf8', timeout: 60_000, env });
    const run = pm(['run', '-d', ...ulimits, '--userns=auto', image, 'sleep', '300']);
    expect(run.status, run.stderr).toBe(0);
    const id = run.stdout.trim();
    try {
      const pid = JSON.parse(pm(['inspect', id]).stdout)[0].State.Pid;
      const root = pm(['exec', id, 'sh', '-c', 'id; cat /proc/self/uid_map; readlink /proc/self/ns/user']);
      const user = pm(['exec', '-u', '1000:1000', id, 'id']);
      return { root: root.stdout + root.stderr, user: user.stdout + user.stderr, initUserns: fs.readlinkSync(`/proc/${pid}/ns/user`) };
    } finally {
      pm(['rm', '-f', '-t', '0', id]);
    }
  }

  it("execs into the container's user namespace, as under runc", () => {
    const info = JSON.parse(execFileSync('podman', ['info', '--format', 'json'], { encoding: 'utf8' })).store;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-podman-auto-'));
    const storageConf = path.join(dir, 'storage.conf');
    fs.writeFileSync(storageConf, `[storage]\ndriver = "${info.graphDriverName}"\ngraphroot = "${info.graphRoot}"\nrunroot = "${info.runRoot}"\n[storage.options]\nroot-auto-userns-user = "${autoUser}"\n`);
    try {
      const mine = scenario(ocirun, storageConf);
      const theirs = scenario(runc, storageConf);
      expect(mine.root).toMatch(/^uid=0\(root\) gid=0\(root\)|^uid=0 gid=0/);
      // Root of a namespace mapped onto the user's range, the init's namespace.
      expect(mine.root).toMatch(/^\s+0\s+\d+\s+\d+$/m);
      expect(mine.root).not.toMatch(/^\s+0\s+0\s+4294967295$/m);
      expect(mine.root.trim().split('\n').pop()).toBe(mine.initUserns);
      expect(mine.user).toMatch(/^uid=1000 gid=1000/);
      const general = (r: typeof mine) => ({ ...r, root: r.root.replace(/user:\[\d+\]/, 'user:[N]'), initUserns: undefined });
      expect(general(mine)).toEqual(general(theirs));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
