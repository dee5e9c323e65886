import type { Command } from 'commander';
import { ctxOf } from './common.js';

export function register(program: Command): void {
  program
    .command('start')
    .description('start the process of a created container')
    .argument('<container-id>')
    .action(async (id: string, _o, cmd: Command) => {
      const { start } = await import('../container/start.js');
      return start(ctxOf(cmd), id);
    });
}
