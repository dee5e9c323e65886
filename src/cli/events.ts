import { stdout } from '../output.js';
import { bool, str, type CommandDef } from './args.js';
import { ctxOf } from './common.js';

export const command: CommandDef = {
  name: 'events',
  summary: 'display container events such as OOM notifications, cpu, memory, and IO usage statistics',
  usage: '<container-id>',
  flags: [
    { name: 'interval', value: true, default: '5s', help: 'set the stats collection interval' },
    { name: 'stats', help: 'display the container\'s stats then exit' },
  ],
  args: { min: 1, max: 1 },
  async run(inv) {
    const { parseDuration, statsEvent, streamEvents } = await import('../container/events.js');
    const { statsJson } = await import('../cgroups/stats.js');
    const write = (e: object) => stdout(statsJson(e) + '\n');
    const id = inv.args[0];
    if (bool(inv.flags.stats)) return void write(statsEvent(ctxOf(inv), id));
    await streamEvents(ctxOf(inv), id, parseDuration(str(inv.flags.interval) ?? '5s'), write);
  },
};
