/**
 * systemd's manager API over the system D-Bus, through libsystemd's sd-bus
 * (libsystemd.so.0, on every systemd host) and koffi. Chosen over a
 * JavaScript D-Bus client: it is systemd's own maintained client library,
 * adds no npm dependency, and is loaded only by the commands that use the
 * systemd cgroup driver, so that the others start as fast as before.
 */
import { loadKoffi } from '../sys/koffi.js';
import { RuntimeError } from '../errors.js';
import { errnoName } from '../sys/errno.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const koffi: any = loadKoffi();

/** D-Bus types a unit property's value can have: the basic ones, arrays of them, and systemd's a(ss). */
export type PropertyType = 'y' | 'b' | 'n' | 'q' | 'i' | 'u' | 'x' | 't' | 'd' | 's' | 'o' | `a${'b' | 'n' | 'q' | 'i' | 'u' | 'x' | 't' | 'd' | 's' | 'o'}` | 'ay' | 'a(ss)';
export type PropertyValue = string | boolean | number | bigint | Buffer | (string | boolean | number | bigint)[] | [string, string][];

/** A unit property as StartTransientUnit and SetUnitProperties take it: name, D-Bus type, value. */
export interface UnitProperty {
  name: string;
  type: PropertyType;
  value: PropertyValue;
}

/** The fixed-size basic types: their size and how a value is laid out (little-endian, as sd-bus reads host order here). */
const FIXED: Record<string, [number, (b: Buffer, v: string | boolean | number | bigint, at: number) => void]> = {
  y: [1, (b, v, at) => b.writeUInt8(Number(v), at)],
  b: [4, (b, v, at) => b.writeInt32LE(v ? 1 : 0, at)],
  n: [2, (b, v, at) => b.writeInt16LE(Number(v), at)],
  q: [2, (b, v, at) => b.writeUInt16LE(Number(v), at)],
  i: [4, (b, v, at) => b.writeInt32LE(Number(v), at)],
  u: [4, (b, v, at) => b.writeUInt32LE(Number(v), at)],
  x: [8, (b, v, at) => b.writeBigInt64LE(BigInt(v), at)],
  t: [8, (b, v, at) => b.writeBigUInt64LE(BigInt(v), at)],
  d: [8, (b, v, at) => b.writeDoubleLE(Number(v), at)],
};

const SYSTEMD = 'org.freedesktop.systemd1';
const MANAGER_PATH = '/org/freedesktop/systemd1';
const MANAGER = 'org.freedesktop.systemd1.Manager';
const PRIVATE_SOCKET = '/run/systemd/private';
const ch = (c: string) => c.charCodeAt(0);

// koffi registers a struct type by name once per process.
let busErrorType: unknown;

interface BusError {
  name: string | null;
  message: string | null;
  _need_free: number;
}

/** A connection to the system bus; `close` ends it. */
export class SystemdBus {
  private readonly f: Record<string, (...a: unknown[]) => unknown>;
  private bus: unknown;

  constructor() {
    let lib;
    try {
      lib = koffi.load('libsystemd.so.0');
    } catch (err) {
      throw new RuntimeError('systemd', `cannot load libsystemd.so.0 (the systemd cgroup driver needs it): ${(err as Error).message}`);
    }
    busErrorType ??= koffi.struct('sd_bus_error', { name: 'const char *', message: 'const char *', _need_free: 'int' });
    const protos: Record<string, string> = {
      openSystem: 'int sd_bus_open_system(_Out_ void **bus)',
      newBus: 'int sd_bus_new(_Out_ void **bus)',
      setAddress: 'int sd_bus_set_address(void *bus, const char *address)',
      startBus: 'int sd_bus_start(void *bus)',
      unrefBus: 'void *sd_bus_flush_close_unref(void *bus)',
      newCall: 'int sd_bus_message_new_method_call(void *bus, _Out_ void **m, const char *dest, const char *path, const char *iface, const char *member)',
      appendString: 'int sd_bus_message_append_basic(void *m, char type, const char *p)',
      appendValue: 'int sd_bus_message_append_basic(void *m, char type, const void *p)',
      appendArray: 'int sd_bus_message_append_array(void *m, char type, const void *p, size_t size)',
      open: 'int sd_bus_message_open_container(void *m, char type, const char *contents)',
      close: 'int sd_bus_message_close_container(void *m)',
      call: 'int sd_bus_call(void *bus, void *m, uint64_t usec, _Inout_ sd_bus_error *err, _Out_ void **reply)',
      readPath: 'int sd_bus_message_read_basic(void *m, char type, _Out_ const char **p)',
      unrefMessage: 'void *sd_bus_message_unref(void *m)',
      getString: 'int sd_bus_get_property_string(void *bus, const char *dest, const char *path, const char *iface, const char *member, _Inout_ sd_bus_error *err, _Out_ char **ret)',
    };
    this.f = {};
    for (const [k, proto] of Object.entries(protos)) this.f[k] = lib.func(proto);
    this.bus = process.geteuid?.() === 0 ? this.openPrivate() : undefined;
    if (this.bus) return;
    const out: unknown[] = [null];
    const r = this.f.openSystem(out) as number;
    if (r < 0) throw new RuntimeError('systemd', `cannot connect to systemd (${PRIVATE_SOCKET}, then the system bus): ${errnoName(-r)}`);
    this.bus = out[0];
  }

