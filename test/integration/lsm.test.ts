// AppArmor profiles applied for real. These VMs have no LSM, so this runs
// in the qemu guest (Debian's kernel has AppArmor on), with a profile loaded
// by apparmor_parser; on the host the bad-input test checks the refusal.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, leftovers, makeBundle, startContainer, type RunningContainer } from './helpers.js';

const enabled = (() => {
  try {
    return fs.existsSync('/sys/kernel/security/apparmor') && fs.readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').startsWith('Y');
  } catch {
    return false;
  }
})();
const PROFILE = 'ocirun-test';
let dir: string;
let plain: RunningContainer;

beforeAll(() => {
  // Run only where it must run (the guest project, test/run-all.sh): a host without AppArmor is a failure here.
  expect(enabled, 'this test needs AppArmor (the qemu guest has it)').toBe(true);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-apparmor-'));
  const file = path.join(dir, PROFILE);
  // Everything a container needs, but writing /dev/shm/denied.
  fs.writeFileSync(file, `profile ${PROFILE} flags=(attach_disconnected,mediate_deleted) {\n  file,\n  capability,\n  network,\n  signal,\n  unix,\n  ptrace,\n  mount,\n  umount,\n  pivot_root,\n  deny /dev/shm/denied w,\n}\n`);
  execFileSync('apparmor_parser', ['--replace', '--skip-cache', file]);
  plain = startContainer('aa', ['sleep', '1000']);
}, 120_000);
afterAll(() => {
  plain?.remove();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('AppArmor', () => {
  it('process.apparmorProfile confines the container process', () => {
    const bundle = makeBundle('ocirun-aa-', ['sh', '-c', 'cat /proc/self/attr/current; echo; touch /dev/shm/allowed && echo allowed; touch /dev/shm/denied'], (c) => (c.process.apparmorProfile = PROFILE));
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-aa-root-'));
    const r = cli(root, ['run', '--bundle', bundle, `aa-run-${process.pid}`], { timeout: 60_000 });
    expect(r.stdout).toMatch(new RegExp(`^${PROFILE} \\(enforce\\)\\s*\\nallowed\\n$`));
    expect(r.stderr).toMatch(/touch: \/dev\/shm\/denied: Permission denied/);
    expect(r.status).toBe(1);
  });

  it('exec --apparmor confines the exec\'d process only', () => {
    const r = cli(plain.root, ['exec', '--apparmor', PROFILE, plain.id, 'cat', '/proc/self/attr/current'], { timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${PROFILE} \\(enforce\\)`));
    expect(cli(plain.root, ['exec', plain.id, 'cat', '/proc/self/attr/current'], { timeout: 60_000 }).stdout).toMatch(/^unconfined/);
  });

  it('a profile the kernel does not know fails create with the step and errno, leaving nothing', () => {
    const bundle = makeBundle('ocirun-aa-', ['true'], (c) => (c.process.apparmorProfile = 'no-such-profile'));
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-aa-root-'));
    const id = `aa-bad-${process.pid}`;
    const r = cli(root, ['create', '--bundle', bundle, id], { timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/apply AppArmor profile: .*\/proc\/thread-self\/attr\/apparmor\/exec.*ENOENT/);
    expect(leftovers(root, id, bundle)).toEqual([]);
  });
});
