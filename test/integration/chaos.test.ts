// A container that stalls every point where a runtime waits on it: a fifo
// at /etc/passwd (read by an exec's init before the program runs), a
// stopped exec'd process, a frozen cgroup with an exec in flight, an init
// that ignores SIGTERM, a process that is not the container's in its cgroup. While
// it does, the commands a manager sends run against it, each within a bound,
// under ocirun and runc in the same test: the exit statuses must be runc's,
// and afterwards nothing of the container is left on the host.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMAND_BOUND_MS, makeBundle, OCIRUN, project, removeBundle, timedCommand, type TimedOutcome } from './helpers.js';

const RUNC = spawnSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).stdout.trim();
const runtimes = [['ocirun', OCIRUN], ['runc', RUNC]] as const;
type Runtime = (typeof runtimes)[number];
const BOUND_MS = COMMAND_BOUND_MS;
const roots: Record<string, string> = {};
const v2Host = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');

beforeAll(() => {
  expect(RUNC, 'runc is needed to compare with').not.toBe('');
  for (const [name] of runtimes) roots[name] = fs.mkdtempSync(path.join(os.tmpdir(), `reliability-chaos-${name}-`));
});
afterAll(() => Object.values(roots).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** One command, killed at 3x the bound so that a hang is seen as a failure. */
function run([name, bin]: Runtime, args: string[]): TimedOutcome {
  return timedCommand(bin, roots[name], args, (bound) => 3 * bound);
}

const children: ChildProcess[] = [];
/** A command left running in the background (the exec that stalls); killed after its scenario if it hangs. */
function background([name, bin]: Runtime, args: string[]): { child: ChildProcess; ended: Promise<number | null> } {
  const child = spawn(bin, ['--root', roots[name], ...args], { stdio: 'ignore' });
  children.push(child);
  return { child, ended: new Promise((r) => child.on('exit', (code, signal) => r(signal ? -1 : code))) };
}
function killHung(): void {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

const controllerMounts = () => (v2Host ? [''] : fs.readdirSync('/sys/fs/cgroup').filter((d) => !fs.lstatSync(path.join('/sys/fs/cgroup', d)).isSymbolicLink()));

/** What the host still has of a container: its state dir, its cgroup directories, its processes. */
function leftovers(rt: Runtime, id: string, cgroupsPath: string): string[] {
  const found: string[] = [];
  if (fs.existsSync(path.join(roots[rt[0]], id))) found.push(`state dir of ${id}`);
  for (const m of controllerMounts()) {
    const dir = path.join('/sys/fs/cgroup', m, cgroupsPath);
    if (fs.existsSync(dir)) found.push(`cgroup ${dir}`);
  }
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').some((l) => l.endsWith(`:${cgroupsPath}`) || l.includes(`:${cgroupsPath}/`))) found.push(`process ${pid}`);
    } catch {
      /* gone */
    }
  }
  return found;
}

async function settle(check: () => string[]): Promise<string[]> {
  let left = check();
  for (let i = 0; i < 50 && left.length; i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = check();
  }
  return left;
}

/**
 * What runc leaves of a test's container: its cgroups (its delete -f meets
 * EBUSY while the killed processes go), removed once empty, so that runs
 * do not pile them up on the host. ocirun's leftovers are the tests' to
 * find, not this to hide.
 */
async function removeRuncCgroups(rt: Runtime, ...cgroupsPaths: string[]): Promise<void> {
  if (rt[0] !== 'runc') return;
  const dirs = () => cgroupsPaths.flatMap((p) => controllerMounts().map((m) => path.join('/sys/fs/cgroup', m, p))).filter((d) => fs.existsSync(d));
  await settle(() => dirs().filter((d) => spawnSync('rmdir', [d]).status !== 0));
}

interface Scenario {
  name: string;
  /** The init's command. */
  args: string[];
  /** Makes the container stall; returns what runs in the background meanwhile. */
  stall: (rt: Runtime, id: string, bundle: string) => Promise<Array<Promise<number | null>>>;
  /** The commands run against the stalled container, in order. */
  commands: string[][];
  /**
   * A process of the test's own moved into the container's cgroup (another
   * container cannot share it: runc 1.2+ and ocirun refuse a non-empty
   * cgroup at create).
   */
  outsider?: boolean;
  /** create, not run -d: the container stays created. */
  createOnly?: boolean;
  /** Changes the bundle's config. */
  edit?: (config: any) => void;
  /** What ran in the background must end with runc's statuses too. */
  sameBackground?: boolean;
  /** No container made first: the stall is the create itself, in the background. */
  createInStall?: boolean;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The pid of the process running `needle` in the container's cgroup, as the host sees it. */
function hostPidOf(cgroupsPath: string, needle: string): number | undefined {
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(`:${cgroupsPath}`)) continue;
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(needle)) return Number(pid);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

function stateDoc(rt: Runtime, id: string): { status: string; pid: number } | undefined {
  const r = spawnSync(rt[1], ['--root', roots[rt[0]], 'state', id], { encoding: 'utf8', timeout: BOUND_MS });
  return r.status === 0 ? JSON.parse(r.stdout) : undefined;
}
const stateOf = (rt: Runtime, id: string) => stateDoc(rt, id)?.status;

const cgPath = (rt: Runtime, name: string) => `/reliability-chaos-${rt[0]}-${name}-${process.pid}`;

/** The exec's init reads /etc/passwd before the program runs: a fifo holds it there. */
async function passwdFifo(rt: Runtime, id: string, bundle: string): Promise<Array<Promise<number | null>>> {
  const passwd = path.join(bundle, 'rootfs/etc/passwd');
  fs.rmSync(passwd, { force: true });
  spawnSync('mkfifo', [passwd]);
  const b = background(rt, ['exec', id, 'true']);
  await pause(1000);
  return [b.ended];
}

/** Alive, not a zombie: the test's own children are reaped only when its event loop runs. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** A `sleep` of the test's own, written into the container's cgroup in every hierarchy that has it. */
function intoCgroup(cgroupsPath: string): ChildProcess {
  const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
  children.push(child);
  for (const m of controllerMounts()) {
    const dir = path.join('/sys/fs/cgroup', m, cgroupsPath);
    if (fs.existsSync(dir)) fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(child.pid));
  }
  return child;
}

