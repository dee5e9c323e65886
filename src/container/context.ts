/** What every lifecycle operation needs: the state root and somewhere to warn. */
import { log } from '../log.js';
import { DEFAULT_ROOT } from './state.js';

export interface Context {
  root: string;
  warn: (msg: string) => void;
}

export function context(opts: Partial<Context> = {}): Context {
  return { root: opts.root ?? DEFAULT_ROOT, warn: opts.warn ?? ((m) => log.warn(m)) };
}
