import { createCallerFile } from '../caller-path.js';
import path from 'node:path';
import { RuntimeError } from '../errors.js';
import { bool, str, type CommandDef } from './args.js';

export const command: CommandDef = {
  name: 'spec',
  summary: 'create a new specification file',
  usage: '',
  flags: [
    { name: 'bundle', short: 'b', value: true, help: 'path to the root of the bundle directory' },
    { name: 'rootless', help: 'generate a configuration for a rootless container' },
  ],
  args: { min: 0, max: 0 },
  async run(inv) {
    const { defaultSpec, toRootless } = await import('../config/default.js');
    const file = path.join(str(inv.flags.bundle) ?? '.', 'config.json');
    const spec = bool(inv.flags.rootless) ? toRootless(defaultSpec(), process.geteuid!(), process.getegid!()) : defaultSpec();
    // runc checks with stat, then writes through whatever is there: a dangling symlink would make its target.
    if (!createCallerFile('spec', file, JSON.stringify(spec, null, '\t') + '\n', 0o666)) throw new RuntimeError('spec', `File ${file} exists. Remove it first`);
  },
};
