// errno names come from a table of ours (src/sys/constants.ts), not from
// node:os at every start: it must name every errno as the engine does.
import os from 'node:os';
import { expect, it } from 'vitest';
import { ERRNO_NAMES } from '../../src/sys/constants.js';
import { errnoName } from '../../src/sys/errno.js';

it("names every errno as the engine's node:os table does", () => {
  const engine: Record<number, string> = {};
  for (const [name, num] of Object.entries(os.constants.errno)) engine[num as number] = name;
  expect(ERRNO_NAMES).toEqual(engine);
});

it('errnoName: the name in the table, else the number', () => {
  expect(errnoName(2)).toBe('ENOENT');
  expect(errnoName(11)).toBe('EWOULDBLOCK');
  expect(errnoName(4095)).toBe('errno 4095');
});
