import type { Command } from 'commander';
import { ctxOf } from './common.js';

export function register(program: Command): void {
  program
    .command('pause')
    .description('suspend every process in the container (cgroup freezer)')
    .argument('<container-id>')
    .action(async (id: string, _o, cmd: Command) => {
      const { pause } = await import('../container/pause.js');
      await pause(ctxOf(cmd), id);
    });
}
