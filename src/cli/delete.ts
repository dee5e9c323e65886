import type { Command } from 'commander';
import { ctxOf, loadSys } from './common.js';

export function register(program: Command): void {
  program
    .command('delete')
    .description('delete a stopped or created container (and its cgroups and state)')
    .argument('<container-id>')
    .option('-f, --force', 'kill the container first if it is still running')
    .action(async (id: string, o, cmd: Command) => {
      const { deleteContainer } = await import('../container/delete.js');
      return deleteContainer(await loadSys(), ctxOf(cmd), id, { force: o.force });
    });
}
