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
    const socket = process.env.NOTIFY_SOCKET;
    await start(ctxOf(inv), inv.args[0], { notify: socket ? { sys: await loadSys(), socket } : undefined });
  },
};
