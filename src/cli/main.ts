/** ocirun's command line: runc's commands, flags, exit codes and messages. */
import { log, Logger, setLogger, type LogFormat } from '../log.js';
import { openCallerFileForAppend } from '../caller-path.js';
import { stdout } from '../output.js';
import { OCI_VERSION } from '../config/constants.js';
import { VERSION } from '../version.js';
import { parseCommandLine, str, UsageError, type CommandDef, type Flag } from './args.js';
import { defaultRoot } from '../container/rootless.js';
import { fail } from './common.js';
import { command as check } from './check.js';
import { command as checkpoint } from './checkpoint.js';
import { command as create } from './create.js';
import { command as del } from './delete.js';
import { command as events } from './events.js';
import { command as exec } from './exec.js';
import { command as features } from './features.js';
import { command as kill } from './kill.js';
import { command as list } from './list.js';
import { command as pause } from './pause.js';
import { command as ps } from './ps.js';
import { command as restore } from './restore.js';
import { command as resume } from './resume.js';
import { command as run } from './run.js';
import { command as spec } from './spec.js';
import { command as start } from './start.js';
import { command as state } from './state.js';
import { command as update } from './update.js';

// In the order help lists them.
const COMMANDS: CommandDef[] = [check, checkpoint, create, del, events, exec, features, kill, list, pause, ps, restore, resume, run, spec, start, state, update];

export const GLOBAL_FLAGS: Flag[] = [
  { name: 'debug', help: 'enable debug logging' },
  { name: 'log', value: true, help: "set the log file to write ocirun logs to (default is '/dev/stderr')" },
  { name: 'log-format', value: true, default: 'text', help: "set the log format ('text' (default), or 'json')" },
  { name: 'root', value: true, default: defaultRoot(), help: 'root directory for storage of container state (this should be located in tmpfs)' },
  { name: 'rootless', value: true, default: 'auto', help: "ignore cgroup permission errors ('true', 'false', or 'auto')" },
  { name: 'systemd-cgroup', help: 'enable systemd cgroup support, expects cgroupsPath to be of form "slice:prefix:name"' },
];

async function versionText(): Promise<string> {
  const { libseccompVersion } = await import('../sys/libseccomp.js');
  return `ocirun version ${VERSION}\nspec: ${OCI_VERSION}\nlibseccomp: ${libseccompVersion() ?? 'not found'}\n`;
}

export async function main(argv: string[]): Promise<void> {
  try {
    const parsed = parseCommandLine(argv, GLOBAL_FLAGS, COMMANDS);
    if (parsed.kind === 'version') return stdout(await versionText());
    if (parsed.kind === 'help') return stdout(parsed.text);
    const g = parsed.inv.global;
    const format = str(g['log-format']);
    if (format !== 'text' && format !== 'json') throw new UsageError(`invalid log-format: ${format}`);
    // As runc: the log file exists once the command has run, whatever it
    // logged. It is opened once, so that every line goes to the file checked.
    const logFd = str(g.log) ? openCallerFileForAppend('open log file', str(g.log)!) : undefined;
    setLogger(new Logger({ fd: logFd, format: format as LogFormat, debug: g.debug === true }));
    log.debug(`${parsed.command.name}: started (${performance.now().toFixed(1)} ms after the engine)`);
    await parsed.command.run(parsed.inv);
    // Everything is written (the output is written synchronously; the
    // terminal proxy waits for stdout): exit now rather than after the
    // engine's teardown, which costs Bun several milliseconds.
    process.exit();
  } catch (err) {
    fail(err);
  }
}
