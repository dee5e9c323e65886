/**
 * The process of an `exec`: the container's process config with runc's exec
 * flags laid over it, or a process.json, and the namespaces to join. Pure
 * functions: the I/O is in container/exec.ts.
 */
import path from 'node:path';
import { RuntimeError } from '../errors.js';
import { NS_PROC_FILE, type NamespaceType } from '../spec/constants.js';
import { JOIN_ORDER, NS_FLAG, unsupportedProcessField } from '../spec/plan.js';
import type { ProcessConfig } from '../spec/schema.js';

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


export function namespaceJoins(initPid: number, types: NamespaceType[]): { flag: number; path: string }[] {
  return JOIN_ORDER.filter((t) => types.includes(t)).map((t) => ({ flag: NS_FLAG[t], path: `/proc/${initPid}/ns/${NS_PROC_FILE[t]}` }));
}

