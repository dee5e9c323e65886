/**
 * The command line, parsed as runc's (urfave/cli on Go's flag package):
 * global flags before the command, each command's flags after it, before
 * or among its positional arguments (for exec and ps only before: from the
 * first argument on, all is positional), a flag written
 * with one dash or two, its value after `=` or as the next word, a boolean
 * one also as `--flag=false`, and `--` ending the flags. Every command is a
 * table of flags plus a function, so that help, checks and the errors for a
 * bad flag come from one place.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';

export interface Flag {
  /** Name without dashes, as runc spells it ("pid-file"). */
  name: string;
  /** One-letter alias ("b" for "bundle"). */
  short?: string;
  /** The flag takes a value (else it is a boolean). */
  value?: boolean;
  /** May be given more than once; the values are collected. */
  repeat?: boolean;
  default?: string;
  help: string;
}

export type FlagValues = Record<string, string | boolean | string[] | undefined>;

export interface Invocation {
  /** The global flags (given before the command). */
  global: FlagValues;
  flags: FlagValues;
  args: string[];
}

export interface CommandDef {
  name: string;
  aliases?: string[];
  summary: string;
  /** What follows the command's options in the usage line ("<container-id>"). */
  usage: string;
  flags: Flag[];
  /** How many positional arguments: at least min, at most max. */
  args: { min: number; max: number };
  /** Flags only before the first argument (exec, ps: what follows is the program's, or ps's). */
  flagsFirst?: boolean;
  run(inv: Invocation): Promise<void>;
}

export { UsageError };

const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/** Parses `argv` against `flags` up to the first positional word; returns the values and the positional words. */
export function parseFlags(argv: string[], flags: Flag[]): { values: FlagValues; args: string[]; help: boolean } {
  const values: FlagValues = {};
  for (const f of flags) if (f.default !== undefined) values[f.name] = f.default;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (word === '--') return { values, args: argv.slice(i + 1), help };
    if (!word.startsWith('-') || word === '-') return { values, args: argv.slice(i), help };
    const body = word.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (name === 'h' || name === 'help') {
      help = true;
      continue;
    }
    const flag = flags.find((f) => f.name === name || f.short === name);
    if (!flag) throw new UsageError(`flag provided but not defined: -${name}`);
    if (!flag.value) {
      const v = eq >= 0 ? body.slice(eq + 1) : 'true';
      if (!TRUE.has(v) && !FALSE.has(v)) throw new UsageError(`invalid boolean value "${v}" for flag -${name}`);
      values[flag.name] = TRUE.has(v);
      continue;
    }
    let v: string;
    if (eq >= 0) v = body.slice(eq + 1);
    else if (i + 1 < argv.length) v = argv[++i];
    else throw new UsageError(`flag needs an argument: -${name}`);
    if (flag.repeat) values[flag.name] = [...((values[flag.name] as string[] | undefined) ?? []), v];
    else values[flag.name] = v;
  }
  return { values, args: [], help };
}

/** Whether `word` is one of `flags` (or help), written as a flag. */
function isOwnFlag(word: string, flags: Flag[]): boolean {
  if (word === '-' || word === '--' || !word.startsWith('-')) return false;
  const name = word.replace(/^--?/, '').split('=')[0];
  return name === 'h' || name === 'help' || flags.some((f) => f.name === name || f.short === name);
}

/**
 * The command's flags moved before its arguments, as urfave/cli (v1) does
 * for every runc command but exec and ps: `runc update ID --cpu-period N`
 * is `runc update --cpu-period N ID`. A word after a flag without `=` goes
 * along as its value (whether the flag takes one or not, as there), and
 * nothing after `--` moves.
 */
export function flagsToFront(argv: string[], flags: Flag[]): string[] {
  const moved: string[] = [];
  const rest: string[] = [];
  let valueMayFollow = false;
  for (const [i, word] of argv.entries()) {
    if (valueMayFollow && !isOwnFlag(word, flags)) {
      valueMayFollow = false;
      moved.push(word);
    } else if (word === '--') {
      return [...moved, '--', ...rest, ...argv.slice(i + 1)];
    } else if (isOwnFlag(word, flags)) {
      moved.push(word);
      valueMayFollow = !word.includes('=');
    } else {
      rest.push(word);
    }
  }
  return [...moved, ...rest];
}

function flagLines(flags: Flag[]): string {
  const cols = flags.map((f) => {
    const names = [`--${f.name}${f.value ? ' value' : ''}`, ...(f.short ? [`-${f.short}${f.value ? ' value' : ''}`] : [])].join(', ');
    return [names, f.help + (f.default !== undefined && f.default !== '' ? ` (default: ${JSON.stringify(f.default)})` : '')];
  });
  const width = Math.max(0, ...cols.map(([n]) => n.length));
  return cols.map(([n, h]) => `   ${n.padEnd(width + 2)}${h}\n`).join('');
}

