import type { Command } from 'commander';
import { ctxOf } from './common.js';

export function register(program: Command): void {
  program
    .command('resume')
    .description('resume every process of a paused container')
    .argument('<container-id>')
    .action(async (id: string, _o, cmd: Command) => {
      const { resume } = await import('../container/pause.js');
      await resume(ctxOf(cmd), id);
    });
}
