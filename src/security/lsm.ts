/**
 * AppArmor profiles and SELinux labels, applied as runc applies them: the
 * process's label is written to the calling task's /proc/self/attr "exec"
 * file, and the kernel switches to it at the next execve. Whether the host
 * has the LSM at all is checked first, so a config that asks for one where
 * it is missing fails at create (or exec) with the field named
 * (src/config/validate.ts).
 *
 * The Node init's next execve is the sealed exec shim (CVE-2019-5736), so
 * under AppArmor the shim already runs confined and the profile must let it
 * execute the program (`ix`, as `file,` in the usual container profiles
 * does); exec'd processes switch at the program itself, as with runc.
 */
import fs from 'node:fs';

/** runc's apparmor.IsEnabled. */
export function appArmorEnabled(): boolean {
  if (!fs.existsSync('/sys/kernel/security/apparmor')) return false;
  try {
    return fs.readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').startsWith('Y');
  } catch {
    return false;
  }
}

/** go-selinux's GetEnabled: selinuxfs is mounted and this process has a context other than "kernel". */
export function selinuxEnabled(): boolean {
  if (!fs.existsSync('/sys/fs/selinux/enforce')) return false;
  try {
    const current = fs.readFileSync('/proc/self/attr/current', 'utf8').replace(/\0/g, '').trim();
    return current !== '' && current !== 'kernel';
  } catch {
    return false;
  }
}

export interface LsmLabels {
  apparmorProfile?: string;
  selinuxLabel?: string;
}

/** The attr files to write, in runc's order, each with the value for it. */
export function lsmExecWrites(labels: LsmLabels): { lsm: 'selinux' | 'apparmor'; files: string[]; value: string }[] {
  const writes: { lsm: 'selinux' | 'apparmor'; files: string[]; value: string }[] = [];
  // Paths under /proc, of the calling thread (the one that execs).
  if (labels.selinuxLabel) writes.push({ lsm: 'selinux', files: ['thread-self/attr/exec'], value: labels.selinuxLabel });
  // Newer kernels have a per-LSM directory; the shared file is the old convention.
  if (labels.apparmorProfile) writes.push({ lsm: 'apparmor', files: ['thread-self/attr/apparmor/exec', 'thread-self/attr/exec'], value: `exec ${labels.apparmorProfile}` });
  return writes;
}
