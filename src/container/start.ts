/** `start`: open the exec fifo, which releases the init into the user's program. */
import fs from 'node:fs';
import { RuntimeError } from '../errors.js';
import { faultPoint } from '../fault.js';
import type { Context } from './context.js';
import { NotifyRelay } from '../systemd/notify.js';
import type { Sys } from '../sys/types.js';
import { withContainer } from './lock.js';
import { atFd } from '../caller-path.js';
import { currentStatus, initAlive, onInitGone, stateDir, type SavedState } from './state.js';

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
    await releaseInit(s, atFd(dirFd, 'exec.fifo'));
  } catch (err) {
    relay?.close();
    throw err;
  } finally {
    fs.closeSync(dirFd);
  }
  // Waiting for READY= holds no lock: a delete may go on meanwhile.
  await relay?.relayReady(s.pid, () => initAlive(s));
}

/** Settles with 'died' once the init is gone (killed, or exited): a pending fifo open or read has no other way out. */
function initDeath(s: SavedState): { died: Promise<'died'>; stop: () => void } {
  let stop = () => {};
  const died = new Promise<'died'>((resolve) => (stop = onInitGone(s, 20, () => resolve('died'))));
  return { died, stop };
}

/**
 * What `pending` comes to, when the poller saw the init gone first: a
 * program that exits at once (`ls`) may be gone before our open or read,
 * which the kernel has completed, reaches us; the init's end is closed by
 * then, so what the kernel has settles at once. 'died' only if it does not.
 */
async function orOnceSettled<T>(pending: Promise<T>, first: T | 'died'): Promise<T | 'died'> {
  if (first !== 'died') return first;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'died'>((resolve) => (timer = setTimeout(() => resolve('died'), 200)));
  try {
    return await Promise.race([pending, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Opens the exec fifo and reads the init's byte. The open blocks until the
 * init opens its end, the read until it writes: both are abandoned once the
 * init is gone (a stopped init does neither until it is killed).
 */
async function releaseInit(s: SavedState, fifo: string): Promise<void> {
  const death = initDeath(s);
  try {
    const opened = fs.promises.open(fifo, fs.constants.O_RDONLY);
    const first = await orOnceSettled(opened, await Promise.race([opened, death.died]));
    if (first === 'died') {
      opened.then((fh) => fh.close()).catch(() => {});
      throw new RuntimeError('', 'cannot start a container that has stopped');
    }
    faultPoint('fifo-opened');
    const reading = first.readFile();
    const data = await orOnceSettled(reading, await Promise.race([reading, death.died])).finally(() => void first.close().catch(() => {}));
    // No byte: the init died, or another start read it first (runc's message for that).
    if (data === 'died' || data.length === 0) throw new RuntimeError('', initAlive(s) ? 'cannot start an already running container' : 'cannot start a container that has stopped');
  } finally {
    death.stop();
  }
  fs.rmSync(fifo, { force: true });
  faultPoint('fifo-removed');
}