async function endOutsider(child: ChildProcess, cgroupsPath: string): Promise<void> {
  child.kill('SIGKILL');
  for (let i = 0; i < 50 && alive(child.pid!); i++) await pause(100);
  for (const m of controllerMounts()) {
    try {
      fs.rmdirSync(path.join('/sys/fs/cgroup', m, cgroupsPath));
    } catch {
      /* gone (runc's later retry, or none made there) */
    }
  }
}

/**
 * How long the hooks of the create scenarios wait: past the commands, and
 * ended (the create with them) within the bound after the commands.
 */
const HOOK_SECONDS = String(BOUND_MS / 1000 - 1);

/**
 * A create in the background, waiting on its hook: once the hook runs (in
 * the container's cgroup, or a child of the create), the commands go.
 */
async function createWaitingOnHook(rt: Runtime, id: string, bundle: string): Promise<Array<Promise<number | null>>> {
  const b = background(rt, ['create', '--bundle', bundle, id]);
  const cgroupsPath = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')).linux.cgroupsPath;
  const hookRuns = () =>
    fs
      .readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .some((pid) => {
        try {
          if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== `sleep\0${HOOK_SECONDS}\0`) return false;
          const parent = Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
          return parent === b.child.pid || fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(`:${cgroupsPath}\n`);
        } catch {
          return false;
        }
      });
  for (let i = 0; i < 250 && !hookRuns(); i++) await pause(20);
  expect(hookRuns(), `${rt[0]}: the create's hook runs`).toBe(true);
  return [b.ended];
}

const scenarios: Scenario[] = [
  {
    name: 'passwd-fifo',
    args: ['sleep', '1000'],
    stall: passwdFifo,
    commands: [['state'], ['ps'], ['update', '--pids-limit', '200'], ['pause'], ['resume'], ['kill', 'KILL'], ['delete', '-f']],
  },
  {
    // Without a pid namespace of its own, the stalled exec does not die with
    // the init: teardown finds it in the cgroup.
    name: 'passwd-fifo-host-pid',
    args: ['sleep', '1000'],
    edit: (c) => (c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'pid')),
    stall: passwdFifo,
    commands: [['state'], ['ps'], ['update', '--pids-limit', '200'], ['pause'], ['resume'], ['kill', 'KILL'], ['delete', '-f']],
  },
  {
    name: 'stopped-exec',
    args: ['sleep', '1000'],
    stall: async (rt, id) => {
      const r = run(rt, ['exec', '-d', id, 'sh', '-c', 'kill -STOP $$; sleep 1000']);
      expect(r.status, r.stderr).toBe(0);
      return [];
    },
    commands: [['state'], ['ps'], ['exec', 'true'], ['update', '--pids-limit', '200'], ['pause'], ['resume'], ['kill', 'KILL'], ['delete', '-f']],
  },
  {
    name: 'paused-exec',
    args: ['sleep', '1000'],
    // Frozen, with an exec in flight that joined the frozen cgroup.
    stall: async (rt, id) => {
      expect(run(rt, ['pause', id]).status).toBe(0);
      const b = background(rt, ['exec', '--ignore-paused', id, 'echo', 'ok']);
      await pause(1000);
      return [b.ended];
    },
    commands: [['state'], ['ps'], ['exec', 'true'], ['update', '--pids-limit', '200'], ['pause'], ['kill', 'KILL'], ['delete', '-f']],
  },
  {
    name: 'paused-created',
    args: ['sleep', '1000'],
    // A created container, paused: its init cannot open the exec fifo.
    stall: async (rt, id) => {
      expect(run(rt, ['pause', id]).status).toBe(0);
      return [];
    },
    createOnly: true,
    commands: [['state'], ['start'], ['ps'], ['exec', 'true'], ['update', '--pids-limit', '200'], ['pause'], ['kill', 'KILL'], ['delete', '-f']],
  },
  {
    name: 'ignores-term',
    args: ['sh', '-c', 'trap "" TERM; while :; do sleep 1; done'],
    stall: async () => [],
    commands: [['kill', 'TERM'], ['state'], ['ps'], ['exec', 'true'], ['update', '--pids-limit', '200'], ['pause'], ['resume'], ['kill', 'TERM'], ['delete', '-f']],
  },
  {
    name: 'outsider-in-cgroup',
    args: ['sleep', '1000'],
    stall: async () => [],
    outsider: true,
    commands: [['state'], ['ps'], ['exec', 'true'], ['update', '--pids-limit', '200'], ['pause'], ['resume'], ['kill', 'KILL'], ['delete', '-f']],
  },
  {
    // A created container without a pid namespace: a process exec'd into it
    // stops the init, which then never opens the exec fifo. start waits on
    // it; kill and delete -f must not wait behind start, and start must end
    // (rc 1) once the init is killed.
    name: 'stopped-init-start',
    args: ['sleep', '1000'],
    edit: (c) => (c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'pid')),
    createOnly: true,
    stall: async (rt, id) => {
      const r = run(rt, ['exec', id, 'kill', '-STOP', String(stateDoc(rt, id)!.pid)]);
      expect(r.status, r.stderr).toBe(0);
      const b = background(rt, ['start', id]);
      await pause(1000);
      return [b.ended];
    },
    commands: [['state'], ['kill', 'KILL'], ['delete', '-f']],
    sameBackground: true,
  },
  {
    // The create itself waits on the container: its createContainer hook is
    // the image's sleep, run in the container. runc 1.1.5 writes its state
    // only once created: state and kill say "does not exist" at once,
    // delete -f returns 0 and the create fails. ocirun's create holds the
    // container's lock meanwhile; kill and delete -f must not wait on it.
    name: 'create-hook-in-container',
    args: ['sleep', '1000'],
    edit: (c) => (c.hooks = { createContainer: [{ path: '/bin/sleep', args: ['sleep', HOOK_SECONDS] }] }),
    createInStall: true,
    stall: createWaitingOnHook,
    commands: [['state'], ['kill', 'KILL'], ['delete', '-f']],
    sameBackground: true,
  },
  {
    // The same with a slow createRuntime hook, run on the host: the create
    // ends only with its hook, and then fails.
    name: 'create-hook-runtime',
    args: ['sleep', '1000'],
    edit: (c) => (c.hooks = { createRuntime: [{ path: '/bin/sleep', args: ['sleep', HOOK_SECONDS] }] }),
    createInStall: true,
    stall: createWaitingOnHook,
    commands: [['state'], ['kill', 'KILL'], ['delete', '-f']],
    sameBackground: true,
  },
];

