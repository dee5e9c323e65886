import fs from 'node:fs';
import { ConfigError, RuntimeError } from '../errors.js';
import { log } from '../log.js';
import { bool, list, preservedFdCount, str, UsageError, type CommandDef } from './args.js';
import { ctxOf, loadSys, ownFd } from './common.js';

/** The --process file, parsed; src/config/validate.ts checks it. */
async function readProcessFile(file: string): Promise<unknown> {
  const { parseJson, shapes } = await import('../config/load.js');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new RuntimeError('read process file', `${file}: ${(err as Error).message}`);
  }
  return parseJson(text, file, 'read process file', shapes.process);
}

export const command: CommandDef = {
  name: 'exec',
  summary: 'execute new process inside the container',
  usage: '<container-id> <command> [command options]  || -p process.json <container-id>',
  flags: [
    { name: 'console-socket', value: true, help: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal" },
    { name: 'cwd', value: true, help: 'current working directory in the container' },
    { name: 'env', short: 'e', value: true, repeat: true, help: 'set environment variables' },
    { name: 'tty', short: 't', help: 'allocate a pseudo-TTY' },
    { name: 'user', short: 'u', value: true, help: 'UID (format: <uid>[:<gid>])' },
    { name: 'additional-gids', short: 'g', value: true, repeat: true, help: 'additional gids' },
    { name: 'process', short: 'p', value: true, help: 'path to the process.json' },
    { name: 'detach', short: 'd', help: "detach from the container's process" },
    { name: 'pid-file', value: true, help: 'specify the file to write the process id to' },
    { name: 'pidfd-socket', value: true, help: 'path to an AF_UNIX socket which will receive a file descriptor referencing the exec process' },
    { name: 'process-label', value: true, help: 'set the asm process label for the process commonly used with selinux' },
    { name: 'apparmor', value: true, help: 'set the apparmor profile for the process' },
    { name: 'no-new-privs', help: 'set the no new privileges value for the process' },
    { name: 'cap', short: 'c', value: true, repeat: true, help: 'add a capability to the bounding set for the process' },
    { name: 'preserve-fds', value: true, default: '0', help: 'pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)' },
    { name: 'cgroup', value: true, repeat: true, help: 'run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>.' },
    { name: 'ignore-paused', help: 'allow exec in a paused container' },
  ],
  args: { min: 1, max: Infinity },
  flagsFirst: true,
  async run(inv) {
    // As runc: a failed exec exits 255 ("exec failed: ..."), so that a
    // caller can tell it from the process's own exit status 1. Bad input
    // (a flag, the process file) is 1, as everywhere in ocirun; runc says
    // 255 there too.
    try {
      const f = inv.flags;
      const [id, ...args] = inv.args;
      const { exec } = await import('../container/exec.js');
      process.exitCode = await exec(await loadSys(), ctxOf(inv), {
        id,
        process: str(f.process) ? await readProcessFile(str(f.process)!) : undefined,
        args,
        env: list(f.env),
        cwd: str(f.cwd),
        tty: bool(f.tty),
        user: str(f.user),
        additionalGids: list(f['additional-gids'])?.map((g) => (/^-?\d+$/.test(g) ? Number(g) : NaN)),
        caps: list(f.cap),
        noNewPrivs: f['no-new-privs'] === true ? true : undefined,
        apparmor: str(f.apparmor),
        processLabel: str(f['process-label']),
        consoleSocket: str(f['console-socket']),
        detach: bool(f.detach),
        pidFile: str(f['pid-file']),
        pidfdSocket: str(f['pidfd-socket']),
        preserveFds: preservedFdCount(f['preserve-fds'], 3, ownFd),
        cgroup: list(f.cgroup),
        ignorePaused: bool(f['ignore-paused']),
      });
    } catch (err) {
      log.error(`exec failed: ${(err as Error).message}`);
      process.exit(err instanceof ConfigError || err instanceof UsageError ? 1 : 255);
    }
  },
};
