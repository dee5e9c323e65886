/** Finding the program to exec inside the container, as runc's exec.LookPath does, and its HOME. */
import fs from 'node:fs';
import path from 'node:path';
import { RuntimeError } from '../errors.js';
import type { Sys } from '../sys/types.js';

/**
 * Whether the process may exec `p`, as Go's exec.LookPath (which runc uses)
 * finds it: with the effective ids and capabilities (faccessat2 with
 * AT_EACCESS), so that a user with CAP_DAC_OVERRIDE runs a program only its
 * owner may (runc 1.3.6's start_hello.bats, runc#3715); access(2) would ask
 * with the real uid and no capabilities. Where the call is refused (ENOSYS,
 * or EPERM from a seccomp profile), any execute bit does, as in Go.
 */
export function isExecutable(sys: Pick<Sys, 'eaccess'>, p: string): boolean {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return false;
  }
  if (!st.isFile()) return false;
  try {
    sys.eaccess(p, fs.constants.X_OK);
    return true;
  } catch (err) {
    const code = (err as { code?: string }).code;
    return (code === 'ENOSYS' || code === 'EPERM') && (st.mode & 0o111) !== 0;
  }
}

export function lookPath(file: string, env: string[], check: (p: string) => boolean): string {
  if (file.includes('/')) {
    if (check(file)) return file;
    throw new RuntimeError('exec', `"${file}": no such file or directory, or not executable`);
  }
  const pathVar = env.filter((e) => e.startsWith('PATH=')).pop()?.slice(5) ?? '';
  for (const dir of pathVar.split(':')) {
    const candidate = path.join(dir === '' ? '.' : dir, file);
    if (check(candidate)) return candidate;
  }
  throw new RuntimeError('exec', `"${file}": executable file not found in $PATH`);
}

/**
 * The container's /etc/passwd, for withHome: read only if it is a regular
 * file, opened without blocking and at most 4 MiB of it. The container
 * owns the file: a fifo there would stall the init (and so an exec)
 * for as long as the container likes.
 */
export function readContainerPasswd(): string {
  const fd = fs.openSync('/etc/passwd', fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  try {
    if (!fs.fstatSync(fd).isFile()) throw new Error('/etc/passwd is not a regular file');
    const buf = Buffer.alloc(4 * 2 ** 20);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return buf.toString('utf8', 0, n);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The environment the program gets, as runc 1.3.6's prepareEnv makes it: a
 * name set twice keeps its last value, in that last place (Go's dedupEnv;
 * runc's env.bats "env var override is set only once"), and HOME, when
 * missing or empty, comes from the container's /etc/passwd ("/" for a user
 * it does not list).
 */
export function withHome(env: string[], uid: number, passwd: () => string): string[] {
  const seen = new Set<string>();
  const kept: string[] = [];
  for (let i = env.length - 1; i >= 0; i--) {
    const name = env[i].slice(0, Math.max(0, env[i].indexOf('=')));
    if (seen.has(name)) continue;
    seen.add(name);
    // An empty HOME is replaced below, as runc does.
    if (name === 'HOME' && env[i] === 'HOME=') continue;
    kept.push(env[i]);
  }
  kept.reverse();
  if (kept.some((e) => e.startsWith('HOME='))) return kept;
  let home = '/';
  try {
    for (const line of passwd().split('\n')) {
      const f = line.split(':');
      if (f.length >= 6 && Number(f[2]) === uid && f[2] !== '') {
        home = f[5] || '/';
        break;
      }
    }
  } catch {
    /* no /etc/passwd: "/" */
  }
  return [...kept, `HOME=${home}`];
}
