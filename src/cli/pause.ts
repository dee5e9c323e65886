import type { CommandDef } from './args.js';
import { ctxOf, loadSys } from './common.js';

export const command: CommandDef = {
  name: 'pause',
  summary: 'pause suspends all processes inside the container',
  usage: '<container-id>',
  flags: [],
  args: { min: 1, max: 1 },
  async run(inv) {
    const { pause } = await import('../container/pause.js');
    await pause(await loadSys(), ctxOf(inv), inv.args[0]);
  },
};
