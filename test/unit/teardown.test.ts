// Teardown's bounded waits, against fake cgroupfs trees: cgroup removal that
// gives up after its budget and says what is left, a freeze that does not
// complete, and cgroup v2's cgroup.kill for a container's stragglers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeCgroups } from '../../src/cgroups/index.js';
import { freeze, needsThaw, thaw } from '../../src/cgroups/freezer.js';
import { signalAll } from '../../src/container/destroy.js';
import type { SavedState } from '../../src/container/state.js';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-fake-teardown-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe('removeCgroups', () => {
  it('removes every hierarchy, sub-cgroups first', async () => {
    const paths = { memory: path.join(root, 'memory/ctr'), pids: path.join(root, 'pids/ctr') };
    fs.mkdirSync(path.join(paths.memory, 'sub/deeper'), { recursive: true });
    fs.mkdirSync(paths.pids, { recursive: true });
    expect(await removeCgroups(paths)).toEqual([]);
    expect(fs.existsSync(paths.memory) || fs.existsSync(paths.pids)).toBe(false);
  });

  it('gives up within its budget on a cgroup that stays busy, removes the rest, and says what holds it', async () => {
    const paths = { memory: path.join(root, 'memory/ctr'), pids: path.join(root, 'pids/ctr') };
    fs.mkdirSync(paths.memory, { recursive: true });
    fs.mkdirSync(paths.pids, { recursive: true });
    // A regular directory with a file in it cannot be removed: it stands for a busy cgroup.
    fs.writeFileSync(path.join(paths.memory, 'cgroup.procs'), '4242\n4343\n');
    let kills = 0;
    const t0 = Date.now();
    const left = await removeCgroups(paths, () => kills++, 200);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(left).toEqual([{ dir: paths.memory, code: 'ENOTEMPTY', held: 2 }]);
    expect(fs.existsSync(paths.pids)).toBe(false);
    expect(kills).toBeGreaterThan(0);
  });

  it('treats a path that was never made as removed', async () => {
    expect(await removeCgroups({ memory: path.join(root, 'never/made') })).toEqual([]);
  });
});

describe('freezer with a budget', () => {
  /** A fake v2 cgroup whose tasks never report frozen (one stuck in an uninterruptible sleep). */
  function stuckV2(): Record<string, string> {
    const dir = path.join(root, 'ctr');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'cgroup.freeze'), '0');
    fs.writeFileSync(path.join(dir, 'cgroup.events'), 'populated 1\nfrozen 0\n');
    return { unified: dir };
  }

  it('a freeze that does not complete fails within its budget and is undone', async () => {
    const paths = stuckV2();
    const t0 = Date.now();
    await expect(freeze(paths, 150)).rejects.toThrow(/cgroup\.freeze: the cgroup did not reach the 1 state within 150 ms/);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(fs.readFileSync(path.join(paths.unified, 'cgroup.freeze'), 'utf8')).toBe('0');
  });

  it('v1: FROZEN reads back at once; needsThaw sees it, and not a cgroup that is gone', async () => {
    const dir = path.join(root, 'freezer/ctr');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'freezer.state'), 'THAWED\n');
    const paths = { freezer: dir };
    let written = 0;
    await freeze(paths, 150, () => written++);
    expect(written).toBe(1);
    expect(needsThaw(paths)).toBe(true);
    await thaw(paths, 150);
    expect(needsThaw(paths)).toBe(false);
    fs.rmSync(dir, { recursive: true });
    expect(needsThaw(paths)).toBe(false);
  });
});

describe('signalAll on cgroup v2', () => {
  it('SIGKILL is one write of cgroup.kill, for the whole subtree', async () => {
    const dir = path.join(root, 'ctr');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'cgroup.kill'), '');
    await signalAll({ cgroupPaths: { unified: dir } } as unknown as SavedState, 'SIGKILL');
    expect(fs.readFileSync(path.join(dir, 'cgroup.kill'), 'utf8')).toBe('1');
  });
});
