// Docker (Debian's docker.io 20.10) drives ocirun as an added runtime:
// `dockerd --add-runtime ocirun=bin/ocirun` with a private data root, exec
// root and unix socket under a temp dir (no TCP, no iptables, no bridge),
// then `docker run --runtime ocirun`. The same scenario under Debian's runc
// (dockerd's default runtime) must give the same results.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OCIRUN, startDockerd, type Dockerd } from './helpers.js';

const IMAGE = 'ocirun-test-busybox:latest';
const ulimits = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];
let dockerd: Dockerd;
const docker = (args: string[], timeout = 60_000) => dockerd.docker(args, timeout);

beforeAll(async () => {
  dockerd = await startDockerd({ ocirun: OCIRUN }, IMAGE);
}, 120_000);

afterAll(() => dockerd?.stop(), 60_000);

describe('docker run --runtime ocirun', () => {
  const view = 'id; grep -E "^(CapBnd|CapEff|NoNewPrivs|Seccomp):" /proc/self/status; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; touch /x 2>&1; touch /tmp/y && echo tmp-writable; hostname';
  const flags = [...ulimits, '--hostname', 'dtest', '--memory', '16m', '--pids-limit', '20', '--cap-drop', 'all', '--cap-add', 'KILL', '--read-only', '--tmpfs', '/tmp', '--user', '1000:1000', '--network', 'none', '--security-opt', 'no-new-privileges'];

  it('run --rm: the configured view inside is the same as under runc', () => {
    const mine = docker(['run', '--rm', '--runtime', 'ocirun', ...flags, IMAGE, 'sh', '-c', view]);
    const theirs = docker(['run', '--rm', '--runtime', 'runc', ...flags, IMAGE, 'sh', '-c', view]);
    expect(mine.status, mine.stderr).toBe(0);
    expect(theirs.status, theirs.stderr).toBe(0);
    expect(mine.stdout).toBe(theirs.stdout);
    expect(mine.stdout).toMatch(/^uid=1000 gid=1000/);
    // Docker leaves a non-root user no effective capabilities; the bounding set is the configured one.
    expect(mine.stdout).toMatch(/CapEff:\s+0000000000000000\nCapBnd:\s+0000000000000020\nNoNewPrivs:\s+1\nSeccomp:\s+2\n/);
    expect(mine.stdout).toMatch(/\n16777216\n20\n.*Read-only file system\ntmp-writable\ndtest\n$/s);
  });

  it('passes the exit status through', () => {
    expect(docker(['run', '--rm', '--runtime', 'ocirun', ...ulimits, IMAGE, 'sh', '-c', 'exit 3']).status).toBe(3);
  });

  it('run -d, exec, top, pause/unpause, stats, stop, rm: the same as under runc', () => {
    const scenario = (runtime: string) => {
      const out: Record<string, unknown> = {};
      const run = docker(['run', '-d', '--runtime', runtime, ...ulimits, IMAGE, 'sleep', '300']);
      expect(run.status, run.stderr).toBe(0);
      const id = run.stdout.trim();
      try {
        const exec = docker(['exec', '-u', '1000:1000', '-e', 'X=1', '-w', '/tmp', id, 'sh', '-c', 'id; echo $X; pwd; tr "\\0" " " </proc/1/cmdline; echo; exit 4']);
        out.exec = { status: exec.status, stdout: exec.stdout };
        out.top = docker(['top', id]).stdout.includes('sleep 300');
        out.pause = docker(['pause', id]).status;
        out.paused = docker(['inspect', '-f', '{{.State.Status}}', id]).stdout.trim();
        out.unpause = docker(['unpause', id]).status;
        out.running = docker(['inspect', '-f', '{{.State.Status}}', id]).stdout.trim();
        const stats = docker(['stats', '--no-stream', '--format', '{{.MemUsage}} {{.PIDs}}', id]);
        out.stats = { status: stats.status, shape: /^[\d.]+[KMG]i?B \/ [\d.]+[KMGT]i?B 1$/.test(stats.stdout.trim()) };
        out.stop = docker(['stop', '-t', '1', id]).status;
        out.exited = docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', id]).stdout.trim();
      } finally {
        out.rm = docker(['rm', '-f', id]).status;
      }
      return out;
    };
    const mine = scenario('ocirun');
    expect(mine).toEqual(scenario('runc'));
    expect(mine).toEqual({
      exec: { status: 4, stdout: 'uid=1000 gid=1000 groups=1000\n1\n/tmp\nsleep 300 \n' },
      top: true,
      pause: 0,
      paused: 'paused',
      unpause: 0,
      running: 'running',
      stats: { status: 0, shape: true },
      stop: 0,
      // sleep as pid 1 has no SIGTERM handler: stop kills it after the 1 s.
      exited: 'exited 137',
      rm: 0,
    });
  });
});
