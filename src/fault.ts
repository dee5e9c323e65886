/**
 * The steps of the commands that change state (for a command killed part-way): each is a --debug line
 * when done. Fault injection, for tests only: with OCIRUN_FAULT_AFTER=<step> set, ocirun
 * kills itself with SIGKILL right after that step, as a manager's timeout, a
 * reboot or the OOM killer would. The crash-safety tests stop it after every
 * step in turn and check that `delete -f` leaves nothing behind. With
 * OCIRUN_FAULT_FAIL=<step>, the step fails instead, as a system call might:
 * the command must then undo everything itself.
 */
import { RuntimeError } from './errors.js';
import { log } from './log.js';

export const FAULT_STEPS = {
  create: ['state-dir', 'state-written', 'config-saved', 'fifo-made', 'init-spawned', 'pid-saved', 'cgroups-made', 'resources-written', 'plan-sent', 'init-ready', 'cgroups-joined', 'init-created', 'created-saved'],
  start: ['fifo-opened', 'fifo-removed'],
  delete: ['processes-killed', 'cgroups-removed', 'state-removed'],
  run: ['run-created', 'run-started'],
  exec: ['exec-checked', 'exec-started'],
  update: ['update-written', 'update-saved'],
  pause: ['freeze-written', 'paused'],
  resume: ['thaw-written', 'resumed'],
} as const;

export type FaultStep = (typeof FAULT_STEPS)[keyof typeof FAULT_STEPS][number];

/** The command a step is of, looked up only for a --debug line. */
const commandOf = (step: FaultStep): string | undefined => Object.entries(FAULT_STEPS).find(([, steps]) => (steps as readonly string[]).includes(step))?.[0];

/** A step of a command done: a --debug line, and the test hooks above. */
export function faultPoint(step: FaultStep): void {
  if (log.debugging) log.debug(`${commandOf(step)}: ${step}`);
  if (process.env.OCIRUN_FAULT_AFTER === step) process.kill(process.pid, 'SIGKILL');
  if (process.env.OCIRUN_FAULT_FAIL === step) throw new RuntimeError(step, 'injected failure (OCIRUN_FAULT_FAIL)');
}
