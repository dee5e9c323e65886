/** `start`: open the exec fifo, which releases the init into the user's program. */
import fs from 'node:fs';
import { RuntimeError } from '../errors.js';
import { faultPoint } from '../fault.js';
import type { Context } from './context.js';
import { NotifyRelay } from '../systemd/notify.js';
import type { Sys } from '../sys/types.js';
import { withContainer } from './lock.js';
import { currentStatus, fifoPath, initAlive, type SavedState } from './state.js';

export interface StartOptions {
  /**
   * systemd's NOTIFY_SOCKET: bind the container's notify socket before the
   * program runs, and return once its READY= went on to systemd (or it stopped).
   */
  notifySocket?: string;
}

export async function start(sys: Sys, ctx: Context, id: string, opts: StartOptions = {}): Promise<void> {
  const { s, relay } = await withContainer(sys, ctx, id, async (s) => {
    const status = currentStatus(ctx.root, s);
    if (status === 'stopped') throw new RuntimeError('', 'cannot start a container that has stopped');
    if (status === 'running') throw new RuntimeError('', 'cannot start an already running container');
    if (status === 'paused') throw new RuntimeError('', 'cannot start a container in the paused state');
    if (status === 'creating') throw new RuntimeError('', 'cannot start a container that is still being created');
    const relay = opts.notifySocket ? new NotifyRelay(sys, ctx.root, id, opts.notifySocket, ctx.warn) : undefined;
    try {
      await releaseInit(ctx, s);
    } catch (err) {
      relay?.close();
      throw err;
    }
    return { s, relay };
  });
  // Waiting for READY= holds no lock: a delete may go on meanwhile.
  await relay?.relayReady(s.pid, () => initAlive(s));
}

async function releaseInit(ctx: Context, s: SavedState): Promise<void> {
  const id = s.id;
  const fifo = fifoPath(ctx.root, id);
  // The open blocks until init opens its end; give up if init dies meanwhile.
  // (Only until the open completes: after that the program may exit at once.)
  const opened = fs.promises.open(fifo, fs.constants.O_RDONLY);
  let timer: NodeJS.Timeout | undefined;
  const died = new Promise<'died'>((resolve) => {
    timer = setInterval(() => {
      if (!initAlive(s)) resolve('died');
    }, 20);
  });
  const first = await Promise.race([opened, died]);
  clearInterval(timer);
  if (first === 'died') {
    opened.then((fh) => fh.close()).catch(() => {});
    throw new RuntimeError('', 'cannot start a container that has stopped');
  }
  faultPoint('fifo-opened');
  const data = await first.readFile();
  await first.close();
  if (data.length === 0) throw new RuntimeError('', 'cannot start a container that has stopped');
  fs.rmSync(fifo, { force: true });
  faultPoint('fifo-removed');
}
