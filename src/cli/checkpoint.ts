import { str, type CommandDef } from './args.js';
import { ctxOf } from './common.js';

// runc's flags, all accepted so that a manager's command line parses; what
// each would ask of CRIU is not reached in this version (src/container/checkpoint.ts).
export const command: CommandDef = {
  name: 'checkpoint',
  summary: 'checkpoint a running container',
  usage: '<container-id>',
  flags: [
    { name: 'image-path', value: true, help: 'path for saving criu image files' },
    { name: 'work-path', value: true, help: 'path for saving work files and logs' },
    { name: 'parent-path', value: true, help: 'path for previous criu image files in pre-dump' },
    { name: 'leave-running', help: 'leave the process running after checkpointing' },
    { name: 'tcp-established', help: 'allow open tcp connections' },
    { name: 'ext-unix-sk', help: 'allow external unix sockets' },
    { name: 'shell-job', help: 'allow shell jobs' },
    { name: 'lazy-pages', help: 'use userfaultfd to lazily restore memory pages' },
    { name: 'status-fd', value: true, help: 'criu writes \\0 to this FD once lazy-pages is ready' },
    { name: 'page-server', value: true, help: 'ADDRESS:PORT of the page server' },
    { name: 'file-locks', help: 'handle file locks, for safety' },
    { name: 'pre-dump', help: "dump container's memory information only, leave the container running after this" },
    { name: 'manage-cgroups-mode', value: true, help: "cgroups mode: 'soft' (default), 'full' and 'strict'" },
    { name: 'empty-ns', value: true, repeat: true, help: "create a namespace, but don't restore its properties" },
    { name: 'auto-dedup', help: 'enable auto deduplication of memory images' },
  ],
  args: { min: 1, max: 1 },
  async run(inv) {
    const { checkpoint } = await import('../container/checkpoint.js');
    checkpoint(ctxOf(inv), inv.args[0], { imagePath: str(inv.flags['image-path']), parentPath: str(inv.flags['parent-path']), manageCgroupsMode: str(inv.flags['manage-cgroups-mode']) });
  },
};
