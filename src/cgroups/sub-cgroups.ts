/** exec --cgroup: the sub-cgroups of the container's a process joins instead of its own (runc's getSubCgroupPaths). */
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { unifiedOnly } from './paths.js';

/** Controller → sub-path ("" for every controller, and for v2's single path). */
export type SubCgroups = Map<string, string>;

/** runc's getSubCgroupPaths: "[controller[,controller]:]path" arguments. */
export function parseSubCgroups(args: string[] | undefined): SubCgroups {
  const out = new Map<string, string>();
  for (const arg of args ?? []) {
    const colon = arg.indexOf(':');
    if (colon < 0) {
      if (args!.length !== 1) throw new ConfigError('--cgroup', `invalid --cgroup argument: ${arg} (missing <controller>: prefix)`, 'check flags');
      out.set('', arg);
      continue;
    }
    for (const ctrl of arg.slice(0, colon).split(',')) {
      if (!ctrl) throw new ConfigError('--cgroup', `invalid --cgroup argument: ${arg} (empty <controller> prefix)`, 'check flags');
      if (out.has(ctrl)) throw new ConfigError('--cgroup', `invalid --cgroup argument(s): controller ${ctrl} specified multiple times`, 'check flags');
      out.set(ctrl, arg.slice(colon + 1));
    }
  }
  return out;
}

/**
 * The cgroup.procs files the process joins: the container's, or the
 * sub-cgroups asked for. As runc, a sub-path must stay under the container's
 * cgroup ("..", "a/../..": refused, not clamped), and a controller must be
 * one the container has.
 */
export function execCgroupProcs(paths: Record<string, string>, sub: SubCgroups): string[] {
  // On v2 the one path is the "" entry, and controller prefixes mean nothing (as runc).
  const v2 = unifiedOnly(paths);
  const names = Object.keys(paths).flatMap((name) => name.split(','));
  for (const ctrl of sub.keys()) {
    if (ctrl && !v2 && !names.includes(ctrl)) throw new ConfigError('--cgroup', `unknown controller ${ctrl} in the container's cgroups`, 'check flags');
  }
  return Object.entries(paths).map(([name, dir]) => {
    const rel = name === 'unified' ? sub.get('') : name.split(',').map((c) => sub.get(c) ?? sub.get('')).find((p) => p !== undefined);
    if (rel === undefined) return path.join(dir, 'cgroup.procs');
    const target = path.join(dir, rel);
    if (target !== dir && !target.startsWith(dir + '/')) throw new ConfigError('--cgroup', `${rel} is not a sub cgroup path`, 'check flags');
    return path.join(target, 'cgroup.procs');
  });
}
