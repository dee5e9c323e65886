/** ocirun's command line: runc's commands, flags, exit codes and messages. */
import { Command } from 'commander';
import { Logger, setLogger, type LogFormat } from '../log.js';
import { OCI_VERSION } from '../spec/constants.js';
import { VERSION } from '../version.js';
import { fail, globals } from './common.js';
import * as checkCmd from './check.js';
import * as createCmd from './create.js';
import * as deleteCmd from './delete.js';
import * as eventsCmd from './events.js';
import * as execCmd from './exec.js';
import * as featuresCmd from './features.js';
import * as killCmd from './kill.js';
import * as listCmd from './list.js';
import * as pauseCmd from './pause.js';
import * as psCmd from './ps.js';
import * as resumeCmd from './resume.js';
import * as runCmd from './run.js';
import * as specCmd from './spec.js';
import * as startCmd from './start.js';
import * as stateCmd from './state.js';
import * as updateCmd from './update.js';


async function versionText(): Promise<string> {
  const { libseccompVersion } = await import('../sys/libseccomp.js');
  return `ocirun version ${VERSION}\nspec: ${OCI_VERSION}\nlibseccomp: ${libseccompVersion() ?? 'not found'}\n`;
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('ocirun')
    .description('an OCI container runtime, command-line compatible with runc')
    .option('--root <dir>', 'root directory for container state', '/run/ocirun')
    .option('--log <file>', 'write warnings and errors to this file')
    .option('--log-format <format>', 'text or json', 'text')
    .option('--debug', 'log debug messages')
    .option('--systemd-cgroup', 'use the systemd cgroup driver (not supported yet)')
    .option('-v, --version', 'print the version')
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride((err) => {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') process.exit(0);
      process.exit(1);
    })
    .hook('preAction', (_thisCmd, actionCmd) => {
      const g = globals(actionCmd);
      if (g.logFormat !== 'text' && g.logFormat !== 'json') throw new Error(`invalid log format: ${g.logFormat}`);
      setLogger(new Logger({ file: g.log, format: g.logFormat as LogFormat, debug: g.debug }));
      if (g.systemdCgroup) throw new Error('--systemd-cgroup: the systemd cgroup driver is not supported by this version of ocirun');
    });
  for (const m of [createCmd, startCmd, stateCmd, killCmd, deleteCmd, runCmd, execCmd, listCmd, psCmd, pauseCmd, resumeCmd, updateCmd, eventsCmd, featuresCmd, checkCmd, specCmd]) m.register(program);

  if (argv.includes('-v') || argv.includes('--version')) {
    const first = argv.findIndex((a) => !a.startsWith('-'));
    if (first < 0 || argv.indexOf('--version') < first || argv.indexOf('-v') < first) {
      process.stdout.write(await versionText());
      return;
    }
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    fail(err);
  }
}
