/**
 * Every failure that reaches the user is a RuntimeError: it names the step
 * that failed and carries the detail (path, config field, errno) in one line.
 */
import { SysError } from './sys/types.js';

export class RuntimeError extends Error {
  constructor(
    readonly step: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(step ? `${step}: ${detail}` : detail, options);
    this.name = 'RuntimeError';
  }
}

/** A config.json (or process, or resources) problem, with the JSON path of the offending field. */
export class ConfigError extends RuntimeError {
  constructor(readonly field: string, problem: string, step = 'validate config') {
    super(step, `${field}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/** A bad command line (a flag, an argument): the message is the one line the user gets. */
export class UsageError extends RuntimeError {
  constructor(message: string) {
    super('', message);
    this.name = 'UsageError';
  }
}

/** runc's error texts, which managers match on; raised with an empty step so they print as runc's do. */
export const ERR = {
  exist: 'container with given ID already exists',
  notExist: 'container does not exist',
  invalidId: 'invalid container ID format',
  notRunning: 'container not running',
  paused: 'container paused',
} as const;

/** Wraps any thrown value so that it names `step`; keeps SysError's errno text. */
export function atStep(step: string, err: unknown): RuntimeError {
  if (err instanceof RuntimeError) return err;
  if (err instanceof SysError) return new RuntimeError(step, err.message, { cause: err });
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && typeof e.code === 'string' && typeof e.message === 'string') {
    return new RuntimeError(step, e.message, { cause: err });
  }
  return new RuntimeError(step, String((err as Error)?.message ?? err), { cause: err });
}

/** Runs `fn`, turning any failure into a RuntimeError that names `step`. */
export function step<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw atStep(name, err);
  }
}
