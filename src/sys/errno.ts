/** errno numbers by their names (EPERM, ENOENT, ...), from the engine's own table. */
import os from 'node:os';

const names = new Map<number, string>();
for (const [name, num] of Object.entries(os.constants.errno)) names.set(num as number, name);

/** The name of `errno`, or "errno N" for one the table lacks. */
export const errnoName = (errno: number): string => names.get(errno) ?? `errno ${errno}`;
