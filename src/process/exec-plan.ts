/**
 * The plan of an `exec`: which process (the container's process config with
 * runc's exec flags laid over it, or a process.json), and the instructions
 * the C stage applies in the container (see native/stage-exec.c). Pure
 * functions: the I/O is in container/exec.ts.
 */
import path from 'node:path';
import { lsmExecWrites } from '../security/lsm.js';
import { RuntimeError } from '../errors.js';
import { CAPABILITIES, planCapabilities } from '../security/capabilities.js';
import { NS_PROC_FILE, type NamespaceType } from '../spec/constants.js';
import { cpuList, ioPriorityValue, JOIN_ORDER, schedAttrHex, NS_FLAG, rlimitValue, unsupportedProcessField } from '../spec/plan.js';
import type { ProcessConfig } from '../spec/schema.js';
import { RLIMIT } from '../sys/constants.js';

export interface ExecFlags {
  args?: string[];
  env?: string[];
  cwd?: string;
  tty?: boolean;
  /** "uid[:gid]", as runc's -u. */
  user?: string;
  additionalGids?: number[];
  caps?: string[];
  noNewPrivs?: boolean;
  apparmor?: string;
  processLabel?: string;
}

/** runc's getProcess: the config's process with the exec flags over it. */
export function processFromFlags(base: ProcessConfig | undefined, flags: ExecFlags): ProcessConfig {
  const p: ProcessConfig = structuredClone(base ?? { cwd: '/' });
  if (!flags.args?.length) throw new RuntimeError('', 'exec args cannot be empty');
  p.args = flags.args;
  if (flags.cwd) p.cwd = flags.cwd;
  if (flags.apparmor) p.apparmorProfile = flags.apparmor;
  if (flags.processLabel) p.selinuxLabel = flags.processLabel;
  if (flags.caps?.length) {
    const c = (p.capabilities = { ...p.capabilities });
    for (const cap of flags.caps) {
      c.bounding = [...(c.bounding ?? []), cap];
      c.effective = [...(c.effective ?? []), cap];
      c.permitted = [...(c.permitted ?? []), cap];
      // Ambient needs inheritable, which --cap does not add (as runc).
      if (c.inheritable) c.ambient = [...(c.ambient ?? []), cap];
    }
  }
  p.env = [...(p.env ?? []), ...(flags.env ?? [])];
  p.terminal = flags.tty ?? false;
  if (flags.noNewPrivs !== undefined) p.noNewPrivileges = flags.noNewPrivs;
  const user = (p.user = { ...(p.user ?? { uid: 0, gid: 0 }) });
  if (flags.user) {
    const [uid, gid] = flags.user.split(':');
    if (gid !== undefined) {
      if (!/^\d+$/.test(gid)) throw new RuntimeError('', `bad gid: "${gid}" is not a number`);
      user.gid = Number(gid);
    }
    if (!/^\d+$/.test(uid)) throw new RuntimeError('', `bad uid: "${uid}" is not a number`);
    user.uid = Number(uid);
  }
  for (const gid of flags.additionalGids ?? []) {
    if (!Number.isInteger(gid) || gid < 0) throw new RuntimeError('', `additional-gids must be a positive number ${gid}`);
    user.additionalGids = [...(user.additionalGids ?? []), gid];
  }
  return p;
}

/** runc's validateProcessSpec, plus the fields this build cannot apply. */
export function checkExecProcess(p: ProcessConfig): void {
  if (!p.cwd) throw new RuntimeError('', 'Cwd property must not be empty');
  if (!path.isAbsolute(p.cwd)) throw new RuntimeError('', 'Cwd must be an absolute path');
  if (!p.args?.length) throw new RuntimeError('', 'args must not be empty');
  const unsupported = unsupportedProcessField(p);
  if (unsupported) throw new RuntimeError('', `${unsupported} is not supported by this version of ocirun`);
  for (const s of [p.cwd, ...(p.args ?? []), ...(p.env ?? [])]) {
    if (s.includes('\0')) throw new RuntimeError('', `a NUL byte in ${JSON.stringify(s.slice(0, 40))}`);
  }
  if (p.cwd.includes('\n')) throw new RuntimeError('', 'Cwd must not contain a newline');
}


