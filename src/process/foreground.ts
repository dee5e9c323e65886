/**
 * What a caller of create, run, exec and restore has to do with the
 * process it started: check that its terminal flags make sense, and, in
 * the foreground, relay the signals it gets and return the process's exit
 * status as runc does.
 */
import { RuntimeError } from '../errors.js';

/**
 * runc's checkTerminal: which combinations of terminal, console socket and
 * detach make sense. A foreground caller with a terminal and no socket gets
 * the terminal proxy (src/tty/proxy.ts).
 */
export function checkTerminal(terminal: boolean, consoleSocket: string | undefined, detach: boolean): void {
  if (detach && terminal && !consoleSocket) throw new RuntimeError('', 'cannot allocate tty if ocirun will detach without setting console socket');
  if ((!detach || !terminal) && consoleSocket) throw new RuntimeError('', 'cannot use console socket if ocirun will not detach or allocate tty');
}

// As runc, SIGWINCH is not relayed: with a terminal proxy it resizes the pty
// (which signals the container), and without one it is not the container's.
const RELAYED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** A wait status as the exit code runc returns: the process's, or 128+N when signal N killed it. */
export function exitCodeOf(status: number): number {
  const sig = status & 0x7f;
  if (sig === 0) return (status >> 8) & 0xff;
  return 128 + sig;
}

/** Forwards the signals a foreground caller gets to `pid`; returns the undo. */
export function relaySignals(pid: number): () => void {
  const handlers = RELAYED.map((sig) => {
    const h = () => {
      try {
        process.kill(pid, sig);
      } catch {
        /* gone */
      }
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h);
  };
}
