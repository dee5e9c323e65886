// Enabling controllers down a cgroup v2 tree, against a fake cgroupfs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { enableControllers } from '../../src/cgroups/index.js';

describe('cgroup v2 controllers (runc fs2.CreateCgroupPath)', () => {
  it('enables every controller the root offers at each level down to the parent', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-fake-cg2-'));
    try {
      fs.writeFileSync(path.join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
      const dir = path.join(root, 'a/b/ctr');
      fs.mkdirSync(dir, { recursive: true });
      for (const d of [root, path.join(root, 'a'), path.join(root, 'a/b'), dir]) fs.writeFileSync(path.join(d, 'cgroup.subtree_control'), '');
      enableControllers(root, dir);
      const read = (d: string) => fs.readFileSync(path.join(d, 'cgroup.subtree_control'), 'utf8');
      for (const d of [root, path.join(root, 'a'), path.join(root, 'a/b')]) expect(read(d)).toBe('+cpuset +cpu +io +memory +pids');
      expect(read(dir)).toBe(''); // the container's own: left to it
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
