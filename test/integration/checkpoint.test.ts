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

/** A counting container under `name`, run detached with pipes, counted past 10. */
async function startCounter(name: Name, tag: string, script = 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done') {
  const runtime = RUNTIMES[name];
  const root = path.join(tmp, `root-${name}`);
  const id = `cr-${tag}-${name}`;
  // A counter that lives in the shell's memory: a restore that started it
  // again would print 1, one that lost its pipes would print nothing.
  const bundle = makeBundle(`ocirun-cr-${name}-`, ['sh', '-c', script], (c) => {
    c.linux.resources = { ...c.linux.resources, memory: { limit: 64 * MiB } };
    // Beside systemd's tree, not below the test's service, which has no memory controller (cgroupfs driver).
    c.linux.cgroupsPath = `/ocirun-cr-test/${id}`;
  });
  const run = await withPipes(runtime, ['--root', root, 'run', '-d', '--bundle', bundle, id]);
  expect(run.status, `${name} run: ${run.counter.other.join('; ')}`).toBe(0);
  await waitUntil(() => run.counter.last >= 10, `${name}: the counter to reach 10`);
  const pid = JSON.parse(cli(root, ['state', id], { runtime }).stdout).pid as number;
  const rt = (args: string[]) => cli(root, args, { runtime, timeout: 120_000 });
  return { runtime, root, id, bundle, run, cgroup: cgroupOf(pid), rt, images: (n: string) => path.join(tmp, `images-${tag}-${name}-${n}`) };
}

/** After a dump: no container, no process, no cgroup, and the counter has stopped; where it stopped. */
async function dumped(c: Awaited<ReturnType<typeof startCounter>>) {
  const gone = { state: c.rt(['state', c.id]).status, leftovers: leftovers(c.root, c.id, c.bundle) };
  // What it printed before the dump may still be on its way through the pipe: then nothing more.
  const stoppedCounting = await settles(c.run.counter);
  return { gone, stoppedCounting, at: c.run.counter.last };
}

/**
 * `restore -d` from `images`, then what the host and the container show:
 * where the counter went on (the next number, or the last one again when it
 * was still in the old pipe at the dump: CRIU saves a pipe's unread data
 * and writes it into the one it hands over), the status, cgroup and limit;
 * then kill and delete, and what is left.
 */
async function restoredFrom(c: Awaited<ReturnType<typeof startCounter>>, images: string, dumpedAt: number) {
  const restored = await withPipes(c.runtime, ['--root', c.root, 'restore', '-d', '--bundle', c.bundle, '--image-path', images, c.id]);
  expect(restored.status, `${c.runtime} restore: ${restored.counter.other.join('; ')}`).toBe(0);
  await waitUntil(() => restored.counter.lines.length >= 3, `${c.runtime}: the restored counter to print`);
  const first = restored.counter.lines[0];
  const state = JSON.parse(c.rt(['state', c.id]).stdout);
  const out = {
    resumed: [0, 1].includes(first - dumpedAt) ? 'where it left off' : `${first} after ${dumpedAt}`,
    status: state.status,
    sameCgroup: cgroupOf(state.pid) === c.cgroup,
    memoryLimit: memoryLimit(c.cgroup),
    psListsInit: JSON.parse(c.rt(['ps', '--format', 'json', c.id]).stdout).includes(state.pid),
  };
  expect(c.rt(['kill', c.id, 'KILL']).status).toBe(0);
  await waitUntil(() => JSON.parse(c.rt(['state', c.id]).stdout).status === 'stopped', `${c.runtime}: the restored init to stop`);
  expect(c.rt(['delete', c.id]).status).toBe(0);
  restored.close();
  return { ...out, afterDelete: leftovers(c.root, c.id, c.bundle) };
}

const RESTORED = { resumed: 'where it left off', status: 'running', sameCgroup: true, memoryLimit: 64 * MiB, psListsInit: true, afterDelete: [] };
const DUMPED = { gone: { state: 1, leftovers: [] }, stoppedCounting: true };

async function dumpAndRestore(name: Name) {
  const c = await startCounter(name, 'plain');
  const cp = c.rt(['checkpoint', '--image-path', c.images('1'), c.id]);
  expect(cp.status, `${name} checkpoint: ${cp.stderr}`).toBe(0);
  const { at, ...afterDump } = await dumped(c);
  const images = ['descriptors.json', 'inventory.img'].filter((f) => fs.existsSync(path.join(c.images('1'), f)));
  c.run.close();
  return { afterDump, images, restored: await restoredFrom(c, c.images('1'), at) };
}

