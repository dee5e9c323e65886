/**
 * The cgroup v2 device filter: a BPF_PROG_TYPE_CGROUP_DEVICE program built
 * here, instruction by instruction, from the emulated rule set
 * (./emulator.ts), in the shape runc's devicefilter generates.
 *
 * The kernel calls it with struct bpf_cgroup_dev_ctx { u32 access_type;
 * u32 major; u32 minor; }, access_type being (access << 16) | type. The
 * prologue loads type, access, major and minor into R2..R5; each rule is a
 * block that jumps to the next block on the first field that does not
 * match, and otherwise returns the rule's verdict; the end returns the
 * default. Every rule of a set has the same verdict (the opposite of the
 * default), so their order does not matter.
 */
import type { DeviceRuleSet } from './emulator.js';

// Instruction classes and operations (include/uapi/linux/bpf.h, bpf_common.h).
const BPF_LDX_MEM_W = 0x61; // LDX | MEM | W
const BPF_ALU_AND_K = 0x54; // ALU | AND | K (32-bit)
const BPF_ALU_RSH_K = 0x74; // ALU | RSH | K
const BPF_ALU_MOV_K = 0xb4; // ALU | MOV | K
const BPF_ALU_MOV_X = 0xbc; // ALU | MOV | X
const BPF_JMP_JNE_K = 0x55; // JMP | JNE | K
const BPF_JMP_JNE_X = 0x5d; // JMP | JNE | X
const BPF_JMP_EXIT = 0x95;

export const BPF_DEVCG_DEV_BLOCK = 1;
export const BPF_DEVCG_DEV_CHAR = 2;
export const BPF_DEVCG_ACC_MKNOD = 1;
export const BPF_DEVCG_ACC_READ = 2;
export const BPF_DEVCG_ACC_WRITE = 4;

export interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

const insn = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });

function accessBits(access: string): number {
  let bits = 0;
  if (access.includes('r')) bits |= BPF_DEVCG_ACC_READ;
  if (access.includes('w')) bits |= BPF_DEVCG_ACC_WRITE;
  if (access.includes('m')) bits |= BPF_DEVCG_ACC_MKNOD;
  return bits;
}

const ALL_ACCESS = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;

export function deviceFilterProgram(set: DeviceRuleSet): Insn[] {
  const prog: Insn[] = [
    insn(BPF_LDX_MEM_W, 2, 1, 0, 0), // R2 = ctx->access_type
    insn(BPF_ALU_AND_K, 2, 0, 0, 0xffff), // R2 &= 0xffff: the device type
    insn(BPF_LDX_MEM_W, 3, 1, 0, 0), // R3 = ctx->access_type
    insn(BPF_ALU_RSH_K, 3, 0, 0, 16), // R3 >>= 16: the access asked for
    insn(BPF_LDX_MEM_W, 4, 1, 4, 0), // R4 = ctx->major
    insn(BPF_LDX_MEM_W, 5, 1, 8, 0), // R5 = ctx->minor
  ];
  const verdict = set.defaultAllow ? 0 : 1;
  for (const rule of set.rules) {
    // The checks, each "if it differs, go to the next block" with the
    // offset filled in once the block's length is known.
    const checks: Insn[] = [];
    checks.push(insn(BPF_JMP_JNE_K, 2, 0, 0, rule.type === 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR));
    const bits = accessBits(rule.access);
    if (bits !== ALL_ACCESS) {
      // Allowed only if every access asked for is in the rule: (R3 & bits) == R3.
      checks.push(insn(BPF_ALU_MOV_X, 1, 3, 0, 0));
      checks.push(insn(BPF_ALU_AND_K, 1, 0, 0, bits));
      checks.push(insn(BPF_JMP_JNE_X, 1, 3, 0, 0));
    }
    if (rule.major >= 0) checks.push(insn(BPF_JMP_JNE_K, 4, 0, 0, rule.major));
    if (rule.minor >= 0) checks.push(insn(BPF_JMP_JNE_K, 5, 0, 0, rule.minor));
    const block = [...checks, insn(BPF_ALU_MOV_K, 0, 0, 0, verdict), insn(BPF_JMP_EXIT, 0, 0, 0, 0)];
    // A jump at index i lands at i + 1 + off; the next block starts at block.length.
    block.forEach((ins, i) => {
      if (ins.code === BPF_JMP_JNE_K || ins.code === BPF_JMP_JNE_X) ins.off = block.length - (i + 1);
    });
    prog.push(...block);
  }
  prog.push(insn(BPF_ALU_MOV_K, 0, 0, 0, set.defaultAllow ? 1 : 0), insn(BPF_JMP_EXIT, 0, 0, 0, 0));
  return prog;
}

/** struct bpf_insn as the kernel reads it: code, dst:4 | src:4 << 4, off (s16), imm (s32). */
export function encodeProgram(prog: Insn[]): Buffer {
  const buf = Buffer.alloc(prog.length * 8);
  prog.forEach((ins, i) => {
    buf.writeUInt8(ins.code, i * 8);
    buf.writeUInt8((ins.src << 4) | ins.dst, i * 8 + 1);
    buf.writeInt16LE(ins.off, i * 8 + 2);
    buf.writeInt32LE(ins.imm | 0, i * 8 + 4);
  });
  return buf;
}