/** One scenario under one runtime: each command's exit status, and what was left. */
async function play(rt: Runtime, sc: Scenario): Promise<{ statuses: string[]; timings: number[]; lastStderr: string; outsiderAlive?: boolean; slow: string[]; left: string[]; background: Array<number | null> }> {
  const id = `reliability-chaos-${sc.name}-${process.pid}`;
  const cgroupsPath = cgPath(rt, sc.name);
  const bundle = makeBundle(`reliability-chaos-${sc.name}-`, sc.args, (c) => {
    c.linux.cgroupsPath = cgroupsPath;
    sc.edit?.(c);
  });
  try {
    if (!sc.createInStall) {
      const r = run(rt, [...(sc.createOnly ? ['create'] : ['run', '-d']), '--bundle', bundle, id]);
      expect(r.status, `${rt[0]} ${sc.createOnly ? 'create' : 'run -d'}: ${r.stderr}`).toBe(0);
    }
    const outsider = sc.outsider ? intoCgroup(cgroupsPath) : undefined;
    const inFlight = await sc.stall(rt, id, bundle);
    const statuses: string[] = [];
    const timings: number[] = [];
    let lastStderr = '';
    const slow: string[] = [];
    for (const cmd of sc.commands) {
      // The id goes after the flags, before the arguments (kill ID SIGNAL, exec ID ARGS).
      const flags = cmd.slice(1).filter((a, i, all) => a.startsWith('-') || all[i - 1]?.startsWith('--'));
      const argv = [cmd[0], ...flags, id, ...cmd.slice(1 + flags.length)];
      const o = run(rt, argv);
      statuses.push(`${cmd.join(' ')}: ${o.status}`);
      timings.push(o.ms);
      lastStderr = o.stderr;
      if (o.ms > o.bound) slow.push(`${cmd.join(' ')}: ${o.ms} ms (bound ${o.bound})`);
    }
    // What was waiting on the container ends once it is gone.
    const bg = await Promise.all(inFlight.map((p) => Promise.race([p, pause(BOUND_MS).then(() => 'hung' as const)])));
    let outsiderAlive: boolean | undefined;
    if (outsider) {
      // It kept the cgroup: it was not the deleted container's to kill. Then
      // ended by its owner, who removes the cgroup, as a manager would.
      outsiderAlive = alive(outsider.pid!);
      await endOutsider(outsider, cgroupsPath);
    }
    const left = await settle(() => leftovers(rt, id, cgroupsPath));
    return { statuses, timings, slow, left, lastStderr, outsiderAlive, background: bg.map((b) => (b === 'hung' ? -2 : b)) };
  } finally {
    killHung();
    run(rt, ['delete', '-f', id]);
    await removeRuncCgroups(rt, cgroupsPath);
    removeBundle(bundle);
  }
}

describe('a container that stalls the runtime', () => {
  for (const sc of scenarios) {
    it(`${sc.name}: every command returns within ${BOUND_MS / 1000} s with runc's status, nothing left`, async () => {
      const results: Record<string, Awaited<ReturnType<typeof play>>> = {};
      for (const rt of runtimes) results[rt[0]] = await play(rt, sc);
      process.stdout.write(`chaos ${sc.name}: ocirun ${JSON.stringify(results.ocirun)}\n  runc ${JSON.stringify(results.runc)}\n`);
      expect(results.ocirun.slow).toEqual([]);
      expect(results.ocirun.statuses).toEqual(results.runc.statuses);
      expect(results.ocirun.background.every((b) => b !== -2), 'an exec in flight ended').toBe(true);
      expect(results.ocirun.left).toEqual([]);
      if (sc.sameBackground) expect(results.ocirun.background).toEqual(results.runc.background);
      // The create whose container was deleted under it fails.
      if (sc.createInStall) expect(results.ocirun.background).toEqual([1]);
      if (sc.outsider) {
        // One warning names what was left and why; the outsider still runs.
        expect(results.ocirun.lastStderr).toMatch(new RegExp(`${cgPath(runtimes[0], sc.name)} \\(EBUSY`));
        expect(results.ocirun.lastStderr.split('\n')).toHaveLength(1);
        expect(results.ocirun.outsiderAlive).toBe(true);
        expect(results.runc.outsiderAlive).toBe(true);
      }
    }, 300_000);
  }
});

