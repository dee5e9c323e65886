#!/usr/bin/env node
// Parallel soak: W workers each run L container lifecycles (create, start,
// state, kill, delete) on one --root, while a poker runs state/list/kill on
// the same ids. A third of the creates are killed with SIGKILL part-way
// (after a random delay), then cleaned with `delete -f`; in another third
// exec, update, pause and resume are killed part-way (the container must
// still answer), and in the last third delete -f itself is. At the end nothing
// may remain: state dirs, cgroup dirs, mounts, processes. Every `state`
// output must parse.
//
//   node bench/soak.mjs [--runtime PATH] [--workers 8] [--lifecycles 70] [--json]
//
// Exit status 1 if anything leaked or a state output was corrupt.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const runtime = path.resolve(opt('runtime', path.join(here, '../bin/ocirun')));
const workers = Number(opt('workers', 8));
const lifecycles = Number(opt('lifecycles', 70));
const tag = `soak${process.pid}`;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-soak-root-'));
const bundle = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-soak-bundle-'));

const timing = {};
/** Mean duration of each command's runs that were not killed: where "part-way" is, on this machine. */
const finished = {};

/**
 * A random point within a command's usual run: the mean of its earlier
 * unkilled runs here (under a qemu guest's emulation, seconds rather than the
 * host's 50-600 ms), or `fallbackMs` before there is one.
 */
function partWay(command, fallbackMs) {
  const f = finished[command];
  return Math.floor(Math.random() * (f ? f.ms / f.n : fallbackMs));
}

/**
 * Runs one runtime command. create gets no pipes: the container's init
 * inherits its stdio and would hold pipes open long after create returned;
 * its stderr goes through a file instead.
 */
function sh(argv, { killAfterMs } = {}) {
  return new Promise((resolve) => {
    const detached = argv[0] === 'create';
    const errFile = detached ? path.join(root, `.err-${process.hrtime.bigint()}`) : undefined;
    const errFd = errFile ? fs.openSync(errFile, 'w+') : undefined;
    const child = spawn(runtime, ['--root', root, ...argv], { stdio: detached ? ['ignore', 'ignore', errFd] : ['ignore', 'pipe', 'pipe'] });
    if (errFd !== undefined) fs.closeSync(errFd);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    const hard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const t0 = Date.now();
    child.on('close', (status, signal) => {
      const k = argv[0];
      timing[k] = timing[k] ?? { n: 0, ms: 0, max: 0 };
      timing[k].n++;
      timing[k].ms += Date.now() - t0;
      timing[k].max = Math.max(timing[k].max, Date.now() - t0);
      if (!signal) {
        finished[k] = finished[k] ?? { n: 0, ms: 0 };
        finished[k].n++;
        finished[k].ms += Date.now() - t0;
      }
      clearTimeout(timer);
      clearTimeout(hard);
      if (errFile) {
        stderr = fs.readFileSync(errFile, 'utf8');
        fs.rmSync(errFile, { force: true });
      }
      resolve({ status, signal, stdout, stderr });
    });
  });
}

const stats = { lifecycles: 0, killedCreates: 0, killedOps: { exec: 0, update: 0, pause: 0, resume: 0, delete: 0 }, startsLostToKill: 0, stateCalls: 0, corruptState: 0, failures: [] };

async function state(id) {
  const r = await sh(['state', id]);
  stats.stateCalls++;
  if (r.status === 0) {
    try {
      return JSON.parse(r.stdout);
    } catch {
      stats.corruptState++;
      stats.failures.push(`state ${id}: unparsable output ${JSON.stringify(r.stdout.slice(0, 200))}`);
    }
  } else if (!/does not exist/.test(r.stderr)) {
    stats.failures.push(`state ${id}: ${r.stderr.trim().slice(0, 200)}`);
  }
  return undefined;
}

async function lifecycle(worker, n) {
  const id = `${tag}-${worker}-${n}`;
  if (n % 3 === 0) {
    // Killed part-way: somewhere in the time a create takes (~0.2-0.7 s on the host).
    const r = await sh(['create', '--bundle', bundle, id], { killAfterMs: 50 + partWay('create', 600) });
    if (r.signal === 'SIGKILL') stats.killedCreates++;
    await state(id);
    const d = await sh(['delete', '--force', id]);
    if (d.status !== 0 && !/does not exist/.test(d.stderr)) stats.failures.push(`delete -f ${id} after a killed create: ${d.stderr.trim()}`);
    stats.lifecycles++;
    return;
  }
  const c = await sh(['create', '--bundle', bundle, id]);
  if (c.status !== 0) stats.failures.push(`create ${id}: ${c.signal ? `killed (${c.signal}) after 60 s` : c.stderr.trim()}`);
  const s = await sh(['start', id]);
  // The poker's SIGTERM may have ended a created container's init first.
  if (s.status !== 0 && /has stopped/.test(s.stderr)) stats.startsLostToKill++;
  else if (s.status !== 0) stats.failures.push(`start ${id}: ${s.stderr.trim()}`);
  const st = await state(id);
  if (st && st.status !== 'running' && st.status !== 'stopped') stats.failures.push(`state ${id}: ${st.status} after start`);
  if (n % 3 === 1) await killedOnRunning(id);
  if (n % 3 === 2) {
    // delete -f killed part-way (on the host it takes 50-300 ms under load), then finished by another.
    const k = await sh(['delete', '--force', id], { killAfterMs: partWay('delete', 300) });
    if (k.signal === 'SIGKILL') stats.killedOps.delete++;
  } else await sh(['kill', id, 'KILL']);
  const d = await sh(['delete', '--force', id]);
  if (d.status !== 0 && !(n % 3 === 2 && /does not exist/.test(d.stderr))) stats.failures.push(`delete ${id}: ${d.stderr.trim()}`);
  stats.lifecycles++;
}

