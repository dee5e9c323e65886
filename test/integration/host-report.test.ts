// `features` and `check` through the CLI, against what this host really has.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cli } from './helpers.js';

describe('features and check', () => {
  it('features lists exactly the namespaces this kernel has, and runc-style seccomp data', () => {
    const r = cli('/run/ocirun', ['features']);
    expect(r.status, r.stderr).toBe(0);
    const f = JSON.parse(r.stdout);
    const files: Record<string, string> = { mount: 'mnt', network: 'net' };
    const present = ['mount', 'pid', 'network', 'uts', 'ipc', 'user', 'cgroup', 'time'].filter((n) => fs.existsSync(`/proc/self/ns/${files[n] ?? n}`));
    expect(f.linux.namespaces).toEqual(present);
    expect(f.linux.capabilities.length).toBe(Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8')) + 1);
    expect(f.linux.seccomp.enabled).toBe(true);
    expect(f.linux.seccomp.archs).toContain('SCMP_ARCH_X86_64');
  });

  it('check reports this host as usable, one line per item', () => {
    const r = cli('/run/ocirun', ['check']);
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^ok\s+namespace: mount\s+supported$/m);
    expect(r.stdout).toMatch(/^ok\s+cgroups\s+(hybrid|v1|v2)/m);
    expect(r.stdout).toMatch(/^ok\s+libseccomp\s+libseccomp\.so\.2 \d+\.\d+\.\d+$/m);
    expect(r.stdout).toMatch(/ocirun can work here\n$/);
  });
});
