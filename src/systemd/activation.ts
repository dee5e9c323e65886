/**
 * Socket activation (sd_listen_fds), as runc does it: when LISTEN_PID is
 * ocirun's own pid, the LISTEN_FDS descriptors from fd 3 go to the container
 * as its fds 3.., ahead of any --preserve-fds, and the process is told
 * LISTEN_FDS=N and LISTEN_PID=1 (it is the one they are meant for).
 */
import type { Config } from '../config/schema.js';

export function listenFdCount(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number {
  if (!/^\d+$/.test(env.LISTEN_PID ?? '') || Number(env.LISTEN_PID) !== pid) return 0;
  if (!/^\d+$/.test(env.LISTEN_FDS ?? '')) return 0;
  return Number(env.LISTEN_FDS);
}

export function withListenFds(config: Config, count: number): Config {
  const c = structuredClone(config);
  if (c.process) c.process.env = [...(c.process.env ?? []), `LISTEN_FDS=${count}`, 'LISTEN_PID=1'];
  return c;
}
