// checkpoint and restore with CRIU, for real: in the systemd qemu guest
// (scripts/systemd-vm.sh), whose 6.1 kernel suits Debian's CRIU 3.17 (this
// host's 6.18 does not: test/integration/cli.test.ts covers that case).
// Each scenario runs under ocirun and under Debian's runc in the same run,
// and what the container and the host show must be the same.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, leftovers, makeBundle, OCIRUN, waitUntil } from './helpers.js';

const runc = execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim();
const RUNTIMES = { ocirun: OCIRUN, runc };
type Name = keyof typeof RUNTIMES;
const v2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
const MiB = 2 ** 20;
let tmp: string;

beforeAll(() => {
  const check = spawnResult('criu', ['check']);
  if (!check.includes('Looks good')) throw new Error(`needs a host where CRIU works (the systemd guest): criu check said ${check}`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-cr-'));
});
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function spawnResult(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    return `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
  }
}

/** What a container printed on the pipe it was given: its numbers, and any other line. */
class Counter {
  lines: number[] = [];
  other: string[] = [];
  private rest = '';
  constructor(stream: NodeJS.ReadableStream) {
    stream.on('data', (d: Buffer) => {
      const parts = (this.rest + d.toString()).split('\n');
      this.rest = parts.pop()!;
      for (const l of parts.filter(Boolean)) {
        if (/^\d+$/.test(l)) this.lines.push(Number(l));
        else this.other.push(l);
      }
    });
  }
  get last(): number {
    return this.lines.at(-1) ?? 0;
  }
}

/**
 * Runs `runtime args` (run -d, restore -d) with pipes as stdio, as a shim
 * gives them: anonymous pipes from a shell (Node's "pipe" stdio is a socket
 * pair, which CRIU would take for an external socket, and a FIFO or
 * /dev/null is a host file it cannot find in the container). stdout and
 * stderr share one; stdin is one nobody writes. The command's exit status
 * comes down the same pipe, after what it printed.
 */
async function withPipes(runtime: string, args: string[]): Promise<{ status: number; counter: Counter; close: () => void }> {
  const child = spawn('sh', ['-c', 'sleep 100000 | { "$@" 2>&1; echo "exit-status $?"; } | cat', 'sh', runtime, ...args], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  const counter = new Counter(child.stdout!);
  const exitLine = () => counter.other.find((l) => l.startsWith('exit-status '));
  await waitUntil(() => exitLine() !== undefined, `${args.join(' ')} to exit`, 60_000);
  // The shell, its sleep and cat (their own group); the container is in a session of its own.
  return { status: Number(exitLine()!.split(' ')[1]), counter, close: () => process.kill(-child.pid!, 'SIGKILL') };
}

/** Whether the counter stops growing (1 s without a new line) within 15 s. */
async function settles(counter: Counter): Promise<boolean> {
  for (let i = 0, seen = -1; i < 15; i++, seen = counter.lines.length) {
    if (counter.lines.length === seen) return true;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return false;
}

const cgroupOf = (pid: number) => fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => (v2 ? l.startsWith('0::') : l.includes(':memory:')))!.split(':')[2];
const memoryLimit = (rel: string) => Number(fs.readFileSync(v2 ? path.join('/sys/fs/cgroup', rel, 'memory.max') : path.join('/sys/fs/cgroup/memory', rel, 'memory.limit_in_bytes'), 'utf8'));

async function scenario(name: Name) {
  const runtime = RUNTIMES[name];
  const root = path.join(tmp, `root-${name}`);
  const images = path.join(tmp, `images-${name}`);
  const id = `cr-${name}`;
  // A counter that lives in the shell's memory: a restore that started it
  // again would print 1, one that lost its pipes would print nothing.
  const bundle = makeBundle(`ocirun-cr-${name}-`, ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done'], (c) => {
    c.linux.resources = { ...c.linux.resources, memory: { limit: 64 * MiB } };
    // Beside systemd's tree, not below the test's service, which has no memory controller (cgroupfs driver).
    c.linux.cgroupsPath = `/ocirun-cr-test/${id}`;
  });
  const out: Record<string, unknown> = {};
  const run = await withPipes(runtime, ['--root', root, 'run', '-d', '--bundle', bundle, id]);
  expect(run.status, `${name} run: ${run.counter.other.join('; ')}`).toBe(0);
  await waitUntil(() => run.counter.last >= 10, `${name}: the counter to reach 10`);
  const pid = JSON.parse(cli(root, ['state', id], { runtime }).stdout).pid as number;
  const cgroup = cgroupOf(pid);

  const cp = cli(root, ['checkpoint', '--image-path', images, id], { runtime, timeout: 120_000 });
  expect(cp.status, `${name} checkpoint: ${cp.stderr}`).toBe(0);
  // Dumped: no container, no process, no cgroup; the counter stops.
  out.afterCheckpoint = { state: cli(root, ['state', id], { runtime }).status, leftovers: leftovers(root, id, bundle) };
  // What it printed before the dump may still be on its way through the pipe: then nothing more.
  out.stoppedCounting = await settles(run.counter);
  const dumpedAt = run.counter.last;
  out.images = ['descriptors.json', 'inventory.img'].filter((f) => fs.existsSync(path.join(images, f)));
  run.close();

  const restored = await withPipes(runtime, ['--root', root, 'restore', '-d', '--bundle', bundle, '--image-path', images, id]);
  expect(restored.status, `${name} restore: ${restored.counter.other.join('; ')}`).toBe(0);
  await waitUntil(() => restored.counter.lines.length >= 3, `${name}: the restored counter to print`);
  // Where it left off, on the new pipes: the next number, or the last one
  // again when it was still in the old pipe at the dump (CRIU saves a
  // pipe's unread data and writes it into the one it hands over).
  out.resumedWith = [0, 1].includes(restored.counter.lines[0] - dumpedAt) ? 'where it left off' : `${restored.counter.lines[0]} after ${dumpedAt}`;
  const state = JSON.parse(cli(root, ['state', id], { runtime }).stdout);
  out.status = state.status;
  out.sameCgroup = cgroupOf(state.pid) === cgroup;
  out.memoryLimit = memoryLimit(cgroup);
  out.psListsInit = JSON.parse(cli(root, ['ps', '--format', 'json', id], { runtime }).stdout).includes(state.pid);
  expect(cli(root, ['kill', id, 'KILL'], { runtime }).status).toBe(0);
  await waitUntil(() => JSON.parse(cli(root, ['state', id], { runtime }).stdout).status === 'stopped', `${name}: the restored init to stop`);
  expect(cli(root, ['delete', id], { runtime }).status).toBe(0);
  out.afterDelete = leftovers(root, id, bundle);
  restored.close();
  return out;
}

describe('checkpoint and restore (CRIU)', () => {
  it('dumps a running container, leaving nothing, and restores it where it left off, with its cgroup and limits, as runc', async () => {
    const mine = await scenario('ocirun');
    const theirs = await scenario('runc');
    expect(mine).toEqual({
      afterCheckpoint: { state: 1, leftovers: [] },
      stoppedCounting: true,
      images: ['descriptors.json', 'inventory.img'],
      resumedWith: 'where it left off',
      status: 'running',
      sameCgroup: true,
      memoryLimit: 64 * MiB,
      psListsInit: true,
      afterDelete: [],
    });
    expect(mine).toEqual(theirs);
  }, 300_000);
});
