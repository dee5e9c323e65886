import { stdout } from '../output.js';
import type { CommandDef } from './args.js';
import { ctxOf } from './common.js';

export const command: CommandDef = {
  name: 'state',
  summary: 'output the state of a container',
  usage: '<container-id>',
  flags: [],
  args: { min: 1, max: 1 },
  async run(inv) {
    const { state } = await import('../container/query.js');
    stdout(JSON.stringify(state(ctxOf(inv), inv.args[0]), null, 2) + '\n');
  },
};
