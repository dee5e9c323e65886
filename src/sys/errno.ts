/** errno numbers by their names (EPERM, ENOENT, ...), from the engine's own table. */
import os from 'node:os';

const names = new Map<number, string>();
for (const [name, num] of Object.entries(os.constants.errno)) names.set(num as number, name);

/** The name of `errno`, or "errno N" for one the table lacks. */
export const errnoName = (errno: number): string => names.get(errno) ?? `errno ${errno}`;

/**
 * An error's text as runc prints it, and as its tests match it: the C
 * library's words in lower case, then the errno's name ("no such file or
 * directory (ENOENT)"). `text` is strerror's, or Node's (libuv's) where it
 * says the same; LIBC_TEXT has the ones where libuv's words differ.
 */
export function errnoDetail(text: string, code: string): string {
  const words = LIBC_TEXT[code] ?? text;
  return `${words.charAt(0).toLowerCase()}${words.slice(1)} (${code})`;
}

/** Node's "ENOENT: no such file or directory, open '...'" as errnoDetail's. */
export function nodeErrorDetail(err: NodeJS.ErrnoException): string {
  if (!err.code) return err.message;
  return errnoDetail(err.message.replace(/^E\w+: /, '').replace(/, \w+ '.*'$/, ''), err.code);
}

const LIBC_TEXT: Record<string, string> = { EBUSY: 'device or resource busy', EAGAIN: 'resource temporarily unavailable' };
