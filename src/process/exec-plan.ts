/**
 * The process of an `exec`: the container's process config with runc's exec
 * flags laid over it, or a process.json, and the namespaces to join. Pure
 * functions: the I/O is in container/exec.ts.
 */
import { UsageError } from '../errors.js';
import { NS_PROC_FILE, type NamespaceType } from '../config/constants.js';
import { JOIN_ORDER, NS_FLAG } from '../config/plan.js';
import type { ProcessConfig } from '../config/schema.js';

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
  if (!flags.args?.length) throw new UsageError('exec args cannot be empty');
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
      if (!/^\d+$/.test(gid)) throw new UsageError(`bad gid: "${gid}" is not a number`);
      user.gid = Number(gid);
    }
    if (!/^\d+$/.test(uid)) throw new UsageError(`bad uid: "${uid}" is not a number`);
    user.uid = Number(uid);
  }
  for (const gid of flags.additionalGids ?? []) {
    if (!Number.isInteger(gid) || gid < 0) throw new UsageError(`additional-gids must be a positive number ${gid}`);
    user.additionalGids = [...(user.additionalGids ?? []), gid];
  }
  return p;
}

/**
 * What an exec'd process takes from the container when its own config
 * leaves it out, as runc 1.1 does: the AppArmor profile and the SELinux
 * label (newInitConfig), and the capabilities when it has no capabilities
 * object at all (finalizeNamespace; an empty one means none). Without this
 * a --process file that names no profile would run unconfined in a
 * confined container. Not among them: noNewPrivileges (runc takes the
 * process's own value, false included) and the rlimits (newInitConfig
 * would take the container's, but runc's specconv never fills them in, so
 * the process keeps the caller's).
 */
export function withContainerDefaults(proc: ProcessConfig, container: ProcessConfig | undefined): ProcessConfig {
  const p = { ...proc };
  if (!p.apparmorProfile && container?.apparmorProfile) p.apparmorProfile = container.apparmorProfile;
  if (!p.selinuxLabel && container?.selinuxLabel) p.selinuxLabel = container.selinuxLabel;
  if (p.capabilities === undefined && container?.capabilities) p.capabilities = structuredClone(container.capabilities);
  return p;
}

export function namespaceJoins(initPid: number, types: NamespaceType[]): { flag: number; path: string }[] {
  return JOIN_ORDER.filter((t) => types.includes(t)).map((t) => ({ flag: NS_FLAG[t], path: `/proc/${initPid}/ns/${NS_PROC_FILE[t]}` }));
}

