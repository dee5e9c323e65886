/** `start`: open the exec fifo, which releases the init into the user's program. */
import fs from 'node:fs';
import { RuntimeError } from '../errors.js';
import { faultPoint } from '../fault.js';
import type { Context } from './context.js';
import { NotifyRelay } from '../systemd/notify.js';
import type { Sys } from '../sys/types.js';
import { withContainer } from './lock.js';
import { atFd } from '../caller-path.js';
import { currentStatus, fifoPath, initAlive, stateDir, type SavedState } from './state.js';

export interface StartOptions {
  /**
   * systemd's NOTIFY_SOCKET: bind the container's notify socket before the
   * program runs, and return once its READY= went on to systemd (or it stopped).
   */
  notifySocket?: string;
}

export async function start(sys: Sys, ctx: Context, id: string, opts: StartOptions = {}): Promise<void> {
  // The lock is held only to check the state: the wait on the init below is
  // a wait on something the container controls (a stopped init never opens
  // the fifo), and kill and delete -f must not queue behind it (runc's start
  // holds no lock across it either). The state directory is held open
  // instead, so that the fifo used is this container's even if the id is
  // deleted and reused meanwhile.
  const { s, dirFd } = await withContainer(sys, ctx, id, (s) => {
    const status = currentStatus(ctx.root, s);
    if (status === 'stopped') throw new RuntimeError('', 'cannot start a container that has stopped');
    if (status === 'running') throw new RuntimeError('', 'cannot start an already running container');
    if (status === 'paused') throw new RuntimeError('', 'cannot start a container in the paused state');
    if (status === 'creating') throw new RuntimeError('', 'cannot start a container that is still being created');
    return { s, dirFd: fs.openSync(stateDir(ctx.root, id), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW) };
  });
  let relay: NotifyRelay | undefined;
  try {
    relay = opts.notifySocket ? new NotifyRelay(sys, ctx.root, id, opts.notifySocket, ctx.warn) : undefined;
    releaseInit(sys, s, atFd(dirFd, 'exec.fifo'), fifoPath(ctx.root, id));
  } catch (err) {
    relay?.close();
    throw err;
  } finally {
    fs.closeSync(dirFd);
  }
  // Waiting for READY= holds no lock: a delete may go on meanwhile.
  await relay?.relayReady(s.pid, () => initAlive(s));
}

/** How long one poll of the fifo lasts before the init (and the fifo) are looked at again. */
const FIFO_POLL_MS = 20;

/**
 * Opens the exec fifo and reads the init's byte until the init closes its
 * end (right after its write, as runc's init does; start then returns
 * before the startContainer hooks and the program's execve, as runc
 * 1.3.6's). All on this thread: the open does not wait for the init
 * (O_NONBLOCK), and the fifo is polled, the init looked at between polls,
 * so that a killed init does not hold start (a stopped one does, until it
 * is killed, as under runc). What the fifo holds wins over a gone init: a
 * program that exits at once (`ls`) may be gone before its byte is read.
 * `shown` is the fifo's path for messages.
 */
function releaseInit(sys: Sys, s: SavedState, fifo: string, shown: string): void {
  let fd: number;
  try {
    fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    // Another start took it, and removed it (runc 1.1.5's words).
    const e = err as NodeJS.ErrnoException;
    throw new RuntimeError('exec fifo', `open ${shown}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message} (${e.code})`);
  }
  faultPoint('fifo-opened');
  let got = 0;
  try {
    const buf = Buffer.alloc(16);
    for (;;) {
      const ready = sys.pollReadable(fd, FIFO_POLL_MS);
      const gone = !ready && got === 0 && !initAlive(s);
      // Once the byte came, a read tells an open end (EAGAIN) from a closed
      // one (0): a reader that opened after the init's end closed (a second
      // start, racing) never sees it hang up in poll.
      const n = ready || got > 0 || gone ? readNonBlocking(fd, buf) : undefined;
      if (n === 0) break; // end of file: the init's end is closed
      if (n !== undefined && n > 0) got += n;
      // Nothing came: the init is gone, or another start read the byte and removed the fifo.
      else if (gone || (!ready && got === 0 && !fs.existsSync(fifo))) break;
    }
  } finally {
    fs.closeSync(fd);
  }
  // No byte: the init died, or another start read it first (runc's message for that).
  if (got === 0) throw new RuntimeError('', initAlive(s) ? 'cannot start an already running container' : 'cannot start a container that has stopped');
  fs.rmSync(fifo, { force: true });
  faultPoint('fifo-removed');
}

/** A read of a non-blocking fd: the count (0 at end of file), or undefined when nothing is there yet. */
function readNonBlocking(fd: number, buf: Buffer): number | undefined {
  try {
    return fs.readSync(fd, buf, 0, buf.length, null);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return undefined;
    throw err;
  }
}
