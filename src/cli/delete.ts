import { bool, type CommandDef } from './args.js';
import { ctxOf, loadSys } from './common.js';

export const command: CommandDef = {
  name: 'delete',
  summary: 'delete any resources held by the container often used with detached container',
  usage: '<container-id>',
  flags: [{ name: 'force', short: 'f', help: 'forcibly deletes the container if it is still running (uses SIGKILL)' }],
  args: { min: 1, max: 1 },
  async run(inv) {
    const { deleteContainer } = await import('../container/delete.js');
    await deleteContainer(await loadSys(), ctxOf(inv), inv.args[0], { force: bool(inv.flags.force) });
  },
};
