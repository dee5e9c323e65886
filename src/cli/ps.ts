import { RuntimeError } from '../errors.js';
import { stdout } from '../output.js';
import { UsageError, str, type CommandDef } from './args.js';
import { ctxOf } from './common.js';

export const command: CommandDef = {
  name: 'ps',
  summary: 'ps displays the processes running inside a container',
  usage: '<container-id> [ps options]',
  flags: [{ name: 'format', short: 'f', value: true, default: 'table', help: 'select one of: table or json' }],
  args: { min: 1, max: Infinity },
  flagsFirst: true,
  async run(inv) {
    const format = str(inv.flags.format);
    if (format !== 'table' && format !== 'json') throw new UsageError(`invalid format option: ${format}`);
    const [id, ...psArgs] = inv.args;
    const { pids } = await import('../container/query.js');
    const list = pids(ctxOf(inv), id);
    if (format === 'json') return void stdout(JSON.stringify(list) + '\n');
    // As runc: run ps(1) on the host and keep the header and the container's rows.
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync('ps', psArgs.length ? psArgs : ['-ef'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) throw new RuntimeError('ps', r.error?.message ?? r.stderr.trim());
    const lines = r.stdout.split('\n');
    const pidCol = lines[0].trim().split(/\s+/).indexOf('PID');
    if (pidCol < 0) throw new RuntimeError('ps', 'no PID column in the output');
    const wanted = new Set(list.map(String));
    stdout([lines[0], ...lines.slice(1).filter((l) => wanted.has(l.trim().split(/\s+/)[pidCol]))].join('\n') + '\n');
  },
};
