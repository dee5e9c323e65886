// How a user installs ocirun, tried as a fresh machine would: the packed
// tarball installed with `npm install -g` (no install scripts run: npm 11
// gates them, and never runs `prepare` for a tarball), and the single file
// copied out of the checkout on its own. Each runs a container, on Bun and
// on Node.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, KOFFI_ADDON, keptAddonName, leftovers, makeBundle, project } from './helpers.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-install-'));
fs.chmodSync(work, 0o755);
const prefix = path.join(work, 'prefix');
let bundle: string;

beforeAll(() => {
  bundle = makeBundle('ocirun-install-', ['sh', '-c', 'echo "inside $(hostname)"']);
  // What `npm publish` would ship, as it stands after the build (no rebuild here).
  const tgz = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], { cwd: project, encoding: 'utf8' }).trim().split('\n').pop()!;
  const r = spawnSync('npm', ['install', '-g', '--no-audit', '--no-fund', '--prefix', prefix, path.join(work, tgz)], { encoding: 'utf8', timeout: 300_000 });
  expect(r.status, r.stderr).toBe(0);
}, 600_000);
afterAll(() => [work, bundle].forEach((d) => d && fs.rmSync(d, { recursive: true, force: true })));

function runWith(bin: string, env: Record<string, string> = {}) {
  const root = fs.mkdtempSync(path.join(work, 'root-'));
  const id = `install-${process.pid}-${path.basename(root)}`;
  const r = cli(root, ['run', '--bundle', bundle, id], { runtime: bin, env });
  return { r, left: leftovers(root, id, bundle) };
}

describe('installing ocirun', () => {
  it('npm install -g of the packed tarball gives a working ocirun (Bun, then Node)', () => {
    const bin = path.join(prefix, 'bin', 'ocirun');
    expect(fs.lstatSync(bin).isSymbolicLink()).toBe(true);
    const check = spawnSync(bin, ['check'], { encoding: 'utf8' });
    expect(check.stdout).toMatch(/^ok\s+C stage\s/m);
    expect(check.stdout).toMatch(/^ok\s+exec shim\s/m);
    expect(check.status, check.stdout).toBe(0);
    for (const env of [{}, { OCIRUN_ENGINE: 'node' }]) {
      const { r, left } = runWith(bin, env);
      expect(r.status, `${JSON.stringify(env)}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toBe('inside ocirun\n');
      expect(left).toEqual([]);
    }
  });

  it('the single file, copied anywhere, runs a container with nothing else of the checkout', () => {
    const dir = path.join(work, 'usr-local-bin');
    fs.mkdirSync(dir, { mode: 0o755 });
    const bin = path.join(dir, 'ocirun');
    fs.copyFileSync(path.join(project, 'build', 'ocirun'), bin);
    fs.chmodSync(bin, 0o755);
    const { r, left } = runWith(bin);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('inside ocirun\n');
    expect(left).toEqual([]);
    expect(spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout).toMatch(/^ocirun version /);
  });
  it('runs a container where /run is mounted noexec (Debian\'s initramfs mounts it so), beside runc', () => {
    // The kept copy of koffi's addon under /run cannot be mapped there: an
    // unnamed copy elsewhere (/dev/shm) is loaded instead. A mount namespace
    // of the test's own gets the noexec /run (the host's, bound and
    // remounted noexec, with the kept copy in it), then an empty one; the
    // host's is left alone.
    const runc = execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim();
    for (const [name, bin] of [['ocirun', path.join(project, 'bin/ocirun')], ['runc', runc]]) {
      const root = fs.mkdtempSync(path.join(work, `noexec-${name}-`));
      const id = `install-noexec-${process.pid}-${name}`;
      for (const noexec of ['mount --bind /run /run && mount -o remount,bind,noexec /run', 'mount -t tmpfs -o noexec,nosuid,nodev tmpfs /run']) {
        const script = `${noexec} && grep -q " /run .*noexec" /proc/self/mountinfo && exec "$@"`;
        const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', bin, '--root', root, 'run', '--bundle', bundle, id], { encoding: 'utf8', timeout: 60_000 });
        expect(r.status, `${name}, ${noexec}: ${r.stderr}`).toBe(0);
        expect(r.stdout, name).toBe('inside ocirun\n');
        expect(leftovers(root, id, bundle), name).toEqual([]);
      }
    }
  });

  it('writes a kept copy of the addon cut short (a full filesystem) again, whole', () => {
    if (process.env.OCIRUN_ENGINE === 'node') return;
    const bytes = fs.readFileSync(KOFFI_ADDON);
    const kept = path.join('/run/ocirun-engine', keptAddonName());
    const { r: first } = runWith(path.join(project, 'bin/ocirun'));
    expect(first.status, first.stderr).toBe(0);
    // What a write that stopped short leaves: the file, root's and 0500, with part of the addon.
    const short = `${kept}.short`;
    fs.writeFileSync(short, bytes.subarray(0, 614_400), { mode: 0o500 });
    fs.renameSync(short, kept);
    const { r, left } = runWith(path.join(project, 'bin/ocirun'));
    expect(r.status, r.stderr).toBe(0);
    expect(left).toEqual([]);
    expect(fs.readFileSync(kept).equals(bytes)).toBe(true);
    expect(fs.statSync(kept).mode & 0o7777).toBe(0o500);
  });
});
