/** Reading config.json from a bundle; ./validate.ts checks what it holds. */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, RuntimeError } from '../errors.js';
import { configShape, processShape, resourcesShape, type Shape } from './validators.js';

/** The field names of what each file holds (generated from ./schema.ts). */
export const shapes = { config: configShape, process: processShape, resources: resourcesShape } as const;

/**
 * `value` with each object's keys named as its fields are: runc reads its
 * files with Go's encoding/json, which takes a key that names a field
 * exactly, or else one that names it without regard to case (runc's suite
 * writes `linux.resources.CPU` with `Cpus`). A field named twice gets the
 * last value, as in Go. Keys that name no field, and a map's keys, stay.
 */
function goFieldNames(value: unknown, shape: Shape | null): unknown {
  if (!shape || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return 'items' in shape ? value.map((v) => goFieldNames(v, shape.items)) : value;
  if ('items' in shape) return value;
  const out: Record<string, unknown> = {};
  const set = (key: string, v: unknown) => Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
  for (const [key, v] of Object.entries(value)) {
    if ('values' in shape) {
      set(key, goFieldNames(v, shape.values));
      continue;
    }
    const fields = shape.keys;
    const field = Object.hasOwn(fields, key) ? key : Object.keys(fields).find((f) => f.toLowerCase() === key.toLowerCase());
    if (field === undefined) set(key, v);
    else {
      delete out[field];
      set(field, goFieldNames(v, fields[field]));
    }
  }
  return out;
}

/**
 * Parsed JSON of a config (or process, or resources) file, not yet checked,
 * its keys named as `shape`'s fields (goFieldNames).
 * A member whose value is null is left out, as if absent: runc reads these
 * files with Go's encoding/json, for which null is the zero value (runc
 * 1.3.6's timens.bats runs a config with `"timeOffsets": null`). A null in
 * an array stays, for the schema to refuse.
 */
export function parseJson(text: string, source: string, step = 'load config', shape: Shape = configShape): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text, function nullAsAbsent(this: unknown, key, value) {
      return value === null && key !== '' && !Array.isArray(this) ? undefined : value;
    });
  } catch (err) {
    throw new RuntimeError(step, `${source}: not valid JSON: ${(err as Error).message}`);
  }
  return goFieldNames(value, shape);
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
