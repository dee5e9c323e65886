import type { CommandDef } from './args.js';
import { ctxOf, loadSys } from './common.js';

export const command: CommandDef = {
  name: 'start',
  summary: 'executes the user defined process in a created container',
  usage: '<container-id>',
  flags: [],
  args: { min: 1, max: 1 },
  async run(inv) {
    const { start } = await import('../container/start.js');
    await start(await loadSys(), ctxOf(inv), inv.args[0], { notifySocket: process.env.NOTIFY_SOCKET || undefined });
  },
};
