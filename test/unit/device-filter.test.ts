// The cgroup v2 device filter: v1 semantics emulated, then compiled to BPF.
// The program is run here by a small interpreter of the instructions it
// uses, so the jumps and verdicts are checked, not just the listing.
import { describe, expect, it } from 'vitest';
import { BPF_DEVCG_ACC_MKNOD, BPF_DEVCG_ACC_READ, BPF_DEVCG_ACC_WRITE, BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR, deviceFilterProgram, encodeProgram, type Insn } from '../../src/cgroups/devices/bpf.js';
import { deviceTransition, emulateDeviceRules, parseDeviceRule, parseDevicesList, ruleText } from '../../src/cgroups/devices/emulator.js';
import { deviceFilter } from '../../src/cgroups/devices/index.js';
import { DEFAULT_DEVICE_RULES } from '../../src/cgroups/resources.js';

/** Runs a device program on one access, as the kernel would: 1 allows, 0 denies. */
function run(prog: Insn[], type: 'c' | 'b', access: string, major: number, minor: number): number {
  const acc = (access.includes('r') ? BPF_DEVCG_ACC_READ : 0) | (access.includes('w') ? BPF_DEVCG_ACC_WRITE : 0) | (access.includes('m') ? BPF_DEVCG_ACC_MKNOD : 0);
  const ctx = [(acc << 16) | (type === 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR), major, minor];
  const r = new Array<number>(11).fill(0);
  r[1] = -1; // the context pointer
  for (let pc = 0, steps = 0; steps < 10_000; steps++) {
    const i = prog[pc];
    expect(i, `pc ${pc} runs off the program`).toBeDefined();
    switch (i.code) {
      case 0x61: expect(r[i.src]).toBe(-1); r[i.dst] = ctx[i.off / 4] >>> 0; pc++; break;
      case 0x54: r[i.dst] = (r[i.dst] & i.imm) >>> 0; pc++; break;
      case 0x74: r[i.dst] = r[i.dst] >>> i.imm; pc++; break;
      case 0xb4: r[i.dst] = i.imm >>> 0; pc++; break;
      case 0xbc: r[i.dst] = r[i.src] >>> 0; pc++; break;
      case 0x55: pc += r[i.dst] !== i.imm >>> 0 ? 1 + i.off : 1; break;
      case 0x5d: pc += r[i.dst] !== r[i.src] ? 1 + i.off : 1; break;
      case 0x95: return r[0];
      default: throw new Error(`unexpected opcode 0x${i.code.toString(16)}`);
    }
  }
  throw new Error('the program does not end');
}

const rules = (list: [boolean, string][]) => list.map(([allow, text]) => parseDeviceRule(text, allow));

describe('device rules emulated as cgroup v1 applies them', () => {
  it('deny-all then runc defaults: an allow-list of the defaults', () => {
    const set = emulateDeviceRules(rules([[false, 'a *:* rwm'], ...DEFAULT_DEVICE_RULES.map((r) => [true, r] as [boolean, string])]));
    expect(set.defaultAllow).toBe(false);
    expect(set.rules).toContainEqual({ type: 'c', major: 1, minor: 3, access: 'rwm' });
    expect(set.rules).toContainEqual({ type: 'c', major: -1, minor: -1, access: 'm' });
    expect(set.rules).toHaveLength(DEFAULT_DEVICE_RULES.length);
  });

  it('allow-all resets to a deny-list; denying then allowing again removes the exception', () => {
    expect(emulateDeviceRules(rules([[false, 'a *:* rwm'], [true, 'c 1:3 rw'], [true, 'a *:* rwm']]))).toEqual({ defaultAllow: true, rules: [] });
    expect(emulateDeviceRules(rules([[false, 'b 8:0 w'], [false, 'b 8:0 r'], [true, 'b 8:0 w']]))).toEqual({ defaultAllow: true, rules: [{ type: 'b', major: 8, minor: 0, access: 'r' }] });
  });

  it('takes back part of an exception, and refuses to punch a hole in a wildcard one', () => {
    expect(emulateDeviceRules(rules([[false, 'a *:* rwm'], [true, 'c 1:3 rwm'], [false, 'c 1:3 w']])).rules).toEqual([{ type: 'c', major: 1, minor: 3, access: 'rm' }]);
    expect(() => emulateDeviceRules(rules([[false, 'a *:* rwm'], [true, 'c *:* m'], [false, 'c 1:3 m']]))).toThrow(/cannot punch a hole in the wider rule "c \*:\* m"/);
  });
});

