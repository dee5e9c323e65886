/** errno names (EPERM, ENOENT, ...) and runc's words for them. */
import { ERRNO_NAMES } from './constants.js';

/** The name of `errno`, or "errno N" for one the table lacks. */
export const errnoName = (errno: number): string => ERRNO_NAMES[errno] ?? `errno ${errno}`;

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
