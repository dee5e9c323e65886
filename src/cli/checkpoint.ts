import { bool, countFlag, list, str, type CommandDef, type FlagValues } from './args.js';
import { ctxOf, loadSys } from './common.js';

/** The flags checkpoint and restore share, as CRIU options (src/container/criu.ts). */
export function criuOptions(f: FlagValues) {
  return {
    imagePath: str(f['image-path']),
    workPath: str(f['work-path']),
    tcpEstablished: bool(f['tcp-established']),
    extUnixSk: bool(f['ext-unix-sk']),
    shellJob: bool(f['shell-job']),
    fileLocks: bool(f['file-locks']),
    manageCgroupsMode: str(f['manage-cgroups-mode']),
    emptyNs: list(f['empty-ns']),
    autoDedup: bool(f['auto-dedup']),
    lazyPages: bool(f['lazy-pages']),
  };
}

// runc's flags, with runc's meaning (src/container/checkpoint.ts).
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
    const f = inv.flags;
    await checkpoint(await loadSys(), ctxOf(inv), inv.args[0], {
      ...criuOptions(f),
      parentPath: str(f['parent-path']),
      leaveRunning: bool(f['leave-running']),
      preDump: bool(f['pre-dump']),
      pageServer: str(f['page-server']),
      statusFd: f['status-fd'] === undefined ? undefined : countFlag(f['status-fd'], 'status-fd'),
    });
  },
};