  /**
   * As root, systemd's own socket, as runc (go-systemd) and systemctl use:
   * no D-Bus daemon in between, so it works while dbus is down or
   * restarting. Unreachable, the system bus is tried.
   */
  private openPrivate(): unknown {
    const out: unknown[] = [null];
    if ((this.f.newBus(out) as number) < 0) return undefined;
    const bus = out[0];
    if ((this.f.setAddress(bus, `unix:path=${PRIVATE_SOCKET}`) as number) >= 0 && (this.f.startBus(bus) as number) >= 0) return bus;
    this.f.unrefBus(bus);
    return undefined;
  }

  close(): void {
    if (this.bus) this.f.unrefBus(this.bus);
    this.bus = null;
  }

  private check(r: number, what: string): void {
    if (r < 0) throw new RuntimeError('systemd', `${what}: ${errnoName(-r)}`);
  }

  /** Appends string arguments (unit names, modes) to a method call. */
  private appendStrings(m: unknown, ...values: string[]): void {
    for (const v of values) this.check(this.f.appendString(m, ch('s'), v) as number, 'build message');
  }

  private appendProperties(m: unknown, props: UnitProperty[]): void {
    this.check(this.f.open(m, ch('a'), '(sv)') as number, 'build message');
    for (const p of props) {
      this.check(this.f.open(m, ch('r'), 'sv') as number, 'build message');
      this.appendStrings(m, p.name);
      this.check(this.f.open(m, ch('v'), p.type) as number, 'build message');
      this.appendValue(m, p);
      this.check(this.f.close(m) as number, 'build message');
      this.check(this.f.close(m) as number, 'build message');
    }
    this.check(this.f.close(m) as number, 'build message');
  }

  /** One value of a fixed-size basic type (FIXED); sd-bus's return code. */
  private appendFixed(m: unknown, type: string, value: string | boolean | number | bigint): number {
    const [size, write] = FIXED[type];
    const b = Buffer.alloc(size);
    write(b, value, 0);
    return this.f.appendValue(m, ch(type), b) as number;
  }

  private appendValue(m: unknown, p: UnitProperty): void {
    const ok = (r: unknown) => this.check(r as number, `property ${p.name}`);
    const { type, value } = p;
    if (type === 's' || type === 'o') return ok(this.f.appendString(m, ch(type), value as string));
    if (FIXED[type]) return ok(this.appendFixed(m, type, value as number));
    if (type === 'ay') return ok(this.f.appendArray(m, ch('y'), value as Buffer, (value as Buffer).length));
    const element = type.slice(1);
    const items = value as (string | boolean | number | bigint)[];
    if (FIXED[element]) {
      const [size, write] = FIXED[element];
      const b = Buffer.alloc(size * items.length);
      items.forEach((v, i) => write(b, v, size * i));
      return ok(this.f.appendArray(m, ch(element), b, b.length));
    }
    ok(this.f.open(m, ch('a'), element));
    for (const item of items) {
      if (element === '(ss)') {
        ok(this.f.open(m, ch('r'), 'ss'));
        this.appendStrings(m, ...(item as unknown as [string, string]));
        ok(this.f.close(m));
      } else ok(this.f.appendString(m, ch(element), item as string));
    }
    return ok(this.f.close(m));
  }

