import { spawnSync } from 'node:child_process';
import type { Command } from 'commander';
import { ctxOf } from './common.js';

export function register(program: Command): void {
  program
    .command('ps')
    .description('list the processes of a container (ps options may follow the id)')
    .argument('<container-id>')
    .argument('[ps-options...]')
    .option('-f, --format <format>', 'table or json', 'table')
    .allowUnknownOption()
    .action(async (id: string, psArgs: string[], o, cmd: Command) => {
      const { pids } = await import('../container/query.js');
      const list = pids(ctxOf(cmd), id);
      if (o.format === 'json') return void process.stdout.write(JSON.stringify(list) + '\n');
      if (o.format !== 'table') throw new Error(`invalid format option: ${o.format}`);
      // As runc: run ps(1) on the host and keep the header and the container's rows.
      const r = spawnSync('ps', psArgs.length ? psArgs : ['-ef'], { encoding: 'utf8' });
      if (r.error || r.status !== 0) throw new Error(`ps: ${r.error?.message ?? r.stderr.trim()}`);
      const lines = r.stdout.split('\n');
      const pidCol = lines[0].trim().split(/\s+/).indexOf('PID');
      if (pidCol < 0) throw new Error('ps: no PID column in the output');
      const wanted = new Set(list.map(String));
      const out = [lines[0], ...lines.slice(1).filter((l) => wanted.has(l.trim().split(/\s+/)[pidCol]))];
      process.stdout.write(out.join('\n') + '\n');
    });
}