describe('the BPF program', () => {
  it('has runc devicefilter shape: prologue, one block per rule, the default last', () => {
    const prog = deviceFilterProgram({ defaultAllow: false, rules: [{ type: 'c', major: 1, minor: 3, access: 'rw' }] });
    const listing = prog.map((i) => [i.code, i.dst, i.src, i.off, i.imm]);
    expect(listing).toEqual([
      [0x61, 2, 1, 0, 0], [0x54, 2, 0, 0, 0xffff], [0x61, 3, 1, 0, 0], [0x74, 3, 0, 0, 16], [0x61, 4, 1, 4, 0], [0x61, 5, 1, 8, 0],
      [0x55, 2, 0, 7, BPF_DEVCG_DEV_CHAR], [0xbc, 1, 3, 0, 0], [0x54, 1, 0, 0, BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE], [0x5d, 1, 3, 4, 0],
      [0x55, 4, 0, 3, 1], [0x55, 5, 0, 2, 3], [0xb4, 0, 0, 0, 1], [0x95, 0, 0, 0, 0],
      [0xb4, 0, 0, 0, 0], [0x95, 0, 0, 0, 0],
    ]);
    expect(encodeProgram(prog).subarray(6 * 8, 7 * 8)).toEqual(Buffer.from([0x55, 0x02, 0x07, 0x00, 0x02, 0x00, 0x00, 0x00]));
  });

  it("decides as v1 would for runc's defaults after a deny-all", () => {
    const prog = deviceFilterProgram(emulateDeviceRules(rules([[false, 'a *:* rwm'], ...DEFAULT_DEVICE_RULES.map((r) => [true, r] as [boolean, string])])));
    expect(run(prog, 'c', 'rw', 1, 3)).toBe(1); // /dev/null
    expect(run(prog, 'c', 'rw', 136, 7)).toBe(1); // a pty
    expect(run(prog, 'c', 'm', 4, 1)).toBe(1); // mknod of any char device
    expect(run(prog, 'b', 'm', 8, 0)).toBe(1);
    expect(run(prog, 'b', 'r', 8, 0)).toBe(0); // reading a disk
    expect(run(prog, 'c', 'r', 4, 1)).toBe(0); // a tty not listed
    expect(run(prog, 'c', 'rm', 4, 1)).toBe(0); // m alone is allowed, r is not
  });

  it('a deny-list allows everything else', () => {
    const prog = deviceFilterProgram(emulateDeviceRules(rules([[false, 'b 8:* rw']])));
    expect(run(prog, 'b', 'r', 8, 1)).toBe(0);
    expect(run(prog, 'b', 'm', 8, 1)).toBe(1);
    expect(run(prog, 'b', 'r', 9, 1)).toBe(1);
    expect(run(prog, 'c', 'r', 8, 1)).toBe(1);
  });

  it('compiles a config: resources.devices first, then the allowed rules', () => {
    const buf = deviceFilter([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }], DEFAULT_DEVICE_RULES);
    expect(buf.length % 8).toBe(0);
    expect(buf.length / 8).toBeGreaterThan(6 + 2);
  });
});

describe('v1 device rules: the transition from devices.list (runc 1.2\'s Emulator.Transition)', () => {
  const allowList = (rules: string[]) => ({ defaultAllow: false, rules: rules.map((r) => { const p = parseDeviceRule(r, true); return { type: p.type as 'c' | 'b', major: p.major, minor: p.minor, access: p.access }; }) });
  it('reads devices.list: "a *:* rwm" is allow-all, anything else an allow-list', () => {
    expect(parseDevicesList('a *:* rwm\n')).toEqual({ defaultAllow: true, rules: [] });
    expect(parseDevicesList('c 1:3 rwm\nc *:* m\n')).toEqual(allowList(['c 1:3 rwm', 'c *:* m']));
  });
  it('from a fresh (allow-all) cgroup: the wildcard reset, then the exceptions', () => {
    expect(deviceTransition({ defaultAllow: true, rules: [] }, allowList(['c 1:3 rwm', 'b *:* m'])).map(ruleText)).toEqual(['a *:* rwm', 'b *:* m', 'c 1:3 rwm']);
  });
  it('between allow-lists: only what differs, and nothing when they are the same', () => {
    const from = allowList(['c 1:3 rwm', 'c 10:229 rwm', 'c 5:0 rw']);
    const to = allowList(['c 1:3 rwm', 'c 5:0 rwm', 'c 1:5 r']);
    const t = deviceTransition(from, to);
    expect(t.map((r) => `${r.allow ? 'allow' : 'deny'} ${ruleText(r)}`)).toEqual(['deny c 10:229 rwm', 'allow c 1:5 r', 'allow c 5:0 m']);
    expect(deviceTransition(to, to)).toEqual([]);
  });
  it('to allow-all: the wildcard allow alone', () => {
    expect(deviceTransition(allowList(['c 1:3 rwm']), { defaultAllow: true, rules: [] }).map((r) => `${r.allow} ${ruleText(r)}`)).toEqual(['true a *:* rwm']);
  });
});
