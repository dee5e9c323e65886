/**
 * linux.seccomp → a libseccomp filter, with runc's semantics: unknown
 * syscall names are skipped, a rule whose action is the default one is
 * dropped, conditions on distinct arguments are ANDed in one rule and
 * several conditions on the same argument become separate rules (ORed),
 * libseccomp's implicit no_new_privs is turned off (the config decides).
 */
import fs from 'node:fs';
import { ConfigError } from '../errors.js';
import type { SeccompConfig } from '../config/schema.js';
import { MFD } from '../sys/constants.js';
import type { ArgCondition, SeccompLib } from '../sys/libseccomp.js';
import type { Sys, SysError } from '../sys/types.js';

const EPERM = 1;

export function actionValue(action: string, errnoRet: number | undefined, field: string): number {
  switch (action) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return 0x00000000;
    case 'SCMP_ACT_KILL_PROCESS':
      return 0x80000000;
    case 'SCMP_ACT_TRAP':
      return 0x00030000;
    case 'SCMP_ACT_ERRNO':
      return (0x00050000 | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_TRACE':
      return (0x7ff00000 | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_LOG':
      return 0x7ffc0000;
    case 'SCMP_ACT_ALLOW':
      return 0x7fff0000;
    case 'SCMP_ACT_NOTIFY':
      return 0x7fc00000;
    default:
      throw new ConfigError(field, `unknown seccomp action "${action}"`);
  }
}

const OPS: Record<string, number> = { SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7 };

/**
 * The filter flags a profile asks for. Without a `flags` field (not even an
 * empty one), SECCOMP_FILTER_FLAG_SPEC_ALLOW, as runc 1.2+ defaults it
 * (its seccomp.bats "SECCOMP_FILTER_FLAG_*", case REMOVE); `flags: []` is
 * none.
 */
function requestedFlags(cfg: SeccompConfig): string[] {
  return (cfg.flags as string[] | undefined) ?? ['SECCOMP_FILTER_FLAG_SPEC_ALLOW'];
}

/**
 * The flags of seccomp(SECCOMP_SET_MODE_FILTER): the filter is exported as
 * BPF by libseccomp and loaded with the system call (by the init and the
 * exec stage alike), so flags libseccomp 2.5 has no attribute for, such as
 * WAIT_KILLABLE_RECV (runc 1.4+), work too. NEW_LISTENER comes with
 * SCMP_ACT_NOTIFY. TSYNC is taken and ignored, as runc does: the filter is
 * loaded by the one thread that execs the program, and synchronising the
 * engine's other threads to it would only constrain the engine.
 */
export function kernelFilterFlags(cfg: SeccompConfig): number {
  const bits: Record<string, number> = { SECCOMP_FILTER_FLAG_TSYNC: 0, SECCOMP_FILTER_FLAG_LOG: 2, SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 32 };
  const flags = requestedFlags(cfg).reduce((m, f, i) => {
    if (bits[f] === undefined) throw new ConfigError(`linux.seccomp.flags[${i}]`, `${f} is not supported by this version of ocirun`);
    return m | bits[f];
  }, 0);
  return usesNotify(cfg) ? flags | SECCOMP_FILTER_FLAG_NEW_LISTENER : flags;
}

/** The profile compiled by libseccomp and exported as BPF, with the flags to load it with. */
export function compileToBpf(sys: Sys, lib: SeccompLib, cfg: SeccompConfig, note: (m: string) => void): { flags: number; bpf: Buffer } {
  const ctx = compileSeccomp(lib, cfg, note);
  const fd = sys.memfdCreate('ocirun-bpf', MFD.CLOEXEC);
  try {
    lib.exportBpf(ctx, fd);
    const size = fs.fstatSync(fd).size;
    const bpf = Buffer.alloc(size);
    fs.readSync(fd, bpf, 0, size, 0);
    return { flags: kernelFilterFlags(cfg), bpf: Buffer.concat([enosysStub(lastSyscalls(lib, cfg)), bpf]) };
  } finally {
    sys.close(fd);
    lib.release(ctx);
  }
}

/** AUDIT_ARCH_* of the architectures the stub knows: the x86 family (ocirun is built for x86-64). */
const AUDIT_ARCH = { x86_64: 0xc000003e, x86: 0x40000003 } as const;
const X32_SYSCALL_BIT = 0x40000000;

/** The largest syscall number the profile names, per architecture (x32's carry X32_SYSCALL_BIT). */
export interface LastSyscalls {
  x86_64?: number;
  x86?: number;
  x32?: number;
}

/**
 * runc's findLastSyscalls: for each architecture of the profile, the highest
 * number among the syscalls it names. Nothing when the default action lets
 * calls through (allow, log, trace), as runc: a tracer or an allow-all
 * profile must see new syscalls as they are.
 */
export function lastSyscalls(lib: SeccompLib, cfg: SeccompConfig): LastSyscalls {
  if (['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE'].includes(cfg.defaultAction)) return {};
  const out: LastSyscalls = {};
  for (const arch of cfg.architectures ?? []) {
    const name = archName(arch) as keyof LastSyscalls;
    if (!(name in AUDIT_ARCH) && name !== 'x32') continue;
    const token = lib.archResolve(name);
    if (!token) continue;
    const numbers = (cfg.syscalls ?? []).flatMap((r) => r.names).map((n) => lib.syscallResolveArch(token, n)).filter((nr) => nr >= 0);
    if (numbers.length) out[name] = Math.max(...numbers);
  }
  return out;
}

/**
 * runc's -ENOSYS stub, put before libseccomp's program: a syscall numbered
 * above the highest one the profile knows is newer than the profile, so it
 * fails with ENOSYS (which programs take as "not here, fall back") rather
 * than the default errno (often EPERM, which they take as "forbidden").
 * libseccomp's program reloads what it tests, so the stub may leave the
 * accumulator as it likes.
 */
export function enosysStub(last: LastSyscalls): Buffer {
  if (last.x86_64 === undefined && last.x86 === undefined && last.x32 === undefined) return Buffer.alloc(0);
  const LD_ABS = 0x20, JEQ = 0x15, JGT = 0x25, JSET = 0x45, JA = 0x05, RET = 0x06;
  const RET_ERRNO_ENOSYS = 0x00050000 | 38;
  // Built with labels, then resolved: [code, jt, jf, k]; a label in k is JA's target.
  type Insn = [number, string | number, string | number, string | number];
  const prog: Insn[] = [];
  const labels: Record<string, number> = {};
  const at = (label: string) => (labels[label] = prog.length);
  prog.push([LD_ABS, 0, 0, 4]); // arch
  prog.push([JEQ, 0, 'i386', AUDIT_ARCH.x86_64]);
  prog.push([LD_ABS, 0, 0, 0]); // nr
  prog.push([JSET, 'x32', 0, X32_SYSCALL_BIT]);
  prog.push(last.x86_64 === undefined ? [JA, 0, 0, 'filter'] : [JGT, 'enosys', 'filter', last.x86_64]);
  at('x32');
  prog.push(last.x32 === undefined ? [JA, 0, 0, 'filter'] : [JGT, 'enosys', 'filter', last.x32]);
  at('i386');
  prog.push([JEQ, 0, 'filter', AUDIT_ARCH.x86]);
  prog.push([LD_ABS, 0, 0, 0]);
  prog.push(last.x86 === undefined ? [JA, 0, 0, 'filter'] : [JGT, 'enosys', 'filter', last.x86]);
  at('enosys');
  prog.push([RET, 0, 0, RET_ERRNO_ENOSYS]);
  labels.filter = prog.length;
  const out = Buffer.alloc(prog.length * 8);
  prog.forEach(([code, jt, jf, k], i) => {
    // Jumps count from the next instruction; JA's distance is in k.
    const rel = (t: string | number) => (typeof t === 'string' ? labels[t] - i - 1 : t);
    out.writeUInt16LE(code, i * 8);
    out.writeUInt8(rel(jt), i * 8 + 2);
    out.writeUInt8(rel(jf), i * 8 + 3);
    out.writeUInt32LE(typeof k === 'string' ? rel(k) : k >>> 0, i * 8 + 4);
  });
  return out;
}

/** seccomp(2) flag that returns the filter's notify fd (SCMP_ACT_NOTIFY, exec stage). */
export const SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;

/** Whether the profile hands syscalls to a listener (SCMP_ACT_NOTIFY). */
export function usesNotify(cfg: SeccompConfig): boolean {
  return cfg.defaultAction === 'SCMP_ACT_NOTIFY' || (cfg.syscalls ?? []).some((r) => r.action === 'SCMP_ACT_NOTIFY');
}

/** libseccomp filter attributes. */
const ATTR = { NNP: 3, LOG: 6, SSB: 7 } as const;

/** SCMP_ARCH_X86_64 → x86_64, the name libseccomp resolves. */
export const archName = (a: string) => a.replace(/^SCMP_ARCH_/, '').toLowerCase();

/** `note` receives what runc would log at debug level (skipped architectures and rules). */
export function compileSeccomp(lib: SeccompLib, cfg: SeccompConfig, note: (m: string) => void): bigint {
  const defaultAction = actionValue(cfg.defaultAction, cfg.defaultErrnoRet, 'linux.seccomp.defaultAction');
  const ctx = lib.init(defaultAction);
  try {
    lib.attrSet(ctx, ATTR.NNP, 0);
    // Flags with a libseccomp attribute are set, so that a filter loaded by
    // libseccomp itself (bench/seccomp.mjs) behaves the same; the rest only
    // matter to the seccomp(2) call (kernelFilterFlags).
    for (const flag of requestedFlags(cfg)) {
      const attr = { SECCOMP_FILTER_FLAG_LOG: ATTR.LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW: ATTR.SSB }[flag];
      if (attr !== undefined) lib.attrSet(ctx, attr, 1);
    }
    for (const arch of cfg.architectures ?? []) {
      const token = lib.archResolve(archName(arch));
      if (!token) {
        note(`seccomp: architecture ${arch} is unknown to libseccomp ${lib.version}; skipped`);
        continue;
      }
      lib.archAdd(ctx, token);
    }
    for (const [i, rule] of (cfg.syscalls ?? []).entries()) {
      const field = `linux.seccomp.syscalls[${i}]`;
      const action = actionValue(rule.action, rule.errnoRet, `${field}.action`);
      if (action === defaultAction) continue;
      const conditions: ArgCondition[] = (rule.args ?? []).map((a, j) => {
        const op = OPS[a.op];
        if (op === undefined) throw new ConfigError(`${field}.args[${j}].op`, `unknown operator "${a.op}"`);
        return { index: a.index, op, valueA: BigInt(Math.trunc(a.value)), valueB: BigInt(Math.trunc(a.valueTwo ?? 0)) };
      });
      const sameArgTwice = new Set(conditions.map((c) => c.index)).size !== conditions.length;
      for (const name of rule.names) {
        const nr = lib.syscallResolve(name);
        if (nr < 0) continue; // unknown here: skipped, as runc does
        const add = (conds: ArgCondition[]) => {
          try {
            lib.ruleAdd(ctx, action, nr, conds);
          } catch (err) {
            // libseccomp 2.5 refuses (EEXIST) a rule that collides with an
            // earlier one once rewritten for a secondary architecture (x86's
            // socketcall multiplexing); runc's profile loads, so we skip it.
            if ((err as SysError).errno !== 17) throw new ConfigError(`${field}`, `libseccomp refused the rule for ${name}: ${(err as Error).message}`);
            note(`seccomp: ${field} for ${name} collides with an earlier rule after libseccomp's per-architecture rewriting; skipped`);
          }
        };
        if (sameArgTwice) for (const c of conditions) add([c]);
        else add(conditions);
      }
    }
    return ctx;
  } catch (err) {
    lib.release(ctx);
    throw err;
  }
}
