// The runtime-spec's own good/bad config fixtures are the oracle for our schema.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, RuntimeError } from '../../src/errors.js';
import { parseConfig } from '../../src/spec/load.js';
import { checkSemantics, type HostFacts } from '../../src/spec/semantic.js';

const fixtures = process.env.OCI_SPEC_FIXTURES ?? path.resolve(__dirname, '../../../shared/oci-runtime-spec-v1.3.0/test/config');

const anyHost: HostFacts = {
  filesystems: () => new Set(['proc', 'tmpfs', 'sysfs', 'devpts', 'mqueue', 'cgroup', 'cgroup2']),
  sysctlExists: () => true,
  exists: () => true,
  isDirectory: () => true,
};

const read = (kind: string) => fs.readdirSync(path.join(fixtures, kind)).filter((f) => f.endsWith('.json')).map((f) => [f, fs.readFileSync(path.join(fixtures, kind, f), 'utf8')] as const);

describe('runtime-spec v1.3.0 config fixtures', () => {
  it('finds the fixtures', () => {
    expect(read('good').length).toBeGreaterThan(3);
    expect(read('bad').length).toBeGreaterThan(3);
  });

  for (const [name, text] of fs.existsSync(fixtures) ? read('good').filter(([n]) => !/^(freebsd|zos|solaris|windows|vm)-/.test(n)) : []) {
    it(`accepts good/${name}`, () => {
      const config = parseConfig(text);
      // The platform check of the semantic pass must accept it too.
      try {
        checkSemantics(config, '/bundle', anyHost);
      } catch (err) {
        // Fixtures without a process are valid configs; they just cannot be created.
        expect((err as ConfigError).field).toMatch(/^process/);
      }
    });
  }

  for (const [name, text] of fs.existsSync(fixtures) ? read('bad') : []) {
    it(`rejects bad/${name}`, () => {
      expect(() => {
        const config = parseConfig(text);
        checkSemantics(config, '/bundle', anyHost);
      }).toThrow(RuntimeError);
    });
  }
});
