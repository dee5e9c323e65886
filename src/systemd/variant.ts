/**
 * A D-Bus value written as GVariant text ("uint64 42", "'idle'", "true",
 * "[1, 2]", "@as ['a']"), as runc reads the values of
 * `org.systemd.property.*` annotations (godbus's ParseVariant). The subset
 * that unit properties use: the basic types, with a type keyword or `@`
 * annotation or inferred (an integer is int32, a number with "." or "e" a
 * double, quotes a string), and arrays of them. Dictionaries, structs and
 * nested variants are refused with a message that says so.
 */
import type { PropertyType, PropertyValue } from './sdbus.js';

const KEYWORDS: Record<string, string> = {
  boolean: 'b',
  byte: 'y',
  int16: 'n',
  uint16: 'q',
  int32: 'i',
  uint32: 'u',
  int64: 'x',
  uint64: 't',
  double: 'd',
  string: 's',
  objectpath: 'o',
};
/** Integer types: [bits, signed]. */
const INTEGERS: Record<string, [number, boolean]> = { y: [8, false], n: [16, true], q: [16, false], i: [32, true], u: [32, false], x: [64, true], t: [64, false] };
const BASIC = /^[ybnqiuxtdso]$/;

export class VariantError extends Error {}

/** Parses GVariant text into its D-Bus type and value. */
export function parseVariant(text: string): { type: PropertyType; value: PropertyValue } {
  let rest = text.trim();
  let type = '';
  const annotation = /^(@\S+|[a-z0-9]+)\s+/.exec(rest);
  if (annotation && (annotation[1].startsWith('@') || KEYWORDS[annotation[1]])) {
    type = annotation[1].startsWith('@') ? annotation[1].slice(1) : KEYWORDS[annotation[1]];
    rest = rest.slice(annotation[0].length).trim();
  }
  if (rest.startsWith('[')) {
    if (!rest.endsWith(']')) throw new VariantError(`unterminated array: ${text}`);
    if (type && !/^a[ybnqiuxtdso]$/.test(type)) throw new VariantError(`type "${type}" is not an array of a basic type`);
    const items = splitItems(rest.slice(1, -1));
    const element = type ? type.slice(1) : items.length ? inferType(items[0]) : '';
    if (!element) throw new VariantError(`cannot infer the type of an empty array: ${text}`);
    const values = items.map((item) => scalar(item, element));
    if (element === 'y') return { type: 'ay', value: Buffer.from(values as number[]) };
    return { type: `a${element}` as PropertyType, value: values as PropertyValue };
  }
  const t = type || inferType(rest);
  if (!BASIC.test(t)) throw new VariantError(`type "${t}" is not supported in an annotation (basic types and arrays of them are)`);
  return { type: t as PropertyType, value: scalar(rest, t) };
}

function inferType(item: string): string {
  if (item === 'true' || item === 'false') return 'b';
  if (/^["']/.test(item)) return 's';
  if (/^[-+]?(\d|0x)/i.test(item)) return /^[^x]*[.e]/i.test(item) ? 'd' : 'i';
  throw new VariantError(`cannot parse "${item}"`);
}

function scalar(item: string, type: string): string | boolean | number | bigint {
  if (type === 's' || type === 'o') {
    if (!/^(".*"|'.*')$/s.test(item)) throw new VariantError(`can't parse ${item} as type "${type}"`);
    return unescape(item.slice(1, -1));
  }
  if (type === 'b') {
    if (item !== 'true' && item !== 'false') throw new VariantError(`can't parse ${item} as type "b"`);
    return item === 'true';
  }
  if (type === 'd') {
    const d = Number(item);
    if (!Number.isFinite(d)) throw new VariantError(`can't parse ${item} as type "d"`);
    return d;
  }
  const [bits, signed] = INTEGERS[type] ?? [];
  if (!bits) throw new VariantError(`type "${type}" is not supported`);
  let n: bigint;
  try {
    // Go's base prefixes, as godbus reads them: 0x hex, a leading 0 octal.
    const neg = item.startsWith('-');
    const digits = item.replace(/^[-+]/, '');
    n = BigInt(/^0x/i.test(digits) ? digits : /^0\d/.test(digits) ? `0o${digits.slice(1)}` : digits);
    if (neg) n = -n;
  } catch {
    throw new VariantError(`can't parse ${item} as type "${type}"`);
  }
  const min = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const max = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  if (n < min || n > max) throw new VariantError(`${item} is out of range for type "${type}"`);
  return bits === 64 ? n : Number(n);
}

/** An array's items, split at the commas outside quotes. */
function splitItems(body: string): string[] {
  const items: string[] = [];
  let cur = '';
  let quote = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (quote) {
      cur += c;
      if (c === '\\') cur += body[++i] ?? '';
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      quote = c;
      cur += c;
    } else if (c === ',') {
      items.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (quote) throw new VariantError(`unterminated string in [${body}]`);
  if (cur.trim()) items.push(cur.trim());
  return items;
}

function unescape(s: string): string {
  const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
  return s.replace(/\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)/gs, (_, e: string) => (e.length > 1 ? String.fromCodePoint(parseInt(e.slice(1), 16)) : (simple[e] ?? e)));
}
