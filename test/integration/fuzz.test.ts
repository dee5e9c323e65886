// Config fuzzing: 10,000 malformed or hostile configs (wrong types, huge
// values, deep nesting, odd unicode, paths with .. and symlinks) go to
// create through the library API (one process: a CLI start per config would
// take an hour here), and a sample through the CLI. Each is refused with a
// RuntimeError (exit 1 and one line on the CLI), never a crash or a hang,
// and leaves nothing. The few that are still valid really run and are deleted.
// It drives the built runtime (dist/), whose init is a file Node can start.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../dist/errors.js';
import { create, remove } from '../../dist/index.js';
import { defaultSpec } from '../../dist/config/default.js';
import { leftovers, processesTagged, makeBundle, OCIRUN, removeBundle } from './helpers.js';

const COUNT = Number(process.env.OCIRUN_FUZZ_COUNT ?? 10_000);
let root: string;
let bundle: string;

/** A small deterministic PRNG (mulberry32), so a failure can be replayed by its index. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// root and root.path are left alone: a rootfs anywhere on the host is a
// legitimate config (runc takes it too), and the runtime creates its mount
// points there, so "../../etc" would add directories to the host's /etc.
const FIELDS = [
  'ociVersion', 'root.readonly', 'process', 'process.args', 'process.args.0', 'process.cwd', 'process.env', 'process.env.0',
  'process.user', 'process.user.uid', 'process.user.gid', 'process.user.additionalGids', 'process.user.umask', 'process.rlimits', 'process.rlimits.0.soft',
  'process.rlimits.0.type', 'process.capabilities', 'process.capabilities.bounding', 'process.capabilities.bounding.0', 'process.noNewPrivileges',
  'process.oomScoreAdj', 'process.terminal', 'process.consoleSize', 'hostname', 'domainname', 'mounts', 'mounts.0', 'mounts.0.destination',
  'mounts.0.source', 'mounts.0.type', 'mounts.0.options', 'mounts.1.options.0', 'linux', 'linux.namespaces', 'linux.namespaces.0', 'linux.namespaces.0.type',
  'linux.namespaces.1.path', 'linux.uidMappings', 'linux.gidMappings', 'linux.resources', 'linux.resources.memory.limit', 'linux.resources.pids',
  'linux.resources.cpu.cpus', 'linux.resources.devices', 'linux.seccomp', 'linux.seccomp.defaultAction', 'linux.seccomp.syscalls', 'linux.sysctl',
  'linux.maskedPaths', 'linux.readonlyPaths.0', 'linux.devices', 'linux.cgroupsPath', 'linux.rootfsPropagation', 'linux.timeOffsets', 'hooks',
  'hooks.prestart', 'hooks.poststop.0.path', 'annotations',
];

function hostileValue(rnd: () => number): unknown {
  const deep = (n: number): unknown => (n === 0 ? 'x' : rnd() < 0.5 ? [deep(n - 1)] : { a: deep(n - 1) });
  const pick = [
    () => null, () => true, () => 0, () => -1, () => 1e308, () => -1e308, () => 2 ** 64, () => 0.5, () => Number.MAX_SAFE_INTEGER + 2,
    () => '', () => '../../../../etc', () => '/proc/self/root/../../etc', () => '/../..', () => 'a'.repeat(100_000), () => '\u0000', () => 'x\u0000y',
    () => '\u202e\u0301\ud800', () => '😀/../..', () => '/dev/../proc/sysrq-trigger', () => '/proc/self/fd/0', () => 'SCMP_ACT_BOGUS', () => 'rbind',
    () => [], () => [null], () => [1, 'two', {}], () => {}, () => ({ __proto__: { polluted: true } }), () => ({ constructor: { prototype: { x: 1 } } }),
    () => deep(200), () => deep(20), () => Array.from({ length: 5000 }, (_, i) => i),
  ];
  return pick[Math.floor(rnd() * pick.length)]();
}

/** Sets `path` (dot-separated; numeric parts index arrays) in `obj`, creating what is missing. */
function setPath(obj: any, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let o = obj;
  for (const p of parts.slice(0, -1)) {
    if (o[p] === null || typeof o[p] !== 'object') o[p] = /^\d+$/.test(p) ? [] : {};
    o = o[p];
  }
  o[parts.at(-1)!] = value;
}

function hostileConfig(i: number): unknown {
  const rnd = prng(i + 1);
  const config: any = defaultSpec({ args: ['true'], terminal: false });
  if (rnd() < 0.01) return hostileValue(rnd); // not even an object, sometimes
  const n = 1 + Math.floor(rnd() * 3);
  for (let k = 0; k < n; k++) setPath(config, FIELDS[Math.floor(rnd() * FIELDS.length)], hostileValue(rnd));
  return config;
}

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-fuzz-root-'));
  bundle = makeBundle('ocirun-fuzz-', ['true']);
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
  removeBundle(bundle);
});

describe('config fuzzing', () => {
  it(`refuses ${COUNT} hostile configs cleanly through the library`, async () => {
    let refused = 0;
    let accepted = 0;
    const crashes: string[] = [];
    for (let i = 0; i < COUNT; i++) {
      const id = `fuzz-${i}`;
      const config = hostileConfig(i) as any;
      try {
        const hang = new Promise((_, reject) => setTimeout(() => reject(new Error('hang: create took over 30 s')), 30_000).unref());
        await Promise.race([create({ id, bundle, config }, { root, warn: () => {} }), hang]);
        accepted++;
        await remove(id, { force: true }, { root });
      } catch (err) {
        if (err instanceof RuntimeError && !err.message.includes('\n')) refused++;
        else crashes.push(`#${i}: ${(err as Error)?.stack?.split('\n').slice(0, 2).join(' ') ?? String(err)}`);
      }
      // State dir, cgroup directories, mounts: for every config. Processes
      // (a scan of /proc) every 500 configs and at the end: a leaked one stays.
      for (const l of leftovers(root, id, bundle, { processes: false })) crashes.push(`#${i}: left ${l}`);
      if (i % 500 === 499 || i === COUNT - 1) {
        for (const l of processesTagged((tag, cg) => tag?.startsWith('fuzz-') === true || /\/fuzz-\d+$/m.test(cg))) crashes.push(`by #${i}: left ${l}`);
      }
    }
    process.stdout.write(`config fuzzing: ${COUNT} configs, ${refused} refused with an error, ${accepted} valid (run and deleted), ${crashes.length} crashes or leftovers\n`);
    expect(crashes).toEqual([]);
    expect(refused + accepted).toBe(COUNT);
    expect(fs.readdirSync(root)).toEqual([]);
  }, 1_800_000);

  it('gives exit 1 and one error line through the CLI (a sample)', () => {
    const file = path.join(bundle, 'config.json');
    const good = fs.readFileSync(file, 'utf8');
    try {
      for (let i = 0; i < 20; i++) {
        fs.writeFileSync(file, JSON.stringify(hostileConfig(1_000_000 + i)));
        const id = `fuzz-cli-${i}`;
        const r = spawnSync(OCIRUN, ['--root', root, 'create', '--bundle', bundle, id], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'ignore', 'pipe'] });
        if (r.status === 0) {
          spawnSync(OCIRUN, ['--root', root, 'delete', '--force', id]);
          continue;
        }
        expect(r.status, r.stderr).toBe(1);
        expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
        expect(leftovers(root, id, bundle)).toEqual([]);
      }
    } finally {
      fs.writeFileSync(file, good);
    }
  }, 300_000);
});
