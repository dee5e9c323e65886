import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('features')
    .description('print what this runtime and this host support (runtime-spec features JSON)')
    .action(async () => {
      const { features, hostFeatures } = await import('../container/features.js');
      const { tryLibSeccomp } = await import('../sys/libseccomp.js');
      // Without libseccomp, seccomp is reported as not enabled.
      process.stdout.write(JSON.stringify(features(hostFeatures(tryLibSeccomp())), null, 4) + '\n');
    });
}
