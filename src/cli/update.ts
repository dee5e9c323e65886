import fs from 'node:fs';
import { RuntimeError } from '../errors.js';
import { str, type CommandDef, type Flag } from './args.js';
import { ctxOf, loadSys } from './common.js';

/** The -r file (or stdin), parsed; src/config/validate.ts checks it. */
async function readResources(file: string): Promise<unknown> {
  const { parseJson, shapes } = await import('../config/load.js');
  const source = file === '-' ? 'stdin' : file;
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new RuntimeError('read resources', `${source}: ${(err as Error).message}`);
  }
  return parseJson(text, source, 'read resources', shapes.resources);
}

const value = (name: string, help: string): Flag => ({ name, value: true, help });

export const command: CommandDef = {
  name: 'update',
  summary: 'update container resource constraints',
  usage: '<container-id>',
  flags: [
    { name: 'resources', short: 'r', value: true, help: 'path to a LinuxResources JSON file, or - for stdin (the other flags are then ignored, as in runc)' },
    value('memory', 'memory limit (in bytes; 64m and such are taken); -1 for none'),
    value('memory-reservation', 'memory reservation or soft_limit (in bytes)'),
    value('memory-swap', 'total memory usage (memory + swap); -1 for none'),
    value('kernel-memory', 'kernel memory limit (deprecated)'),
    value('kernel-memory-tcp', 'kernel memory limit for tcp buffer'),
    value('cpu-share', 'CPU shares (relative weight vs. other containers)'),
    value('cpu-shares', 'same as --cpu-share'),
    value('cpu-quota', 'CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period'),
    value('cpu-period', 'CPU CFS period to be used for hardcapping (in usecs)'),
    value('cpu-burst', 'CPU CFS hardcap burst limit (in usecs): cpu time a period may borrow from earlier ones'),
    value('cpu-idle', 'the cgroup\'s SCHED_IDLE: 1, or 0 for the default'),
    value('cpu-rt-period', 'CPU realtime period to be used for hardcapping (in usecs)'),
    value('cpu-rt-runtime', 'CPU realtime hardcap limit (in usecs)'),
    value('cpuset-cpus', 'CPU(s) to use'),
    value('cpuset-mems', 'memory node(s) to use'),
    value('pids-limit', 'maximum number of pids allowed in the container'),
    value('blkio-weight', 'specifies per cgroup weight, range is from 10 to 1000'),
    value('l3-cache-schema', 'the string of Intel RDT/CAT L3 cache schema'),
    value('mem-bw-schema', 'the string of Intel RDT/MBA memory bandwidth schema'),
  ],
  args: { min: 1, max: 1 },
  async run(inv) {
    const f = inv.flags;
    const { resourcesFromFlags, update } = await import('../container/update.js');
    if (str(f['l3-cache-schema']) || str(f['mem-bw-schema'])) throw new RuntimeError('', 'Intel RDT is not supported by this version of ocirun');
    const file = str(f.resources);
    const resources = file
      ? await readResources(file)
      : resourcesFromFlags({
          memory: str(f.memory),
          memoryReservation: str(f['memory-reservation']),
          memorySwap: str(f['memory-swap']),
          kernelMemory: str(f['kernel-memory']),
          kernelMemoryTcp: str(f['kernel-memory-tcp']),
          cpuShare: str(f['cpu-share']) ?? str(f['cpu-shares']),
          cpuQuota: str(f['cpu-quota']),
          cpuPeriod: str(f['cpu-period']),
          cpuBurst: str(f['cpu-burst']),
          cpuIdle: str(f['cpu-idle']),
          cpuRtPeriod: str(f['cpu-rt-period']),
          cpuRtRuntime: str(f['cpu-rt-runtime']),
          cpusetCpus: str(f['cpuset-cpus']),
          cpusetMems: str(f['cpuset-mems']),
          pidsLimit: str(f['pids-limit']),
          blkioWeight: str(f['blkio-weight']),
        });
    await update(await loadSys(), ctxOf(inv), inv.args[0], resources);
  },
};
