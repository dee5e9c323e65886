/**
 * The fds ocirun keeps open for its whole run, which are never the
 * caller's to pass on to a container (--preserve-fds, src/cli/args.ts):
 * koffi's addon (src/sys/koffi.ts), the --log file (src/log.ts), and the
 * engine's own event loop (an epoll and an eventfd, opened before any of
 * ocirun's code runs).
 */
import fs from 'node:fs';

const kept = new Set<number>();

/** `fd` stays open, ocirun's own, for the process's life. */
export function keepOwnFd(fd: number): void {
  kept.add(fd);
}

export function isOwnFd(fd: number, logFd: number | undefined): boolean {
  if (kept.has(fd) || fd === logFd) return true;
  let target: string;
  try {
    target = fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return false;
  }
  return target === 'anon_inode:[eventpoll]' || target === 'anon_inode:[eventfd]';
}
