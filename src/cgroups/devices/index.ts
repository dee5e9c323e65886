/** A container's device rules: emulated as v1 would apply them, then written to v1 or compiled to BPF for v2. */
import { deviceFilterProgram, encodeProgram } from './bpf.js';
import { emulateDeviceRules, parseDeviceRule, type DeviceRuleSet } from './emulator.js';

export type ConfiguredDeviceRule = { allow: boolean; type?: string; major?: number; minor?: number; access?: string };

export { installDeviceFilter } from './attach.js';

/** A configured rule in v1's "c 1:3 rwm" form ("a *:* rwm" for an empty one). */
export function deviceRule(d: { type?: string; major?: number; minor?: number; access?: string }): string {
  const id = (n?: number) => (n === undefined || n < 0 ? '*' : String(Math.trunc(n)));
  return `${d.type || 'a'} ${id(d.major)}:${id(d.minor)} ${d.access || 'rwm'}`;
}

/**
 * `configured` are linux.resources.devices (allow or deny, in order);
 * `allowed` the rules allowed after them (runc's defaults and the
 * configured linux.devices), in v1's "c 1:3 rwm" form.
 */
export function targetDeviceRules(configured: ConfiguredDeviceRule[], allowed: string[]): DeviceRuleSet {
  const rules = [...configured.map((d) => parseDeviceRule(deviceRule(d), d.allow)), ...allowed.map((r) => parseDeviceRule(r, true))];
  return emulateDeviceRules(rules);
}

/** The same rules as a BPF program, for v2 (v1 writes them: ../resources.ts). */
export function deviceFilter(configured: ConfiguredDeviceRule[], allowed: string[]): Buffer {
  return encodeProgram(deviceFilterProgram(targetDeviceRules(configured, allowed)));
}
