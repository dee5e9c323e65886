import type { CreateOptions } from '../container/create.js';
import { listenFdCount } from '../systemd/activation.js';
import { bool, preservedFdCount, str, type CommandDef, type Flag, type Invocation } from './args.js';
import { ctxOf, failingAs, loadSys, ownFd } from './common.js';

/** The flags `create` and `run` share, as runc has them. */
export const CREATE_FLAGS: Flag[] = [
  { name: 'bundle', short: 'b', value: true, help: 'path to the root of the bundle directory, defaults to the current directory' },
  { name: 'console-socket', value: true, help: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal" },
  { name: 'pid-file', value: true, help: 'specify the file to write the process id to' },
  { name: 'pidfd-socket', value: true, help: "path to an AF_UNIX socket which will receive a file descriptor referencing the init process" },
  { name: 'no-pivot', help: 'do not use pivot root to jail process inside rootfs (move the rootfs and chroot instead)' },
  { name: 'no-new-keyring', help: 'do not create a new session keyring for the container' },
  { name: 'preserve-fds', value: true, default: '0', help: 'pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)' },
];

export function createOptions(inv: Invocation): CreateOptions {
  const f = inv.flags;
  return {
    id: inv.args[0],
    bundle: str(f.bundle) ?? '.',
    pidFile: str(f['pid-file']),
    consoleSocket: str(f['console-socket']),
    pidfdSocket: str(f['pidfd-socket']),
    noPivot: bool(f['no-pivot']),
    noNewKeyring: bool(f['no-new-keyring']),
    preserveFds: preservedFdCount(f['preserve-fds'], 3 + listenFdCount(), ownFd),
    listenFds: listenFdCount(),
    notifySocket: process.env.NOTIFY_SOCKET || undefined,
  };
}

export const command: CommandDef = {
  name: 'create',
  summary: 'create a container',
  usage: '<container-id>',
  flags: CREATE_FLAGS,
  args: { min: 1, max: 1 },
  async run(inv) {
    const { create } = await import('../container/create.js');
    await failingAs('create', async () => create(await loadSys(), ctxOf(inv), createOptions(inv)));
  },
};
