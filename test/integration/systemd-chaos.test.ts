// The chaos scenarios with the systemd cgroup driver (--systemd-cgroup), in
// the qemu guest whose PID 1 is systemd (scripts/systemd-vm.sh; cgroup v2,
// and hybrid with --hybrid): the container in a transient scope, stalled
// where teardown waits on it or on systemd. A paused scope with an exec in
// flight; a process that is not the container's moved into its scope; and
// that process ignoring SIGTERM, so that systemd's stop job on the scope
// does not finish (stopScope with the unit stuck). Each scenario runs under
// ocirun and Debian's runc in the same test: the exit statuses must be
// runc's, each ocirun command within the bound, and nothing of the
// container left: no state, unit, cgroup or process.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMAND_BOUND_MS, makeBundle, OCIRUN, removeBundle, timedCommand, type TimedOutcome, systemctlShow } from './helpers.js';

const RUNC = spawnSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).stdout.trim();
const runtimes = [['ocirun', OCIRUN], ['runc', RUNC]] as const;
type Runtime = (typeof runtimes)[number];
const BOUND_MS = COMMAND_BOUND_MS;
const roots: Record<string, string> = {};

beforeAll(() => {
  if (!fs.existsSync('/run/systemd/system')) throw new Error('needs systemd as PID 1 (scripts/systemd-vm.sh)');
  expect(RUNC, 'runc is needed to compare with').not.toBe('');
  for (const [name] of runtimes) roots[name] = fs.mkdtempSync(path.join(os.tmpdir(), `sd-chaos-${name}-`));
});
afterAll(() => Object.values(roots).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** One command, killed at 60 s so that a hang is a failure (runc 1.1.5 waits up to 30 s for systemd's stop job). */
function run([name, bin]: Runtime, args: string[]): TimedOutcome {
  return timedCommand(bin, roots[name], ['--systemd-cgroup', ...args], () => 60_000);
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const unitOf = (id: string) => `sdchaos-${id}.scope`;

/** The scope's cgroup directories: the unified one (v2), or one per hierarchy (hybrid). */
function scopeDirs(unit: string): string[] {
  const rel = path.join('system.slice', unit);
  if (fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) return [path.join('/sys/fs/cgroup', rel)];
  return fs
    .readdirSync('/sys/fs/cgroup')
    .filter((d) => !fs.lstatSync(path.join('/sys/fs/cgroup', d)).isSymbolicLink())
    .map((d) => path.join('/sys/fs/cgroup', d, rel));
}

/** Processes whose cgroup is the scope's (any hierarchy). */
function pidsInScope(unit: string): number[] {
  const found: number[] = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(`/${unit}`)) found.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  return found;
}

/** What the host still has of the container: its state dir, its unit, its cgroup directories, its processes. */
function leftovers(rt: Runtime, id: string): string[] {
  const unit = unitOf(id);
  const found: string[] = [];
  if (fs.existsSync(path.join(roots[rt[0]], id))) found.push(`state dir of ${id}`);
  const load = systemctlShow(unit, ['LoadState']).LoadState;
  if (load !== 'not-found') found.push(`unit ${unit} (${load})`);
  for (const d of scopeDirs(unit)) if (fs.existsSync(d)) found.push(`cgroup ${d}`);
  for (const pid of pidsInScope(unit)) found.push(`process ${pid}`);
  return found;
}

async function settle(check: () => string[], ms = 5000): Promise<string[]> {
  let left = check();
  for (let i = 0; i < ms / 100 && left.length; i++) {
    await pause(100);
    left = check();
  }
  return left;
}

/** Alive, not a zombie: the test's own children are reaped only when its event loop runs. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const children: ChildProcess[] = [];
function killOurs(): void {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

/** A process of the test's own, not the container's, moved into the container's scope through systemd. */
async function outsider(unit: string, script: string): Promise<ChildProcess> {
  const child = spawn('sh', ['-c', script], { stdio: 'ignore' });
  children.push(child);
  const r = spawnSync('busctl', ['call', 'org.freedesktop.systemd1', '/org/freedesktop/systemd1', 'org.freedesktop.systemd1.Manager', 'AttachProcessesToUnit', 'ssau', unit, '', '1', String(child.pid)], { encoding: 'utf8' });
  expect(r.status, `attach ${child.pid} to ${unit}: ${r.stderr}`).toBe(0);
  await pause(200);
  return child;
}

interface Scenario {
  name: string;
  /** Makes the container stall; returns what runs in the background meanwhile. */
  stall: (rt: Runtime, id: string) => Promise<{ inFlight: Array<Promise<number | null>>; outsider?: ChildProcess }>;
  /** The commands run against the stalled container, in order. */
  commands: string[][];
  /** What ocirun must say beyond runc's statuses. */
  check?: (ocirun: Played) => void;
}

const scenarios: Scenario[] = [
  {
    // Frozen, with an exec in flight that joined the frozen scope: delete -f
    // kills, then thaws (runc's order), and systemd stops the scope.
    name: 'paused-exec',
    stall: async (rt, id) => {
      expect(run(rt, ['pause', id]).status).toBe(0);
      const child = spawn(rt[1], ['--root', roots[rt[0]], '--systemd-cgroup', 'exec', '--ignore-paused', id, 'echo', 'ok'], { stdio: 'ignore' });
      children.push(child);
      const ended = new Promise<number | null>((r) => child.on('exit', (code, signal) => r(signal ? -1 : code)));
      await pause(1000);
      return { inFlight: [ended] };
    },
    commands: [['state'], ['ps'], ['exec', 'true'], ['update', '--pids-limit', '200'], ['pause'], ['kill', 'KILL'], ['delete', '-f']],
  },
  {
    // Not the container's: systemd's stop of the scope ends it (SIGTERM), as under runc.
    name: 'outsider-in-scope',
    stall: async (_rt, id) => ({ inFlight: [], outsider: await outsider(unitOf(id), 'exec sleep 1000') }),
    commands: [['state'], ['ps'], ['exec', 'true'], ['update', '--pids-limit', '200'], ['pause'], ['resume'], ['kill', 'KILL'], ['delete', '-f']],
  },
  {
    // The outsider ignores SIGTERM: the stop job on the scope stays queued
    // (TimeoutStopSec, 90 s). runc 1.1.5 waits 30 s for it; ocirun's wait is
    // bounded, and the state goes either way.
    name: 'stuck-unit',
    stall: async (_rt, id) => ({ inFlight: [], outsider: await outsider(unitOf(id), 'trap "" TERM; while :; do sleep 1; done') }),
    commands: [['state'], ['kill', 'KILL'], ['delete', '-f'], ['state']],
    // The stop that did not finish is named, and the state is gone all the same.
    check: (ocirun) => {
      expect(ocirun.stderr['delete -f']).toMatch(/stop scope: systemd: timed out waiting for systemd's job on sdchaos-stuck-unit-ocirun-\d+\.scope/);
      expect(ocirun.outsiderAlive).toBe(true);
    },
  },
];

interface Played {
  statuses: string[];
  slow: string[];
  timings: number[];
  stderr: Record<string, string>;
  /** Whether the outsider was still alive after the commands. */
  outsiderAlive?: boolean;
  background: Array<number | 'hung' | null>;
  left: string[];
}

/** One scenario under one runtime: each command's exit status, how long each took, and what was left. */
async function play(rt: Runtime, sc: Scenario): Promise<Played> {
  const id = `${sc.name}-${rt[0]}-${process.pid}`;
  const bundle = makeBundle(`sd-chaos-${sc.name}-`, ['sleep', '1000'], (c) => {
    c.linux.cgroupsPath = `system.slice:sdchaos:${id}`;
  });
  try {
    const r = run(rt, ['run', '-d', '--bundle', bundle, id]);
    expect(r.status, `${rt[0]} run -d: ${r.stderr}`).toBe(0);
    const { inFlight, outsider: other } = await sc.stall(rt, id);
    const played: Played = { statuses: [], slow: [], timings: [], stderr: {}, background: [], left: [] };
    for (const cmd of sc.commands) {
      // The id goes after the flags, before the arguments (kill ID SIGNAL, exec ID ARGS).
      const flags = cmd.slice(1).filter((a, i, all) => a.startsWith('-') || all[i - 1]?.startsWith('--'));
      const o = run(rt, [cmd[0], ...flags, id, ...cmd.slice(1 + flags.length)]);
      played.statuses.push(`${cmd.join(' ')}: ${o.status}`);
      played.stderr[cmd.join(' ')] = o.stderr;
      played.timings.push(o.ms);
      if (o.ms > o.bound) played.slow.push(`${cmd.join(' ')}: ${o.ms} ms (bound ${o.bound})`);
    }
    played.background = await Promise.all(inFlight.map((p) => Promise.race([p, pause(BOUND_MS).then(() => 'hung' as const)])));
    if (other) {
      played.outsiderAlive = alive(other.pid!);
      // Ours to end: then systemd's stop job finishes and the scope goes.
      other.kill('SIGKILL');
    }
    played.left = await settle(() => leftovers(rt, id), 10_000);
    return played;
  } finally {
    killOurs();
    run(rt, ['delete', '-f', id]);
    removeBundle(bundle);
  }
}

describe('--systemd-cgroup: a container that stalls the runtime in its scope', () => {
  for (const sc of scenarios) {
    it(`${sc.name}: every command returns within ${BOUND_MS / 1000} s with runc's status, nothing left`, async () => {
      const results: Record<string, Played> = {};
      for (const rt of runtimes) results[rt[0]] = await play(rt, sc);
      process.stdout.write(`sd-chaos ${sc.name}: ocirun ${JSON.stringify(results.ocirun)}\n  runc ${JSON.stringify(results.runc)}\n`);
      expect(results.ocirun.slow).toEqual([]);
      expect(results.ocirun.statuses).toEqual(results.runc.statuses);
      expect(results.ocirun.outsiderAlive).toBe(results.runc.outsiderAlive);
      expect(results.ocirun.background.every((b) => b !== 'hung'), 'an exec in flight ended').toBe(true);
      expect(results.ocirun.left).toEqual([]);
      expect(results.runc.left).toEqual([]);
      sc.check?.(results.ocirun);
    }, 180_000);
  }
});
