/**
 * `events`: the container's resource usage as runc prints it, once
 * (`--stats`) or every interval, with an {"type":"oom"} line whenever the
 * OOM killer acts in the container. The stream ends when the container stops.
 */
import { cgroupManager } from '../cgroups/drivers.js';
import { RuntimeError } from '../errors.js';
import type { Context } from './context.js';
import { currentStatus, readState } from './state.js';

/** The state of a container that runs (created, running or paused), or runc's error. */
function runningState(ctx: Context, id: string) {
  const s = readState(ctx.root, id);
  if (currentStatus(ctx.root, s) === 'stopped') throw new RuntimeError('', `container with id ${id} is not running`);
  return s;
}

export function statsEvent(ctx: Context, id: string) {
  return { type: 'stats', id, data: cgroupManager(runningState(ctx, id)).stats() };
}

/** Go's time.ParseDuration for the units people use: "5s", "500ms", "1m30s". */
export function parseDuration(text: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m; (m = re.exec(text)); ) {
    total += Number(m[1]) * units[m[2]];
    matched = re.lastIndex;
  }
  if (!text || matched !== text.length || total <= 0) throw new RuntimeError('', `invalid interval "${text}": expected a duration such as 5s or 500ms`);
  return total;
}

export async function streamEvents(ctx: Context, id: string, intervalMs: number, emit: (event: object) => void, stop?: AbortSignal): Promise<void> {
  const cgroups = cgroupManager(runningState(ctx, id));
  let kills = cgroups.oomKills();
  let nextStats = 0;
  // OOM counters are polled more often than stats are printed.
  const tick = Math.min(intervalMs, 200);
  while (!stop?.aborted) {
    let status;
    try {
      status = currentStatus(ctx.root, readState(ctx.root, id));
    } catch {
      return; // deleted
    }
    if (status === 'stopped') return;
    const k = cgroups.oomKills();
    if (k > kills) emit({ type: 'oom', id });
    kills = k;
    if (Date.now() >= nextStats) {
      emit({ type: 'stats', id, data: cgroups.stats() });
      nextStats = Date.now() + intervalMs;
    }
    await new Promise((r) => setTimeout(r, tick));
  }
}
