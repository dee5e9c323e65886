import type { Command } from 'commander';
import { ctxOf, loadSys } from './common.js';

export function register(program: Command): void {
  program
    .command('start')
    .description('start the process of a created container')
    .argument('<container-id>')
    .action(async (id: string, _o, cmd: Command) => {
      const { start } = await import('../container/start.js');
      const socket = process.env.NOTIFY_SOCKET;
      return start(ctxOf(cmd), id, { notify: socket ? { sys: await loadSys(), socket } : undefined });
    });
}
