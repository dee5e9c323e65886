/**
 * Entry point of the container's init: the program the C stage execs inside
 * the new namespaces. Not meant to be run by hand.
 */
import net from 'node:net';
import { LibcSys } from '../sys/libc.js';
import { Channel } from './channel.js';
import { reportError, runInit } from './init.js';

const env = process.env;
const syncFd = Number(env._OCIRUN_SYNC_FD);
const socket = new net.Socket({ fd: syncFd, readable: true, writable: true });
const channel = new Channel(socket, 'parent');
const fds = {
  fifo: Number(env._OCIRUN_FIFO_FD),
  console: env._OCIRUN_CONSOLE_FD ? Number(env._OCIRUN_CONSOLE_FD) : undefined,
  listener: env._OCIRUN_LISTENER_FD ? Number(env._OCIRUN_LISTENER_FD) : undefined,
  shimPath: String(env._OCIRUN_SHIM),
  joinedRoot: env._OCIRUN_JOINED_ROOT_FD ? Number(env._OCIRUN_JOINED_ROOT_FD) : undefined,
};
try {
  await runInit(new LibcSys(), channel, fds);
} catch (err) {
  try {
    // After `create` returned nobody reads the channel: say it on stderr too.
    if (channel.isClosed) process.stderr.write(`ocirun: ${(err as Error).message}\n`);
    else reportError(channel, err);
  } finally {
    // Let the error line flush, then die: the parent cleans up.
    socket.end(() => process.exit(1));
    setTimeout(() => process.exit(1), 1000).unref();
  }
}
