import type { Command } from 'commander';
import { ctxOf } from './common.js';

export function register(program: Command): void {
  program
    .command('state')
    .description('print the state of a container as JSON')
    .argument('<container-id>')
    .action(async (id: string, _o, cmd: Command) => {
      const { state } = await import('../container/query.js');
      process.stdout.write(JSON.stringify(state(ctxOf(cmd), id), null, 2) + '\n');
    });
}
