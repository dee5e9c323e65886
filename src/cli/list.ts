import { stdout } from '../output.js';
import { UsageError, bool, str, type CommandDef } from './args.js';
import { ctxOf } from './common.js';

/** A left-aligned table with columns separated by at least two spaces, like Go's tabwriter. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + 3))).join('')).join('\n') + '\n';
}

export const command: CommandDef = {
  name: 'list',
  aliases: ['ls'],
  summary: 'lists containers started by ocirun with the given root',
  usage: '',
  flags: [
    { name: 'format', short: 'f', value: true, default: 'table', help: 'select one of: table or json' },
    { name: 'quiet', short: 'q', help: 'display only container IDs' },
  ],
  args: { min: 0, max: 0 },
  async run(inv) {
    const format = str(inv.flags.format);
    if (format !== 'table' && format !== 'json') throw new UsageError(`invalid format option: ${format}`);
    const { list } = await import('../container/query.js');
    const all = list(ctxOf(inv));
    if (bool(inv.flags.quiet)) return void stdout(all.map((s) => s.id + '\n').join(''));
    // runc prints null for an empty list in JSON.
    if (format === 'json') return void stdout(JSON.stringify(all.length ? all : null) + '\n');
    const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...all.map((s) => [s.id, String(s.pid), s.status, s.bundle, s.created, s.owner])];
    stdout(table(rows));
  },
};
