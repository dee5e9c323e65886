import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rootlessMode } from '../../src/container/rootless.js';
import { defaultSpec, toRootless } from '../../src/config/default.js';

describe('spec --rootless (runc ToRootless)', () => {
  const spec: any = toRootless(defaultSpec(), 1234, 5678);

  it('swaps the network namespace for a user namespace mapping the caller to 0', () => {
    expect(spec.linux.namespaces.map((n: any) => n.type).filter((t: string) => t !== 'cgroup')).toEqual(['pid', 'ipc', 'uts', 'mount', 'user']);
    expect(spec.linux.uidMappings).toEqual([{ containerID: 0, hostID: 1234, size: 1 }]);
    expect(spec.linux.gidMappings).toEqual([{ containerID: 0, hostID: 5678, size: 1 }]);
  });

  it('binds /sys, drops uid=/gid= mount options and the resources', () => {
    expect(spec.mounts.find((m: any) => m.destination === '/sys')).toEqual({ destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
    expect(spec.mounts.find((m: any) => m.destination === '/dev/pts').options).not.toContain('gid=5');
    expect(spec.linux.resources).toBeUndefined();
    // the rest as the default
    expect(spec.mounts.map((m: any) => m.destination)).toEqual(defaultSpec().mounts!.map((m) => m.destination));
  });
});

describe('--rootless', () => {
  it("takes Go's booleans and auto, and refuses anything else", () => {
    for (const v of ['1', 't', 'true', 'TRUE', 'True']) expect(rootlessMode(v)).toBe(true);
    for (const v of ['0', 'f', 'false', 'FALSE', 'False']) expect(rootlessMode(v)).toBe(false);
    const identity = fs.readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/).join(' ') === '0 0 4294967295';
    expect(rootlessMode('auto')).toBe(process.geteuid!() !== 0 || !identity);
    expect(() => rootlessMode('maybe')).toThrow(/--rootless: invalid value "maybe"/);
  });
});