/** --leave-running, then a --pre-dump, then the dump on top of it (--parent-path), restored. */
async function iterative(name: Name) {
  const c = await startCounter(name, 'iter');
  const counting = async () => {
    const before = c.run.counter.last;
    await waitUntil(() => c.run.counter.last > before + 3, `${name}: the counter to go on`);
    return c.rt(['state', c.id]).status === 0 && JSON.parse(c.rt(['state', c.id]).stdout).status;
  };
  const left = c.rt(['checkpoint', '--leave-running', '--image-path', c.images('left'), c.id]);
  expect(left.status, `${name} checkpoint --leave-running: ${left.stderr}`).toBe(0);
  const afterLeaveRunning = await counting();
  const pre = c.rt(['checkpoint', '--pre-dump', '--image-path', c.images('parent'), c.id]);
  expect(pre.status, `${name} checkpoint --pre-dump: ${pre.stderr}`).toBe(0);
  const afterPreDump = await counting();
  const final = c.rt(['checkpoint', '--parent-path', `../${path.basename(c.images('parent'))}`, '--image-path', c.images('final'), c.id]);
  expect(final.status, `${name} checkpoint --parent-path: ${final.stderr}`).toBe(0);
  const { at, ...afterDump } = await dumped(c);
  c.run.close();
  // The final image refers to its parent's pages.
  const parentLink = fs.readlinkSync(path.join(c.images('final'), 'parent'));
  return { afterLeaveRunning, afterPreDump, afterDump, parentLink: parentLink.replace(name, '<runtime>'), restored: await restoredFrom(c, c.images('final'), at) };
}

/** A foreground restore waits for the container and returns its status, then deletes it. */
async function foreground(name: Name) {
  const c = await startCounter(name, 'fg', 'i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo $i; sleep 0.1; done; exit 7');
  expect(c.rt(['checkpoint', '--image-path', c.images('1'), c.id]).status).toBe(0);
  const { at } = await dumped(c);
  c.run.close();
  const restored = await withPipes(c.runtime, ['--root', c.root, 'restore', '--bundle', c.bundle, '--image-path', c.images('1'), c.id]);
  restored.close();
  return { status: restored.status, countedTo: restored.counter.last, from: [0, 1].includes(restored.counter.lines[0] - at), leftovers: leftovers(c.root, c.id, c.bundle) };
}

const oneLine = (stderr: string) => stderr.trim().split('\n').length === 1;

/** Refusals and failures: exit 1, what is left (nothing, or the untouched container). */
async function refusals(name: Name) {
  const c = await startCounter(name, 'bad');
  const out: Record<string, unknown> = {};
  // A created container (runc's words).
  const createdId = `${c.id}-created`;
  // A cgroup of its own: the running counter's is not empty, which ocirun's create refuses, as runc 1.2+ (1.1.5 warns).
  const createdBundle = makeBundle(`ocirun-cr-${name}-created-`, ['sleep', '1000'], (cfg) => (cfg.linux.cgroupsPath = `/ocirun-cr-test/${createdId}`));
  expect(cli(c.root, ['create', '--bundle', createdBundle, createdId], { runtime: c.runtime, detached: true }).status).toBe(0);
  const created = c.rt(['checkpoint', '--image-path', c.images('created'), createdId]);
  out.created = { status: created.status, says: /cannot be checkpointed in created state/.test(created.stderr) };
  c.rt(['delete', '--force', createdId]);
  // A dump whose image then loses its inventory: CRIU fails the restore, and nothing of it stays.
  expect(c.rt(['checkpoint', '--image-path', c.images('1'), c.id]).status).toBe(0);
  await dumped(c);
  c.run.close();
  fs.rmSync(path.join(c.images('1'), 'inventory.img'));
  const broken = await withPipes(c.runtime, ['--root', c.root, 'restore', '-d', '--bundle', c.bundle, '--image-path', c.images('1'), c.id]);
  broken.close();
  out.brokenImage = { status: broken.status, leftovers: leftovers(c.root, c.id, c.bundle) };
  if (name === 'ocirun') out.brokenImageOneLine = broken.counter.other.length === 2 && /restore: criu failed: .*log file: /.test(broken.counter.other[0]);
  // An id in use.
  const other = await startCounter(name, 'bad2');
  const taken = c.rt(['restore', '-d', '--bundle', c.bundle, '--image-path', c.images('1'), other.id]);
  out.idInUse = { status: taken.status, says: /container with given ID already exists/.test(taken.stderr), stillRunning: JSON.parse(c.rt(['state', other.id]).stdout).status };
  if (name === 'ocirun') {
    // Flags this version refuses rather than ignores: one line each, the container untouched.
    for (const flags of [['--lazy-pages'], ['--empty-ns', 'ipc'], ['--manage-cgroups-mode', 'bogus'], ['--page-server', 'nope'], ['--status-fd', '5']]) {
      const r = c.rt(['checkpoint', ...flags, '--image-path', c.images('flags'), other.id]);
      out[flags.join(' ')] = { status: r.status, oneLine: oneLine(r.stderr), running: JSON.parse(c.rt(['state', other.id]).stdout).status };
    }
    const tty = c.rt(['restore', '--console-socket', '/nonexistent.sock', '--bundle', c.bundle, '--image-path', c.images('1'), `${c.id}-tty`]);
    out.consoleSocket = { status: tty.status, oneLine: oneLine(tty.stderr), state: c.rt(['state', `${c.id}-tty`]).status };
  }
  other.rt(['delete', '--force', other.id]);
  other.run.close();
  return out;
}

