/** What every lifecycle operation needs: the state root, the rootless mode and somewhere to warn. */
import { log } from '../log.js';
import { defaultRoot, rootlessMode } from './rootless.js';

export interface Context {
  root: string;
  /** Rootless (src/container/rootless.ts): cgroups that cannot be made are skipped, device rules not enforced. */
  rootless: boolean;
  /** --systemd-cgroup: containers get a systemd scope (src/cgroups/systemd.ts). */
  systemdCgroup: boolean;
  warn: (msg: string) => void;
}

export function context(opts: Partial<Context> = {}): Context {
  return { root: opts.root ?? defaultRoot(), rootless: opts.rootless ?? rootlessMode(undefined), systemdCgroup: opts.systemdCgroup ?? false, warn: opts.warn ?? ((m) => log.warn(m)) };
}
