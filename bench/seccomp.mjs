#!/usr/bin/env node
// How long the seccomp profiles the managers send take to compile (with
// libseccomp) and to load, each measured in a fresh child process (loading
// a filter confines the process that loads it). The profiles are the ones
// podman and Docker passed to the runtime on this machine, as the manager
// matrix test captured them (.corpus/, or $OCIRUN_CORPUS_DIR).
//
//   node bench/seccomp.mjs [--runs 20]     (root; after the integration tests)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const project = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const configs = process.env.OCIRUN_CORPUS_DIR ?? path.join(project, '.corpus');
if (!fs.existsSync(configs)) throw new Error(`no captured configs in ${configs}: run test/integration/manager-matrix.test.ts first`);
const argv = process.argv.slice(2);
const runs = Number(argv[argv.indexOf('--runs') + 1] || 20);

// The child: compile, then load, timing each; prints "compile load rules".
const child = `
const { LibSeccomp } = await import(${JSON.stringify(path.join(project, 'dist/sys/libseccomp.js'))});
const { compileSeccomp } = await import(${JSON.stringify(path.join(project, 'dist/security/seccomp.js'))});
const profile = JSON.parse(process.argv[1]);
const lib = new LibSeccomp();
const t0 = process.hrtime.bigint();
const ctx = compileSeccomp(lib, profile, () => {});
const t1 = process.hrtime.bigint();
lib.load(ctx);
const t2 = process.hrtime.bigint();
console.log(Number(t1 - t0) / 1e6, Number(t2 - t1) / 1e6);
`;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`seccomp profiles from the managers: median of ${runs} fresh processes each\n`);
console.log('| profile | rules (names) | compile | load | total |');
console.log('|---|---|---|---|---|');
// The default profile of each manager (the configs of the plain run).
for (const file of fs.readdirSync(configs).filter((f) => /^(podman|docker)-plain\.json$/.test(f))) {
  const profile = JSON.parse(fs.readFileSync(path.join(configs, file), 'utf8')).linux?.seccomp;
  if (!profile) continue;
  const names = profile.syscalls.reduce((n, r) => n + r.names.length, 0);
  const compile = [];
  const load = [];
  for (let i = 0; i < runs; i++) {
    const [c, l] = execFileSync(process.execPath, ['--input-type=module', '-e', child, JSON.stringify(profile)], { encoding: 'utf8' }).trim().split(' ').map(Number);
    compile.push(c);
    load.push(l);
  }
  const ms = (v) => `${v.toFixed(1)} ms`;
  console.log(`| ${file.replace(/\.json$/, '')} | ${profile.syscalls.length} (${names}) | ${ms(median(compile))} | ${ms(median(load))} | ${ms(median(compile.map((c, i) => c + load[i])))} |`);
}
