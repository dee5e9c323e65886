/**
 * Writing to stdout and stderr without the engines' stream layers: a
 * command's output is small, and process.stdout costs Bun ~30 ms to set up
 * (it loads the whole node:stream machinery). Writes are synchronous, so
 * nothing is lost when the command exits right after.
 */
import fs from 'node:fs';

const pause = new Int32Array(new SharedArrayBuffer(4));

export function writeFd(fd: number, text: string): void {
  const data = Buffer.from(text);
  for (let off = 0; off < data.length; ) {
    try {
      off += fs.writeSync(fd, data, off);
    } catch (err) {
      // A non-blocking pipe that is full: wait a little and try again.
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

export const stdout = (text: string) => writeFd(1, text);
export const stderr = (text: string) => writeFd(2, text);
