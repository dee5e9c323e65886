/**
 * `features`: what this build and this kernel support, as the runtime-spec's
 * features document (features.md). Only what ocirun really applies is
 * listed: what it refuses (Intel RDT, id-mapped mounts, rro mount options)
 * is reported as not enabled.
 */
import fs from 'node:fs';
import { MOUNT_OPTIONS } from '../rootfs/options.js';
import { CAPABILITIES, lastCap } from '../security/capabilities.js';
import { archName } from '../security/seccomp.js';
import { HookKinds, NamespaceTypes, NS_PROC_FILE, OCI_VERSION, SeccompActions, SeccompArchs, SeccompFlags, SeccompOperators } from '../config/constants.js';
import type { SeccompLib } from '../sys/libseccomp.js';

export { VERSION } from '../version.js';
import { VERSION } from '../version.js';

export interface HostFeatures {
  hasNamespace: (file: string) => boolean;
  lastCap: number;
  /** undefined when libseccomp cannot be loaded. */
  seccomp?: SeccompLib;
}

export function hostFeatures(seccomp: SeccompLib | undefined): HostFeatures {
  return { hasNamespace: (f) => fs.existsSync(`/proc/self/ns/${f}`), lastCap: lastCap(), seccomp };
}

export function features(host: HostFeatures) {
  const lib = host.seccomp;
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: [...HookKinds],
    mountOptions: MOUNT_OPTIONS,
    linux: {
      namespaces: NamespaceTypes.filter((t) => host.hasNamespace(NS_PROC_FILE[t])),
      capabilities: CAPABILITIES.slice(0, host.lastCap + 1),
      cgroup: { v1: true, v2: true, systemd: true, systemdUser: false, rdma: true },
      seccomp: lib
        ? {
            enabled: true,
            actions: [...SeccompActions],
            operators: [...SeccompOperators],
            archs: SeccompArchs.filter((a) => lib.archResolve(archName(a)) !== 0),
            knownFlags: [...SeccompFlags],
            supportedFlags: [...SeccompFlags],
          }
        : { enabled: false },
      // "Enabled" in the features sense: this build applies them (the host may still lack the LSM).
      apparmor: { enabled: true },
      selinux: { enabled: true },
      intelRdt: { enabled: true },
      mountExtensions: { idmap: { enabled: true } },
      netDevices: { enabled: true },
    },
    annotations: {
      'org.ocirun.version': VERSION,
      ...(lib ? { 'io.github.seccomp.libseccomp.version': lib.version } : {}),
    },
  };
}
