#!/usr/bin/env node
// Builds everything a clone needs: the TypeScript, the JSON Schemas and their
// precompiled ajv validators (from src/config/schema.ts, the one source of
// truth), and the C stage with the system compiler. Run by `npm install`.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
/** The pinned Bun from node_modules: the platform package's binary, or the copy its postinstall makes. */
function bunBinary() {
  for (const p of ['node_modules/@oven/bun-linux-x64/bin/bun', 'node_modules/bun/bin/bun.exe']) {
    const file = path.join(root, p);
    try {
      const fd = fs.openSync(file, 'r');
      const magic = Buffer.alloc(4);
      fs.readSync(fd, magic, 0, 4, 0);
      fs.closeSync(fd);
      if (magic.toString('latin1') === '\x7fELF') return file;
    } catch {
      /* try the next */
    }
  }
  throw new Error('no Bun binary under node_modules (npm ci installs the pinned one)');
}

// 1. TypeScript, into a fresh dist/ (no module of an older build left behind).
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']);

// 2. Schemas and standalone validators (no ajv compile at run time).
const { Config, State, Process, Resources } = await import(path.join(root, 'dist/config/schema.js'));
const { default: Ajv } = await import('ajv');
const { default: standalone } = await import('ajv/dist/standalone/index.js');
fs.mkdirSync(path.join(root, 'schemas'), { recursive: true });
for (const [name, schema] of [['config', Config], ['state', State]]) {
  fs.writeFileSync(path.join(root, 'schemas', `${name}.schema.json`), JSON.stringify(schema, null, 2) + '\n');
}
const ajv = new Ajv({ allErrors: false, strict: false, code: { source: true, esm: true } });
ajv.addSchema(Config, 'config');
ajv.addSchema(State, 'state');
// An exec'd process and update's resources get the same schema as the config's parts.
ajv.addSchema({ ...Process, $id: 'https://ocirun.dev/schemas/process.schema.json' }, 'process');
ajv.addSchema({ ...Resources, $id: 'https://ocirun.dev/schemas/resources.schema.json' }, 'resources');
const code = standalone(ajv, { validateConfig: 'config', validateState: 'state', validateProcess: 'process', validateResources: 'resources' });
// The field names of each object, for reading files as Go does
// (src/config/go-json.ts): an object's `keys`, a map's `values`, an
// array's `items`; null where no object lies below.
const shapeOf = (s) => {
  if (s.properties) return { keys: Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, shapeOf(v)])) };
  const items = s.type === 'array' && s.items ? shapeOf(s.items) : null;
  if (items) return { items };
  return s.patternProperties ? { values: shapeOf(Object.values(s.patternProperties)[0]) } : null;
};
const shapes = Object.entries({ configShape: Config, processShape: Process, resourcesShape: Resources }).map(([name, schema]) => `export const ${name} = ${JSON.stringify(shapeOf(schema))};`);
fs.writeFileSync(path.join(root, 'dist/config/validators.js'), [code, ...shapes, ''].join('\n'));

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
// Static, so that a packed ocirun runs on any x86-64 Linux whatever its libc.
const hardening = ['-static', '-Wall', '-Wextra', '-Werror', '-D_FORTIFY_SOURCE=2', '-fstack-protector-strong', '-Wl,-z,relro,-z,now'];
// The stage's and the shim's words on the sync socket come from the protocol's one definition.
const { protocolHeader } = await import(path.join(root, 'dist/process/messages.js'));
fs.writeFileSync(path.join(root, 'build/ocirun-protocol.h'), protocolHeader());
run(cc, ['-O2', ...hardening, '-Ibuild', '-o', 'build/ocirun-stage', 'native/stage.c']);
// The launcher is bin/ocirun itself (see native/launcher.c).
fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
run(cc, ['-O2', ...hardening, '-o', 'bin/ocirun', 'native/launcher.c']);
run(cc, ['-O2', '-Wall', '-static', '-nostdlib', '-fno-stack-protector', '-fno-builtin', '-fno-pie', '-no-pie', '-Ibuild', '-o', 'build/ocirun-exec-shim', 'native/exec-shim.c']);

// 5. The single-file runtime, build/ocirun: Bun's standalone executable with
// the CLI, the init, the stage, the exec shim and koffi's addon inside, its
// modules precompiled to bytecode (a command starts several times faster
// than from the bundles), split into chunks along the dynamic imports so
// that a command evaluates only what it uses (`state` loads no init code,
// the init no CLI). It reads no .env or bunfig.toml from wherever it runs.
// bin/ocirun runs it when it exists. Its JIT tier-up thresholds are 100
// times the engine's: every command, and the init, is start-up code that
// runs once, which the interpreter runs sooner than the JIT compiles it
// (run /bin/true 4-5 ms faster, over 30 rounds with the runtimes taking
// turns; bench/run.mjs). A loop hot enough still gets compiled, later.
const entry = path.join(root, 'build', 'single-entry.mjs');
// koffi's addon for this platform: embedded, and named by its digest where it is kept (src/sys/koffi.ts).
const koffiAddon = 'node_modules/@koromix/koffi-linux-x64/linux_x64/koffi.node';
const koffiBytes = fs.readFileSync(path.join(root, koffiAddon));
const koffiDigest = createHash('sha256').update(koffiBytes).digest('hex');
// The stage's too: the single file keeps a copy of it as well (src/kept-copy.ts).
const stageBytes = fs.readFileSync(path.join(root, 'build/ocirun-stage'));
const stageDigest = createHash('sha256').update(stageBytes).digest('hex');
fs.writeFileSync(entry, `// Generated by scripts/build.mjs: the entry of build/ocirun.
import { useEmbeddedAssets } from '../dist/engine.js';
import stagePath from './ocirun-stage' with { type: 'file' };
import shimPath from './ocirun-exec-shim' with { type: 'file' };
import koffiPath from '../${koffiAddon}' with { type: 'file' };
useEmbeddedAssets({ stagePath, shimPath, koffiPath, koffiDigest: '${koffiDigest}', koffiSize: ${koffiBytes.length}, stageDigest: '${stageDigest}', stageSize: ${stageBytes.length} });
if (process.env._OCIRUN_ROLE === 'init') import('../dist/process/init.js').then((m) => m.initMain());
else import('../dist/cli/main.js').then((m) => m.main(process.argv.slice(2)));
`);
run(bunBinary(), ['build', entry, '--compile', '--bytecode', '--format=esm', '--splitting', '--no-compile-autoload-dotenv', '--no-compile-autoload-bunfig', '--compile-jit-policy=100', '--outfile', path.join(root, 'build', 'ocirun')]);
console.log('ocirun: built dist/, schemas/, bin/ocirun, build/ocirun, build/ocirun-stage, build/ocirun-exec-shim');
