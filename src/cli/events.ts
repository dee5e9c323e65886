import type { Command } from 'commander';
import { ctxOf } from './common.js';

export function register(program: Command): void {
  program
    .command('events')
    .description('print the container\'s resource usage and OOM events as JSON lines')
    .argument('<container-id>')
    .option('--stats', 'print the stats once and exit')
    .option('--interval <duration>', 'how often to print stats', '5s')
    .action(async (id: string, o, cmd: Command) => {
      const { parseDuration, statsEvent, streamEvents } = await import('../container/events.js');
      const { statsJson } = await import('../cgroups/stats.js');
      const write = (e: object) => process.stdout.write(statsJson(e) + '\n');
      if (o.stats) return void write(statsEvent(ctxOf(cmd), id));
      await streamEvents(ctxOf(cmd), id, parseDuration(o.interval), write);
    });
}
