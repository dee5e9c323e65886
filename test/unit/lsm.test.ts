import { describe, expect, it } from 'vitest';
import { lsmExecWrites } from '../../src/security/lsm.js';
import { labelMounts, type MountPlan } from '../../src/config/plan.js';

const mount = (type: string, bind = false, data = ''): MountPlan => ({ source: type, destination: `/${type}`, type, flags: 0, propagation: [], data, bind });

describe('LSM labels', () => {
  it('writes the SELinux label, then "exec <profile>" for AppArmor with the old attr file as fallback', () => {
    expect(lsmExecWrites({ apparmorProfile: 'p', selinuxLabel: 'l' })).toEqual([
      { lsm: 'selinux', files: ['thread-self/attr/exec'], value: 'l' },
      { lsm: 'apparmor', files: ['thread-self/attr/apparmor/exec', 'thread-self/attr/exec'], value: 'exec p' },
    ]);
    expect(lsmExecWrites({})).toEqual([]);
  });

  it('labels the filesystems the container makes, not bind mounts, proc, sysfs or cgroup (go-selinux FormatMountLabel)', () => {
    const out = labelMounts([mount('tmpfs', false, 'mode=755'), mount('devpts'), mount('bind', true), mount('proc'), mount('sysfs'), mount('cgroup')], 'system_u:object_r:container_file_t:s0');
    expect(out.map((m) => m.data)).toEqual(['mode=755,context="system_u:object_r:container_file_t:s0"', 'context="system_u:object_r:container_file_t:s0"', '', '', '', '']);
  });
});
