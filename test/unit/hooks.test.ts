// Hooks run real programs (sh), without root: args, env, stdin state, timeout, failure semantics.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../src/errors.js';
import { runHook, runHooks } from '../../src/hooks/index.js';

const state = { ociVersion: '1.3.0', id: 'c1', status: 'creating', pid: 42, bundle: '/b' };

describe('hooks', () => {
  it('passes args (argv[0] included), exactly the env given, and the state on stdin', () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hook-')), 'out');
    const problem = runHook({ path: '/bin/sh', args: ['my-hook', '-c', `echo "$0 $FOO \${HOME:-nohome}" > ${out}; cat >> ${out}`], env: ['FOO=bar'] }, state);
    expect(problem).toBeUndefined();
    const [first, stdin] = fs.readFileSync(out, 'utf8').split('\n');
    expect(first).toBe('my-hook bar nohome');
    expect(JSON.parse(stdin)).toEqual(state);
  });

  it('reports a failing hook with its exit status, and a hung one as timed out', () => {
    // runc's words, with the hook's output (kept, not passed on) on one line.
    expect(runHook({ path: '/bin/sh', args: ['sh', '-c', 'echo out; echo err >&2; echo more >&2; exit 3'] }, state)).toBe('exit status 3, stdout: out, stderr: err\\nmore');
    expect(runHook({ path: '/bin/sleep', args: ['sleep', '10'], timeout: 1 }, state)).toBe('hook ran past specified timeout of 1.0s');
  });

  it('does not count a hook that never reads its stdin as failed', () => {
    // 1 MiB of annotations: more than a pipe holds, so the write meets a closed pipe.
    const big = { ...state, annotations: { big: 'x'.repeat(1 << 20) } };
    expect(runHook({ path: '/bin/true' }, big)).toBeUndefined();
    expect(runHook({ path: '/bin/false' }, big)).toBe('exit status 1, stdout: , stderr: ');
  });

  it('gives a hook without env the inherited environment, and one with env: [] none', () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hook-')), 'out');
    const script = `echo "\${PATH:-nopath} \${FOO:-nofoo}" >> ${out}`;
    expect(runHook({ path: '/bin/sh', args: ['sh', '-c', script] }, state)).toBeUndefined();
    expect(runHook({ path: '/bin/sh', args: ['sh', '-c', script] }, state, ['FOO=inherited'])).toBeUndefined();
    expect(runHook({ path: '/bin/sh', args: ['sh', '-c', script], env: [] }, state)).toBeUndefined();
    const [runtime, given, empty] = fs.readFileSync(out, 'utf8').trim().split('\n');
    expect(runtime).toBe(`${process.env.PATH} nofoo`);
    expect(given).toMatch(/ inherited$/);
    expect(empty).toMatch(/ nofoo$/);
    expect(empty).not.toContain(process.env.PATH!);
  });

  it('fails the operation for every hook kind but poststop, which warns', () => {
    const fail = [{ path: '/bin/true' }, { path: '/bin/false' }];
    expect(() => runHooks('prestart', fail, state, () => {})).toThrow(RuntimeError);
    expect(() => runHooks('createRuntime', fail, state, () => {})).toThrow(/^error running createRuntime hook #1: \/bin\/false: exit status 1/);
    expect(() => runHooks('poststart', fail, state, () => {})).toThrow(/^error running poststart hook #1: /);
    const warnings: string[] = [];
    runHooks('poststop', [...fail, { path: '/bin/true' }], state, (m) => warnings.push(m));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^error running poststop hook #1: /);
  });
});
