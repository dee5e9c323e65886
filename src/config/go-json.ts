/**
 * JSON text read as Go's encoding/json reads it into runc's structs: runc
 * reads config.json, exec's process file and update's resources that way,
 * and a config must mean to ocirun what it means to runc.
 *
 * - A key names a field exactly, or else without regard to case, by Go's
 *   folding (foldName: each letter upper case after lower case, so the
 *   long s is "S" and the Kelvin sign "K"): runc's suite writes
 *   `linux.resources.CPU` with `Cpus`.
 * - A field named again (in another case, or the same key twice) is
 *   decoded into what the first gave, as Go's decoder does: an object's
 *   fields and a map's keys add to it, an array's elements are decoded
 *   into the earlier ones (a mount's options stay unless given again) and
 *   its length is the new one's, a scalar is replaced. Keeping only the
 *   last would drop a `seccomp` that a first `linux` gave (runc's own
 *   update.bats names `cpu` and `CPU` in one config).
 * - A member whose value is null is left out, as if absent (Go's zero
 *   value; runc 1.3.6's timens.bats writes `"timeOffsets": null`); after
 *   a value for the same field it changes nothing, as in Go for a field
 *   that is not a pointer (for a pointer Go drops the value; ocirun keeps
 *   it: a setting is never removed that way). A null in an array stays,
 *   for the schema to refuse.
 * - Keys that name no field, and a map's keys, stay as written.
 * - Arrays and objects nested more than 10000 deep are refused, as Go's
 *   scanner refuses them (MAX_DEPTH), wherever they are.
 */
import type { Shape } from './validators.js';

/** Go's foldName for one character; the field names are ASCII, so only these can match one. */
const FOLD_TO_ASCII: Record<string, string> = { '\u017f': 'S', '\u212a': 'K', '\u0130': 'I', '\u0131': 'I' }; // long s, Kelvin sign, dotted and dotless i
const fold = (name: string): string => [...name].map((c) => FOLD_TO_ASCII[c] ?? (c < '\x80' ? c.toUpperCase() : c)).join('');

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Sets an own data property, whatever the key ("__proto__" included). */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

type Fields = Extract<Shape, { keys: unknown }>;

const folded = new WeakMap<Fields, Map<string, string>>();

/** The field `key` names in `shape`: exactly, or else by Go's folding. */
function fieldNamed(shape: Fields, key: string): string | undefined {
  if (Object.hasOwn(shape.keys, key)) return key;
  let byFold = folded.get(shape);
  if (!byFold) folded.set(shape, (byFold = new Map(Object.keys(shape.keys).map((f) => [fold(f), f]))));
  return byFold.get(fold(key));
}

/**
 * Go's decoder refuses arrays and objects nested deeper than this (its
 * scanner's maxNestingDepth; runc: "invalid character '[' exceeded max
 * depth"); the top-level object is the first.
 */
const MAX_DEPTH = 10000;

class GoJsonReader {
  private i = 0;
  private depth = 0;

  constructor(private readonly text: string) {}

  fail(what: string): never {
    throw new SyntaxError(`${what} at position ${this.i}`);
  }

  private space(): void {
    while (this.i < this.text.length && ' \t\n\r'.includes(this.text[this.i])) this.i++;
  }

  private expect(c: string): void {
    this.space();
    if (this.text[this.i] !== c) this.fail(`expected '${c}'`);
    this.i++;
  }

  private string(): string {
    this.space();
    const start = this.i;
    if (this.text[this.i] !== '"') this.fail('expected a string');
    for (this.i++; this.text[this.i] !== '"'; this.i++) {
      if (this.i >= this.text.length) this.fail('unterminated string');
      if (this.text[this.i] === '\\') this.i++;
    }
    this.i++;
    return JSON.parse(this.text.slice(start, this.i)) as string;
  }

  /** The next value; `into` is what an earlier member of the same field gave (merged into, if both are objects). */
  value(shape: Shape | null, into?: unknown): unknown {
    this.space();
    const c = this.text[this.i];
    if (c === '{' || c === '[') {
      if (++this.depth > MAX_DEPTH) this.fail(`exceeded max depth (${MAX_DEPTH} nested arrays and objects)`);
      const v = c === '{' ? this.object(shape, into) : this.array(shape, into);
      this.depth--;
      return v;
    }
    if (c === '"') return this.string();
    const m = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
    m.lastIndex = this.i;
    const token = m.exec(this.text)?.[0];
    if (!token) this.fail('unexpected character');
    this.i += token.length;
    return JSON.parse(token);
  }

