// Compiling linux.seccomp against a recording fake of libseccomp.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { actionValue, kernelFilterFlags, compileSeccomp } from '../../src/security/seccomp.js';
import type { ArgCondition, SeccompLib } from '../../src/sys/libseccomp.js';
import { SysError } from '../../src/sys/types.js';

class RecordingSeccomp implements SeccompLib {
  version = '2.5.4';
  calls: [string, ...unknown[]][] = [];
  released = false;
  init(a: number) { this.calls.push(['init', a]); return 1n; }
  archResolve(name: string) { return name === 'bogus' ? 0 : name.length; }
  archAdd(_c: bigint, arch: number) { this.calls.push(['archAdd', arch]); }
  syscallResolve(name: string) { return name === 'no_such_call' ? -1 : name.length; }
  ruleAdd(_c: bigint, action: number, nr: number, conds: ArgCondition[]) {
    if (nr === 99) throw new SysError('seccomp_rule_add', '99', 17, 'errno 17', 'exists');
    this.calls.push(['rule', action, nr, conds.map((c) => c.index)]);
  }
  attrSet(_c: bigint, attr: number, v: number) { this.calls.push(['attr', attr, v]); }
  load() { this.calls.push(['load']); }
  exportBpf() { this.calls.push(['export']); }
  release() { this.released = true; }
}

describe('seccomp', () => {
  it('encodes actions as libseccomp does, EPERM by default for ERRNO', () => {
    expect(actionValue('SCMP_ACT_ALLOW', undefined, 'f')).toBe(0x7fff0000);
    expect(actionValue('SCMP_ACT_ERRNO', undefined, 'f')).toBe(0x00050001);
    expect(actionValue('SCMP_ACT_ERRNO', 38, 'f')).toBe(0x00050026);
    expect(actionValue('SCMP_ACT_KILL_PROCESS', undefined, 'f')).toBe(0x80000000);
    expect(actionValue('SCMP_ACT_NOTIFY', undefined, 'linux.seccomp.syscalls[0].action')).toBe(0x7fc00000);
  });

  it("follows runc: skips unknown syscalls and default-action rules, ANDs distinct args, ORs the same arg, turns off libseccomp's NNP", () => {
    const lib = new RecordingSeccomp();
    const warnings: string[] = [];
    compileSeccomp(lib, {
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      syscalls: [
        { names: ['read', 'no_such_call'], action: 'SCMP_ACT_ALLOW' },
        { names: ['write'], action: 'SCMP_ACT_ERRNO' },
        { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }, { index: 2, value: 3, op: 'SCMP_CMP_NE' }] },
        { names: ['clone3'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }, { index: 0, value: 2, op: 'SCMP_CMP_EQ' }] },
      ],
    }, (m) => warnings.push(m));
    expect(lib.calls).toEqual([
      ['init', 0x00050001],
      ['attr', 3, 0],
      ['archAdd', 3],
      ['archAdd', 3],
      ['rule', 0x7fff0000, 4, []],
      ['rule', 0x7fff0000, 6, [0, 2]],
      ['rule', 0x7fff0000, 6, [0]],
      ['rule', 0x7fff0000, 6, [0]],
    ]);
  });

  it('maps flags to libseccomp attributes, and every flag to the seccomp(2) flags', () => {
    const lib = new RecordingSeccomp();
    compileSeccomp(lib, { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'] }, () => {});
    expect(lib.calls.filter((c) => c[0] === 'attr')).toEqual([['attr', 3, 0], ['attr', 6, 1], ['attr', 7, 1]]);
    expect(kernelFilterFlags({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'] })).toBe(2 | 4);
    // A listener: NEW_LISTENER (8), and WAIT_KILLABLE_RECV (32), which libseccomp 2.5 has no attribute for.
    const notify = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/a', flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'], syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] } as const;
    expect(kernelFilterFlags(notify as never)).toBe(8 | 32);
  });

  it('skips, with a warning, a rule libseccomp reports as colliding (EEXIST)', () => {
    const lib = new RecordingSeccomp();
    const warnings: string[] = [];
    const long = 'x'.repeat(99);
    compileSeccomp(lib, { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: [long], action: 'SCMP_ACT_ALLOW' }] }, (m) => warnings.push(m));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/syscalls\[0\]/);
  });
});