describe('exec --ignore-paused (runc cgroups.bats)', () => {
  // runc's test: pause, exec --ignore-paused in the background, resume after 2 s: it prints ok.
  for (const rt of runtimes) {
    it(`${rt[0]}: the exec runs once resumed, and prints ok`, async () => {
      const id = `reliability-chaos-ignore-paused-${process.pid}`;
      const bundle = makeBundle('reliability-chaos-ip-', ['sleep', '1000'], (c) => {
        c.linux.cgroupsPath = cgPath(rt, 'ignore-paused');
      });
      try {
        expect(run(rt, ['run', '-d', '--bundle', bundle, id]).status).toBe(0);
        expect(run(rt, ['pause', id]).status).toBe(0);
        const child = spawn(rt[1], ['--root', roots[rt[0]], 'exec', '--ignore-paused', id, 'echo', 'ok'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout!.on('data', (d) => (out += d));
        const ended = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
        await pause(2000);
        const resumed = run(rt, ['resume', id]);
        expect(resumed.status, resumed.stderr).toBe(0);
        expect(resumed.ms).toBeLessThan(resumed.bound);
        const status = await Promise.race([ended, pause(BOUND_MS).then(() => 'hung')]);
        if (status === 'hung') child.kill('SIGKILL');
        expect(status).toBe(0);
        expect(out).toBe('ok\n');
      } finally {
        run(rt, ['delete', '-f', id]);
        removeBundle(bundle);
      }
    }, 120_000);
  }
});

describe('a command waiting on a container that is deleted and its id reused', () => {
  // delete -f is slowed by a process that is not the container's in its
  // cgroup (whose removal it retries), then runs a poststop hook after the state directory
  // is gone; a kill sent meanwhile waits on ocirun's lock, and a create makes
  // a new container of the same id. The kill must not signal the new one: it
  // fails "does not exist", as runc's (which takes no lock) does.
  for (const rt of runtimes) {
    it(`${rt[0]}: the waiting kill fails within the bound; the new container runs`, async () => {
      const id = `harden-idreuse-${process.pid}`;
      const shared = cgPath(rt, 'idreuse-old');
      const old = makeBundle('harden-idreuse-old-', ['sleep', '1000'], (c) => {
        c.linux.cgroupsPath = shared;
        c.hooks = { poststop: [{ path: '/bin/sleep', args: ['sleep', '2'] }] };
      });
      const fresh = makeBundle('harden-idreuse-new-', ['sleep', '1000'], (c) => (c.linux.cgroupsPath = cgPath(rt, 'idreuse-new')));
      let outsider: ChildProcess | undefined;
      try {
        expect(run(rt, ['run', '-d', '--bundle', old, id]).status).toBe(0);
        outsider = intoCgroup(shared);
        const deleting = background(rt, ['delete', '-f', id]);
        await pause(150);
        const t0 = Date.now();
        const killing = spawn(rt[1], ['--root', roots[rt[0]], 'kill', id, 'KILL'], { stdio: ['ignore', 'ignore', 'pipe'] });
        children.push(killing);
        let killErr = '';
        killing.stderr!.on('data', (d) => (killErr += d));
        let killEnded = 0;
        const killed = new Promise<number | null>((r) => killing.on('exit', (code, signal) => ((killEnded = Date.now()), r(signal ? -1 : code))));
        for (let i = 0; i < 150 && fs.existsSync(path.join(roots[rt[0]], id)); i++) await pause(20);
        expect(fs.existsSync(path.join(roots[rt[0]], id)), 'the old state directory went').toBe(false);
        const created = run(rt, ['run', '-d', '--bundle', fresh, id]);
        const createdAt = Date.now();
        expect(created.status, created.stderr).toBe(0);
        const killStatus = await Promise.race([killed, pause(BOUND_MS).then(() => 'hung' as const)]);
        process.stdout.write(`id reuse ${rt[0]}: kill ${killStatus} after ${killEnded - t0} ms (${killEnded > createdAt ? 'after' : 'before'} the new create): ${killErr.trim()}\n`);
        expect(killStatus).toBe(1);
        expect(killEnded - t0).toBeLessThan(BOUND_MS);
        // ocirun's kill waited on the old lock across the reuse: the case at stake.
        if (rt[0] === 'ocirun') expect(killEnded).toBeGreaterThan(createdAt);
        expect(await Promise.race([deleting.ended, pause(BOUND_MS).then(() => 'hung')])).toBe(0);
        expect(stateOf(rt, id)).toBe('running');
      } finally {
        killHung();
        run(rt, ['delete', '-f', id]);
        if (outsider) await endOutsider(outsider, shared);
        for (const b of [old, fresh]) removeBundle(b);
      }
    }, 60_000);
  }
});

/** The bundle's cgroup mount made writable: the container can make and freeze cgroups of its own. */
const writableCgroupfs = (c: any) => {
  const m = c.mounts.find((x: any) => x.destination === '/sys/fs/cgroup');
  m.options = m.options.filter((o: string) => o !== 'ro').concat('rw');
};

describe('a container that froze a sub-cgroup of its own', () => {
  // With its cgroupfs writable, the container moves a process into a
  // sub-cgroup and freezes it: that process can neither run nor die. ocirun's
  // teardown thaws the whole subtree after the kill, so delete -f succeeds
  // within the bound with nothing left. runc 1.1.5 thaws the top cgroup only:
  // its delete -f fails (rc 1, after about 10 s) while the freeze holds,
  // every time; asserted here as the difference.
  const freezeSub = [
    'if [ -d /sys/fs/cgroup/freezer ]; then d=/sys/fs/cgroup/freezer/harden-sub; f=freezer.state; v=FROZEN; else d=/sys/fs/cgroup/harden-sub; f=cgroup.freeze; v=1; fi',
    'mkdir $d; sleep 1001 & echo $! > $d/cgroup.procs; echo $v > $d/$f; touch /tmp/frozen; exec sleep 1000',
  ].join('; ');
  for (const rt of runtimes) {
    it(`${rt[0]}: delete -f ${rt[0] === 'ocirun' ? 'succeeds within the bound, nothing left' : 'fails while the freeze holds'}`, async () => {
      const id = `harden-subfreeze-${process.pid}`;
      const cgroupsPath = cgPath(rt, 'subfreeze');
      const bundle = makeBundle('harden-subfreeze-', ['sh', '-c', freezeSub], (c) => {
        c.linux.cgroupsPath = cgroupsPath;
        c.root.readonly = false;
        writableCgroupfs(c);
      });
      try {
        expect(run(rt, ['run', '-d', '--bundle', bundle, id]).status).toBe(0);
        for (let i = 0; i < 100 && !fs.existsSync(path.join(bundle, 'rootfs/tmp/frozen')); i++) await pause(20);
        const sub = path.join('/sys/fs/cgroup', v2Host ? '' : 'freezer', cgroupsPath, 'harden-sub');
        // v1 reads FREEZING until every task there has stopped (a moment, on a loaded host).
        const state = () => fs.readFileSync(path.join(sub, v2Host ? 'cgroup.freeze' : 'freezer.state'), 'utf8').trim();
        for (let i = 0; i < 100 && state() === 'FREEZING'; i++) await pause(20);
        expect(state()).toBe(v2Host ? '1' : 'FROZEN');
        const d = run(rt, ['delete', '-f', id]);
        if (rt[0] === 'ocirun') {
          expect(d.status, d.stderr).toBe(0);
          expect(d.ms).toBeLessThan(BOUND_MS);
          expect(await settle(() => leftovers(rt, id, cgroupsPath))).toEqual([]);
        } else {
          expect(d.status).toBe(1);
          expect(fs.existsSync(sub)).toBe(true);
          fs.writeFileSync(path.join(sub, v2Host ? 'cgroup.freeze' : 'freezer.state'), v2Host ? '0' : 'THAWED');
        }
      } finally {
        // A failed assertion above must not leave the sub-cgroup frozen.
        try {
          fs.writeFileSync(path.join('/sys/fs/cgroup', v2Host ? '' : 'freezer', cgroupsPath, 'harden-sub', v2Host ? 'cgroup.freeze' : 'freezer.state'), v2Host ? '0' : 'THAWED');
        } catch {
          /* gone */
        }
        run(rt, ['delete', '-f', id]);
        removeBundle(bundle);
      }
    }, 60_000);
  }
});

describe('a process hidden in a cgroup chain deeper than PATH_MAX', () => {
  // With its cgroupfs writable and no pid namespace of its own, the container
  // makes a chain of 400 sub-cgroups (over 4 KB of path) in three v1
  // hierarchies (v2: the one), moves a process to the bottom and freezes it
  // there. No path reaches it. ocirun walks the cgroups through fds: ps lists
  // the process, and delete -f thaws and kills it and removes every cgroup
  // within the bound, with a one-line report at most.
  // runc 1.1.5: ps fails ("unable to get all container pids"), delete -f
  // leaves the process running and the cgroups in place.
  const hide = [
    'sleep 1001 & P=$!; echo $P > /tmp/hidden',
    'if [ -d /sys/fs/cgroup/cpu ]; then hs="cpu devices freezer"; f=freezer.state; v=FROZEN; else hs=.; f=cgroup.freeze; v=1; fi',
    'for h in $hs; do cd /sys/fs/cgroup/$h; i=0; while [ $i -lt 400 ]; do mkdir aaaaaaaaaa; cd aaaaaaaaaa; i=$((i+1)); done; echo $P > cgroup.procs; done',
    // and frozen there: only a thaw that reaches the bottom lets it die
    'echo $v > $f',
    'touch /tmp/ready; exec sleep 1000',
  ].join('; ');
  /** What runc leaves: the chain, thawed top down (runc's delete may leave the top frozen) and removed bottom up through relative paths. */
  const removeChain = (dir: string) =>
    // bash: its cd goes on relative past PATH_MAX, where dash's fails.
    spawnSync('bash', ['-c', `t() { [ -f freezer.state ] && echo THAWED > freezer.state; [ -f cgroup.freeze ] && echo 0 > cgroup.freeze; }; cd "$1" 2>/dev/null || exit 0; t; n=0; while cd aaaaaaaaaa 2>/dev/null; do t; n=$((n+1)); done; while [ $n -gt 0 ]; do cd ..; rmdir aaaaaaaaaa; n=$((n-1)); done; cd /; rmdir "$1"`, 'bash', dir]);
  for (const rt of runtimes) {
    it(`${rt[0]}: ps and delete -f within the bound; ${rt[0] === 'ocirun' ? 'the process found and killed, nothing left' : 'ps fails, the process and cgroups are left'}`, async () => {
      const id = `harden-deep-${process.pid}`;
      const cgroupsPath = cgPath(rt, 'deep');
      const bundle = makeBundle('harden-deep-', ['sh', '-c', hide], (c) => {
        c.linux.cgroupsPath = cgroupsPath;
        c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'pid');
        c.root.readonly = false;
        writableCgroupfs(c);
      });
      let hidden = 0;
      try {
        expect(run(rt, ['run', '-d', '--bundle', bundle, id]).status).toBe(0);
        for (let i = 0; i < 300 && !fs.existsSync(path.join(bundle, 'rootfs/tmp/ready')); i++) await pause(50);
        hidden = Number(fs.readFileSync(path.join(bundle, 'rootfs/tmp/hidden'), 'utf8'));
        expect(fs.readFileSync(`/proc/${hidden}/cmdline`, 'utf8')).toContain('1001');
        const psOut = spawnSync(rt[1], ['--root', roots[rt[0]], 'ps', id, '-o', 'pid'], { encoding: 'utf8', timeout: 3 * BOUND_MS });
        const d = run(rt, ['delete', '-f', id]);
        process.stdout.write(`deep ${rt[0]}: ps ${psOut.status} (${psOut.stderr.trim().slice(0, 200)}), delete -f ${d.status} in ${d.ms} ms, stderr ${d.stderr.length} chars: ${d.stderr.slice(0, 300)}\n`);
        expect(d.ms).toBeLessThan(BOUND_MS);
        expect(d.status).toBe(0);
        if (rt[0] === 'ocirun') {
          expect(psOut.status, psOut.stderr).toBe(0);
          expect(psOut.stdout.split('\n').map((l) => l.trim())).toContain(String(hidden));
          expect(d.stderr.split('\n').length).toBe(1);
          expect(d.stderr.length).toBeLessThan(1000);
          expect(await settle(() => leftovers(rt, id, cgroupsPath))).toEqual([]);
        } else {
          expect(psOut.status).toBe(1);
          expect(psOut.stderr).toMatch(/unable to get all container pids/);
          expect(fs.existsSync(`/proc/${hidden}`)).toBe(true);
        }
      } finally {
        if (hidden) spawnSync('kill', ['-9', String(hidden)]);
        run(rt, ['delete', '-f', id]);
        // The killed process leaves its cgroup a moment later.
        for (let i = 0; i < 20 && controllerMounts().some((m) => fs.existsSync(path.join('/sys/fs/cgroup', m, cgroupsPath))); i++) {
          await pause(200);
          for (const m of controllerMounts()) removeChain(path.join('/sys/fs/cgroup', m, cgroupsPath));
        }
        removeBundle(bundle);
      }
    }, 120_000);
  }
});

describe('teardown without a mount namespace leaves mounts that are not the container\'s', () => {
  // A mount the user made below the rootfs before create (a tmpfs at
  // /mnt/victim) is not the container's: delete -f detaches only what create
  // mounted there (ocirun) or nothing at all (runc 1.1.5, which leaves its
  // own /proc mount behind too). Either way the user's mount stays.
  const mounted = (point: string) => parseMountinfoPoints().includes(point);
  const parseMountinfoPoints = () =>
    fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter(Boolean)
      .map((p) => p.replace(/\\040/g, ' '));
  for (const rt of runtimes) {
    it(`${rt[0]}: the user's mount stays after delete -f${rt[0] === 'ocirun' ? ', the container\'s own go' : ''}`, async () => {
      const id = `harden-hostmnt-${process.pid}`;
      const bundle = makeBundle('harden-hostmnt-', ['sleep', '1000'], (c) => {
        c.linux.cgroupsPath = cgPath(rt, 'hostmnt');
        c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'mount' && n.type !== 'cgroup');
        delete c.linux.maskedPaths;
        delete c.linux.readonlyPaths;
        c.mounts = c.mounts.filter((m: any) => m.destination === '/proc');
        c.root.readonly = false;
      });
      const rootfs = fs.realpathSync(path.join(bundle, 'rootfs'));
      const victim = path.join(rootfs, 'mnt/harden-victim');
      fs.mkdirSync(victim, { recursive: true });
      expect(spawnSync('mount', ['-t', 'tmpfs', 'harden-victim', victim]).status).toBe(0);
      try {
        const r = run(rt, ['run', '-d', '--bundle', bundle, id]);
        expect(r.status, r.stderr).toBe(0);
        expect(mounted(path.join(rootfs, 'proc'))).toBe(true);
        const d = run(rt, ['delete', '-f', id]);
        expect(d.status, d.stderr).toBe(0);
        expect(d.ms).toBeLessThan(BOUND_MS);
        expect(mounted(victim), 'the user\'s mount below the rootfs').toBe(true);
        if (rt[0] === 'ocirun') expect(mounted(path.join(rootfs, 'proc')), 'the container\'s /proc').toBe(false);
      } finally {
        run(rt, ['delete', '-f', id]);
        // runc binds the rootfs onto itself (the victim copied into it): everything at or below it, until none is left.
        for (let i = 0; i < 5; i++) for (const p of parseMountinfoPoints().filter((p) => p === rootfs || p.startsWith(rootfs + '/')).reverse()) spawnSync('umount', ['-l', p]);
        removeBundle(bundle);
      }
    }, 60_000);
  }
});

