// The container lock as kill and delete take it: never waiting behind a
// create that holds it (its hooks may wait on the container), and the lock
// as the read-only commands see it, through /proc/locks.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockHeld, withContainerUnlessCreating } from '../../src/container/lock.js';
import { stateDir, writeState, type SavedState } from '../../src/container/state.js';
import { LOCK } from '../../src/sys/constants.js';
import { RecordingSys } from '../../src/sys/recording.js';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-lock-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function saved(id: string, over: Partial<SavedState>): SavedState {
  fs.mkdirSync(stateDir(root, id), { recursive: true, mode: 0o711 });
  const s: SavedState = { ociVersion: '1.3.0', id, phase: 'creating', pid: 0, pidStartTime: '', bundle: '/b', rootfs: '/b/rootfs', created: new Date(0).toISOString(), annotations: {}, cgroupPaths: {}, ...over };
  writeState(root, s);
  return s;
}

/** A Sys whose non-blocking flock finds the lock held `times` times (another command has it). */
function heldSys(times: number): RecordingSys {
  const sys = new RecordingSys();
  for (let i = 0; i < times; i++) sys.failOn('flock', 'EWOULDBLOCK', (a) => ((a[1] as number) & LOCK.NB) !== 0, 11);
  return sys;
}

const ctx = () => ({ root, warn: () => {} }) as any;

describe('withContainerUnlessCreating', () => {
  it('with the lock held and the state "creating" with a pid, runs whileCreating on that state, not fn, and never waits', async () => {
    saved('c1', { pid: 4242 });
    const sys = heldSys(1);
    const seen = await withContainerUnlessCreating(sys, ctx(), 'c1', () => 'locked', (s) => `creating ${s.pid}`);
    expect(seen).toBe('creating 4242');
    expect(sys.calls.filter((c) => c.call === 'flock').map((c) => c.args[1])).toEqual([LOCK.EX | LOCK.NB]);
  });

  it('with the lock free, runs fn under it', async () => {
    saved('c2', { pid: 4242 });
    const sys = heldSys(0);
    expect(await withContainerUnlessCreating(sys, ctx(), 'c2', (s) => `locked ${s.phase}`, () => 'creating')).toBe('locked creating');
  });

  it('past "creating", waits for the lock as before (an exec or a start holds it for a bounded step)', async () => {
    saved('c3', { pid: 4242, phase: 'created' });
    const sys = heldSys(1);
    expect(await withContainerUnlessCreating(sys, ctx(), 'c3', (s) => `locked ${s.phase}`, () => 'creating')).toBe('locked created');
    expect(sys.calls.filter((c) => c.call === 'flock').map((c) => c.args[1])).toEqual([LOCK.EX]);
  });

  it('before the create has recorded its init, tries again until it has', async () => {
    const s = saved('c4', {});
    const sys = heldSys(100);
    setTimeout(() => writeState(root, { ...s, pid: 77 }), 100);
    expect(await withContainerUnlessCreating(sys, ctx(), 'c4', () => 'locked', (now) => `creating ${now.pid}`, true)).toBe('creating 77');
    expect(sys.calls.filter((c) => c.call === 'flock').length).toBeGreaterThan(1);
  });

  it('without needsInit, does not wait for the pid either', async () => {
    saved('c5', {});
    expect(await withContainerUnlessCreating(heldSys(1), ctx(), 'c5', () => 'locked', (now) => `creating ${now.pid}`)).toBe('creating 0');
  });

  it('a container gone meanwhile is runc\'s "does not exist"', async () => {
    await expect(withContainerUnlessCreating(heldSys(1), ctx(), 'gone', () => 0, () => 1)).rejects.toThrow('container does not exist');
  });
});

describe('lockHeld', () => {
  it('sees an flock another process holds on the directory, and none once it is gone', async () => {
    const dir = path.join(root, 'held');
    fs.mkdirSync(dir);
    expect(lockHeld(dir)).toBe(false);
    // -o: the lock stays with flock(1), not its sleep, and goes with it.
    const holder = spawn('flock', ['-x', '-o', dir, 'sleep', '30'], { stdio: 'ignore', detached: true });
    try {
      // flock(1) takes a moment to start on a loaded machine.
      for (let i = 0; i < 500 && !lockHeld(dir); i++) await pause(20);
      expect(lockHeld(dir)).toBe(true);
      // Another directory on the same file system is not locked.
      const other = path.join(root, 'other');
      fs.mkdirSync(other);
      expect(lockHeld(other)).toBe(false);
    } finally {
      // Its group: flock(1) and its sleep.
      process.kill(-holder.pid!, 'SIGKILL');
      await new Promise((r) => holder.on('exit', r));
    }
    for (let i = 0; i < 100 && lockHeld(dir); i++) await pause(20);
    expect(lockHeld(dir)).toBe(false);
  });
});
