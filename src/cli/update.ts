import fs from 'node:fs';
import type { Command } from 'commander';
import { RuntimeError } from '../errors.js';
import type { ResourcesConfig } from '../spec/schema.js';
import { ctxOf, loadSys } from './common.js';

function readResources(file: string): ResourcesConfig {
  try {
    const parsed = JSON.parse(fs.readFileSync(file === '-' ? 0 : file, 'utf8'));
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as ResourcesConfig;
  } catch (err) {
    throw new RuntimeError('read resources', `${file === '-' ? 'stdin' : file}: ${(err as Error).message}`);
  }
}

export function register(program: Command): void {
  program
    .command('update')
    .description('update the resource limits of a container')
    .argument('<container-id>')
    .option('-r, --resources <file>', 'a LinuxResources JSON file, or - for stdin (the flags below are then ignored, as in runc)')
    .option('--memory <bytes>', 'memory limit (e.g. 64m); -1 for none')
    .option('--memory-reservation <bytes>', 'memory soft limit')
    .option('--memory-swap <bytes>', 'memory plus swap limit; -1 for none')
    .option('--kernel-memory <bytes>', 'kernel memory limit (deprecated)')
    .option('--kernel-memory-tcp <bytes>', 'kernel TCP buffer limit')
    .option('--cpu-share <n>', 'CPU shares (relative weight)')
    .option('--cpu-shares <n>', 'same as --cpu-share')
    .option('--cpu-quota <us>', 'CPU CFS quota, in microseconds per period')
    .option('--cpu-period <us>', 'CPU CFS period, in microseconds')
    .option('--cpu-rt-period <us>', 'CPU realtime period')
    .option('--cpu-rt-runtime <us>', 'CPU realtime runtime')
    .option('--cpuset-cpus <list>', 'CPUs to allow (0-3, 0,1)')
    .option('--cpuset-mems <list>', 'memory nodes to allow')
    .option('--pids-limit <n>', 'maximum number of tasks; -1 for none')
    .option('--blkio-weight <n>', 'block IO weight (10-1000)')
    .option('--l3-cache-schema <schema>', 'Intel RDT L3 schema (not supported)')
    .option('--mem-bw-schema <schema>', 'Intel RDT memory bandwidth schema (not supported)')
    .action(async (id: string, o, cmd: Command) => {
      const { resourcesFromFlags, update } = await import('../container/update.js');
      if (o.l3CacheSchema || o.memBwSchema) throw new RuntimeError('', 'Intel RDT is not supported by this version of ocirun');
      const resources = o.resources ? readResources(o.resources) : resourcesFromFlags({ ...o, cpuShare: o.cpuShare ?? o.cpuShares });
      update(await loadSys(), ctxOf(cmd), id, resources);
    });
}
