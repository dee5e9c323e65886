// What a runtime does for systemd: NOTIFY_SOCKET passthrough (the container
// gets a socket of its own; READY= goes on to systemd with MAINPID) and
// socket activation (LISTEN_FDS). A fake systemd (test/fixtures) listens;
// runc does the same in the same run.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, leftovers, makeBundle, OCIRUN, project, waitUntil } from './helpers.js';

const runc = execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-systemd-'));
const sdNotify = path.join(tmp, 'sd-notify');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

beforeAll(() => {
  execFileSync('gcc', ['-static', '-O2', '-o', sdNotify, path.join(project, 'test/fixtures/sd-notify.c')]);
});

/**
 * A fake systemd on a fresh socket. It prints to a file, so what it got can
 * be read the moment a runtime command returns; `lines()` waits for it to
 * finish (after the barrier, or on its timeout).
 */
async function fakeSystemd(timeoutSec: number): Promise<{ socket: string; lines: () => Promise<string[]>; sofar: () => string[] }> {
  const socket = path.join(tmp, `systemd-${Date.now()}.sock`);
  const outFile = `${socket}.out`;
  const out = fs.openSync(outFile, 'w');
  const child = spawn('python3', [path.join(project, 'test/fixtures/fake-systemd.py'), socket, String(timeoutSec)], { stdio: ['ignore', out, 'inherit'] });
  fs.closeSync(out);
  const done = new Promise<void>((r) => child.on('exit', () => r()));
  const text = () => fs.readFileSync(outFile, 'utf8');
  while (!text().includes('listening\n')) await new Promise((r) => setTimeout(r, 20));
  const sofar = () => text().split('\n').filter((l) => l && l !== 'listening');
  return { socket, sofar, lines: () => done.then(sofar) };
}

function notifyBundle(script: string): string {
  const bundle = makeBundle('ocirun-notify-', ['sh', '-c', script]);
  fs.copyFileSync(sdNotify, path.join(bundle, 'rootfs/sd-notify'));
  fs.chmodSync(path.join(bundle, 'rootfs/sd-notify'), 0o755);
  return bundle;
}

