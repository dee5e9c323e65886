import { stdout } from '../output.js';
import type { CommandDef } from './args.js';
import { ctxOf, loadSys } from './common.js';

export const command: CommandDef = {
  name: 'check',
  summary: 'report whether this host can run containers with ocirun (exit 1 if it cannot)',
  usage: '',
  flags: [],
  args: { min: 0, max: 0 },
  async run(inv) {
    const { check } = await import('../container/check.js');
    const { libseccompVersion } = await import('../sys/libseccomp.js');
    const lines = check(await loadSys(), ctxOf(inv).root, libseccompVersion());
    const width = Math.max(...lines.map((l) => l.item.length));
    for (const l of lines) stdout(`${l.status.padEnd(8)}${l.item.padEnd(width + 2)}${l.detail}\n`);
    const failed = lines.filter((l) => l.status === 'missing').length;
    stdout(failed ? `\n${failed} required item(s) missing: ocirun cannot work here\n` : '\nocirun can work here\n');
    if (failed) process.exitCode = 1;
  },
};
