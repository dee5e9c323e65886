/**
 * The terminal proxy of a foreground `run` or `exec -t` given no
 * --console-socket (runc's tty.go). ocirun takes the place of the console
 * socket's listener: it keeps one end of a socket pair, the container's
 * setup sends the pty master down the other, and ocirun then copies its own
 * stdin to the master and the master to its stdout. Its own terminal goes to
 * raw mode so keys (Ctrl-C, Ctrl-D) reach the container's pty untouched, and
 * SIGWINCH resizes the pty from ocirun's terminal; as in runc, SIGWINCH is
 * not forwarded to the process (the kernel signals the pty's foreground
 * group when the size changes).
 */
import type * as Tty from 'node:tty';
import { builtin } from '../engine.js';
import { TIOCGWINSZ, TIOCSWINSZ } from '../sys/constants.js';
import type { Sys } from '../sys/types.js';
import { step } from '../errors.js';

/** How long to wait for the last output once the process has exited. */
const DRAIN_MS = 2000;

export interface ConsolePair {
  /** The end the container's setup sends the master down (give it to the stage). */
  theirs: number;
  /** Receives the master (after the setup sent it) and starts proxying. */
  attach(): TerminalProxy;
  /** Closes what is still open, when the container never got as far. */
  dispose(): void;
}

export interface TerminalProxy {
  /** Waits for the pty's last output (bounded), then restores the terminal. */
  close(): Promise<void>;
}

export function consolePair(sys: Sys): ConsolePair {
  const [ours, theirs] = step('create console socket pair', () => sys.socketPair());
  let open = true;
  const dispose = () => {
    if (!open) return;
    open = false;
    for (const fd of [ours, theirs]) sys.close(fd);
  };
  return {
    theirs,
    attach() {
      // The setup holds its own copy of `theirs`; ours must be closed so a
      // setup that died without sending shows as EOF, not a hang.
      sys.close(theirs);
      open = false;
      try {
        const master = step('receive pty master', () => sys.recvFd(ours));
        return proxyTerminal(sys, master);
      } finally {
        sys.close(ours);
      }
    },
    dispose,
  };
}

/** The size of the first of stdin, stdout and stderr that is a terminal (runc's console.Current). */
function callerWindowSize(sys: Sys): Buffer | undefined {
  for (const fd of [0, 1, 2]) {
    if (!builtin<typeof Tty>('node:tty').isatty(fd)) continue;
    const ws = Buffer.alloc(8);
    try {
      sys.ioctl(fd, TIOCGWINSZ, ws);
      return ws;
    } catch {
      /* try the next one */
    }
  }
  return undefined;
}

function proxyTerminal(sys: Sys, master: number): TerminalProxy {
  const resize = () => {
    const ws = callerWindowSize(sys);
    try {
      if (ws) sys.ioctl(master, TIOCSWINSZ, ws);
    } catch {
      /* the pty is gone: nothing to resize (runc ignores this too) */
    }
  };
  resize();
  process.on('SIGWINCH', resize);

  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  const restore = () => {
    if (raw) stdin.setRawMode(false);
  };
  if (raw) {
    stdin.setRawMode(true);
    process.once('exit', restore);
  }

  // libuv uses a pty master's fd as given (it cannot reopen a master), so
  // reading and writing each get their own fd.
  const tty = builtin<typeof Tty>('node:tty');
  const output = new tty.ReadStream(master);
  const input = new tty.WriteStream(sys.dup(master));
  input.on('error', () => {});
  stdin.pipe(input, { end: false });

  // EIO on the master is how a pty says every slave is closed: the end.
  const drained = new Promise<void>((resolve) => {
    output.on('data', (chunk: Buffer) => process.stdout.write(chunk));
    output.on('error', () => resolve());
    output.on('end', () => resolve());
    output.on('close', () => resolve());
  });

  return {
    async close() {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([drained, new Promise<void>((r) => (timer = setTimeout(r, DRAIN_MS)))]);
      clearTimeout(timer);
      process.off('SIGWINCH', resize);
      stdin.unpipe(input);
      stdin.pause();
      if (raw) {
        restore();
        process.off('exit', restore);
      }
      output.destroy();
      input.destroy();
      await new Promise<void>((r) => process.stdout.write('', () => r()));
    },
  };
}
