/**
 * Capability names and the order in which the five sets are applied
 * (runc's finalizeNamespace): bounding first, keep caps across the user
 * switch, then effective/permitted/inheritable, then ambient.
 */
import fs from 'node:fs';
import { PR } from '../sys/constants.js';
import type { Sys } from '../sys/types.js';

export const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

export interface CapabilityPlan {
  /** Bit masks, as decimal strings so the plan stays JSON. */
  bounding: string;
  effective: string;
  permitted: string;
  inheritable: string;
  ambient: number[];
}

export function lastCap(): number {
  try {
    return Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
  } catch {
    return CAPABILITIES.length - 1;
  }
}

/**
 * Turns capability names into masks. Unknown names, and those this kernel
 * lacks, are left out and reported through `warn` (runc does the same).
 */
export function capabilityMask(names: readonly string[] | undefined, last: number, warn: (msg: string) => void): bigint {
  let mask = 0n;
  for (const name of names ?? []) {
    const bit = (CAPABILITIES as readonly string[]).indexOf(name);
    if (bit < 0 || bit > last) {
      warn(`ignoring unknown or unavailable capability ${JSON.stringify(name)}`);
      continue;
    }
    mask |= 1n << BigInt(bit);
  }
  return mask;
}

export function planCapabilities(
  caps: { bounding?: string[]; effective?: string[]; permitted?: string[]; inheritable?: string[]; ambient?: string[] } | undefined,
  warn: (msg: string) => void,
  last = lastCap(),
): CapabilityPlan {
  const m = (n?: string[]) => capabilityMask(n, last, warn);
  const permitted = m(caps?.permitted);
  const inheritable = m(caps?.inheritable);
  // The kernel refuses an ambient cap that is not both permitted and
  // inheritable (EPERM): it is left out with runc's warning, which its
  // capabilities.bats matches ("can't raise ambient capability CAP_CHOWN: ").
  const ambient: number[] = [];
  for (let bit = 0; bit <= last; bit++) {
    if ((m(caps?.ambient) >> BigInt(bit)) & 1n) {
      if ((permitted >> BigInt(bit)) & (inheritable >> BigInt(bit)) & 1n) ambient.push(bit);
      else warn(`can't raise ambient capability ${CAPABILITIES[bit]}: operation not permitted (EPERM): not both permitted and inheritable`);
    }
  }
  return { bounding: m(caps?.bounding).toString(), effective: m(caps?.effective).toString(), permitted: permitted.toString(), inheritable: inheritable.toString(), ambient };
}

/** Drops from the bounding set every capability not in `bounding`. */
export function applyBoundingSet(sys: Sys, plan: CapabilityPlan, last: number): void {
  const keep = BigInt(plan.bounding);
  for (let bit = 0; bit <= last; bit++) {
    if (!((keep >> BigInt(bit)) & 1n)) sys.prctl(PR.CAPBSET_DROP, bit);
  }
}

/** Sets effective/permitted/inheritable, then raises the ambient ones. */
export function applyCapabilitySets(sys: Sys, plan: CapabilityPlan): void {
  sys.capset({ effective: BigInt(plan.effective), permitted: BigInt(plan.permitted), inheritable: BigInt(plan.inheritable) });
  sys.prctl(PR.CAP_AMBIENT, PR.CAP_AMBIENT_CLEAR_ALL);
  for (const bit of plan.ambient) sys.prctl(PR.CAP_AMBIENT, PR.CAP_AMBIENT_RAISE, bit);
}
