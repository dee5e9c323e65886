import type { Command } from 'commander';
import { ctxOf } from './common.js';

/** A left-aligned table with columns separated by at least two spaces, like Go's tabwriter. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + 3))).join('')).join('\n') + '\n';
}

export function register(program: Command): void {
  program
    .command('list')
    .alias('ls')
    .description('list the containers under --root')
    .option('-f, --format <format>', 'table or json', 'table')
    .option('-q, --quiet', 'print only the container ids')
    .action(async (o, cmd: Command) => {
      const { list } = await import('../container/query.js');
      const all = list(ctxOf(cmd));
      if (o.quiet) return void process.stdout.write(all.map((s) => s.id + '\n').join(''));
      if (o.format === 'json') return void process.stdout.write(JSON.stringify(all) + '\n');
      if (o.format !== 'table') throw new Error(`invalid format option: ${o.format}`);
      const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...all.map((s) => [s.id, String(s.pid), s.status, s.bundle, s.created, s.owner])];
      process.stdout.write(table(rows));
    });
}
