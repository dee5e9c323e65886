// The container's own session keyring (runc's "_ses.<id>"), or none with
// --no-new-keyring. /proc/keys (unmasked here) lists the keyrings a process
// can view, with their permissions.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, makeBundle, OCIRUN, project } from './helpers.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-keyring-root-'));
const bundle = makeBundle('ocirun-keyring-', ['cat', '/proc/keys'], (c) => {
  c.linux.maskedPaths = c.linux.maskedPaths.filter((p: string) => p !== '/proc/keys');
});
afterAll(() => [root, `${root}-runc`, bundle].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe('session keyring', () => {
  it('the container gets "_ses.<id>", searchable by its uid, with the permissions runc gives it', () => {
    const perms = (runtime?: string) => {
      const id = `keyring-${process.pid}`;
      const r = cli(runtime ? `${root}-runc` : root, ['run', '--bundle', bundle, id], { runtime, cwd: bundle });
      expect(r.status, r.stderr).toBe(0);
      const line = r.stdout.split('\n').find((l) => l.includes(` _ses.${id}:`));
      expect(line, r.stdout).toBeDefined();
      return line!.split(/\s+/)[4];
    };
    const mine = perms();
    expect(parseInt(mine, 16) & 0x80000).toBe(0x80000); // KEY_USR_SEARCH
    expect(mine).toBe(perms(execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim()));
  });

  it('exec joins the keyring of the container, not the caller\'s', () => {
    // A helper that prints the caller's session keyring, built static for busybox.
    const helper = path.join(root, 'session-keyring');
    execFileSync('gcc', ['-static', '-O2', '-o', helper, path.join(project, 'test/fixtures/session-keyring.c')]);
    const id = `keyring-exec-${process.pid}`;
    const sleeper = makeBundle('ocirun-keyring-', ['sh', '-c', '/session-keyring; exec sleep 100']);
    fs.copyFileSync(helper, path.join(sleeper, 'rootfs/session-keyring'));
    fs.chmodSync(path.join(sleeper, 'rootfs/session-keyring'), 0o755);
    const initOut = path.join(root, 'init-keyring.txt');
    const out = fs.openSync(initOut, 'w');
    try {
      // No pipes of ours for the container to hold open: its output goes to the file.
      const run = spawnSync(OCIRUN, ['--root', root, 'run', '-d', '--bundle', sleeper, id], { stdio: ['ignore', out, out], timeout: 30_000 });
      expect(run.status, fs.readFileSync(initOut, 'utf8')).toBe(0);
      for (let i = 0; i < 50 && !fs.readFileSync(initOut, 'utf8'); i++) spawnSync('sleep', ['0.1']);
      const mine = cli(root, ['exec', id, '/session-keyring']);
      expect(mine.status, mine.stderr).toBe(0);
      // The same keyring (serial and all) as the container's own process.
      expect(mine.stdout).toBe(fs.readFileSync(initOut, 'utf8'));
      expect(mine.stdout).toMatch(new RegExp(`^\\d+ keyring;0;0;[0-9a-f]+;_ses\\.${id}\\n$`));
      // The caller's own session keyring is another one.
      expect(execFileSync(helper, { encoding: 'utf8' })).not.toBe(mine.stdout);
    } finally {
      fs.closeSync(out);
      cli(root, ['delete', '-f', id]);
      fs.rmSync(sleeper, { recursive: true, force: true });
    }
  });

  it('--no-new-keyring makes none', () => {
    const id = `keyring-none-${process.pid}`;
    const r = cli(root, ['run', '--no-new-keyring', '--bundle', bundle, id]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toContain(`_ses.${id}`);
  });
});
