import { describe, expect, it } from 'vitest';
import { withHome } from '../../src/process/exec-path.js';
import { lookPath } from '../../src/process/exec-path.js';
import { exitCodeOf } from '../../src/process/foreground.js';
import { parseSignal } from '../../src/container/kill.js';

describe('process environment', () => {
  const passwd = () => 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n';
  it('adds HOME from /etc/passwd when the config has none', () => {
    expect(withHome(['PATH=/bin'], 1000, passwd)).toEqual(['PATH=/bin', 'HOME=/home/alice']);
  });
  it('defaults HOME to / for an unknown user', () => {
    expect(withHome([], 4242, passwd)).toEqual(['HOME=/']);
  });
  it('keeps a configured HOME', () => {
    expect(withHome(['HOME=/x'], 0, passwd)).toEqual(['HOME=/x']);
  });
  it('keeps the last value of a name set twice, in its place; an empty HOME is replaced (runc 1.3.6)', () => {
    expect(withHome(['ONE=two', 'ONE=', 'PATH=/usr/bin:/bin'], 0, passwd)).toEqual(['ONE=', 'PATH=/usr/bin:/bin', 'HOME=/root']);
    expect(withHome(['HOME=', 'PATH=/bin'], 1000, passwd)).toEqual(['PATH=/bin', 'HOME=/home/alice']);
    expect(withHome(['HOME=/override', 'HOME='], 0, passwd)).toEqual(['HOME=/root']);
    expect(withHome(['A=1', 'HOME=/x', 'A=2'], 0, passwd)).toEqual(['HOME=/x', 'A=2']);
  });
});

describe('program lookup', () => {
  const exists = (p: string) => p === '/usr/bin/tool' || p === '/bin/sh';
  it('searches PATH from the process env', () => {
    expect(lookPath('tool', ['PATH=/bin:/usr/bin'], exists)).toBe('/usr/bin/tool');
  });
  it("fails with runc's message", () => {
    expect(() => lookPath('nope', ['PATH=/bin'], exists)).toThrow('"nope": executable file not found in $PATH');
  });
  it('takes a path with a slash as is', () => {
    expect(lookPath('/bin/sh', [], exists)).toBe('/bin/sh');
  });
});

describe('exit status and signals', () => {
  it('maps wait status to an exit code, 128+N for signal N', () => {
    expect(exitCodeOf(3 << 8)).toBe(3);
    expect(exitCodeOf(9)).toBe(137);
  });
  it('parses signals as runc does', () => {
    expect(parseSignal('KILL')).toBe(9);
    expect(parseSignal('SIGTERM')).toBe(15);
    expect(parseSignal('15')).toBe(15);
    expect(parseSignal(undefined)).toBe(15);
    expect(() => parseSignal('BOGUS')).toThrow(/unknown signal/);
  });
});

import { checkTerminal } from '../../src/process/foreground.js';

describe('terminal and console socket (runc checkTerminal)', () => {
  it('needs a console socket to detach with a terminal', () => {
    expect(() => checkTerminal(true, undefined, true)).toThrow('cannot allocate tty if ocirun will detach without setting console socket');
  });
  it('refuses a console socket without a terminal or in the foreground', () => {
    expect(() => checkTerminal(false, '/s', true)).toThrow('cannot use console socket if ocirun will not detach or allocate tty');
    expect(() => checkTerminal(true, '/s', false)).toThrow('cannot use console socket');
  });
  it('accepts the sane combinations', () => {
    expect(() => checkTerminal(true, '/s', true)).not.toThrow();
    expect(() => checkTerminal(false, undefined, false)).not.toThrow();
    // Foreground with a terminal and no socket: the terminal proxy.
    expect(() => checkTerminal(true, undefined, false)).not.toThrow();
  });
});

describe('the collection before the cgroup join', () => {
  it('happens only under limits the engine could not live in', async () => {
    const { tightLimits } = await import('../../src/process/init-plan.js');
    expect(tightLimits(undefined)).toBe(false);
    expect(tightLimits({ memory: { limit: -1 }, pids: { limit: 0 } })).toBe(false);
    expect(tightLimits({ pids: { limit: 2048 } })).toBe(false); // podman's default
    expect(tightLimits({ memory: { limit: 4 * 2 ** 20 } })).toBe(true);
    expect(tightLimits({ pids: { limit: 20 } })).toBe(true);
    expect(tightLimits({ unified: { 'memory.max': '8388608' } })).toBe(true);
    expect(tightLimits({ unified: { 'pids.max': 'max' } })).toBe(false);
  });
});
