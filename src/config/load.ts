/** Reading config.json from a bundle; ./validate.ts checks what it holds. */
import fs from 'node:fs';
import path from 'node:path';
import { RuntimeError } from '../errors.js';

/** Parsed JSON of a config (or process, or resources) file, not yet checked. */
export function parseJson(text: string, source: string, step = 'load config'): unknown {
  try {
    return JSON.parse(text);
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
