import type { Command } from 'commander';
import { state } from '../container/query.js';
import { ctxOf } from './common.js';

export function register(program: Command): void {
  program
    .command('state')
    .description('print the state of a container as JSON')
    .argument('<container-id>')
    .action((id: string, _o, cmd: Command) => {
      process.stdout.write(JSON.stringify(state(ctxOf(cmd), id), null, 2) + '\n');
    });
}
