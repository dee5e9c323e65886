import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('spec')
    .description('write a default config.json to the bundle directory')
    .option('-b, --bundle <dir>', 'where to write config.json', '.')
    .option('--rootless', 'a config for a rootless container (not supported yet)')
    .action(async (o) => {
      const { defaultSpec } = await import('../spec/default.js');
      if (o.rootless) throw new Error('spec: --rootless is not supported by this version of ocirun');
      const file = path.join(o.bundle, 'config.json');
      if (fs.existsSync(file)) throw new Error(`spec: File ${file} exists. Remove it first`);
      fs.writeFileSync(file, JSON.stringify(defaultSpec(), null, '\t') + '\n', { mode: 0o666 });
    });
}
