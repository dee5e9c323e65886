// The layout's two rules (src/container/README.md), checked on every run:
// no verb imports another verb, and no function in src/ is over 100 lines.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';

it('src/ keeps its structure rules (scripts/check-structure.mjs)', () => {
  const r = spawnSync(process.execPath, [path.resolve(__dirname, '../../scripts/check-structure.mjs')], { encoding: 'utf8' });
  expect(r.status, r.stdout + r.stderr).toBe(0);
});
