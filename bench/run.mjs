#!/usr/bin/env node
// ocirun against runc, side by side in one run: state, run /bin/true,
// create+start+delete, exec, podman run --rm and docker run --rm (a private
// dockerd) with each runtime; then peak memory (the largest RSS among the
// runtime's processes during a run) and the smallest `podman --memory` that
// starts a container. The engine (Bun and its version, or Node with
// OCIRUN_ENGINE=node) is named.
//
//   node bench/run.mjs [--runs 20] [--soak] [--also NAME=PATH ...]     (root; after scripts/setup.sh)
//
// The runtimes take turns: each round runs every runtime's command once,
// the first to go changing from round to round, after 3 rounds of warm-up;
// medians, with the middle half's range. A VM that slows down or speeds up
// during the run then slows every runtime alike (hyperfine, which this used
// before, measures one runtime's block of runs after another's, and one
// run's drift put either runtime ahead by up to 10%).
//
// Prints a markdown table for the README. --soak adds the crash soak of
// bench/soak.mjs for both runtimes. --also adds a column for another
// runtime in the same run (another build of ocirun, say the code before a
// change: bin/ocirun of a checkout of it), taking its turn in every round.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dropCachedPages, project, runtimesFrom } from './runtimes.mjs';

const argv = process.argv.slice(2);
const runs = argv.includes('--runs') ? Number(argv[argv.indexOf('--runs') + 1]) : 20;
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs: a positive integer');
/** The runtimes compared: ocirun, runc, then each --also NAME=PATH. */
const rt = runtimesFrom(argv);
const { runc } = rt;
const names = Object.keys(rt);
// The image the podman tests import (test/integration/helpers.ts); run `npm test` once first.
const image = 'localhost/ocirun-test-busybox:latest';
const ulimits = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-bench-'));

function runcVersion() {
  return /runc version (\S+)/.exec(execFileSync(runc, ['--version'], { encoding: 'utf8' }))?.[1] ?? '?';
}

function bundle(name, args) {
  const dir = path.join(work, name);
  execFileSync(process.execPath, [path.join(project, 'scripts/make-bundle.mjs'), dir, '--', ...args]);
  return dir;
}

/**
 * Runs each argv of `argvs` in turn, in ms; a failure ends the benchmark (a
 * number for a failed command means nothing). Its stderr goes to a file: a
 * pipe would be held open by a detached container's processes, and
 * spawnSync would wait for them.
 */
const errFile = path.join(work, 'stderr');
function timed(argvs) {
  let ms = 0;
  for (const a of argvs) {
    const err = fs.openSync(errFile, 'w');
    const t0 = process.hrtime.bigint();
    const r = spawnSync(a[0], a.slice(1), { stdio: ['ignore', 'ignore', err] });
    ms += Number(process.hrtime.bigint() - t0) / 1e6;
    fs.closeSync(err);
    if (r.status !== 0) throw new Error(`${a.join(' ')}: exit ${r.status}: ${fs.readFileSync(errFile, 'utf8')}`);
  }
  return ms;
}

const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.round((xs.length - 1) * q)];

/** Each runtime's command (argvs(name, round)) once a round, in turn; per runtime: [median, first quartile, third quartile] in ms. */
function inRounds(argvs, n) {
  const times = names.map(() => []);
  for (let round = -3; round < n; round++) {
    for (let k = 0; k < names.length; k++) {
      const i = (k + round + 3) % names.length;
      const ms = timed(argvs(names[i], round + 3));
      if (round >= 0) times[i].push(ms);
    }
  }
  return times.map((t) => [quantile(t, 0.5), quantile(t, 0.25), quantile(t, 0.75)]);
}

/** The engine bin/ocirun runs on, as the README names it. */
function engine() {
  if (process.env.OCIRUN_ENGINE === 'node') return `Node ${process.versions.node}`;
  const bun = JSON.parse(fs.readFileSync(path.join(project, 'package.json'), 'utf8')).devDependencies.bun;
  return `Bun ${bun} (build/ocirun, the single file)`;
}

/** A private dockerd with both runtimes (no TCP, iptables or bridge), and the busybox image. */
async function startDockerd() {
  const dir = path.join(work, 'docker');
  fs.mkdirSync(dir);
  const sock = `unix://${dir}/docker.sock`;
  const client = fs.existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
  const docker = (args) => spawnSync(client, ['-H', sock, ...args], { encoding: 'utf8', timeout: 60_000 });
  const daemon = spawn('dockerd', ['--data-root', `${dir}/data`, '--exec-root', `${dir}/exec`, '--pidfile', `${dir}/dockerd.pid`, '-H', sock, '--iptables=false', '--ip6tables=false', '--bridge=none', ...names.filter((n) => n !== 'runc').flatMap((n) => ['--add-runtime', `${n}=${rt[n]}`])], { stdio: 'ignore' });
  for (let i = 0; i < 300 && docker(['version']).status !== 0; i++) await new Promise((r) => setTimeout(r, 100));
  const rootfs = path.join(bundle('docker-image', ['true']), 'rootfs');
  execFileSync('tar', ['-C', rootfs, '-cf', `${dir}/image.tar`, '.']);
  if (docker(['import', `${dir}/image.tar`, 'ocirun-bench-busybox']).status !== 0) throw new Error('docker import failed');
  return {
    run: (n) => [client, '-H', sock, 'run', '--rm', '--runtime', n, ...ulimits, '--network', 'none', 'ocirun-bench-busybox', 'sh', '-c', 'true'],
    async stop() {
      daemon.kill('SIGTERM');
      await new Promise((r) => (daemon.exitCode !== null ? r() : daemon.once('exit', r)));
      spawnSync('umount', ['-R', '-l', `${dir}/data`]);
      spawnSync('umount', ['-R', '-l', `${dir}/exec`]);
    },
  };
}