export interface ExecStagePlan {
  cgroupProcs: string[];
  oomScoreAdj?: number;
  /** The container's namespaces, as /proc/<init>/ns/* paths, in join order. */
  joins: { flag: number; path: string }[];
  /** The init's root (/proc/<init>/root) when there is no mount namespace to join. */
  root?: string;
  process: ProcessConfig;
  /** 3 + --preserve-fds: the fds the program gets. */
  keep: number;
  /** The console socket's fd in the stage, when the process gets a pty. */
  consoleFd?: number;
  /** Where the stage sends the filter's listener fd (SCMP_ACT_NOTIFY). */
  notifyFd?: number;
  seccomp?: { flags: number; bpf: Buffer };
  lastCap: number;
  /** personality(2) from the container's linux.personality. */
  personality?: number;
  /** The container's session keyring to join ("_ses.<id>"), unless it was made without one. */
  keyring?: string;
}

export function namespaceJoins(initPid: number, types: NamespaceType[]): { flag: number; path: string }[] {
  return JOIN_ORDER.filter((t) => types.includes(t)).map((t) => ({ flag: NS_FLAG[t], path: `/proc/${initPid}/ns/${NS_PROC_FILE[t]}` }));
}

const hex = (v: bigint | string) => BigInt(v).toString(16);

/** The stage's instructions: text lines, with the BPF and the strings as raw bytes after their line. */
export function stageInstructions(plan: ExecStagePlan, warn: (m: string) => void): Buffer {
  const parts: Buffer[] = [];
  const line = (s: string) => parts.push(Buffer.from(s + '\n'));
  const p = plan.process;
  // process.execCPUAffinity: the stage sets "initial" before it joins the cgroups, "final" after.
  for (const when of ['initial', 'final'] as const) {
    const list = p.execCPUAffinity?.[when];
    if (list !== undefined) line(`affinity ${when} ${cpuList(list, `process.execCPUAffinity.${when}`).join(',')}`);
  }
  for (const procs of plan.cgroupProcs) line(`cgroup ${procs}`);
  if (plan.oomScoreAdj !== undefined) line(`oom ${plan.oomScoreAdj}`);
  if (plan.root) line(`root ${plan.root}`);
  for (const j of plan.joins) line(`join ${j.flag.toString(16)} ${j.path}`);
  for (const [i, r] of (p.rlimits ?? []).entries()) {
    const resource = RLIMIT[r.type];
    if (resource === undefined) throw new RuntimeError('', `process.rlimits[${i}].type: unknown rlimit "${r.type}"`);
    line(`rlimit ${resource} ${rlimitValue(r.soft)} ${rlimitValue(r.hard)}`);
  }
  if (plan.keyring) line(`keyring ${plan.keyring}`);
  if (plan.personality !== undefined) line(`personality ${plan.personality.toString(16)}`);
  const ioprio = ioPriorityValue(p.ioPriority);
  if (ioprio !== undefined) line(`ioprio ${ioprio}`);
  const sched = schedAttrHex(p.scheduler);
  if (sched) line(`sched ${sched}`);
  const u = p.user ?? { uid: 0, gid: 0 };
  line(`user ${u.uid} ${u.gid} ${(u.additionalGids ?? []).join(',')}`.trimEnd());
  if (u.umask !== undefined) line(`umask ${u.umask.toString(8)}`);
  const caps = planCapabilities(p.capabilities, warn, plan.lastCap);
  const ambient = caps.ambient.reduce((m, bit) => m | (1n << BigInt(bit)), 0n);
  line(`caps ${Math.min(plan.lastCap, CAPABILITIES.length - 1)} ${hex(caps.bounding)} ${hex(caps.effective)} ${hex(caps.permitted)} ${hex(caps.inheritable)} ${hex(ambient)}`);
  if (p.noNewPrivileges) line('nnp');
  if (plan.consoleFd !== undefined) line(`console ${plan.consoleFd} ${p.consoleSize?.height ?? 0} ${p.consoleSize?.width ?? 0}`);
  for (const w of lsmExecWrites({ apparmorProfile: p.apparmorProfile, selinuxLabel: p.selinuxLabel })) {
    if (w.value.includes('\n')) throw new RuntimeError('', `the ${w.lsm} label must not contain a newline`);
    line(`label ${w.lsm} ${w.value}`);
  }
  line(`cwd ${p.cwd}`);
  line(`keep ${plan.keep}`);
  if (plan.notifyFd !== undefined) line(`notify ${plan.notifyFd}`);
  if (plan.seccomp) {
    line(`seccomp ${plan.seccomp.flags} ${plan.seccomp.bpf.length / 8}`);
    parts.push(plan.seccomp.bpf);
  }
  const strings = (v: string[]) => Buffer.concat(v.map((s) => Buffer.from(s + '\0')));
  const argv = strings(p.args!);
  line(`argv ${argv.length}`);
  parts.push(argv);
  const env = strings(p.env ?? []);
  line(`env ${env.length}`);
  parts.push(env);
  line('end');
  return Buffer.concat(parts);
}
