#!/usr/bin/env node
// ocirun against runc and any other builds, the runtimes taking turns:
// each round runs every runtime once, one after the other, so that a VM
// that slows down or speeds up during the run (hyperfine measures each
// runtime's block of runs after the other's: bench/run.mjs) slows them all
// alike. Medians, with the middle half's range, of `state`, `run
// /bin/true`, create + start + delete and `exec true`.
//
//   node bench/interleaved.mjs [--rounds 40] [--also NAME=PATH ...]     (root; after scripts/setup.sh)
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { project, runtimesFrom } from './runtimes.mjs';

const argv = process.argv.slice(2);
const rounds = argv.includes('--rounds') ? Number(argv[argv.indexOf('--rounds') + 1]) : 40;
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds: a positive integer');
const rt = runtimesFrom(argv);
const names = Object.keys(rt);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-interleaved-'));
const bundle = (name, args) => {
  const dir = path.join(work, name);
  execFileSync(process.execPath, [path.join(project, 'scripts/make-bundle.mjs'), dir, '--', ...args]);
  return dir;
};
const sleeper = bundle('sleeper', ['sleep', '3600']);
const trueBundle = bundle('true', ['true']);
const root = (n) => path.join(work, `root-${n}`);

/**
 * Runs argv, in ms; a failure ends the benchmark (a number for a failed
 * command means nothing). Its stderr goes to a file: a pipe would be held
 * open by a detached container's processes, and spawnSync would wait for
 * them.
 */
const errFile = path.join(work, 'stderr');
function timed(argv) {
  const err = fs.openSync(errFile, 'w');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', err] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  fs.closeSync(err);
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${fs.readFileSync(errFile, 'utf8')}`);
  return ms;
}

const commands = [
  ['`state`', (n) => [[rt[n], '--root', root(n), 'state', `sleeper-${n}`]]],
  ['`run /bin/true`', (n, i) => [[rt[n], '--root', root(n), 'run', '--bundle', trueBundle, `run-${n}-${i}`]]],
  ['`create` + `start` + `delete`', (n, i) => [
    [rt[n], '--root', root(n), 'create', '--bundle', trueBundle, `csd-${n}-${i}`],
    [rt[n], '--root', root(n), 'start', `csd-${n}-${i}`],
    [rt[n], '--root', root(n), 'delete', '--force', `csd-${n}-${i}`],
  ]],
  ['`exec true`', (n) => [[rt[n], '--root', root(n), 'exec', `sleeper-${n}`, 'true']]],
];

const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.round((xs.length - 1) * q)];
const rows = [];
try {
  for (const n of names) timed([rt[n], '--root', root(n), 'run', '-d', '--bundle', sleeper, `sleeper-${n}`]);
  for (const [label, argvs] of commands) {
    const times = Object.fromEntries(names.map((n) => [n, []]));
    // Three rounds of warm-up, not counted.
    for (let i = -3; i < rounds; i++) {
      for (const n of names) {
        const t = argvs(n, i + 3).reduce((sum, a) => sum + timed(a), 0);
        if (i >= 0) times[n].push(t);
      }
    }
    rows.push([label, ...names.map((n) => `${quantile(times[n], 0.5).toFixed(1)} ms (${quantile(times[n], 0.25).toFixed(1)}–${quantile(times[n], 0.75).toFixed(1)})`)]);
  }
} finally {
  for (const n of names) spawnSync(rt[n], ['--root', root(n), 'delete', '--force', `sleeper-${n}`], { stdio: 'ignore' });
  fs.rmSync(work, { recursive: true, force: true });
}
console.log(`Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores, ${os.release()}; ${names.map((n) => `${n}: ${rt[n]}`).join(', ')}; ${rounds} rounds, each runtime once a round in turn; median (middle half).\n`);
console.log(`| | ${names.join(' | ')} |`);
console.log(`|---|${names.map(() => '---').join('|')}|`);
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
