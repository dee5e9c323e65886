import type { CommandDef } from './args.js';
import { ctxOf, loadSys } from './common.js';

export const command: CommandDef = {
  name: 'resume',
  summary: 'resumes all processes that have been previously paused',
  usage: '<container-id>',
  flags: [],
  args: { min: 1, max: 1 },
  async run(inv) {
    const { resume } = await import('../container/pause.js');
    await resume(await loadSys(), ctxOf(inv), inv.args[0]);
  },
};
