import fs from 'node:fs';
import type { Command } from 'commander';
import { RuntimeError } from '../errors.js';
import { log } from '../log.js';
import type { ProcessConfig } from '../spec/schema.js';
import { ctxOf, loadSys, parseCount } from './common.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

function readProcessFile(file: string): ProcessConfig {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as ProcessConfig;
  } catch (err) {
    throw new RuntimeError('read process file', `${file}: ${(err as Error).message}`);
  }
}

export function register(program: Command): void {
  program
    .command('exec')
    .description('run a new process inside a container')
    .argument('<container-id>')
    .argument('[command...]', 'the command and its arguments (unless --process)')
    .option('-p, --process <file>', 'path to a process.json (replaces the command and the flags below)')
    .option('-t, --tty', 'allocate a pseudo-TTY')
    .option('--console-socket <path>', 'unix socket that receives the pty master')
    .option('-d, --detach', 'return once the process runs')
    .option('--pid-file <file>', 'write the process id to this file')
    .option('-e, --env <var>', 'set an environment variable (repeatable)', collect)
    .option('--cwd <dir>', 'working directory in the container')
    .option('-u, --user <uid[:gid]>', 'user id, optionally with group id')
    .option('-g, --additional-gids <gid>', 'additional group id (repeatable)', collect)
    .option('-c, --cap <cap>', 'add a capability (repeatable)', collect)
    .option('--no-new-privs', 'set no_new_privs for the process')
    .option('--apparmor <profile>', 'AppArmor profile for the process')
    .option('--process-label <label>', 'SELinux label for the process')
    .option('--preserve-fds <n>', 'pass N extra fds (3..3+N-1) to the process', '0')
    .option('--cgroup <[controller:]path>', 'run in a sub-cgroup of the container (repeatable)', collect)
    .option('--ignore-paused', 'allow exec in a paused container')
    .passThroughOptions()
    .action(async (id: string, command: string[], o, cmd: Command) => {
      // As runc: a failed exec exits 255 ("exec failed: ..."), so that a
      // caller can tell it from the process's own exit status 1.
      try {
        const { exec } = await import('../container/exec.js');
        const noNewPrivs = cmd.getOptionValueSource('newPrivs') === 'cli' ? true : undefined;
        process.exitCode = await exec(await loadSys(), ctxOf(cmd), {
          id,
          process: o.process ? readProcessFile(o.process) : undefined,
          args: command,
          env: o.env,
          cwd: o.cwd,
          tty: o.tty ?? false,
          user: o.user,
          additionalGids: (o.additionalGids as string[] | undefined)?.map((g) => (/^-?\d+$/.test(g) ? Number(g) : NaN)),
          caps: o.cap,
          noNewPrivs,
          apparmor: o.apparmor,
          processLabel: o.processLabel,
          consoleSocket: o.consoleSocket,
          detach: o.detach ?? false,
          pidFile: o.pidFile,
          preserveFds: parseCount(String(o.preserveFds), '--preserve-fds'),
          cgroup: o.cgroup,
          ignorePaused: o.ignorePaused ?? false,
        });
      } catch (err) {
        log.error(`exec failed: ${(err as Error).message}`);
        process.exit(255);
      }
    });
}
