import type { Command } from 'commander';
import { start } from '../container/start.js';
import { ctxOf } from './common.js';

export function register(program: Command): void {
  program
    .command('start')
    .description('start the process of a created container')
    .argument('<container-id>')
    .action(async (id: string, _o, cmd: Command) => start(ctxOf(cmd), id));
}
