/**
 * libseccomp (libseccomp.so.2) through koffi: the profile is compiled by
 * libseccomp itself, never by a BPF compiler of ours. Bound before the root
 * switch (the library is a host file) and loaded later by the init.
 */
import { loadKoffi } from './koffi.js';
import { SysError } from './types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const koffi: any = loadKoffi();

export interface ArgCondition {
  index: number;
  op: number;
  valueA: bigint;
  valueB: bigint;
}

/** The calls ocirun makes into libseccomp; `RecordingSeccomp` fakes them in tests. */
export interface SeccompLib {
  readonly version: string;
  init(defaultAction: number): bigint;
  archResolve(name: string): number;
  archAdd(ctx: bigint, arch: number): void;
  syscallResolve(name: string): number;
  /** The syscall's number on one architecture (a token from archResolve); negative when it has none. */
  syscallResolveArch(arch: number, name: string): number;
  ruleAdd(ctx: bigint, action: number, syscall: number, conditions: ArgCondition[]): void;
  attrSet(ctx: bigint, attr: number, value: number): void;
  load(ctx: bigint): void;
  /** Writes the filter as raw BPF (struct sock_filter[]) to fd. */
  exportBpf(ctx: bigint, fd: number): void;
  release(ctx: bigint): void;
}

export class LibSeccomp implements SeccompLib {
  readonly version: string;
  private readonly f: Record<string, (...a: unknown[]) => number | bigint>;

  constructor() {
    let lib;
    try {
      lib = koffi.load('libseccomp.so.2');
    } catch (err) {
      throw new SysError('dlopen', 'libseccomp.so.2', 2, 'ENOENT', `cannot load libseccomp (install libseccomp2): ${(err as Error).message}`);
    }
    const protos: Record<string, string> = {
      init: 'uint64_t seccomp_init(uint32_t def_action)',
      archResolve: 'uint32_t seccomp_arch_resolve_name(const char *name)',
      archAdd: 'int seccomp_arch_add(uint64_t ctx, uint32_t arch)',
      syscallResolve: 'int seccomp_syscall_resolve_name(const char *name)',
      syscallResolveArch: 'int seccomp_syscall_resolve_name_arch(uint32_t arch_token, const char *name)',
      ruleAdd: 'int seccomp_rule_add_array(uint64_t ctx, uint32_t action, int syscall, unsigned int n, const uint8_t *args)',
      ruleAddExact: 'int seccomp_rule_add_exact_array(uint64_t ctx, uint32_t action, int syscall, unsigned int n, const uint8_t *args)',
      attrSet: 'int seccomp_attr_set(uint64_t ctx, int attr, uint32_t value)',
      load: 'int seccomp_load(uint64_t ctx)',
      exportBpf: 'int seccomp_export_bpf(uint64_t ctx, int fd)',
      release: 'void seccomp_release(uint64_t ctx)',
    };
    this.f = {};
    for (const [k, p] of Object.entries(protos)) this.f[k] = lib.func(p);
    const Version = koffi.struct('scmp_version_t', { major: 'uint', minor: 'uint', micro: 'uint' });
    const v = koffi.decode(lib.func('seccomp_version', koffi.pointer(Version), [])(), Version);
    this.version = `${v.major}.${v.minor}.${v.micro}`;
  }

  private check(r: number | bigint, call: string, target?: string): void {
    // libseccomp returns -errno.
    if (Number(r) < 0) {
      const errno = -Number(r);
      throw new SysError(call, target, errno, `errno ${errno}`, `libseccomp error ${errno}`);
    }
  }

  init(defaultAction: number): bigint {
    const ctx = BigInt(this.f.init(defaultAction));
    if (ctx === 0n) throw new SysError('seccomp_init', undefined, 22, 'EINVAL', 'libseccomp refused the default action');
    return ctx;
  }
  archResolve(name: string): number {
    return Number(this.f.archResolve(name));
  }
  archAdd(ctx: bigint, arch: number): void {
    const r = Number(this.f.archAdd(ctx, arch));
    if (r !== -17 /* EEXIST: the native arch is always there */) this.check(r, 'seccomp_arch_add', String(arch));
  }
  syscallResolve(name: string): number {
    return Number(this.f.syscallResolve(name));
  }
  syscallResolveArch(arch: number, name: string): number {
    return Number(this.f.syscallResolveArch(arch, name));
  }
  ruleAdd(ctx: bigint, action: number, syscall: number, conditions: ArgCondition[]): void {
    this.addRule('ruleAdd', ctx, action, syscall, conditions);
  }
  ruleAddExact(ctx: bigint, action: number, syscall: number, conditions: ArgCondition[]): void {
    this.addRule('ruleAddExact', ctx, action, syscall, conditions);
  }
  private addRule(fn: string, ctx: bigint, action: number, syscall: number, conditions: ArgCondition[]): void {
    const buf = Buffer.alloc(Math.max(24 * conditions.length, 24));
    conditions.forEach((c, i) => {
      buf.writeUInt32LE(c.index, i * 24);
      buf.writeUInt32LE(c.op, i * 24 + 4);
      buf.writeBigUInt64LE(c.valueA, i * 24 + 8);
      buf.writeBigUInt64LE(c.valueB, i * 24 + 16);
    });
    this.check(this.f[fn](ctx, action, syscall, conditions.length, buf), 'seccomp_rule_add', String(syscall));
  }
  attrSet(ctx: bigint, attr: number, value: number): void {
    this.check(this.f.attrSet(ctx, attr, value), 'seccomp_attr_set', String(attr));
  }
  load(ctx: bigint): void {
    this.check(this.f.load(ctx), 'seccomp_load');
  }
  exportBpf(ctx: bigint, fd: number): void {
    this.check(this.f.exportBpf(ctx, fd), 'seccomp_export_bpf');
  }
  release(ctx: bigint): void {
    this.f.release(ctx);
  }
}

/** libseccomp's version ("2.5.4"), or undefined when libseccomp.so.2 is absent. */
export function libseccompVersion(): string | undefined {
  return tryLibSeccomp()?.version;
}

/** libseccomp, or undefined when libseccomp.so.2 cannot be loaded. */
export function tryLibSeccomp(): LibSeccomp | undefined {
  try {
    return new LibSeccomp();
  } catch {
    return undefined;
  }
}