describe.runIf(!v2Host)('a process in one hierarchy of the cgroupsPath only, beside a container without a pid namespace', () => {
  // The cgroupsPath names a cgroup that already holds a process of the
  // test's own, in one hierarchy only (cpu, or on a hybrid host the v2
  // mount: a systemd unit's cgroup, say), not in devices', where create
  // counts (as runc). That process is not the container's: `kill KILL` and
  // `delete` of a container without a pid namespace of its own, which end
  // every process of the container's cgroups (runc#4047), must leave it
  // running. ocirun listed "the first hierarchy that exists", and killed it.
  for (const rt of runtimes) {
    for (const h of ['cpu', 'unified']) {
      it(`${rt[0]}: only in ${h}: kill KILL and delete leave it running`, async () => {
        const id = `harden-onlyin-${h}-${process.pid}`;
        const cgroupsPath = cgPath(rt, `onlyin-${h}`);
        const dir = path.join('/sys/fs/cgroup', h, cgroupsPath);
        const bundle = makeBundle('harden-onlyin-', ['sleep', '1000'], (c) => {
          c.linux.cgroupsPath = cgroupsPath;
          c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'pid');
        });
        const victim = spawn('sleep', ['1001'], { stdio: 'ignore' });
        const alive = () => victim.exitCode === null && victim.signalCode === null;
        try {
          fs.mkdirSync(dir, { recursive: true });
          fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(victim.pid));
          const r = run(rt, ['run', '-d', '--bundle', bundle, id]);
          expect(r.status, r.stderr).toBe(0);
          expect(run(rt, ['kill', id, 'KILL']).status).toBe(0);
          await pause(300);
          expect(alive(), `${rt[0]} kill KILL`).toBe(true);
          run(rt, ['delete', id]);
          await pause(300);
          expect(alive(), `${rt[0]} delete`).toBe(true);
        } finally {
          victim.kill('SIGKILL');
          run(rt, ['delete', '-f', id]);
          await pause(100);
          for (const d of [...controllerMounts().map((m) => path.join('/sys/fs/cgroup', m, cgroupsPath)), dir]) {
            try {
              fs.rmdirSync(d);
            } catch {
              /* gone with the delete, or never made */
            }
          }
          removeBundle(bundle);
        }
      }, 60_000);
    }
  }
});

