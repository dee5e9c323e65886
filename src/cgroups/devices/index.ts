/** The cgroup v2 device filter for a container: its rules, emulated as v1 would apply them, compiled to BPF. */
import { deviceRule } from '../resources.js';
import { deviceFilterProgram, encodeProgram } from './bpf.js';
import { emulateDeviceRules, parseDeviceRule } from './emulator.js';

export { installDeviceFilter } from './attach.js';

/**
 * `configured` are linux.resources.devices (allow or deny, in order);
 * `allowed` the rules allowed after them (runc's defaults and the
 * configured linux.devices), in v1's "c 1:3 rwm" form.
 */
export function deviceFilter(configured: { allow: boolean; type?: string; major?: number; minor?: number; access?: string }[], allowed: string[]): Buffer {
  const rules = [...configured.map((d) => parseDeviceRule(deviceRule(d), d.allow)), ...allowed.map((r) => parseDeviceRule(r, true))];
  return encodeProgram(deviceFilterProgram(emulateDeviceRules(rules)));
}
