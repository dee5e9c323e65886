import type { Command } from 'commander';
import { ctxOf } from './common.js';

export function register(program: Command): void {
  program
    .command('kill')
    .description('send a signal (default SIGTERM) to the container init, or with --all to all its processes')
    .argument('<container-id>')
    .argument('[signal]', 'signal name or number', 'SIGTERM')
    .option('-a, --all', 'send the signal to every process in the container')
    .action(async (id: string, signal: string, o, cmd: Command) => {
      const { kill } = await import('../container/kill.js');
      return kill(ctxOf(cmd), id, signal, { all: o.all });
    });
}