describe("a created container's init stopped while it sets up", () => {
  // A pod: container A stops every process it sees in its pid namespace;
  // container B joins that pid namespace, so its init appears there while
  // it sets up. runc's create then waits forever (the test bounds it);
  // ocirun's fails within the bound, and delete -f leaves nothing.
  const stopper = 'while true; do kill -STOP -1 2>/dev/null; done';
  for (const rt of runtimes) {
    it(`${rt[0]}: create ${rt[0] === 'ocirun' ? 'fails within the bound' : 'hangs'}; delete -f ends it all`, async () => {
      const podId = `harden-stopped-pod-${process.pid}`;
      const id = `harden-stopped-init-${process.pid}`;
      const cgroupsPath = cgPath(rt, 'stopped-init');
      const pod = makeBundle('harden-stopped-pod-', ['sh', '-c', stopper], (c) => (c.linux.cgroupsPath = cgPath(rt, 'stopped-pod')));
      let member: string | undefined;
      try {
        expect(run(rt, ['run', '-d', '--bundle', pod, podId]).status).toBe(0);
        const podPid = JSON.parse(spawnSync(rt[1], ['--root', roots[rt[0]], 'state', podId], { encoding: 'utf8' }).stdout).pid;
        member = makeBundle('harden-stopped-init-', ['true'], (c) => {
          c.linux.cgroupsPath = cgroupsPath;
          c.linux.namespaces = c.linux.namespaces.map((n: any) => (n.type === 'pid' ? { type: 'pid', path: `/proc/${podPid}/ns/pid` } : n));
        });
        const c = timedCommand(rt[1], roots[rt[0]], ['create', '--bundle', member, id], (bound) => 2 * bound);
        if (rt[0] === 'ocirun') {
          expect(c.status, c.stderr).toBe(1);
          expect(c.ms).toBeLessThan(c.bound);
          expect(c.stderr).toMatch(/process \d+ was stopped before it started its program/);
        } else {
          expect(c.status).toBe(-1);
        }
        const d = run(rt, ['delete', '-f', id]);
        expect(d.status, d.stderr).toBe(0);
        if (rt[0] === 'ocirun') expect(await settle(() => leftovers(rt, id, cgroupsPath))).toEqual([]);
      } finally {
        run(rt, ['delete', '-f', id]);
        run(rt, ['delete', '-f', podId]);
        await removeRuncCgroups(rt, cgroupsPath, cgPath(rt, 'stopped-pod'));
        removeBundle(pod);
        if (member) removeBundle(member);
      }
    }, 120_000);
  }
});