/**
 * exec, update, pause and resume on a running container, each killed at a
 * random point of its run (on the host most take 50-200 ms under the soak's load): afterwards the
 * container must still answer (resume if left paused, then an exec).
 */
async function killedOnRunning(id) {
  for (const argv of [['exec', id, 'true'], ['update', '--pids-limit', '80', id], ['pause', id], ['resume', id]]) {
    const r = await sh(argv, { killAfterMs: partWay(argv[0], 250) });
    if (r.signal === 'SIGKILL') stats.killedOps[argv[0]]++;
  }
  const st = await state(id);
  if (st?.status === 'paused') {
    const r = await sh(['resume', id]);
    if (r.status !== 0) stats.failures.push(`resume ${id} after killed commands: ${r.stderr.trim()}`);
  }
  if (st?.status !== 'running' && st?.status !== 'paused') return;
  const e = await sh(['exec', id, 'true']);
  if (e.status !== 0 && (await state(id))?.status === 'running') stats.failures.push(`exec ${id} after killed commands: status ${e.status} ${e.stderr.trim()}`);
}

async function poker(done) {
  while (!done.value) {
    const w = Math.floor(Math.random() * workers);
    const id = `${tag}-${w}-${Math.floor(Math.random() * lifecycles)}`;
    const pick = Math.random();
    if (pick < 0.5) await state(id);
    else if (pick < 0.8) {
      const r = await sh(['list', '--format', 'json']);
      try {
        JSON.parse(r.stdout);
      } catch {
        stats.failures.push(`list: unparsable output ${JSON.stringify(r.stdout.slice(0, 200))}`);
      }
    } else await sh(['kill', id, 'TERM']);
    // A steady trickle, not a flood: the point is concurrency, not load.
    await new Promise((r) => setTimeout(r, 100));
  }
}

function leftovers() {
  const found = [];
  for (const e of fs.readdirSync(root)) if (e.startsWith(tag)) found.push(`state dir ${e}`);
  const walk = (dir, depth) => {
    if (depth > 6) return;
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      if (e.name.startsWith(tag)) found.push(`cgroup ${path.join(dir, e.name)}`);
      else walk(path.join(dir, e.name), depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  if (fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(bundle)) found.push('mount under the bundle');
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cg = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (cg.includes(`/${tag}-`) || env.includes(`_OCIRUN_CONTAINER=${tag}-`)) found.push(`process ${pid}`);
    } catch {
      /* gone */
    }
  }
  return found;
}

async function main() {
  const made = spawn(process.execPath, [path.join(here, '../scripts/make-bundle.mjs'), bundle, '--', 'sleep', '1000'], { stdio: 'inherit' });
  await new Promise((r) => made.on('close', r));
  const started = Date.now();
  const done = { value: false };
  const poking = poker(done);
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let n = 0; n < lifecycles; n++) await lifecycle(w, n);
    }),
  );
  done.value = true;
  await poking;
  // Reaping of killed processes is asynchronous: give it a moment.
  let left = leftovers();
  for (let i = 0; i < 50 && left.length; i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = leftovers();
  }
  const seconds = (Date.now() - started) / 1000;
  const report = { runtime, workers, lifecycles: stats.lifecycles, killedCreates: stats.killedCreates, killedOps: stats.killedOps, stateCalls: stats.stateCalls, corruptState: stats.corruptState, leaks: left.length, seconds: Math.round(seconds), leaked: left.slice(0, 20), failures: stats.failures.slice(0, 20), failureCount: stats.failures.length };
  if (args.includes('--json')) process.stdout.write(JSON.stringify(report) + '\n');
  else {
    process.stdout.write(`soak (${path.basename(runtime)}): ${report.lifecycles} lifecycles by ${workers} workers in ${report.seconds} s, ${report.killedCreates} creates killed part-way, other commands killed part-way: ${Object.entries(report.killedOps).map(([k, v]) => `${k} ${v}`).join(', ')}, ${report.stateCalls} state calls (${report.corruptState} unparsable), leaks: ${report.leaks}\n`);
    if (args.includes('--timing')) for (const [k, t] of Object.entries(timing)) process.stdout.write(`  ${k}: ${t.n} calls, mean ${Math.round(t.ms / t.n)} ms, max ${t.max} ms\n`);
    for (const l of report.leaked) process.stdout.write(`  leaked: ${l}\n`);
    for (const f of report.failures) process.stdout.write(`  failure: ${f}\n`);
  }
  // Clean what a runtime left, so the machine stays usable.
  for (const e of fs.readdirSync(root)) if (e.startsWith(tag)) await sh(['delete', '--force', e]);
  for (const l of leftovers()) {
    // Empty cgroup directories a runtime forgot (runc does, for creates killed early).
    if (l.startsWith('cgroup ')) {
      try {
        fs.rmdirSync(l.slice(7));
      } catch {
        /* not empty, or gone */
      }
    }
  }
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(bundle, { recursive: true, force: true });
  process.exitCode = left.length || stats.corruptState || stats.failures.length ? 1 : 0;
}

await main();