export function commandHelp(c: CommandDef): string {
  return `NAME:\n   ocirun ${c.name} - ${c.summary}\n\nUSAGE:\n   ocirun ${c.name}${c.flags.length ? ' [command options]' : ''} ${c.usage}\n${c.flags.length ? `\nOPTIONS:\n${flagLines(c.flags)}` : ''}`;
}

export function programHelp(globals: Flag[], commands: CommandDef[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return (
    'NAME:\n   ocirun - an OCI container runtime, command-line compatible with runc\n\n' +
    'USAGE:\n   ocirun [global options] command [command options] [arguments...]\n\n' +
    `COMMANDS:\n${commands.map((c) => `   ${c.name.padEnd(width + 2)}${c.summary}\n`).join('')}\n` +
    `GLOBAL OPTIONS:\n${flagLines(globals)}   --help, -h${' '.repeat(2)}show help\n   --version, -v  print the version\n`
  );
}

/** The command and what it was given; `help`/`version` when that is all that was asked. */
export type Parsed = { kind: 'run'; command: CommandDef; inv: Invocation } | { kind: 'help'; text: string } | { kind: 'version' };

export function parseCommandLine(argv: string[], globals: Flag[], commands: CommandDef[]): Parsed {
  const withVersion: Flag[] = [...globals, { name: 'version', short: 'v', help: 'print the version' }];
  const top = parseFlags(argv, withVersion);
  if (top.values.version === true) return { kind: 'version' };
  if (top.help) return { kind: 'help', text: programHelp(globals, commands) };
  const [name, ...rest] = top.args;
  if (name === undefined || name === 'help' || name === 'h') {
    const topic = name === undefined ? undefined : rest[0];
    if (topic === undefined) return { kind: 'help', text: programHelp(globals, commands) };
    const c = commands.find((x) => x.name === topic || x.aliases?.includes(topic));
    if (!c) throw new UsageError(`No help topic for '${topic}'`);
    return { kind: 'help', text: commandHelp(c) };
  }
  const command = commands.find((c) => c.name === name || c.aliases?.includes(name));
  if (!command) throw new UsageError(`No help topic for '${name}'`);
  const own = parseFlags(command.flagsFirst ? rest : flagsToFront(rest, command.flags), command.flags);
  if (own.help) return { kind: 'help', text: commandHelp(command) };
  const n = own.args.length;
  const { min, max } = command.args;
  if (n < min || n > max) {
    const need = min === max ? `exactly ${min}` : n < min ? `a minimum of ${min}` : `a maximum of ${max}`;
    throw new UsageError(`${invokedAs()}: "${command.name}" requires ${need} argument(s)`);
  }
  return { kind: 'run', command, inv: { global: top.values, flags: own.values, args: own.args } };
}

/** A count flag (--preserve-fds): a non-negative whole number. */
export function countFlag(value: string | boolean | string[] | undefined, name: string): number {
  const text = String(value ?? '0');
  if (!/^\d+$/.test(text)) throw new UsageError(`invalid value "${text}" for flag -${name}: not a non-negative integer`);
  return Number(text);
}

/**
 * --preserve-fds N: the N fds after stdio and the socket-activation ones
 * (from `first`) are the caller's, passed on to the container. A count too
 * large would hand it fds of ocirun's own instead: its engine's event loop,
 * the --log file, koffi's kept addon and, opened later in a gap of the
 * range, the state directory with its lock (every later command of the
 * container would then wait on it for ever). So every fd of the range must
 * be open now, before ocirun opens more (which then land above it), and
 * none of those may be ocirun's (`own`).
 */
export function preservedFdCount(value: string | boolean | string[] | undefined, first: number, own: (fd: number) => boolean): number {
  const n = countFlag(value, 'preserve-fds');
  for (let fd = first; fd < first + n; fd++) {
    if (!fs.existsSync(`/proc/self/fd/${fd}`)) throw new UsageError(`--preserve-fds ${n}: fd ${fd} is not open (EBADF)`);
    if (own(fd)) throw new UsageError(`--preserve-fds ${n}: fd ${fd} was not passed by the caller (it is ocirun's own)`);
  }
  return n;
}

/** A string flag's value (undefined when not given). */
export const str = (v: string | boolean | string[] | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
/** A boolean flag's value. */
export const bool = (v: string | boolean | string[] | undefined): boolean => v === true;
/** A repeatable flag's values. */
export const list = (v: string | boolean | string[] | undefined): string[] | undefined => (Array.isArray(v) ? v : undefined);

/**
 * The name ocirun was called by, as runc's messages name it ("runc run
 * failed: ...", whatever its file is called): `ocirun`, or `runc` where
 * ocirun is installed under runc's name (Docker's and containerd's
 * default runtime binary). The launcher passes argv[0] on unchanged; an
 * engine's own name (the library, a bundle run by hand) is not a name of
 * ours.
 */
export function invokedAs(): string {
  const name = path.basename(process.argv0 || 'ocirun');
  return name === 'node' || name === 'bun' || name === '' ? 'ocirun' : name;
}