describe('an exec\'d process frozen before it runs its program', () => {
  // With its cgroupfs writable, the container freezes a sub-cgroup of its
  // own and moves every process it sees into it, the one the exec forks
  // into its pid namespace among them, before that one's execve: runc's
  // exec waits forever (the test bounds it); ocirun's fails within the
  // bound, and the process, killed, dies once thawed. delete -f (which
  // thaws the subtree) leaves nothing under ocirun.
  const freezer = [
    'if [ -d /sys/fs/cgroup/freezer ]; then d=/sys/fs/cgroup/freezer/ice; f=freezer.state; v=FROZEN; else d=/sys/fs/cgroup/ice; f=cgroup.freeze; v=1; fi',
    'mkdir $d && echo $v > $d/$f || exit 9',
    'while :; do for p in /proc/[0-9]*; do p=${p#/proc/}; [ $p = 1 ] || echo $p > $d/cgroup.procs 2>/dev/null; done; done',
  ].join('; ');
  for (const rt of runtimes) {
    it(`${rt[0]}: exec ${rt[0] === 'ocirun' ? 'fails within the bound' : 'hangs'}`, async () => {
      const id = `harden-frozen-exec-${process.pid}`;
      const cgroupsPath = cgPath(rt, 'frozen-exec');
      const bundle = makeBundle('harden-frozen-exec-', ['sh', '-c', freezer], (c) => {
        c.linux.cgroupsPath = cgroupsPath;
        writableCgroupfs(c);
      });
      try {
        expect(run(rt, ['run', '-d', '--bundle', bundle, id]).status).toBe(0);
        // The loop may miss the forked process before its execve in a given try.
        let held = false;
        for (let i = 0; i < 8 && !held; i++) {
          const e = timedCommand(rt[1], roots[rt[0]], ['exec', '-d', id, 'true'], (bound) => 2 * bound);
          held = e.status !== 0;
          if (rt[0] === 'ocirun' && held) {
            expect(e.ms, e.stderr).toBeLessThan(e.bound);
            expect(e.stderr).toMatch(/process \d+ was frozen \(in a cgroup of the container's\) before it started its program/);
          }
          if (rt[0] === 'runc' && held) expect(e.status).toBe(-1);
        }
        process.stdout.write(`frozen exec ${rt[0]}: ${held ? 'held' : 'missed in 8 tries'}\n`);
        if (rt[0] === 'ocirun') {
          expect(held, 'the loop never caught the exec').toBe(true);
          const d = run(rt, ['delete', '-f', id]);
          expect(d.status, d.stderr).toBe(0);
          expect(d.ms).toBeLessThan(BOUND_MS);
          expect(await settle(() => leftovers(rt, id, cgroupsPath))).toEqual([]);
        }
      } finally {
        // Thawed, so that runc's delete -f can end what its exec left frozen.
        try {
          fs.writeFileSync(path.join('/sys/fs/cgroup', v2Host ? '' : 'freezer', cgroupsPath, 'ice', v2Host ? 'cgroup.freeze' : 'freezer.state'), v2Host ? '0' : 'THAWED');
        } catch {
          /* gone */
        }
        run(rt, ['delete', '-f', id]);
        removeBundle(bundle);
      }
    }, 180_000);
  }
});

describe('an exec\'d process stopped before it runs its program', () => {
  // A process of the container stops every process it can see, the one the
  // exec forks into the container's pid namespace among them, before that
  // one runs its program: runc's exec then waits forever (the test bounds
  // it); ocirun's fails within the bound, and its process is killed.
  // Either way kill and delete -f still work.
  const stopper = 'while true; do kill -STOP -1 2>/dev/null; done';
  for (const rt of runtimes) {
    it(`${rt[0]}: exec ${rt[0] === 'ocirun' ? 'fails within the bound' : 'hangs'}; delete -f ends it all`, async () => {
      const id = `harden-stopped-exec-${process.pid}`;
      const cgroupsPath = cgPath(rt, 'stopped-exec');
      const bundle = makeBundle('harden-stopped-exec-', ['sh', '-c', stopper], (c) => (c.linux.cgroupsPath = cgroupsPath));
      try {
        expect(run(rt, ['run', '-d', '--bundle', bundle, id]).status).toBe(0);
        // The stopper may miss the forked process before its execve in a given try.
        let stopped = false;
        for (let i = 0; i < 5 && !stopped; i++) {
          const e = timedCommand(rt[1], roots[rt[0]], ['exec', '-d', id, 'sleep', '1000'], (bound) => 2 * bound);
          stopped = e.status !== 0;
          if (rt[0] === 'ocirun' && stopped) {
            expect(e.ms, e.stderr).toBeLessThan(BOUND_MS);
            expect(e.stderr).toMatch(/process \d+ was stopped before it started its program/);
          }
        }
        process.stdout.write(`stopped exec ${rt[0]}: ${stopped ? 'hit' : 'missed in 5 tries'}\n`);
        const d = run(rt, ['delete', '-f', id]);
        expect(d.status, d.stderr).toBe(0);
        expect(d.ms).toBeLessThan(BOUND_MS);
        expect(await settle(() => leftovers(rt, id, cgroupsPath))).toEqual([]);
      } finally {
        run(rt, ['delete', '-f', id]);
        removeBundle(bundle);
      }
    }, 120_000);
  }
});

describe('an init whose main thread exits alone, its other threads running on', () => {
  // /proc reads the init's pid Z while a thread of it runs on (and has
  // forked a child): runc 1.1.5 and 1.3.6 count the container stopped,
  // refuse kill, and delete (-f) leaves the processes and their cgroups.
  // ocirun counts it running: kill reaches it, delete -f ends it all.
  let leaderExit: string;
  beforeAll(() => {
    leaderExit = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'reliability-leader-')), 'leader-exit');
    const built = spawnSync('gcc', ['-static', '-O2', '-pthread', '-o', leaderExit, path.join(project, 'test/fixtures/leader-exit.c')], { encoding: 'utf8' });
    expect(built.status, built.stderr).toBe(0);
  });
  afterAll(() => fs.rmSync(path.dirname(leaderExit), { recursive: true, force: true }));

  for (const rt of runtimes) {
    it(`${rt[0]}: the container ${rt[0] === 'ocirun' ? 'is running; delete -f ends it all' : 'reads stopped; delete -f leaves its processes'}`, async () => {
      const id = `harden-leader-${rt[0]}-${process.pid}`;
      const cgroupsPath = cgPath(rt, 'leader-exit');
      const b = makeBundle('harden-leader-', ['/leader-exit'], (c) => (c.linux.cgroupsPath = cgroupsPath));
      fs.copyFileSync(leaderExit, path.join(b, 'rootfs/leader-exit'));
      fs.chmodSync(path.join(b, 'rootfs/leader-exit'), 0o755);
      try {
        expect(run(rt, ['run', '-d', '--bundle', b, id]).status).toBe(0);
        const pid = JSON.parse(spawnSync(rt[1], ['--root', roots[rt[0]], 'state', id], { encoding: 'utf8' }).stdout).pid;
        // Until the main thread has exited (after 200 ms, or later on a loaded machine).
        const leaderGone = () => (/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')) ? [] : ['leader']);
        expect(await settle(leaderGone), `init ${pid}'s main thread exits`).toEqual([]);
        const state = JSON.parse(spawnSync(rt[1], ['--root', roots[rt[0]], 'state', id], { encoding: 'utf8' }).stdout);
        const d = run(rt, ['delete', '-f', id]);
        expect(d.status, d.stderr).toBe(0);
        const left = await settle(() => leftovers(rt, id, cgroupsPath));
        if (rt[0] === 'ocirun') {
          expect(state.status).toBe('running');
          expect(left).toEqual([]);
        } else {
          expect(state.status).toBe('stopped');
          expect(left.filter((l) => l.startsWith('process')).length).toBeGreaterThan(0);
        }
      } finally {
        // What runc leaves: its processes, by pid, then their cgroups.
        for (const l of leftovers(rt, id, cgroupsPath)) if (l.startsWith('process ')) spawnSync('kill', ['-KILL', l.slice(8)]);
        await settle(() => leftovers(rt, id, cgroupsPath).filter((l) => l.startsWith('process')));
        for (const m of controllerMounts()) spawnSync('rmdir', [path.join('/sys/fs/cgroup', m, cgroupsPath)]);
        removeBundle(b);
      }
    }, 60_000);
  }
});

