import type { Command } from 'commander';
import { run } from '../container/run.js';
import { ctxOf, loadSys, parseCount } from './common.js';

export function register(program: Command): void {
  program
    .command('run')
    .description('create and start a container, wait for it and exit with its status')
    .argument('<container-id>')
    .option('-b, --bundle <dir>', 'path to the bundle (default: the current directory)', '.')
    .option('-d, --detach', 'start the container and return at once')
    .option('--pid-file <file>', 'write the init pid to this file')
    .option('--console-socket <path>', 'unix socket that receives the pty master when process.terminal is set')
    .option('--no-pivot', 'do not use pivot_root (move the rootfs and chroot instead)')
    .option('--no-new-keyring', 'do not create a new session keyring')
    .option('--preserve-fds <n>', 'pass N extra fds (3..3+N-1) to the container', '0')
    .action(async (id: string, o, cmd: Command) => {
      const code = await run(await loadSys(), ctxOf(cmd), {
        id,
        bundle: o.bundle,
        detach: o.detach,
        pidFile: o.pidFile,
        consoleSocket: o.consoleSocket,
        noPivot: o.pivot === false,
        noNewKeyring: o.newKeyring === false,
        preserveFds: parseCount(o.preserveFds, '--preserve-fds'),
      });
      process.exitCode = code;
    });
}
