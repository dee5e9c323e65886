import { stdout } from '../output.js';
import type { CommandDef } from './args.js';

export const command: CommandDef = {
  name: 'features',
  summary: 'show the enabled features',
  usage: '',
  flags: [],
  args: { min: 0, max: 0 },
  async run() {
    const { features, hostFeatures } = await import('../container/features.js');
    const { tryLibSeccomp } = await import('../sys/libseccomp.js');
    // Without libseccomp, seccomp is reported as not enabled.
    stdout(JSON.stringify(features(hostFeatures(tryLibSeccomp())), null, 4) + '\n');
  },
};
