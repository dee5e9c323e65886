#!/usr/bin/env node
// ocirun against runc, side by side in one run (hyperfine: warm-up runs,
// then medians): the node start-up floor, state, run /bin/true,
// create+start+delete, exec, and podman run --rm with each runtime; then
// peak memory (the largest RSS among the runtime's processes during a run)
// and the smallest `podman --memory` that starts a container.
//
//   node bench/run.mjs [--runs 20] [--soak]     (root; after scripts/setup.sh)
//
// Prints a markdown table for the README. --soak adds the crash soak of
// bench/soak.mjs for both runtimes.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const project = path.resolve(here, '..');
const ocirun = path.join(project, 'bin/ocirun');
const runc = execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim();
const argv = process.argv.slice(2);
const runs = Number(argv[argv.indexOf('--runs') + 1] || 20);
// The image the podman tests import (test/integration/helpers.ts); run `npm test` once first.
const image = 'localhost/ocirun-test-busybox:latest';
const ulimits = '--ulimit nofile=1024:1024 --ulimit nproc=1024:1024';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-bench-'));

function bundle(name, args) {
  const dir = path.join(work, name);
  execFileSync(process.execPath, [path.join(project, 'scripts/make-bundle.mjs'), dir, '--', ...args]);
  return dir;
}

/** hyperfine's median, in ms, for each command. */
function hyperfine(commands, n = runs) {
  const out = path.join(work, 'hf.json');
  execFileSync('hyperfine', ['-N', '--warmup', '3', '--runs', String(n), '--export-json', out, ...commands.map((c) => c)], { stdio: ['ignore', 'ignore', 'inherit'] });
  return JSON.parse(fs.readFileSync(out, 'utf8')).results.map((r) => r.median * 1000);
}

const sleeper = bundle('sleeper', ['sleep', '3600']);
const trueBundle = bundle('true', ['true']);
const roots = { ocirun: path.join(work, 'root-ocirun'), runc: path.join(work, 'root-runc') };
const rt = { ocirun, runc };
const rows = [];
try {
  for (const name of ['ocirun', 'runc']) {
    const r = spawnSync(rt[name], ['--root', roots[name], 'run', '-d', '--bundle', sleeper, `bench-sleeper-${name}`], { stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`${name} run -d failed`);
  }
  const [floor] = hyperfine([`${process.execPath} -e 0`]);
  rows.push(['`node -e 0` (floor)', floor, undefined]);
  const cases = [
    ['`state`', (n) => `${rt[n]} --root ${roots[n]} state bench-sleeper-${n}`],
    ['`run /bin/true`', (n) => `${rt[n]} --root ${roots[n]} run --bundle ${trueBundle} bench-run-${n}`],
    ['`create` + `start` + `delete`', (n) => `sh -c "${rt[n]} --root ${roots[n]} create --bundle ${trueBundle} bench-csd-${n} >/dev/null && ${rt[n]} --root ${roots[n]} start bench-csd-${n} && ${rt[n]} --root ${roots[n]} delete --force bench-csd-${n}"`],
    ['`exec true`', (n) => `${rt[n]} --root ${roots[n]} exec bench-sleeper-${n} true`],
    ['`podman run --rm IMAGE sh -c true`', (n) => `podman --runtime ${rt[n]} run --rm ${ulimits} ${image} sh -c true`],
  ];
  for (const [label, cmd] of cases) {
    const [mine, theirs] = hyperfine([cmd('ocirun'), cmd('runc')], label.includes('podman') ? Math.min(runs, 10) : runs);
    rows.push([label, mine, theirs]);
  }

  // Peak RSS: GNU time's %M covers the runtime and the processes it reaps (the init is its child).
  const rss = (n) => {
    const r = spawnSync('/usr/bin/time', ['-f', '%M', rt[n], '--root', roots[n], 'run', '--bundle', trueBundle, `bench-rss-${n}`], { encoding: 'utf8' });
    return Number(r.stderr.trim().split('\n').pop());
  };
  const smallestMemory = (n) => {
    for (const mb of [2, 3, 4, 5, 6, 8, 12, 16]) {
      const ok = [0, 1, 2].every(() => spawnSync('sh', ['-c', `podman --runtime ${rt[n]} run --rm ${ulimits} --memory ${mb}m ${image} sh -c true`], { stdio: 'ignore', timeout: 60_000 }).status === 0);
      if (ok) return `${mb}m`;
    }
    return '> 16m';
  };
  const memory = { ocirun: [rss('ocirun'), smallestMemory('ocirun')], runc: [rss('runc'), smallestMemory('runc')] };

  const f = (ms) => (ms === undefined ? '' : `${ms.toFixed(0)} ms`);
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores (${os.cpus()[0].model.trim()}), ${os.release()}; hyperfine medians of ${runs} runs after 3 warm-ups (podman: ${Math.min(runs, 10)}).`,
    '',
    '| | ocirun | runc | ocirun/runc | ocirun/node floor |',
    '|---|---|---|---|---|',
    ...rows.map(([label, mine, theirs]) => `| ${label} | ${f(mine)} | ${f(theirs)} | ${theirs ? (mine / theirs).toFixed(2) + 'x' : ''} | ${(mine / floor).toFixed(2)}x |`),
    `| peak RSS during \`run /bin/true\` | ${(memory.ocirun[0] / 1024).toFixed(1)} MB | ${(memory.runc[0] / 1024).toFixed(1)} MB | | |`,
    `| smallest \`podman --memory\` that starts | ${memory.ocirun[1]} | ${memory.runc[1]} | | |`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (argv.includes('--soak')) {
    for (const n of ['ocirun', 'runc']) spawnSync(process.execPath, [path.join(here, 'soak.mjs'), '--runtime', rt[n]], { stdio: 'inherit' });
  }
} finally {
  for (const name of ['ocirun', 'runc']) spawnSync(rt[name], ['--root', roots[name], 'delete', '--force', `bench-sleeper-${name}`], { stdio: 'ignore' });
  fs.rmSync(work, { recursive: true, force: true });
}
