import type { Command } from 'commander';
import { ctxOf, loadSys } from './common.js';
import { createOptions, withCreateFlags } from './create.js';

export function register(program: Command): void {
  withCreateFlags(program.command('run').description('create and start a container, wait for it and exit with its status'))
    .option('-d, --detach', 'start the container and return at once')
    .action(async (id: string, o, cmd: Command) => {
      const { run } = await import('../container/run.js');
      process.exitCode = await run(await loadSys(), ctxOf(cmd), { ...createOptions(id, o), detach: o.detach });
    });
}