/**
 * A local unprivileged user (OCIRUN_TEST_USER, the host's user, which the
 * guest sees through the shared /etc/passwd) plants symlinks to a directory
 * only root can enter where root's checkpoint will put its images, and its
 * work files: what the runtime leaves in that directory.
 */
async function plantedPaths(name: Name) {
  const user = process.env.OCIRUN_TEST_USER ?? 'ocirun-test';
  const id = (flag: string) => Number(execFileSync('id', [flag, user], { encoding: 'utf8' }));
  const c = await startCounter(name, 'planted');
  const userDir = path.join(tmp, `user-${name}`);
  fs.chmodSync(tmp, 0o755); // for the user to reach its directory
  fs.mkdirSync(userDir, { mode: 0o755 });
  fs.chownSync(userDir, id('-u'), id('-g'));
  const secret = (tag: string) => {
    const dir = path.join(tmp, `secret-${tag}-${name}`);
    fs.mkdirSync(dir, { mode: 0o700 });
    return dir;
  };
  const intoImages = secret('images');
  const intoWork = secret('work');
  for (const [target, link] of [[intoImages, 'images'], [intoWork, 'work']]) execFileSync('runuser', ['-u', user, '--', 'ln', '-s', target, path.join(userDir, link)]);
  const images = c.rt(['checkpoint', '--leave-running', '--image-path', path.join(userDir, 'images'), c.id]);
  const work = c.rt(['checkpoint', '--leave-running', '--image-path', c.images('planted-work'), '--work-path', path.join(userDir, 'work'), c.id]);
  const out = {
    images: { status: images.status, written: fs.readdirSync(intoImages).sort(), error: images.stderr.trim().split('\n') },
    work: { status: work.status, written: fs.readdirSync(intoWork).sort(), error: work.stderr.trim().split('\n') },
  };
  c.rt(['delete', '-f', c.id]);
  c.run.close();
  return out;
}

describe('checkpoint and restore (CRIU)', () => {
  it('a local unprivileged user cannot have a dump or its work files put in a directory of root through a symlink, while runc follows it', async () => {
    const mine = await plantedPaths('ocirun');
    const theirs = await plantedPaths('runc');
    expect(mine.images).toMatchObject({ status: 1, written: [] });
    expect(mine.images.error).toEqual([expect.stringMatching(/create image dir: .*\/images: refusing to follow the symlink images, owned by uid \d+ .*\(ELOOP\)/)]);
    expect(mine.work).toMatchObject({ status: 1, written: [] });
    expect(mine.work.error).toEqual([expect.stringMatching(/create work dir: .*\/work: refusing to follow the symlink work, owned by uid \d+ .*\(ELOOP\)/)]);
    // runc does not resist: the images and CRIU's log land in root's directories.
    expect(theirs.images.status).toBe(0);
    expect(theirs.images.written).toContain('inventory.img');
    expect(theirs.work.status).toBe(0);
    expect(theirs.work.written).toContain('dump.log');
  }, 300_000);

  it('dumps a running container, leaving nothing, and restores it where it left off, with its cgroup and limits, as runc', async () => {
    const mine = await dumpAndRestore('ocirun');
    const theirs = await dumpAndRestore('runc');
    expect(mine).toEqual({ afterDump: DUMPED, images: ['descriptors.json', 'inventory.img'], restored: RESTORED });
    expect(mine).toEqual(theirs);
  }, 300_000);

  it('--leave-running and --pre-dump leave it running; a dump on top of the pre-dump (--parent-path) restores, as runc', async () => {
    const mine = await iterative('ocirun');
    const theirs = await iterative('runc');
    expect(mine).toEqual({ afterLeaveRunning: 'running', afterPreDump: 'running', afterDump: DUMPED, parentLink: '../images-iter-<runtime>-parent', restored: RESTORED });
    expect(mine).toEqual(theirs);
  }, 300_000);

  it('a foreground restore waits for the container, returns its exit status and deletes it, as runc', async () => {
    const mine = await foreground('ocirun');
    const theirs = await foreground('runc');
    expect(mine).toEqual({ status: 7, countedTo: 40, from: true, leftovers: [] });
    expect(mine).toEqual(theirs);
  }, 300_000);

  it('refuses a created container and an id in use, and a failed restore leaves nothing, as runc; flags it cannot honour are refused', async () => {
    const { brokenImageOneLine, ...mine } = await refusals('ocirun');
    const theirs = await refusals('runc');
    const refused = { status: 1, oneLine: true, running: 'running' };
    expect(mine).toEqual({
      created: { status: 1, says: true },
      brokenImage: { status: 1, leftovers: [] },
      idInUse: { status: 1, says: true, stillRunning: 'running' },
      '--lazy-pages': refused,
      '--empty-ns ipc': refused,
      '--manage-cgroups-mode bogus': refused,
      '--page-server nope': refused,
      '--status-fd 5': refused,
      consoleSocket: { status: 1, oneLine: true, state: 1 },
    });
    expect(brokenImageOneLine).toBe(true);
    expect({ created: mine.created, brokenImage: mine.brokenImage, idInUse: mine.idInUse }).toEqual(theirs);
  }, 300_000);
});