  /** Calls a Manager method; `build` appends the arguments; returns the object path the reply starts with, if `readPath`. */
  private callManager(member: string, build: (m: unknown) => void, readPath: boolean): string | undefined {
    const out: unknown[] = [null];
    this.check(this.f.newCall(this.bus, out, SYSTEMD, MANAGER_PATH, MANAGER, member) as number, member);
    const m = out[0];
    try {
      build(m);
      const err: BusError = { name: null, message: null, _need_free: 0 };
      const reply: unknown[] = [null];
      const r = this.f.call(this.bus, m, 30_000_000n, err, reply) as number;
      if (r < 0) throw new BusCallError(member, err.name ?? '', err.message ?? errnoName(-r));
      try {
        if (!readPath) return undefined;
        const path: unknown[] = [null];
        this.check(this.f.readPath(reply[0], ch('o'), path) as number, `${member} reply`);
        return path[0] as string;
      } finally {
        this.f.unrefMessage(reply[0]);
      }
    } finally {
      this.f.unrefMessage(m);
    }
  }

  private property(path: string, iface: string, name: string): string | undefined {
    const err: BusError = { name: null, message: null, _need_free: 0 };
    const out: unknown[] = [null];
    const r = this.f.getString(this.bus, SYSTEMD, path, iface, name, err, out) as number;
    return r < 0 ? undefined : (out[0] as string);
  }

  /** Waits until systemd has finished the job (its object is gone). */
  private async waitForJob(job: string, unit: string, timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.property(job, 'org.freedesktop.systemd1.Job', 'State') !== undefined) {
      if (Date.now() > until) throw new RuntimeError('systemd', `timed out waiting for systemd's job on ${unit}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** The unit's ActiveState ("active", "failed", ...), or undefined when systemd has no such unit loaded. */
  activeState(unit: string): string | undefined {
    return this.property(unitObjectPath(unit), 'org.freedesktop.systemd1.Unit', 'ActiveState');
  }

  /** StartTransientUnit, waiting for the job; a unit that did not become active is reset and is the error. */
  async startTransientUnit(unit: string, props: UnitProperty[]): Promise<void> {
    const job = this.callManager(
      'StartTransientUnit',
      (m) => {
        this.appendStrings(m, unit, 'replace');
        this.appendProperties(m, props);
        this.check(this.f.open(m, ch('a'), '(sa(sv))') as number, 'build message');
        this.check(this.f.close(m) as number, 'build message');
      },
      true,
    )!;
    await this.waitForJob(job, unit);
    const state = this.activeState(unit);
    if (state !== 'active') {
      this.resetFailedUnit(unit);
      throw new RuntimeError('systemd', `unit ${unit} did not start: it is ${state ?? 'gone'}`);
    }
  }

  /** StopUnit, waiting for the job (up to `timeoutMs`); a unit systemd does not know is no error. */
  async stopUnit(unit: string, timeoutMs?: number): Promise<void> {
    let job: string | undefined;
    try {
      job = this.callManager('StopUnit', (m) => {
        this.appendStrings(m, unit, 'replace');
      }, true);
    } catch (err) {
      if (err instanceof BusCallError && err.busName === 'org.freedesktop.systemd1.NoSuchUnit') return;
      throw err;
    }
    await this.waitForJob(job!, unit, timeoutMs);
  }

  /** ResetFailedUnit; errors (no such unit, not failed) are of no interest. */
  resetFailedUnit(unit: string): void {
    try {
      this.callManager('ResetFailedUnit', (m) => this.appendStrings(m, unit), false);
    } catch {
      /* nothing to reset */
    }
  }

  setUnitProperties(unit: string, props: UnitProperty[]): void {
    this.callManager(
      'SetUnitProperties',
      (m) => {
        this.appendStrings(m, unit);
        // runtime: true, as runc (the unit is transient anyway).
        this.check(this.appendFixed(m, 'b', true), 'build message');
        this.appendProperties(m, props);
      },
      false,
    );
  }
}

/** A failed method call, with D-Bus's error name. */
export class BusCallError extends RuntimeError {
  constructor(
    member: string,
    readonly busName: string,
    message: string,
  ) {
    super('systemd', `${member}: ${message}${busName ? ` (${busName})` : ''}`);
  }
}

/** The unit's object path: sd-bus escapes every byte but [A-Za-z0-9] as _XX. */
export function unitObjectPath(unit: string): string {
  return `${MANAGER_PATH}/unit/${[...Buffer.from(unit)].map((b) => (/[A-Za-z0-9]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `_${b.toString(16).padStart(2, '0')}`)).join('')}`;
}
