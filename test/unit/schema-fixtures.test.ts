// The runtime-spec's own good/bad config fixtures are the oracle for our schema.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, RuntimeError } from '../../src/errors.js';
import { parseJson } from '../../src/config/load.js';
import { validateConfig, type HostFacts } from '../../src/config/validate.js';

// The upstream fixtures live outside this repository (OCI_SPEC_FIXTURES, or
// ../shared beside the checkout). Where they are not, these tests are
// skipped with a note.
const fixtures = process.env.OCI_SPEC_FIXTURES ?? path.resolve(__dirname, '../../../shared/oci-runtime-spec-v1.3.0/test/config');
const present = fs.existsSync(fixtures);
if (!present) process.stderr.write(`note: runtime-spec fixtures not found at ${fixtures} (set OCI_SPEC_FIXTURES): their tests are skipped\n`);

const fakeResctrl = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-fake-resctrl-'));
for (const d of ['info/L3', 'info/MB', 'info/L3_MON']) fs.mkdirSync(path.join(fakeResctrl, d), { recursive: true });
afterAll(() => fs.rmSync(fakeResctrl, { recursive: true, force: true }));

const anyHost: HostFacts = {
  filesystems: () => new Set(['proc', 'tmpfs', 'sysfs', 'devpts', 'mqueue', 'cgroup', 'cgroup2']),
  sysctlExists: () => true,
  fileKind: () => 'file',
  isDirectory: () => true,
  appArmor: () => true,
  selinux: () => true,
  isOwnNamespace: () => false,
  // A resctrl with every feature (the fixtures' intelRdt configs are valid ones).
  resctrlRoot: () => fakeResctrl,
  systemdRunning: () => true,
};

const read = (kind: string) => fs.readdirSync(path.join(fixtures, kind)).filter((f) => f.endsWith('.json')).map((f) => [f, fs.readFileSync(path.join(fixtures, kind, f), 'utf8')] as const);

describe('runtime-spec v1.3.0 config fixtures', () => {
  it.skipIf(!present)('finds the fixtures', () => {
    expect(read('good').length).toBeGreaterThan(3);
    expect(read('bad').length).toBeGreaterThan(3);
  });

  for (const [name, text] of fs.existsSync(fixtures) ? read('good').filter(([n]) => !/^(freebsd|zos|solaris|windows|vm)-/.test(n)) : []) {
    it(`accepts good/${name}`, () => {
      const config = parseJson(text, name);
      // The platform checks must accept it too.
      try {
        validateConfig(config, { bundle: '/bundle', host: anyHost });
      } catch (err) {
        // Fixtures without a process are valid configs; they just cannot be created.
        expect((err as ConfigError).field).toMatch(/^process/);
      }
    });
  }

  for (const [name, text] of fs.existsSync(fixtures) ? read('bad') : []) {
    it(`rejects bad/${name}`, () => {
      expect(() => validateConfig(parseJson(text, name), { bundle: '/bundle', host: anyHost })).toThrow(RuntimeError);
    });
  }
});