  private array(shape: Shape | null, into: unknown): unknown[] {
    const items = shape && 'items' in shape ? shape.items : null;
    const earlier = Array.isArray(into) && items ? into : [];
    const out: unknown[] = [];
    this.expect('[');
    this.space();
    if (this.text[this.i] === ']') return this.i++, out;
    for (;;) {
      out.push(this.value(items, earlier[out.length]));
      this.space();
      if (this.text[this.i] === ']') return this.i++, out;
      this.expect(',');
    }
  }

  private object(shape: Shape | null, into: unknown): Record<string, unknown> {
    // Decoded into in place: the earlier value is this reader's own.
    const out = isObject(into) && shape !== null && !('items' in shape) ? into : {};
    this.expect('{');
    this.space();
    if (this.text[this.i] === '}') return this.i++, out;
    for (;;) {
      let name = this.string();
      this.expect(':');
      let below: Shape | null = null;
      let earlier: unknown;
      if (shape && 'keys' in shape) {
        const field = fieldNamed(shape, name);
        if (field !== undefined) {
          name = field;
          below = shape.keys[field];
          earlier = out[field]; // a struct field merges; a map's elements are replaced, as Go's are
        }
      } else if (shape && 'values' in shape) {
        below = shape.values;
      }
      const v = this.value(below, earlier);
      if (v !== null) setOwn(out, name, v);
      else if (earlier === undefined) delete out[name];
      this.space();
      if (this.text[this.i] === '}') return this.i++, out;
      this.expect(',');
    }
  }

  end(): void {
    this.space();
    if (this.i !== this.text.length) this.fail('unexpected text after the value');
  }
}

/** Strings of valid JSON text; what is left of it outside them has a colon for each member of an object. */
const JSON_STRING = /"(?:[^"\\]|\\.)*"/g;

/**
 * `text` without its strings: what is left has a colon for each member of
 * an object and the brackets of each array and object. Undefined where the
 * engine's regex gives up (a text of megabytes): the reader decides then.
 */
function outsideStrings(text: string): string | undefined {
  try {
    return text.replace(JSON_STRING, '');
  } catch {
    return undefined;
  }
}

/** How deep `bare` (a text without its strings) nests arrays and objects: counted, not recursed into. */
function nestingDepth(bare: string): number {
  let depth = 0;
  let deepest = 0;
  for (const b of bare.replace(/[^[\]{}]+/g, '')) {
    depth += b === '[' || b === '{' ? 1 : -1;
    if (depth > deepest) deepest = depth;
  }
  return deepest;
}

/**
 * JSON.parse's value of `text` where the reader would give the same: no
 * object names a member twice (JSON.parse keeps the last, Go merges: seen
 * as fewer members than `bare` has colons), no member is null, and no key
 * names a field other than exactly. The usual config is such. The reader,
 * which runs cold on every create, took about 1 ms of it; the engine's own
 * parser and this check a tenth of that. Walked with a list, not
 * recursion: a config as deep as Go allows would overflow some engines'
 * stacks. Undefined where the reader must decide, or say what is wrong.
 */
function parsedAsGo(text: string, bare: string, shape: Shape | null): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  let members = 0;
  const pending: [unknown, Shape | null][] = [[value, shape]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [v, s] = next;
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      const items = s && 'items' in s ? s.items : null;
      for (const item of v) pending.push([item, items]);
      continue;
    }
    for (const [key, member] of Object.entries(v)) {
      members++;
      if (member === null) return undefined;
      let below: Shape | null = null;
      if (s && 'keys' in s) {
        if (Object.hasOwn(s.keys, key)) below = s.keys[key];
        else if (fieldNamed(s, key) !== undefined) return undefined;
      } else if (s && 'values' in s) {
        below = s.values;
      }
      pending.push([member, below]);
    }
  }
  return bare.split(':').length - 1 === members ? value : undefined;
}

/** `text` decoded as Go decodes it into the struct `shape` describes (see above); a SyntaxError if it is not JSON. */
export function decodeAsGo(text: string, shape: Shape | null): unknown {
  const bare = outsideStrings(text);
  if (bare !== undefined) {
    if (nestingDepth(bare) > MAX_DEPTH) throw new SyntaxError(`exceeded max depth (${MAX_DEPTH} nested arrays and objects)`);
    const parsed = parsedAsGo(text, bare, shape);
    if (parsed !== undefined) return parsed;
  }
  const reader = new GoJsonReader(text);
  const value = reader.value(shape);
  reader.end();
  return value;
}
