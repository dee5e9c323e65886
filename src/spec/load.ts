/** Reading config.json from a bundle and checking it against the schema. */
import fs from 'node:fs';
import path from 'node:path';
import type { ErrorObject } from 'ajv';
import { ConfigError, RuntimeError } from '../errors.js';
import type { Config } from './schema.js';
import { validateConfig } from './validators.js';

/** The JSON path of an ajv error, e.g. `process.user.uid` or `linux.namespaces[1]`. */
export function jsonPath(e: ErrorObject): string {
  const parts = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'required') parts.push(String((e.params as { missingProperty: string }).missingProperty));
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out || '(root)';
}

function describe(e: ErrorObject): string {
  if (e.keyword === 'required') return 'is required';
  if (e.keyword === 'enum') return `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  return e.message ?? e.keyword;
}

/** Checks a parsed config against the schema; throws a ConfigError naming the field. */
export function checkSchema(config: unknown): asserts config is Config {
  if (validateConfig(config)) return;
  const errors = validateConfig.errors ?? [];
  // The deepest error is the most specific one.
  const e = [...errors].sort((a, b) => b.instancePath.length - a.instancePath.length)[0];
  if (!e) throw new ConfigError('(root)', 'does not match the schema');
  throw new ConfigError(jsonPath(e), describe(e));
}

export function parseConfig(text: string, source = 'config.json'): Config {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new RuntimeError('load config', `${source}: not valid JSON: ${(err as Error).message}`);
  }
  checkSchema(parsed);
  return parsed;
}

export function loadConfig(bundle: string): Config {
  const file = path.join(bundle, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new RuntimeError('load config', `${file}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message} (${e.code})`);
  }
  return parseConfig(text, file);
}
