// The command line, parsed as runc's urfave/cli and Go flag package parse it.
import { describe, expect, it } from 'vitest';
import { parseCommandLine, parseFlags, type CommandDef, type Flag } from '../../src/cli/args.js';

const globals: Flag[] = [
  { name: 'root', value: true, default: '/run/ocirun', help: '' },
  { name: 'debug', help: '' },
];
const noop = async () => {};
const commands: CommandDef[] = [
  { name: 'exec', summary: '', usage: '', args: { min: 1, max: Infinity }, flagsFirst: true, run: noop, flags: [{ name: 'env', short: 'e', value: true, repeat: true, help: '' }, { name: 'tty', short: 't', help: '' }] },
  { name: 'list', aliases: ['ls'], summary: '', usage: '', args: { min: 0, max: 0 }, run: noop, flags: [{ name: 'format', short: 'f', value: true, default: 'table', help: '' }] },
  { name: 'kill', summary: '', usage: '', args: { min: 1, max: 2 }, run: noop, flags: [{ name: 'all', short: 'a', help: '' }] },
];
const parse = (argv: string[]) => parseCommandLine(argv, globals, commands);

describe('command line', () => {
  it('takes flags with one dash or two, values after = or as the next word', () => {
    const p = parse(['-root', '/r', '--debug', 'list', '--format=json']);
    expect(p.kind).toBe('run');
    if (p.kind !== 'run') return;
    expect(p.inv.global).toEqual({ root: '/r', debug: true });
    expect(p.inv.flags).toEqual({ format: 'json' });
    expect(parse(['ls', '-f', 'json'])).toMatchObject({ command: { name: 'list' }, inv: { flags: { format: 'json' } } });
  });

  it('stops at the first positional word: the rest is the program and its flags', () => {
    const p = parse(['exec', '-e', 'A=1', '--env', 'B=2', '-t', 'c1', 'sh', '-c', 'echo -e x', '--tty']);
    if (p.kind !== 'run') throw new Error(p.kind);
    expect(p.inv.flags).toEqual({ env: ['A=1', 'B=2'], tty: true });
    expect(p.inv.args).toEqual(['c1', 'sh', '-c', 'echo -e x', '--tty']);
    // A signal after the id is positional, as in runc.
    expect(parse(['kill', 'c1', '-9'])).toMatchObject({ inv: { args: ['c1', '-9'], flags: {} } });
    // -- ends the flags.
    expect(parse(['kill', '-a', '--', '-c1'])).toMatchObject({ inv: { args: ['-c1'], flags: { all: true } } });
  });

  it("moves a command's own flags before its arguments, as urfave/cli does (but for exec)", () => {
    expect(parse(['kill', 'c1', 'KILL', '--all'])).toMatchObject({ inv: { args: ['c1', 'KILL'], flags: { all: true } } });
    expect(parse(['list', '--format', 'json'])).toMatchObject({ inv: { args: [], flags: { format: 'json' } } });
    // A word after a flag goes along with it (urfave/cli's reorder does not
    // know booleans), so that under runc too this names container KILL.
    expect(parse(['kill', 'c1', '-a', 'KILL'])).toMatchObject({ inv: { args: ['KILL', 'c1'], flags: { all: true } } });
    // Not our flag, or after --: stays where it is.
    expect(parse(['kill', 'c1', '-9'])).toMatchObject({ inv: { args: ['c1', '-9'] } });
    expect(parse(['kill', 'c1', '--', '--all'])).toMatchObject({ inv: { args: ['c1', '--all'], flags: {} } });
  });

  it('reads booleans as Go does, and refuses other values', () => {
    expect(parseFlags(['--tty=false'], commands[0].flags).values).toEqual({ tty: false });
    expect(parseFlags(['-t=1'], commands[0].flags).values).toEqual({ tty: true });
    expect(() => parseFlags(['--tty=yes'], commands[0].flags)).toThrow('invalid boolean value "yes" for flag -tty');
  });

  it("refuses what runc refuses, in runc's words", () => {
    expect(() => parse(['--bogus', 'list'])).toThrow('flag provided but not defined: -bogus');
    expect(() => parse(['list', '--bogus'])).toThrow('flag provided but not defined: -bogus');
    expect(() => parse(['list', 'extra'])).toThrow('"list" requires exactly 0 argument(s)');
    expect(() => parse(['kill'])).toThrow('"kill" requires a minimum of 1 argument(s)');
    expect(() => parse(['kill', 'a', 'b', 'c'])).toThrow('"kill" requires a maximum of 2 argument(s)');
    expect(() => parse(['list', '--format'])).toThrow('flag needs an argument: -format');
    expect(() => parse(['foo'])).toThrow("No help topic for 'foo'");
    expect(() => parse(['foo', '-h'])).toThrow("No help topic for 'foo'");
  });

  it('answers help and version', () => {
    expect(parse(['--help']).kind).toBe('help');
    expect(parse(['-v']).kind).toBe('version');
    const h = parse(['kill', '-h']);
    expect(h.kind === 'help' && h.text).toMatch(/--all, -a/);
    expect(parse(['help', 'exec']).kind).toBe('help');
  });
});
