import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('features')
    .description('print what this runtime and this host support (runtime-spec features JSON)')
    .action(async () => {
      const { features, hostFeatures } = await import('../container/features.js');
      const { LibSeccomp } = await import('../sys/libseccomp.js');
      let lib;
      try {
        lib = new LibSeccomp();
      } catch {
        lib = undefined; // reported as seccomp not enabled
      }
      process.stdout.write(JSON.stringify(features(hostFeatures(lib)), null, 4) + '\n');
    });
}
