import type { Command } from 'commander';
import { create } from '../container/create.js';
import { ctxOf, loadSys, parseCount } from './common.js';

export function register(program: Command): void {
  program
    .command('create')
    .description('create a container from a bundle; its process waits for `start`')
    .argument('<container-id>')
    .option('-b, --bundle <dir>', 'path to the bundle (default: the current directory)', '.')
    .option('--pid-file <file>', 'write the init pid to this file')
    .option('--console-socket <path>', 'unix socket that receives the pty master when process.terminal is set')
    .option('--no-pivot', 'do not use pivot_root (move the rootfs and chroot instead)')
    .option('--no-new-keyring', 'do not create a new session keyring')
    .option('--preserve-fds <n>', 'pass N extra fds (3..3+N-1) to the container', '0')
    .action(async (id: string, o, cmd: Command) => {
      await create(await loadSys(), ctxOf(cmd), {
        id,
        bundle: o.bundle,
        pidFile: o.pidFile,
        consoleSocket: o.consoleSocket,
        noPivot: o.pivot === false,
        noNewKeyring: o.newKeyring === false,
        preserveFds: parseCount(o.preserveFds, '--preserve-fds'),
      });
    });
}