describe('two starts of one container at once', () => {
  // The one that reads the init's byte may have opened the fifo after the
  // init's end closed (the other start held it open meanwhile): it never
  // saw that end hang up, and waited for ever, the container "created" for
  // good. Exactly one start may succeed, the other fails at once; runc 1.1.5
  // and 1.3.6 leave one of the two waiting now and then (recorded).
  for (const rt of runtimes) {
    const rounds = rt[0] === 'ocirun' ? 40 : 10;
    it(`${rt[0]}: ${rt[0] === 'ocirun' ? 'one succeeds, the other fails within the bound, every round' : 'recorded'}`, async () => {
      const id = `harden-two-starts-${rt[0]}-${process.pid}`;
      const b = makeBundle('harden-two-starts-', ['sleep', '100'], (c) => (c.linux.cgroupsPath = cgPath(rt, 'two-starts')));
      const start = () =>
        new Promise<number | null>((resolve) => {
          const c = spawn(rt[1], ['--root', roots[rt[0]], 'start', id], { stdio: 'ignore' });
          const timer = setTimeout(() => c.kill('SIGKILL'), BOUND_MS);
          c.on('exit', (code) => (clearTimeout(timer), resolve(code)));
        });
      let held = 0;
      try {
        for (let i = 0; i < rounds; i++) {
          expect(run(rt, ['create', '--bundle', b, id]).status).toBe(0);
          const codes = (await Promise.all([start(), start()])).sort();
          if (codes.includes(null)) held++;
          else if (rt[0] === 'ocirun') expect(codes, `round ${i}`).toEqual([0, 1]);
          if (rt[0] === 'ocirun') expect(JSON.parse(spawnSync(rt[1], ['--root', roots[rt[0]], 'state', id], { encoding: 'utf8' }).stdout).status).toBe('running');
          expect(run(rt, ['delete', '-f', id]).status).toBe(0);
        }
      } finally {
        run(rt, ['delete', '-f', id]);
        await removeRuncCgroups(rt, cgPath(rt, 'two-starts'));
        removeBundle(b);
      }
      if (rt[0] === 'ocirun') expect(held, 'starts held past the bound').toBe(0);
    }, 180_000);
  }
});
