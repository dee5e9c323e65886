import { bool, type CommandDef } from './args.js';
import { ctxOf, loadSys } from './common.js';

export const command: CommandDef = {
  name: 'kill',
  summary: "kill sends the specified signal (default: SIGTERM) to the container's init process",
  usage: '<container-id> [signal]',
  flags: [{ name: 'all', short: 'a', help: 'send the specified signal to all processes inside the container' }],
  args: { min: 1, max: 2 },
  async run(inv) {
    const { kill } = await import('../container/kill.js');
    await kill(await loadSys(), ctxOf(inv), inv.args[0], inv.args[1] ?? 'SIGTERM', { all: bool(inv.flags.all) });
  },
};
