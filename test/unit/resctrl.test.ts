// linux.intelRdt against a directory laid out as a resctrl mount (these VMs
// have no resctrl): the group, schemata, tasks and monitoring group that
// runc's intelrdt manager makes, and what delete removes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyIntelRdt, checkIntelRdt, removeIntelRdt, resctrlRoot } from '../../src/cgroups/resctrl.js';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-resctrl-'));
  for (const d of ['info/L3', 'info/MB', 'info/L3_MON']) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.writeFileSync(path.join(root, 'info/last_cmd_status'), 'ok\n');
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));
const read = (...p: string[]) => fs.readFileSync(path.join(root, ...p), 'utf8');
/** resctrl's rmdir takes a group with its files; a plain directory needs them gone first. */
const asKernfs = (dir: string) => fs.readdirSync(dir, { withFileTypes: true }).forEach((e) => e.isFile() && fs.rmSync(path.join(dir, e.name)));

describe('intel RDT (resctrl)', () => {
  it('finds the resctrl mount in mountinfo', () => {
    expect(resctrlRoot('22 1 8:1 / / rw - ext4 /dev/sda1 rw\n90 22 0:60 / /sys/fs/resctrl rw - resctrl resctrl rw\n')).toBe('/sys/fs/resctrl');
    expect(resctrlRoot('22 1 8:1 / / rw - ext4 /dev/sda1 rw\n')).toBeUndefined();
  });

  it('checks as runc: resctrl present, a closID that is one name, the features the schemata use', () => {
    expect(() => checkIntelRdt({}, undefined)).toThrow(/linux\.intelRdt: Intel RDT needs the resctrl filesystem/);
    expect(() => checkIntelRdt({ closID: '../x' }, root)).toThrow(/linux\.intelRdt\.closID: invalid closID/);
    fs.rmSync(path.join(root, 'info/MB'), { recursive: true });
    expect(() => checkIntelRdt({ memBwSchema: 'MB:0=50' }, root)).toThrow(/memBwSchema: set, but Intel RDT\/MBA is not enabled/);
    expect(() => checkIntelRdt({ l3CacheSchema: 'L3:0=f', enableMonitoring: true }, root)).not.toThrow();
  });

  it("makes the container's group with the schemata, the pid and a monitoring group; delete removes it", () => {
    const g = applyIntelRdt(root, 'c1', { l3CacheSchema: 'L3:0=f0', memBwSchema: 'MB:0=50', schemata: ['L2:0=3'], enableMonitoring: true }, 4242);
    expect(g).toEqual({ path: path.join(root, 'c1'), created: true, monPath: path.join(root, 'c1/mon_groups/c1') });
    expect(read('c1/schemata')).toBe('L3:0=f0\nMB:0=50\nL2:0=3\n');
    expect(read('c1/tasks')).toBe('4242');
    expect(read('c1/mon_groups/c1/tasks')).toBe('4242');
    asKernfs(path.join(root, 'c1/mon_groups/c1'));
    fs.rmdirSync(path.join(root, 'c1/mon_groups/c1'));
    fs.rmdirSync(path.join(root, 'c1/mon_groups'));
    asKernfs(path.join(root, 'c1'));
    removeIntelRdt(g);
    expect(fs.existsSync(path.join(root, 'c1'))).toBe(false);
  });

  it("joins an existing closID group without touching it, and delete removes only its own monitoring group", () => {
    fs.mkdirSync(path.join(root, 'shared'));
    const g = applyIntelRdt(root, 'c2', { closID: 'shared', enableMonitoring: true }, 77);
    expect(g).toEqual({ path: path.join(root, 'shared'), created: false, monPath: path.join(root, 'shared/mon_groups/c2') });
    expect(fs.existsSync(path.join(root, 'shared/schemata'))).toBe(false);
    asKernfs(path.join(root, 'shared/mon_groups/c2'));
    removeIntelRdt(g);
    expect(fs.existsSync(path.join(root, 'shared/mon_groups/c2'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'shared'))).toBe(true);
    // A closID without schemata must exist already.
    expect(() => applyIntelRdt(root, 'c3', { closID: 'absent' }, 1)).toThrow(/the closID group must exist/);
  });

  it("reports the kernel's last_cmd_status with a refused write, and leaves no group behind", () => {
    fs.mkdirSync(path.join(root, 'c4'));
    fs.mkdirSync(path.join(root, 'c4/schemata')); // a write the "kernel" refuses (EISDIR)
    fs.writeFileSync(path.join(root, 'info/last_cmd_status'), 'Unknown or unsupported resource name\n');
    expect(() => applyIntelRdt(root, 'c4', { l3CacheSchema: 'L9:0=1' }, 1)).toThrow(/intel RDT: write .*schemata: .*last_cmd_status: Unknown or unsupported resource name/);
  });
});
