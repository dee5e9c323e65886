import type { Command } from 'commander';
import { ctxOf, loadSys } from './common.js';

export function register(program: Command): void {
  program
    .command('check')
    .description('report whether this host can run containers with ocirun (exit 1 if it cannot)')
    .action(async (_o, cmd: Command) => {
      const { check } = await import('../container/check.js');
      const { libseccompVersion } = await import('../sys/libseccomp.js');
      const lines = check(await loadSys(), ctxOf(cmd).root, libseccompVersion());
      const width = Math.max(...lines.map((l) => l.item.length));
      for (const l of lines) process.stdout.write(`${l.status.padEnd(8)}${l.item.padEnd(width + 2)}${l.detail}\n`);
      const failed = lines.filter((l) => l.status === 'missing').length;
      process.stdout.write(failed ? `\n${failed} required item(s) missing: ocirun cannot work here\n` : '\nocirun can work here\n');
      if (failed) process.exitCode = 1;
    });
}
