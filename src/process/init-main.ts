/**
 * Entry point of the init: the program the C stage execs inside the
 * namespaces (./init.ts). Not meant to be run by hand.
 */
import { LibcSys } from '../sys/libc.js';
import { Channel } from './channel.js';
import { reportError, runInit } from './init.js';

export async function initMain(): Promise<never> {
  const env = process.env;
  const sys = new LibcSys();
  const channel = new Channel(sys, Number(env._OCIRUN_SYNC_FD), 'parent');
  try {
    return await runInit(sys, channel, { rootFd: Number(env._OCIRUN_ROOT_FD) });
  } catch (err) {
    try {
      reportError(channel, err);
    } finally {
      // The parent cleans up.
      process.exit(1);
    }
  }
}

// Run when this module is the entry point (dist/bundle/init-main.js or dist/process/init-main.js).
await initMain();
