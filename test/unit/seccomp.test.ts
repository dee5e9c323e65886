// Compiling linux.seccomp against a recording fake of libseccomp.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { actionValue, compileSeccomp, enosysStub, kernelFilterFlags, lastSyscalls } from '../../src/security/seccomp.js';
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
  syscallResolveArch(arch: number, name: string) { return name === 'no_such_call' ? -1 : arch * 100 + name.length; }
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
      // No flags field: SPEC_ALLOW (SSB), runc's default.
      ['attr', 7, 1],
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
    // As runc 1.3.6: no flags field at all is SPEC_ALLOW, an empty one none, TSYNC taken and ignored.
    expect(kernelFilterFlags({ defaultAction: 'SCMP_ACT_ALLOW' })).toBe(4);
    expect(kernelFilterFlags({ defaultAction: 'SCMP_ACT_ALLOW', flags: [] })).toBe(0);
    expect(kernelFilterFlags({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG'] })).toBe(2);
  });

  it('skips, with a warning, a rule libseccomp reports as colliding (EEXIST)', () => {
    const lib = new RecordingSeccomp();
    const warnings: string[] = [];
    const long = 'x'.repeat(99);
    compileSeccomp(lib, { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: [long], action: 'SCMP_ACT_ALLOW' }] }, (m) => warnings.push(m));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/syscalls\[0\]/);
  });

  /** Runs a classic-BPF program (the opcodes the stub uses) on seccomp_data {nr, arch}: its return value, or 'filter' when it falls off the end. */
  function runBpf(prog: Buffer, nr: number, arch: number): number | 'filter' {
    let a = 0;
    for (let pc = 0; pc < prog.length / 8; pc++) {
      const code = prog.readUInt16LE(pc * 8), jt = prog[pc * 8 + 2], jf = prog[pc * 8 + 3], k = prog.readUInt32LE(pc * 8 + 4);
      if (code === 0x20) a = k === 0 ? nr : k === 4 ? arch : NaN;
      else if (code === 0x15) pc += a === k ? jt : jf;
      else if (code === 0x25) pc += a > k ? jt : jf;
      else if (code === 0x45) pc += (a & k) !== 0 ? jt : jf;
      else if (code === 0x05) pc += k;
      else if (code === 0x06) return k;
      else throw new Error(`opcode ${code}`);
    }
    return 'filter';
  }

  it("prepends runc's ENOSYS stub: calls above the profile's highest go ENOSYS, per architecture", () => {
    const X86_64 = 0xc000003e, I386 = 0x40000003, ENOSYS = 0x00050026;
    const stub = enosysStub({ x86_64: 434, x86: 440, x32: 0x40000000 + 400 });
    expect(runBpf(stub, 434, X86_64)).toBe('filter');
    expect(runBpf(stub, 435, X86_64)).toBe(ENOSYS);
    expect(runBpf(stub, 0, X86_64)).toBe('filter');
    expect(runBpf(stub, 440, I386)).toBe('filter');
    expect(runBpf(stub, 441, I386)).toBe(ENOSYS);
    expect(runBpf(stub, 0x40000000 + 400, X86_64)).toBe('filter');
    expect(runBpf(stub, 0x40000000 + 401, X86_64)).toBe(ENOSYS);
    // Other architectures, and any without a known highest call, go to the filter.
    expect(runBpf(stub, 9999, 0xc00000b7)).toBe('filter');
    const only64 = enosysStub({ x86_64: 434 });
    expect(runBpf(only64, 9999, I386)).toBe('filter');
    expect(runBpf(only64, 0x40000000 + 999, X86_64)).toBe('filter');
    expect(runBpf(only64, 999, X86_64)).toBe(ENOSYS);
    expect(enosysStub({}).length).toBe(0);
  });

  it("finds the highest syscall per architecture, and none when the default lets calls through (as runc)", () => {
    const lib = new RecordingSeccomp();
    const cfg = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_AARCH64'], syscalls: [{ names: ['read', 'no_such_call', 'getrandom'], action: 'SCMP_ACT_ALLOW' }] };
    // The fake: arch token = name length, number = token * 100 + name length.
    expect(lastSyscalls(lib, cfg as any)).toEqual({ x86_64: 609, x86: 309 });
    expect(lastSyscalls(lib, { ...cfg, defaultAction: 'SCMP_ACT_ALLOW' } as any)).toEqual({});
    expect(lastSyscalls(lib, { ...cfg, defaultAction: 'SCMP_ACT_LOG' } as any)).toEqual({});
  });
});

