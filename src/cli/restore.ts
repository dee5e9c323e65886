import { bool, str, type CommandDef } from './args.js';
import { criuOptions } from './checkpoint.js';
import { ctxOf, loadSys } from './common.js';

// runc's flags (see ./checkpoint.ts).
export const command: CommandDef = {
  name: 'restore',
  summary: 'restore a container from a previous checkpoint',
  usage: '<container-id>',
  flags: [
    { name: 'console-socket', value: true, help: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal" },
    { name: 'image-path', value: true, help: 'path to criu image files for restoring' },
    { name: 'work-path', value: true, help: 'path for saving work files and logs' },
    { name: 'tcp-established', help: 'allow open tcp connections' },
    { name: 'ext-unix-sk', help: 'allow external unix sockets' },
    { name: 'shell-job', help: 'allow shell jobs' },
    { name: 'file-locks', help: 'handle file locks, for safety' },
    { name: 'manage-cgroups-mode', value: true, help: "cgroups mode: 'soft' (default), 'full' and 'strict'" },
    { name: 'bundle', short: 'b', value: true, default: '', help: 'path to the root of the bundle directory' },
    { name: 'detach', short: 'd', help: "detach from the container's process" },
    { name: 'pid-file', value: true, help: 'specify the file to write the process id to' },
    { name: 'no-subreaper', help: 'disable the use of the subreaper used to reap reparented processes' },
    { name: 'no-pivot', help: 'do not use pivot root to jail process inside rootfs' },
    { name: 'empty-ns', value: true, repeat: true, help: "create a namespace, but don't restore its properties" },
    { name: 'auto-dedup', help: 'enable auto deduplication of memory images' },
    { name: 'lazy-pages', help: 'use userfaultfd to lazily restore memory pages' },
    { name: 'lsm-profile', value: true, help: 'Specify an LSM profile to be used during restore in the form of TYPE:NAME.' },
    { name: 'lsm-mount-context', value: true, help: 'Specify an LSM mount context to be used during restore.' },
  ],
  args: { min: 1, max: 1 },
  async run(inv) {
    const { restore } = await import('../container/restore.js');
    const f = inv.flags;
    process.exitCode = await restore(await loadSys(), ctxOf(inv), {
      ...criuOptions(f),
      id: inv.args[0],
      bundle: str(f.bundle) || '.',
      detach: bool(f.detach),
      pidFile: str(f['pid-file']),
      consoleSocket: str(f['console-socket']),
      lsmProfile: str(f['lsm-profile']),
      lsmMountContext: str(f['lsm-mount-context']),
    });
  },
};
