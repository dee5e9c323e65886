// `features` reports what this build applies, in the spec's features shape.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { features } from '../../src/container/features.js';
import type { SeccompLib } from '../../src/sys/libseccomp.js';

// The spec's features schemas live outside this repository (OCI_SPEC_DIR,
// or ../shared beside the checkout); without them that check is skipped, with a note.
const specDir = process.env.OCI_SPEC_DIR ?? path.resolve(__dirname, '../../../shared/oci-runtime-spec-v1.3.0');
const haveSpec = fs.existsSync(path.join(specDir, 'features-linux.json'));
if (!haveSpec) process.stderr.write(`note: runtime-spec schemas not found at ${specDir} (set OCI_SPEC_DIR): the features field check is skipped\n`);
const read = (f: string) => JSON.parse(fs.readFileSync(path.join(specDir, f), 'utf8'));

const fakeSeccomp = { version: '2.5.4', archResolve: (n: string) => (['x86_64', 'x86', 'x32'].includes(n) ? 1 : 0) } as unknown as SeccompLib;

describe('features', () => {
  const f = features({ hasNamespace: (n) => n !== 'time', lastCap: 40, seccomp: fakeSeccomp });

  it.skipIf(!haveSpec)('uses only the fields the spec defines', () => {
    const linuxSchema = read('features-linux.json').linux;
    const topSchema = read('features-schema.json');
    for (const k of Object.keys(f)) expect(Object.keys(topSchema.properties)).toContain(k);
    for (const k of Object.keys(f.linux)) expect(Object.keys(linuxSchema.properties)).toContain(k);
    for (const k of Object.keys(f.linux.cgroup)) expect(Object.keys(linuxSchema.properties.cgroup.properties)).toContain(k);
  });

  it('is truthful to the host and the build', () => {
    expect(f.linux.namespaces).not.toContain('time');
    expect(f.linux.namespaces).toContain('user');
    expect(f.linux.capabilities.length).toBe(41);
    expect(f.linux.capabilities.at(-1)).toBe('CAP_CHECKPOINT_RESTORE');
    const s = f.linux.seccomp as { archs: string[]; actions: string[]; supportedFlags: string[] };
    expect(s.archs).toEqual(['SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32']);
    expect(s.actions).toContain('SCMP_ACT_NOTIFY');
    expect(s.supportedFlags).toContain('SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV');
    expect(f.mountOptions).toContain('tmpcopyup');
    expect(f.mountOptions).toContain('rro');
    expect(f.mountOptions).toEqual(expect.arrayContaining(['idmap', 'ridmap']));
    expect(f.linux.mountExtensions).toEqual({ idmap: { enabled: true } });
    expect(f.linux.netDevices).toEqual({ enabled: true });
    expect(f.linux.intelRdt).toEqual({ enabled: true }); // applied by this build where resctrl is mounted
    expect(f.linux.apparmor.enabled).toBe(true); // applied by this build; the host may lack it
    expect(f.linux.selinux.enabled).toBe(true);
    expect(f.annotations['io.github.seccomp.libseccomp.version']).toBe('2.5.4');
  });

  it('reports seccomp as not enabled without libseccomp', () => {
    expect(features({ hasNamespace: () => true, lastCap: 40 }).linux.seccomp).toEqual({ enabled: false });
  });
});
