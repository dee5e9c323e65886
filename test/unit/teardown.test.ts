// Teardown's bounded waits, against fake cgroupfs trees: cgroup removal that
// gives up after its budget and says what is left, a freeze that does not
// complete, and cgroup v2's cgroup.kill for a container's stragglers.
import fs from 'node:fs';
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeCgroups } from '../../src/cgroups/index.js';
import { freeze, needsThaw, thaw, thawTree } from '../../src/cgroups/freezer.js';
import { destroy, signalAll } from '../../src/container/destroy.js';
import { processStartTime, type SavedState } from '../../src/container/state.js';
import type { Sys } from '../../src/sys/types.js';

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

describe('thawTree: every cgroup below the container, parents first', () => {
  it('v1: a sub-cgroup the container froze itself is seen by needsThaw and thawed, the top left alone when thawed', async () => {
    const dir = path.join(root, 'freezer/tree');
    fs.mkdirSync(path.join(dir, 'a/b'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'freezer.state'), 'THAWED\n');
    fs.writeFileSync(path.join(dir, 'a/freezer.state'), 'THAWED\n');
    fs.writeFileSync(path.join(dir, 'a/b/freezer.state'), 'FROZEN\n');
    const paths = { freezer: dir };
    expect(needsThaw(paths)).toBe(true);
    await thawTree(paths, 150);
    expect(fs.readFileSync(path.join(dir, 'a/b/freezer.state'), 'utf8')).toBe('THAWED');
    expect(fs.readFileSync(path.join(dir, 'freezer.state'), 'utf8')).toBe('THAWED\n');
    expect(needsThaw(paths)).toBe(false);
  });
});

describe('thawTree below PATH_MAX', () => {
  it('v1: a frozen cgroup at the bottom of a chain no path reaches is thawed, and needsThaw sees it first', async () => {
    const dir = path.join(root, 'freezer/deep');
    fs.mkdirSync(dir, { recursive: true });
    // 400 levels of 10-character names: over 4 KB of path. bash's cd goes on
    // relative past PATH_MAX; each level gets a thawed freezer.state, the
    // bottom one a frozen one.
    const chain = (script: string) => spawnSync('bash', ['-c', `cd "$1" && ${script}`, 'bash', dir], { encoding: 'utf8' });
    const half = Array(200).fill('aaaaaaaaaa').join('/');
    const made = chain(`mkdir -p ${half} && cd ${half} && mkdir -p ${half} && cd "$1" && echo THAWED > freezer.state && for i in $(seq 400); do cd aaaaaaaaaa; echo THAWED > freezer.state; done; echo FROZEN > freezer.state`);
    expect(made.status, made.stderr).toBe(0);
    const bottom = () => chain('for i in $(seq 400); do cd aaaaaaaaaa; done; cat freezer.state').stdout.trim();
    expect(bottom()).toBe('FROZEN');
    const paths = { freezer: dir };
    expect(needsThaw(paths)).toBe(true);
    await thawTree(paths, 150);
    expect(bottom()).toBe('THAWED');
    expect(needsThaw(paths)).toBe(false);
    // Node's recursive rm goes by path; GNU rm walks by fd.
    chain('cd .. && rm -rf deep');
  }, 30_000);
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

describe('destroy: every step attempted, the state directory last', () => {
  /** A stopped container's state under a fake root (kill: false, so nothing is signalled). */
  function stopped(extra: Partial<SavedState> = {}): { ctx: any; s: SavedState; warnings: string[] } {
    const warnings: string[] = [];
    const id = 'teardown-test';
    fs.mkdirSync(path.join(root, 'state', id), { recursive: true });
    const s = { id, pid: 0, pidStartTime: '', cgroupPaths: {}, annotations: {}, ...extra } as SavedState;
    return { ctx: { root: path.join(root, 'state'), rootless: false, systemdCgroup: false, warn: (m: string) => warnings.push(m) }, s, warnings };
  }
  const noSys = {} as Sys;

  it('a step that fails is reported, and the later steps and the state directory removal still happen', async () => {
    const busy = path.join(root, 'memory/ctr');
    fs.mkdirSync(busy, { recursive: true });
    fs.writeFileSync(path.join(busy, 'cgroup.procs'), '4242\n');
    const gone = path.join(root, 'pids/ctr');
    fs.mkdirSync(gone, { recursive: true });
    const { ctx, s, warnings } = stopped({ cgroupPaths: { memory: busy, pids: gone } });
    // The first step fails (its init is gone already: pid 0, nothing is signalled).
    process.env.OCIRUN_FAULT_FAIL = 'processes-killed';
    try {
      await destroy(noSys, ctx, s, { kill: true });
    } finally {
      delete process.env.OCIRUN_FAULT_FAIL;
    }
    expect(warnings[0]).toBe('kill processes: processes-killed: injected failure (OCIRUN_FAULT_FAIL)');
    expect(fs.existsSync(path.join(ctx.root, s.id))).toBe(false);
    expect(fs.existsSync(gone)).toBe(false);
    expect(warnings.filter((w) => w.startsWith('remove cgroup: left in place'))).toHaveLength(1);
    expect(warnings.find((w) => w.startsWith('remove cgroup:'))).toContain(`${busy} (ENOTEMPTY, 1 process(es))`);
  });

  it('keeps the state directory while the init still lives, and says why', async () => {
    // This test's own process stands for an init that could not be killed.
    const { ctx, s } = stopped({ pid: process.pid, pidStartTime: processStartTime(process.pid)! });
    await expect(destroy(noSys, ctx, s, { kill: false })).rejects.toThrow(/container init \(pid \d+\) still running: state kept in /);
    expect(fs.existsSync(path.join(ctx.root, s.id))).toBe(true);
  });
});
