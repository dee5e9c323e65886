import { bool, type CommandDef } from './args.js';
import { ctxOf, failingAs, loadSys } from './common.js';
import { CREATE_FLAGS, createOptions } from './create.js';

export const command: CommandDef = {
  name: 'run',
  summary: 'create and run a container',
  usage: '<container-id>',
  flags: [
    ...CREATE_FLAGS,
    { name: 'detach', short: 'd', help: "detach from the container's process" },
    { name: 'keep', help: 'do not delete the container after it exits' },
    { name: 'no-subreaper', help: 'disable the use of the subreaper used to reap reparented processes' },
  ],
  args: { min: 1, max: 1 },
  async run(inv) {
    const { run } = await import('../container/run.js');
    process.exitCode = await failingAs('run', async () => run(await loadSys(), ctxOf(inv), { ...createOptions(inv), detach: bool(inv.flags.detach), keep: bool(inv.flags.keep) }));
  },
};
