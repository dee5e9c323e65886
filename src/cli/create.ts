import type { Command } from 'commander';
import type { CreateOptions } from '../container/create.js';
import { listenFdCount } from '../systemd/activation.js';
import { ctxOf, loadSys, parseCount } from './common.js';

/** The flags `create` and `run` share, as runc has them. */
export function withCreateFlags(cmd: Command): Command {
  return cmd
    .argument('<container-id>')
    .option('-b, --bundle <dir>', 'path to the bundle (default: the current directory)', '.')
    .option('--pid-file <file>', 'write the init pid to this file')
    .option('--console-socket <path>', 'unix socket that receives the pty master when process.terminal is set')
    .option('--no-pivot', 'do not use pivot_root (move the rootfs and chroot instead)')
    .option('--no-new-keyring', 'do not create a new session keyring')
    .option('--preserve-fds <n>', 'pass N extra fds (3..3+N-1) to the container', '0');
}

export function createOptions(id: string, o: Record<string, unknown>): CreateOptions {
  return {
    id,
    bundle: String(o.bundle),
    pidFile: o.pidFile as string | undefined,
    consoleSocket: o.consoleSocket as string | undefined,
    noPivot: o.pivot === false,
    noNewKeyring: o.newKeyring === false,
    preserveFds: parseCount(String(o.preserveFds), '--preserve-fds'),
    listenFds: listenFdCount(),
    notifySocket: process.env.NOTIFY_SOCKET || undefined,
  };
}

export function register(program: Command): void {
  withCreateFlags(program.command('create').description('create a container from a bundle; its process waits for `start`'))
    .action(async (id: string, o, cmd: Command) => {
      const { create } = await import('../container/create.js');
      await create(await loadSys(), ctxOf(cmd), createOptions(id, o));
    });
}
