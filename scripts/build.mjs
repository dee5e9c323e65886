#!/usr/bin/env node
// Builds everything a clone needs: the TypeScript, the JSON Schemas and their
// precompiled ajv validators (from src/spec/schema.ts, the one source of
// truth), and the C stage with the system compiler. Run by `npm install`.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

// 1. TypeScript.
run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']);

// 2. Schemas and standalone validators (no ajv compile at run time).
const { Config, State } = await import(path.join(root, 'dist/spec/schema.js'));
const { default: Ajv } = await import('ajv');
const { default: standalone } = await import('ajv/dist/standalone/index.js');
fs.mkdirSync(path.join(root, 'schemas'), { recursive: true });
for (const [name, schema] of [['config', Config], ['state', State]]) {
  fs.writeFileSync(path.join(root, 'schemas', `${name}.schema.json`), JSON.stringify(schema, null, 2) + '\n');
}
const ajv = new Ajv({ allErrors: false, strict: false, code: { source: true, esm: true } });
ajv.addSchema(Config, 'config');
ajv.addSchema(State, 'state');
const code = standalone(ajv, { validateConfig: 'config', validateState: 'state' });
fs.writeFileSync(path.join(root, 'dist/spec/validators.js'), code);

// 3. One file per entry point (the CLI and the init), so that a command
// start loads one module instead of dozens: both engines spend more on
// resolving and linking many small ES modules than on parsing one. koffi
// stays outside (it is a native addon). bin/ocirun runs these.
fs.rmSync(path.join(root, 'dist/bundle'), { recursive: true, force: true });
const { build } = await import('rolldown');
await build({
  input: { ocirun: path.join(root, 'dist/cli/bin.js'), 'init-main': path.join(root, 'dist/process/init-main.js') },
  platform: 'node',
  external: ['koffi'],
  output: { dir: path.join(root, 'dist/bundle'), format: 'esm', entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js' },
  logLevel: 'warn',
});

// 4. The native stage and the exec shim (see native/*.c for why each exists).
fs.mkdirSync(path.join(root, 'build'), { recursive: true });
const cc = process.env.CC || 'cc';
const hardening = ['-Wall', '-Wextra', '-Werror', '-D_FORTIFY_SOURCE=2', '-fstack-protector-strong', '-Wl,-z,relro,-z,now'];
run(cc, ['-O2', ...hardening, '-o', 'build/ocirun-stage', 'native/stage.c']);
// The launcher is bin/ocirun itself (see native/launcher.c).
fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
run(cc, ['-O2', ...hardening, '-o', 'bin/ocirun', 'native/launcher.c']);
run(cc, ['-O2', '-Wall', '-static', '-nostdlib', '-fno-stack-protector', '-fno-builtin', '-fno-pie', '-no-pie', '-o', 'build/ocirun-exec-shim', 'native/exec-shim.c']);
console.log('ocirun: built dist/, schemas/, bin/ocirun, build/ocirun-stage, build/ocirun-exec-shim');
