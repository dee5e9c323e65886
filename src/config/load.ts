/** Reading config.json from a bundle; ./validate.ts checks what it holds. */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, RuntimeError } from '../errors.js';
import { decodeAsGo } from './go-json.js';
import { configShape, processShape, resourcesShape, type Shape } from './validators.js';

/** The field names of what each file holds (generated from ./schema.ts). */
export const shapes = { config: configShape, process: processShape, resources: resourcesShape } as const;

/**
 * A config (or process, or resources) file's text, decoded as runc's Go
 * decodes it (./go-json.ts: keys matched to `shape`'s fields, a field
 * named twice merged, null members absent); not yet checked.
 */
export function parseJson(text: string, source: string, step = 'load config', shape: Shape = configShape): unknown {
  try {
    return decodeAsGo(text, shape);
  } catch (err) {
    throw new RuntimeError(step, `${source}: not valid JSON: ${(err as Error).message}`);
  }
}

/** The bundle's config.json, parsed. */
export function loadConfig(bundle: string): unknown {
  const file = path.join(bundle, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new RuntimeError('load config', `${file}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message} (${e.code})`);
  }
  return parseJson(text, file);
}

/**
 * root.path made absolute, once, for every check and every use after:
 * relative to the bundle's real path (runc chdirs into the bundle), and
 * refused if it is, or goes through, a symlink, as runc's rootfs check
 * does ("not an absolute path, or a symlink"). A rootfs that is a symlink
 * to / would otherwise pass a check made on the path as written, and
 * mounts meant for the container would land on the host's own directories.
 * Undefined when the config has no root.path; validation says so.
 */
export function resolveRootfs(bundle: string, config: unknown): string | undefined {
  const rootPath = (config as { root?: { path?: unknown } } | undefined)?.root?.path;
  if (typeof rootPath !== 'string' || rootPath === '') return undefined;
  const realpath = (p: string) => {
    try {
      return fs.realpathSync(p);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new ConfigError('root.path', `${p} ${e.code === 'ENOENT' ? 'does not exist' : `cannot be resolved: ${e.message}`} (${e.code})`);
    }
  };
  const rootfs = path.resolve(realpath(bundle), rootPath);
  const real = realpath(rootfs);
  if (real !== rootfs) throw new ConfigError('root.path', `${rootfs} is a symlink, or under one, to ${real}: refused, as runc refuses it (ELOOP)`);
  return real;
}
