/**
 * Rootless mode, as runc decides it: the runtime is rootless when its euid
 * is not 0, or when it runs as root of a user namespace other than the
 * initial one (rootless podman runs it so). What changes then: the state
 * root defaults to $XDG_RUNTIME_DIR/ocirun, a cgroup that cannot be made for
 * lack of permission is skipped with its limits' errors deferred, device
 * rules are not enforced, and devices are bind-mounted from the host.
 */
import fs from 'node:fs';
import { UsageError } from '../errors.js';

let inUserNs: boolean | undefined;
/** Whether this process is in a user namespace other than the initial one (its uid map is not the identity of all ids). */
export function runningInUserNamespace(): boolean {
  if (inUserNs === undefined) {
    try {
      inUserNs = fs.readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/).join(' ') !== '0 0 4294967295';
    } catch {
      inUserNs = false;
    }
  }
  return inUserNs;
}

export const rootlessEuid = (): boolean => process.geteuid!() !== 0;

/**
 * Where the caller's runtime files go, by runc's rule for the default state
 * root: $XDG_RUNTIME_DIR for a non-root euid, and for root of a user
 * namespace unless $USER is "root"; /run for the real root, whatever its
 * XDG_RUNTIME_DIR says (a place a container may share, or a user may own).
 */
export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_RUNTIME_DIR;
  if (!xdg) return '/run';
  if (rootlessEuid()) return xdg;
  if (!runningInUserNamespace()) return '/run';
  return env.USER === 'root' ? '/run' : xdg;
}

/** The default state root: runtimeDir's `ocirun`. */
export function defaultRoot(env: NodeJS.ProcessEnv = process.env): string {
  return `${runtimeDir(env)}/ocirun`;
}

/**
 * The global --rootless flag: "true", "false" or "auto" (the default:
 * rootless when the euid is not 0 or in a user namespace, as runc's cgroupfs
 * driver decides).
 */
export function rootlessMode(flag: string | undefined): boolean {
  // runc parses it with Go's strconv.ParseBool, "auto" or "" meaning auto.
  switch (flag ?? 'auto') {
    case '1': case 't': case 'T': case 'TRUE': case 'true': case 'True':
      return true;
    case '0': case 'f': case 'F': case 'FALSE': case 'false': case 'False':
      return false;
    case 'auto': case '':
      return rootlessEuid() || runningInUserNamespace();
    default:
      throw new UsageError(`--rootless: invalid value ${JSON.stringify(flag)} (true, false or auto)`);
  }
}
