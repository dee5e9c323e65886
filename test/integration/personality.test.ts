// linux.personality: the execution domain the program (and an exec'd
// process) runs in. LINUX32 on x86_64 makes uname report i686.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, makeBundle } from './helpers.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-persona-root-'));
const bundles: string[] = [];
afterAll(() => [root, ...bundles].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe.runIf(os.arch() === 'x64')('personality', () => {
  it('LINUX32 reaches the program and exec; LINUX leaves the native one', () => {
    const linux32 = (c: any) => (c.linux.personality = { domain: 'LINUX32' });
    const b32 = makeBundle('ocirun-persona-', ['uname', '-m'], linux32);
    const sleeper = makeBundle('ocirun-persona-', ['sleep', '100'], linux32);
    const b64 = makeBundle('ocirun-persona-', ['uname', '-m'], (c) => (c.linux.personality = { domain: 'LINUX' }));
    bundles.push(b32, sleeper, b64);
    const id = `persona-${process.pid}`;
    expect(cli(root, ['run', '--bundle', b32, id]).stdout).toBe('i686\n');
    try {
      expect(cli(root, ['run', '-d', '--bundle', sleeper, `${id}-exec`], { detached: true }).status).toBe(0);
      expect(cli(root, ['exec', `${id}-exec`, 'uname', '-m']).stdout).toBe('i686\n');
    } finally {
      cli(root, ['delete', '-f', `${id}-exec`]);
    }
    expect(cli(root, ['run', '--bundle', b64, `${id}-64`]).stdout).toBe('x86_64\n');
  });

  it('refuses flags and unknown domains, naming the field', () => {
    const b = makeBundle('ocirun-persona-', ['true'], (c) => (c.linux.personality = { domain: 'LINUX', flags: ['ADDR_NO_RANDOMIZE'] }));
    bundles.push(b);
    const r = cli(root, ['run', '--bundle', b, `persona-bad-${process.pid}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/linux\.personality\.flags: personality flags are not supported/);
  });
});
