// The terminal proxy: a foreground `run` or `exec -t` with process.terminal
// and no --console-socket, driven through a real terminal (tmux). runc does
// the same in the same run, and what the container sees must match.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, ensureImage, leftovers, makeBundle, OCIRUN, startContainer, TEST_IMAGE, waitUntil } from './helpers.js';
import { Terminal } from './tmux.js';

const runc = execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim();
const cleanup: (() => void)[] = [];
afterAll(() => cleanup.forEach((f) => f()));

interface Session {
  tty: string;
  size: string;
  resized: string;
  interrupted: string;
  exit: string;
}

/** Types a session into `command`'s shell: its tty and size, a resize, Ctrl-C, exit 3. */
async function shellSession(name: string, command: string): Promise<Session> {
  const t = new Terminal(name, `${command}; echo EXIT=$?`, { cols: 100, rows: 30 });
  cleanup.push(() => t.close());
  await t.waitFor(/# $/m);
  t.type('echo T=$(tty) S=$(stty size)', 'Enter');
  const [, tty, size] = await t.waitFor(/^T=(\S+) S=(\d+ \d+)$/m);
  t.resize(90, 20);
  // The resize travels tmux -> runtime -> pty: ask until the shell sees it (bounded).
  let resized = '';
  for (let n = 1; n <= 50 && resized !== '20 90'; n++) {
    t.type(`echo R${n}=$(stty size)`, 'Enter');
    [, resized] = await t.waitFor(new RegExp(`^R${n}=(\\d+ \\d+)$`, 'm'));
  }
  // Ctrl-C reaches the container's foreground job, not the runtime: once
  // the sleep is the terminal's foreground process group.
  t.type('sleep 100', 'Enter');
  await waitUntil(() => foregroundSleep() !== undefined, 'sleep 100 in the foreground of its terminal');
  t.type('', 'C-c');
  t.type('echo I=$?', 'Enter');
  const [, interrupted] = await t.waitFor(/^I=(\d+)$/m);
  t.type('exit 3', 'Enter');
  const [, exit] = await t.waitFor(/^EXIT=(\d+)$/m);
  return { tty, size, resized, interrupted, exit };
}

/** A `sleep 100` that is the foreground process group of its terminal (stat: pgrp = tpgid). */
function foregroundSleep(): number | undefined {
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== 'sleep\x00100\x00') continue;
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (f[2] === f[5]) return Number(pid);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

describe('terminal proxy', () => {
  it('run: a shell on a pty sized and resized from the caller, Ctrl-C to the container, exit status back (as runc)', async () => {
    const bundle = makeBundle('ocirun-tty-', ['sh'], (c) => (c.process.terminal = true));
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-tty-root-'));
    const runcRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'runc-tty-root-'));
    cleanup.push(() => [bundle, root, runcRoot].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
    const id = `tty-${process.pid}`;

    const mine = await shellSession('ocirun-run', `cd ${bundle} && ${OCIRUN} --root ${root} run ${id}`);
    const theirs = await shellSession('runc-run', `cd ${bundle} && ${runc} --root ${runcRoot} run ${id}`);
    expect(mine).toEqual({ tty: '/dev/pts/0', size: '30 100', resized: '20 90', interrupted: '130', exit: '3' });
    expect(mine).toEqual(theirs);
    expect(leftovers(root, id, bundle)).toEqual([]);
  });

  it('exec -t: a second shell on its own pty in a running container', async () => {
    const c = startContainer('ttyexec', ['sleep', '1000']);
    cleanup.push(() => c.remove());
    const s = await shellSession('ocirun-exec', `${OCIRUN} --root ${c.root} exec -t ${c.id} sh`);
    expect(s).toEqual({ tty: '/dev/pts/0', size: '30 100', resized: '20 90', interrupted: '130', exit: '3' });
    // The container goes on; the exec'd shell is gone.
    expect(JSON.parse(cli(c.root, ['state', c.id]).stdout).status).toBe('running');
    expect(cli(c.root, ['ps', c.id]).stdout).not.toMatch(/\bsh\b/);
  });
});

describe('podman run -it', () => {
  it('gives the same interactive session with ocirun as with runc', async () => {
    ensureImage();
    const podman = (runtime: string) => `podman --runtime ${runtime} run --rm -it --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 ${TEST_IMAGE} sh`;
    const mine = await shellSession('podman-ocirun', podman(OCIRUN));
    const theirs = await shellSession('podman-runc', podman(runc));
    expect(mine).toEqual({ tty: '/dev/pts/0', size: '30 100', resized: '20 90', interrupted: '130', exit: '3' });
    expect(mine).toEqual(theirs);
  });
});