describe('NOTIFY_SOCKET', () => {
  const script = 'sleep 1; /sd-notify "STATUS=warming up"; /sd-notify "READY=1"; exec sleep 100';

  for (const [name, runtime] of [['ocirun', OCIRUN], ['runc', runc]] as const) {
    it(`run -d (${name}): READY=1 and the init as MAINPID reach systemd`, async () => {
      const bundle = notifyBundle(script);
      const root = fs.mkdtempSync(path.join(tmp, 'root-'));
      const id = `notify-${name}-${process.pid}`;
      const sd = await fakeSystemd(5);
      try {
        const r = cli(root, ['run', '-d', '--bundle', bundle, id], { runtime, detached: true, env: { NOTIFY_SOCKET: sd.socket } });
        expect(r.status, r.stderr).toBe(0);
        // run -d returns only once READY= was passed on: the fake may take a
        // moment to read what is queued, far less than the script's 1 s sleep.
        await waitUntil(() => sd.sofar().includes('READY=1'), 'READY=1 queued when run -d returned', 300);
        const pid = JSON.parse(cli(root, ['state', id], { runtime }).stdout).pid;
        const lines = await sd.lines();
        // runc 1.1.5 sends no BARRIER=1 (newer runc does, and so do we); the fake waits for it or times out.
        expect(lines.slice(0, 2)).toEqual(['READY=1', `MAINPID=${pid}`]);
        if (name === 'ocirun') expect(lines[2]).toBe('BARRIER=1');
        // What the container sees: the variable, and its socket's directory read-only.
        // The init's only: an exec'd process starts from the user's config.
        const inside = cli(root, ['exec', id, 'sh', '-c', 'tr "\\0" "\\n" </proc/1/environ | grep NOTIFY; echo "exec:$NOTIFY_SOCKET"; ls /run/notify; touch /run/notify/x'], { runtime });
        expect(inside.stdout).toBe('NOTIFY_SOCKET=/run/notify/notify.sock\nexec:\nnotify.sock\n');
        expect(inside.stderr).toMatch(/Read-only file system/);
      } finally {
        cli(root, ['delete', '-f', id], { runtime });
      }
      expect(leftovers(root, id, bundle)).toEqual([]);
    });
  }

  it('create + start: start returns after READY=, MAINPID is the init', async () => {
    const bundle = notifyBundle(script);
    const root = fs.mkdtempSync(path.join(tmp, 'root-'));
    const id = `notify-start-${process.pid}`;
    const sd = await fakeSystemd(5);
    try {
      expect(cli(root, ['create', '--bundle', bundle, id], { detached: true, env: { NOTIFY_SOCKET: sd.socket } }).status).toBe(0);
      const pid = JSON.parse(cli(root, ['state', id]).stdout).pid;
      const started = cli(root, ['start', id], { detached: true, env: { NOTIFY_SOCKET: sd.socket } });
      expect(started.status, started.stderr).toBe(0);
      expect(sd.sofar().slice(0, 2)).toEqual(['READY=1', `MAINPID=${pid}`]);
    } finally {
      cli(root, ['delete', '-f', id]);
    }
  });

  it('foreground run: ocirun itself is MAINPID, and the exit status comes back', async () => {
    const bundle = notifyBundle('/sd-notify READY=1; sleep 1; exit 4');
    const root = fs.mkdtempSync(path.join(tmp, 'root-'));
    const sd = await fakeSystemd(5);
    const child = spawn(OCIRUN, ['--root', root, 'run', '--bundle', bundle, `notify-fg-${process.pid}`], { env: { ...process.env, NOTIFY_SOCKET: sd.socket }, stdio: 'ignore' });
    const status = await new Promise((r) => child.on('exit', r));
    expect(status).toBe(4);
    expect((await sd.lines()).slice(0, 2)).toEqual(['READY=1', `MAINPID=${child.pid}`]);
  });

  it('a container that stops without READY= does not hang start; systemd hears nothing', async () => {
    const bundle = notifyBundle('sleep 1; exit 0');
    const root = fs.mkdtempSync(path.join(tmp, 'root-'));
    const id = `notify-none-${process.pid}`;
    const sd = await fakeSystemd(3);
    try {
      const r = cli(root, ['run', '-d', '--bundle', bundle, id], { detached: true, env: { NOTIFY_SOCKET: sd.socket }, timeout: 15_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(await sd.lines()).toEqual(['timeout']);
    } finally {
      cli(root, ['delete', '-f', id]);
    }
  });
});

describe('LISTEN_FDS (socket activation)', () => {
  const script = 'echo "$LISTEN_FDS $LISTEN_PID"; cat <&3; cat <&4; cat <&5; ls /proc/self/fd | wc -l';
  for (const f of ['one', 'two', 'three']) fs.writeFileSync(path.join(tmp, f), `${f}\n`);

  // sh sets LISTEN_PID to its own pid and execs the runtime, which keeps it.
  function activated(runtime: string, listenPid: string): string {
    const bundle = makeBundle('ocirun-listen-', ['sh', '-c', script]);
    const root = fs.mkdtempSync(path.join(tmp, 'root-'));
    const files = ['one', 'two', 'three'].map((f) => fs.openSync(path.join(tmp, f), 'r'));
    try {
      const r = spawnSync('sh', ['-c', `LISTEN_PID=${listenPid} LISTEN_FDS=2 exec "$0" --root ${root} run --preserve-fds 1 --bundle ${bundle} listen-${process.pid}`, runtime], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe', ...files],
        timeout: 30_000,
      });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout;
    } finally {
      files.forEach((fd) => fs.closeSync(fd));
    }
  }

  it('passes the activation fds ahead of --preserve-fds, with LISTEN_FDS=2 LISTEN_PID=1 (as runc)', () => {
    const mine = activated(OCIRUN, '$$');
    expect(mine).toBe('2 1\none\ntwo\nthree\n7\n');
    expect(mine).toBe(activated(runc, '$$'));
  });

  it('ignores LISTEN_FDS meant for another process', () => {
    const out = activated(OCIRUN, '1');
    // No variables; only the one preserved fd (3) arrives.
    expect(out).toMatch(/^ \none\n/);
  });
});
