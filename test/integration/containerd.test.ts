// containerd (Debian's 1.6) drives ocirun through its runc shim, with a
// private config, root, state and unix socket under a temp dir; the same
// scenario under Debian's runc must give the same results.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OCIRUN, startContainerd, TEST_IMAGE, type Containerd } from './helpers.js';

const runc = execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim();
let containerd: Containerd;
const ctr = (args: string[], timeout = 30_000) => containerd.ctr(args, timeout);

beforeAll(async () => {
  containerd = await startContainerd();
}, 120_000);
afterAll(() => containerd?.stop(), 60_000);

/** One runtime's run of the scenario, as text that must match between runtimes. */
function scenario(binary: string, tag: string) {
  const id = `ctr-${tag}-${process.pid}`;
  const out: Record<string, unknown> = {};
  const rm = ctr(['run', '--rm', '--runc-binary', binary, TEST_IMAGE, `${id}-rm`, 'sh', '-c', 'echo hi; id; grep -E "^(CapEff|NoNewPrivs):" /proc/self/status; cat /proc/1/cmdline']);
  out.runRm = { status: rm.status, stdout: rm.stdout };
  const run = ctr(['run', '-d', '--runc-binary', binary, TEST_IMAGE, id, 'sleep', '300']);
  out.runDetached = run.status;
  try {
    const exec = ctr(['task', 'exec', '--exec-id', 'e1', id, 'sh', '-c', 'echo in-exec; exit 4']);
    out.exec = { status: exec.status, stdout: exec.stdout };
    const pid = Number(/^\S+\s+(\d+)/m.exec(ctr(['task', 'ls']).stdout.split('\n').find((l) => l.startsWith(id)) ?? '')?.[1]);
    out.psHasInit = ctr(['task', 'ps', id]).stdout.includes(String(pid));
    const metrics = ctr(['task', 'metrics', id]);
    out.metrics = { status: metrics.status, keys: metrics.stdout.split('\n').map((l) => l.split(/\s+/)[0]).filter((k) => /^(memory|pids|cpuacct)\./.test(k)).sort() };
    out.pause = ctr(['task', 'pause', id]).status;
    out.pausedStatus = /\b(PAUSED|RUNNING)\b/.exec(ctr(['task', 'ls']).stdout.split('\n').find((l) => l.startsWith(id)) ?? '')?.[1];
    out.resume = ctr(['task', 'resume', id]).status;
    out.resumedStatus = /\b(PAUSED|RUNNING)\b/.exec(ctr(['task', 'ls']).stdout.split('\n').find((l) => l.startsWith(id)) ?? '')?.[1];
    out.kill = ctr(['task', 'kill', '-s', 'KILL', id]).status;
    for (let i = 0; i < 50 && !/STOPPED/.test(ctr(['task', 'ls']).stdout.split('\n').find((l) => l.startsWith(id)) ?? ''); i++) spawnSync('sleep', ['0.1']);
    const logFile = path.join(containerd.dir, 'state/io.containerd.runtime.v2.task/default', id, 'log.json');
    out.shimLogErrors = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').filter((l) => l.includes('"level":"error"')) : [];
    out.initGone = !fs.existsSync(`/proc/${pid}`) || !fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep');
  } finally {
    ctr(['task', 'delete', '-f', id]);
    ctr(['container', 'delete', id]);
  }
  out.leftover = ctr(['containers', 'ls', '-q']).stdout.trim();
  return out;
}

describe('containerd', () => {
  it('runs, execs, measures, pauses, kills and deletes with ocirun as with runc', () => {
    const mine = scenario(OCIRUN, 'o');
    const theirs = scenario(runc, 'r');
    expect(mine).toEqual(theirs);
    expect(mine).toMatchObject({
      runRm: { status: 0 },
      runDetached: 0,
      exec: { status: 4, stdout: 'in-exec\n' },
      psHasInit: true,
      pause: 0,
      pausedStatus: 'PAUSED',
      resume: 0,
      resumedStatus: 'RUNNING',
      kill: 0,
      shimLogErrors: [],
      initGone: true,
      leftover: '',
    });
    expect((mine.runRm as { stdout: string }).stdout).toMatch(/^hi\nuid=0 gid=0/);
    expect((mine.metrics as { keys: string[] }).keys).toEqual(expect.arrayContaining(['memory.usage_in_bytes', 'pids.current']));
  }, 180_000);
});
