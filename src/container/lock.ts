/**
 * Serializing commands on one container: an exclusive flock on its state
 * directory, held until the command exits. Commands on other ids never wait.
 */
import fs from 'node:fs';
import { RuntimeError } from '../errors.js';
import { LOCK } from '../sys/constants.js';
import type { Sys } from '../sys/types.js';

export function lockDir(sys: Sys, dir: string): () => void {
  let fd: number;
  try {
    fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch (err) {
    throw new RuntimeError('lock state', `${dir}: ${(err as Error).message}`, { cause: err });
  }
  sys.flock(fd, LOCK.EX);
  return () => {
    try {
      fs.closeSync(fd);
    } catch {
      /* already closed */
    }
  };
}
