/**
 * The v1 device cgroup's semantics, for cgroup v2 (runc's devicesemulator).
 * v2 has no devices.allow/deny files: a BPF program decides. To make a
 * config mean the same on both, the rules are first played through the v1
 * rules the kernel would apply: a wildcard "a" rule resets the list (deny
 * "a": allow nothing but the exceptions that follow; allow "a": allow all
 * but them), other rules add or remove exceptions. What remains is either
 * an allow-list or a deny-list, which ./bpf.ts compiles.
 */
import { RuntimeError } from '../../errors.js';

export interface DeviceRule {
  allow: boolean;
  /** 'a' (any: resets), 'c' or 'b'. */
  type: 'a' | 'c' | 'b';
  /** -1 for any. */
  major: number;
  minor: number;
  /** Some of "rwm". */
  access: string;
}

export interface DeviceRuleSet {
  /** true: everything is allowed but `rules` (all denials); false: nothing but `rules` (all allowances). */
  defaultAllow: boolean;
  rules: { type: 'c' | 'b'; major: number; minor: number; access: string }[];
}

const ACCESS = 'rwm';
const norm = (access: string) => [...ACCESS].filter((c) => access.includes(c)).join('');
const union = (a: string, b: string) => norm(a + b);
const minus = (a: string, b: string) => [...a].filter((c) => !b.includes(c)).join('');
const overlaps = (a: string, b: string) => [...a].some((c) => b.includes(c));

export function emulateDeviceRules(input: DeviceRule[]): DeviceRuleSet {
  // v1 starts as "a *:* rwm" allowed: the cgroup inherits everything.
  let defaultAllow = true;
  let exceptions = new Map<string, { type: 'c' | 'b'; major: number; minor: number; access: string }>();
  const key = (t: string, major: number, minor: number) => `${t} ${major} ${minor}`;

  const add = (r: DeviceRule) => {
    const k = key(r.type, r.major, r.minor);
    const cur = exceptions.get(k);
    const access = union(cur?.access ?? '', r.access);
    if (access) exceptions.set(k, { type: r.type as 'c' | 'b', major: r.major, minor: r.minor, access });
  };
  const remove = (r: DeviceRule) => {
    // The kernel cannot punch a hole in a wildcard exception and silently
    // ignores the attempt; refuse it rather than let a config look safer
    // than it is (runc's emulator does the same).
    for (const [major, minor] of [[-1, r.minor], [r.major, -1], [-1, -1]]) {
      if (major === r.major && minor === r.minor) continue;
      const wide = exceptions.get(key(r.type, major, minor));
      if (wide && overlaps(wide.access, r.access)) {
        throw new RuntimeError('device rules', `rule "${r.type} ${id(r.major)}:${id(r.minor)} ${r.access}" cannot punch a hole in the wider rule "${r.type} ${id(major)}:${id(minor)} ${wide.access}" (cgroup v1 would ignore it)`);
      }
    }
    const k = key(r.type, r.major, r.minor);
    const cur = exceptions.get(k);
    if (!cur) return;
    const access = minus(cur.access, r.access);
    if (access) exceptions.set(k, { ...cur, access });
    else exceptions.delete(k);
  };

  for (const r of input) {
    const rule = { ...r, access: norm(r.access) };
    if (rule.type === 'a') {
      defaultAllow = rule.allow;
      exceptions = new Map();
    } else if (rule.allow === defaultAllow) {
      remove(rule); // e.g. allowing what a deny-list denies
    } else {
      add(rule);
    }
  }
  return { defaultAllow, rules: [...exceptions.values()] };
}

const id = (n: number) => (n < 0 ? '*' : String(n));

/**
 * A rule from the config's form ("c 1:3 rwm" strings or objects) to the
 * emulator's. Letters of the access other than r, w and m are ignored (the
 * emulator keeps only those), as runc's Permissions set does: runc 1.3.6's
 * update.bats "update devices [minimal transition rules]" has "rwa".
 */
export function parseDeviceRule(text: string, allow: boolean): DeviceRule {
  const m = /^([acb]) (\*|\d+):(\*|\d+) ([a-z]*)$/.exec(text);
  if (!m) throw new RuntimeError('device rules', `bad device rule "${text}"`);
  const num = (s: string) => (s === '*' ? -1 : Number(s));
  return { allow, type: m[1] as DeviceRule['type'], major: num(m[2]), minor: num(m[3]), access: m[4] };
}

/**
 * v1's devices.list as a rule set. "a *:* rwm" means allow-all: a deny-list,
 * whose denials devices.list does not show. Anything else is an allow-list.
 */
export function parseDevicesList(text: string): DeviceRuleSet {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines.includes('a *:* rwm')) return { defaultAllow: true, rules: [] };
  return {
    defaultAllow: false,
    rules: lines.map((l) => {
      const r = parseDeviceRule(l, true);
      if (r.type === 'a') throw new RuntimeError('device rules', `unexpected devices.list entry "${l}"`);
      return { type: r.type, major: r.major, minor: r.minor, access: norm(r.access) };
    }),
  };
}

/**
 * The fewest v1 writes that turn the cgroup's rules `from` into `to`
 * (runc's Emulator.Transition). A change of default, or a deny-list (whose
 * denials cannot be read back), needs the wildcard rule that resets the
 * list; otherwise only the exceptions that differ are written, so a cgroup
 * that already has the rules gets no write at all (a wildcard write is
 * EINVAL once the cgroup has children).
 */
export function deviceTransition(from: DeviceRuleSet, to: DeviceRuleSet): DeviceRule[] {
  const out: DeviceRule[] = [];
  let old = from.rules;
  if (from.defaultAllow || from.defaultAllow !== to.defaultAllow) {
    out.push({ allow: to.defaultAllow, type: 'a', major: -1, minor: -1, access: ACCESS });
    old = [];
  }
  const key = (r: { type: string; major: number; minor: number }) => `${r.type} ${r.major} ${r.minor}`;
  const ordered = (rules: DeviceRuleSet['rules']) => [...rules].sort((a, b) => a.type.localeCompare(b.type) || a.major - b.major || a.minor - b.minor);
  const oldAccess = new Map(old.map((r) => [key(r), r.access]));
  const newAccess = new Map(to.rules.map((r) => [key(r), r.access]));
  // Exceptions (or parts of them) the target no longer has, then the new ones.
  for (const r of ordered(old)) {
    const dropped = minus(r.access, newAccess.get(key(r)) ?? '');
    if (dropped) out.push({ allow: to.defaultAllow, type: r.type, major: r.major, minor: r.minor, access: dropped });
  }
  for (const r of ordered(to.rules)) {
    const gained = minus(r.access, oldAccess.get(key(r)) ?? '');
    if (gained) out.push({ allow: !to.defaultAllow, type: r.type, major: r.major, minor: r.minor, access: gained });
  }
  return out;
}

/** A rule in v1's "c 1:3 rwm" form. */
export const ruleText = (r: DeviceRule) => `${r.type} ${id(r.major)}:${id(r.minor)} ${r.access}`;