const sleeper = bundle('sleeper', ['sleep', '3600']);
const trueBundle = bundle('true', ['true']);
const roots = Object.fromEntries(names.map((n) => [n, path.join(work, `root-${n}`)]));
const rows = [];
let dockerd;
try {
  dockerd = await startDockerd();
  for (const name of names) {
    const r = spawnSync(rt[name], ['--root', roots[name], 'run', '-d', '--bundle', sleeper, `bench-sleeper-${name}`], { stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`${name} run -d failed`);
  }
  const cases = [
    ['`state`', (n) => [[rt[n], '--root', roots[n], 'state', `bench-sleeper-${n}`]]],
    ['`run /bin/true`', (n, i) => [[rt[n], '--root', roots[n], 'run', '--bundle', trueBundle, `bench-run-${n}-${i}`]]],
    ['`create` + `start` + `delete`', (n, i) => ['create', 'start', 'delete'].map((verb) => [rt[n], '--root', roots[n], verb, ...(verb === 'create' ? ['--bundle', trueBundle] : verb === 'delete' ? ['--force'] : []), `bench-csd-${n}-${i}`])],
    ['`exec true`', (n) => [[rt[n], '--root', roots[n], 'exec', `bench-sleeper-${n}`, 'true']]],
    ['`podman run --rm IMAGE sh -c true`', (n) => [['podman', '--runtime', rt[n], 'run', '--rm', ...ulimits, image, 'sh', '-c', 'true']]],
    ['`docker run --rm IMAGE sh -c true`', (n) => [dockerd.run(n)]],
  ];
  for (const [label, argvs] of cases) rows.push([label, ...inRounds(argvs, /podman|docker/.test(label) ? Math.min(runs, 10) : runs)]);

  // Peak RSS: GNU time's %M covers the runtime and the processes it reaps
  // (the init is its child); the median of 5 runs, the executables read
  // back from disk (dropCachedPages).
  dropCachedPages(Object.values(rt));
  const rss = (n) => {
    const peaks = [0, 1, 2, 3, 4].map((i) => {
      const r = spawnSync('/usr/bin/time', ['-f', '%M', rt[n], '--root', roots[n], 'run', '--bundle', trueBundle, `bench-rss-${n}-${i}`], { encoding: 'utf8' });
      return Number(r.stderr.trim().split('\n').pop());
    });
    return quantile(peaks, 0.5);
  };
  const smallestMemory = (n) => {
    for (const mb of [2, 3, 4, 5, 6, 8, 12, 16]) {
      const ok = [0, 1, 2].every(() => spawnSync('podman', ['--runtime', rt[n], 'run', '--rm', ...ulimits, '--memory', `${mb}m`, image, 'sh', '-c', 'true'], { stdio: 'ignore', timeout: 60_000 }).status === 0);
      if (ok) return `${mb}m`;
    }
    return '> 16m';
  };
  const memory = names.map((n) => [rss(n), smallestMemory(n)]);

  const f = ([median, q1, q3]) => `${median.toFixed(1)} ms (${q1.toFixed(1)}–${q3.toFixed(1)})`;
  const others = names.slice(2);
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores (${os.cpus()[0].model.trim()}), ${os.release()}; ocirun on ${engine()}, runc ${runcVersion()}${others.map((n) => `, ${n}: ${rt[n]}`).join('')}; ${runs} rounds (podman and docker: ${Math.min(runs, 10)}), each runtime once a round in turn, after 3 of warm-up; median (middle half).`,
    '',
    `| | ${names.join(' | ')} | ocirun/runc |`,
    `|---|${names.map(() => '---|').join('')}---|`,
    ...rows.map(([label, ...ms]) => `| ${label} | ${ms.map(f).join(' | ')} | ${(ms[0][0] / ms[1][0]).toFixed(2)}x |`),
    `| peak RSS during \`run /bin/true\` (any process) | ${memory.map((m) => `${(m[0] / 1024).toFixed(1)} MB`).join(' | ')} | |`,
    `| smallest \`podman --memory\` that starts | ${memory.map((m) => m[1]).join(' | ')} | |`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (argv.includes('--soak')) {
    for (const n of ['ocirun', 'runc']) spawnSync(process.execPath, [path.join(project, 'bench/soak.mjs'), '--runtime', rt[n]], { stdio: 'inherit' });
  }
} finally {
  await dockerd?.stop();
  for (const name of names) spawnSync(rt[name], ['--root', roots[name], 'delete', '--force', `bench-sleeper-${name}`], { stdio: 'ignore' });
  fs.rmSync(work, { recursive: true, force: true });
}
