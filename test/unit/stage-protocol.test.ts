// The C stage's parser, fed malformed instructions on its sync socket: each
// is refused with an "error" line naming it and exit status 1, never a crash
// and never a namespace touched.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';

const stage = path.resolve(__dirname, '../../build/ocirun-stage');

/** Runs the stage, writes `input` on its sync socket (fd 3), returns its reply and exit. */
function feed(input: string | Buffer, mode = '/bin/true'): Promise<{ reply: string; code: number | null; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const p = spawn(stage, ['3', mode], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    const sock = p.stdio[3] as Duplex;
    let reply = '';
    sock.on('data', (d) => (reply += d.toString()));
    sock.on('error', () => {});
    p.on('error', reject);
    p.on('exit', (code, signal) => setTimeout(() => resolve({ reply, code, signal }), 20));
    sock.write(input);
    // Without "end" the stage waits for more; EOF is a case of its own.
    if (!String(input).includes('end\n')) sock.end();
  });
}

describe.skipIf(!fs.existsSync(stage) && process.env.CI !== 'true')('C stage instruction parser', () => {
  const cases: [string, string | Buffer, RegExp][] = [
    ['a flag that is not hex', 'join zz /proc/1/ns/net\nend\n', /^error bad join line: Invalid argument/],
    ['a join without a path', 'join 40000000\nend\n', /^error bad join line/],
    ['a relative namespace path', 'join 40000000 proc/1/ns/net\nend\n', /^error bad join line/],
    ['a negative unshare mask', 'unshare -1\nend\n', /^error bad unshare line/],
    ['an unshare mask that overflows', 'unshare fffffffffffffffff\nend\n', /^error bad unshare line/],
    ['trailing words', 'unshare 20000 20000\nend\n', /^error bad unshare line/],
    ['three time offsets', 'timens 1 2 3\nend\n', /^error bad timens line/],
    ['nanoseconds of a second or more', 'timens 1 1000000000 0 0\nend\n', /^error bad timens line/],
    ['negative nanoseconds', 'timens 1 -1 0 0\nend\n', /^error bad timens line/],
    ['a relative root', 'root relative\nend\n', /^error unknown instruction 'root relative'/],
    ['a root given twice', 'root /\nroot /\nend\n', /^error bad root line: given twice/],
    ['an unknown instruction', 'bogus 1 2\nend\n', /^error unknown instruction 'bogus 1 2'/],
    ['a line longer than the stage reads', `join 40000000 /${'x'.repeat(5000)}\nend\n`, /^error read sync socket: line too long or not text/],
    ['a NUL in a line', Buffer.from('join 40000000 /a\0b\nend\n'), /^error read sync socket: line too long or not text/],
    ['too many joins', `${'join 40000000 /proc/self/ns/net\n'.repeat(17)}end\n`, /^error too many join instructions/],
    ['a namespace that does not exist, opened as the line is read', 'join 40000000 /nonexistent/ns\nend\n', /^error open namespace \/nonexistent\/ns: No such file or directory/],
    ['the parent gone before "end"', 'unshare 20000\n', /^error read sync socket: parent closed it/],
    ['a bind without a path', 'bind 0 1 0\nend\n', /^error bad bind line/],
    ['a relative bind source', 'bind 0 1 0 tmp\nend\n', /^error bad bind line/],
    ['a bind flag the stage does not know', 'bind 0 8 0 /tmp\nend\n', /^error bad bind line/],
    ['a negative bind index', 'bind -1 1 0 /tmp\nend\n', /^error bad bind line/],
    ['an id map whose user namespace fd is not open', 'bind 2 2 77 /tmp\nend\n', /^error bind-source 2 user namespace fd 77: Bad file descriptor/],
    ['an id-mapped bind before the init runs (those come at their turn)', 'bind 2 2 0 /tmp\nend\n', /^error bad bind line: an id-mapped source is copied at its turn \(mount-source\): Invalid argument/],
    ['too many binds', `${'bind 0 0 0 /tmp\n'.repeat(513)}end\n`, /^error too many bind instructions/],
  ];
  for (const [name, input, want] of cases) {
    it(`refuses ${name}`, async () => {
      const r = await feed(input);
      expect(r.signal).toBeNull();
      expect(r.code).toBe(1);
      expect(r.reply.split('\n').filter(Boolean)).toHaveLength(1);
      expect(r.reply).toMatch(want);
    });
  }

  // The mode that copies one source in the init's mount namespace (serve_mount_source).
  const mountSource: [string, string, RegExp][] = [
    ['no join', 'bind 0 1 0 /tmp\nend\n', /^error mount-source: takes one join of a mount namespace and one bind: Invalid argument/],
    ['a join of another namespace than a mount one', 'join 40000000 /proc/self/ns/net\nbind 0 1 0 /tmp\nend\n', /^error mount-source: takes one join/],
    ['two binds', 'join 20000 /proc/self/ns/mnt\nbind 0 1 0 /tmp\nbind 1 1 0 /tmp\nend\n', /^error mount-source: takes one join/],
    ['an unshare', 'join 20000 /proc/self/ns/mnt\nunshare 20000\nbind 0 1 0 /tmp\nend\n', /^error mount-source: takes one join/],
  ];
  for (const [name, input, want] of mountSource) {
    it(`refuses, in its mount-source mode, ${name}`, async () => {
      const r = await feed(input, 'mount-source');
      expect(r.signal).toBeNull();
      expect(r.code).toBe(1);
      expect(r.reply.split('\n').filter(Boolean)).toHaveLength(1);
      expect(r.reply).toMatch(want);
    });
  }

  it('refuses a bad sync fd without touching anything', async () => {
    const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const p = spawn(stage, ['3x', '/bin/true'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr!.on('data', (d) => (err += d));
      p.on('exit', (code) => resolve({ code, err }));
    });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/bad sync fd 3x/);
  });
});
