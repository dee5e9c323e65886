// The command line as runc's users and tools meet it: the same argv given
// to ocirun and to runc in the same run, and the same outcome.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, leftovers, makeBundle, OCIRUN, removeBundle } from './helpers.js';

const RUNC = spawnSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).stdout.trim();
const runtimes = [['ocirun', OCIRUN], ['runc', RUNC]] as const;
const roots: Record<string, string> = {};
let bundle: string;

beforeAll(() => {
  expect(RUNC, 'runc is needed to compare with').not.toBe('');
  for (const [name] of runtimes) roots[name] = fs.mkdtempSync(path.join(os.tmpdir(), `ocirun-cli-${name}-`));
  bundle = makeBundle('ocirun-cli-', ['sh', '-c', 'exit 3']);
});
afterAll(() => {
  for (const root of Object.values(roots)) fs.rmSync(root, { recursive: true, force: true });
  removeBundle(bundle);
});

/** The last error line of a runtime, logrus text form: its msg. */
const errorMsg = (stderr: string) => {
  const line = stderr.trim().split('\n').filter((l) => l.includes('level=error')).pop() ?? '';
  const m = /msg=("(?:[^"\\]|\\.)*")/.exec(line);
  return m ? (JSON.parse(m[1]) as string).trim() : '';
};

describe('the command line, as runc has it', () => {
  const cases: { argv: string[]; status: number | 'nonzero'; msg?: RegExp; stdout?: string }[] = [
    // runc exits 3 for an unknown command; ocirun 1 (bad input is 1 here).
    { argv: ['foo'], status: 'nonzero', msg: /No help topic for 'foo'/ },
    { argv: ['foo', '-h'], status: 'nonzero', msg: /No help topic for 'foo'/ },
    { argv: ['--bogus', 'list'], status: 1, msg: /flag provided but not defined: -bogus/ },
    { argv: ['list', '--bogus'], status: 1, msg: /flag provided but not defined: -bogus/ },
    { argv: ['delete'], status: 1, msg: /"delete" requires exactly 1 argument\(s\)/ },
    { argv: ['delete', 'a', 'b'], status: 1, msg: /"delete" requires exactly 1 argument\(s\)/ },
    { argv: ['kill'], status: 1, msg: /"kill" requires a minimum of 1 argument\(s\)/ },
    { argv: ['state'], status: 1, msg: /"state" requires exactly 1 argument\(s\)/ },
    { argv: ['--log-format', 'bogus', 'list'], status: 1, msg: /invalid log-format: bogus/ },
    { argv: ['delete', 'no-such-container'], status: 1, msg: /container does not exist/ },
    { argv: ['state', 'no-such-container'], status: 1, msg: /container does not exist/ },
    { argv: ['delete', '--force', 'no-such-container'], status: 0 },
    { argv: ['list', '-f', 'json'], status: 0, stdout: 'null\n' },
    { argv: ['list', '--format=json'], status: 0, stdout: 'null\n' },
  ];
  for (const c of cases) {
    it(c.argv.join(' '), () => {
      for (const [name, bin] of runtimes) {
        // The root flag with one dash, as Go's flag package takes it.
        const r = spawnSync(bin, ['-root', roots[name], ...c.argv], { encoding: 'utf8', timeout: 30_000 });
        if (c.status === 'nonzero') expect(r.status, name).not.toBe(0);
        else expect(r.status, `${name}: ${r.stderr}`).toBe(c.status);
        if (c.msg) expect(errorMsg(r.stderr), name).toMatch(c.msg);
        if (c.stdout !== undefined) expect(r.stdout, name).toBe(c.stdout);
      }
      // Bad input is exit 1 and one line for ocirun, even where runc says 3.
      const mine = spawnSync(OCIRUN, ['--root', roots.ocirun, ...c.argv], { encoding: 'utf8' });
      if (mine.status !== 0) {
        expect(mine.status).toBe(1);
        expect(mine.stderr.trim().split('\n')).toHaveLength(1);
      }
      expect(fs.readdirSync(roots.ocirun)).toEqual([]);
    });
  }

  it('run --keep leaves the stopped container for state and delete', () => {
    for (const [name, bin] of runtimes) {
      const id = `keep-${name}-${process.pid}`;
      const r = cli(roots[name], ['run', '--keep', '--bundle', bundle, id], { runtime: bin });
      expect(r.status, `${name}: ${r.stderr}`).toBe(3);
      const s = cli(roots[name], ['state', id], { runtime: bin });
      expect(s.status, name).toBe(0);
      expect(JSON.parse(s.stdout), name).toMatchObject({ id, status: 'stopped' });
      expect(cli(roots[name], ['delete', id], { runtime: bin }).status, name).toBe(0);
      expect(cli(roots[name], ['state', id], { runtime: bin }).status, name).toBe(1);
      if (name === 'ocirun') expect(leftovers(roots[name], id, bundle)).toEqual([]);
    }
  });

  it('--help and --version answer with status 0', () => {
    for (const [name, bin] of runtimes) {
      for (const argv of [['--help'], ['--version'], ['delete', '--help']]) {
        const r = spawnSync(bin, argv, { encoding: 'utf8' });
        expect(r.status, `${name} ${argv.join(' ')}`).toBe(0);
        expect(r.stdout.length).toBeGreaterThan(0);
      }
    }
  });

  it('--log FILE exists after any command, exec too, even when nothing was logged', () => {
    for (const [name, bin] of runtimes) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-cli-log-'));
      try {
        for (const argv of [['list'], ['exec', 'no-such-container', 'true'], ['state', 'no-such-container']]) {
          const file = path.join(dir, `${argv[0]}.log`);
          spawnSync(bin, ['--root', roots[name], '--log', file, ...argv], { encoding: 'utf8' });
          expect(fs.existsSync(file), `${name} ${argv[0]}`).toBe(true);
        }
        expect(fs.readFileSync(path.join(dir, 'list.log'), 'utf8'), name).toBe('');
        expect(fs.readFileSync(path.join(dir, 'state.log'), 'utf8'), name).toMatch(/level=error msg=".*container does not exist/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('--debug says what was validated, which cgroups and namespaces, and each hook', () => {
    const b = makeBundle('ocirun-cli-debug-', ['true'], (c) => {
      c.hooks = { createRuntime: [{ path: '/bin/true', args: ['true', 'from-the-hook'] }] };
    });
    const log = path.join(b, 'debug.log');
    try {
      for (const [name, bin] of runtimes) {
        fs.rmSync(log, { force: true });
        const id = `debug-${name}-${process.pid}`;
        const r = spawnSync(bin, ['--root', roots[name], '--debug', '--log', log, 'run', '--bundle', b, id], { encoding: 'utf8' });
        cli(roots[name], ['delete', '--force', id], { runtime: bin });
        expect(r.status, `${name}: ${r.stderr}`).toBe(0);
        const lines = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
        expect(lines.length, name).toBeGreaterThan(0);
        for (const l of lines) expect(l, name).toMatch(/^time="[^"]+" level=(debug|info|warning)/);
        if (name !== 'ocirun') continue;
        const text = lines.join('\n');
        expect(text).toMatch(new RegExp(`${b}/config.json is valid`));
        expect(text).toMatch(new RegExp(`cgroups: .*/${id}`));
        expect(text).toMatch(/namespaces: new pid,network,ipc,uts,mount,cgroup/);
        expect(text).toMatch(/hooks.createRuntime\[0\]: running \[\\"\/bin\/true\\",\\"from-the-hook\\"\]/);
        expect(text).toMatch(/hooks.createRuntime\[0\]: done/);
        // Without --log, the same lines go to stderr.
        const plain = spawnSync(bin, ['--root', roots[name], '--debug', 'run', '--bundle', b, `${id}-2`], { encoding: 'utf8' });
        cli(roots[name], ['delete', '--force', `${id}-2`], { runtime: bin });
        expect(plain.stderr).toMatch(/level=debug msg="create: namespaces:/);
      }
    } finally {
      removeBundle(b);
    }
  });

  it("spec writes runc's namespaces, and a config that adds the cgroup namespace runs", () => {
    const out: Record<string, any> = {};
    for (const [name, bin] of runtimes) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-cli-spec-'));
      try {
        const r = spawnSync(bin, ['spec'], { cwd: dir, encoding: 'utf8' });
        expect(r.status, `${name}: ${r.stderr}`).toBe(0);
        out[name] = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    expect(out.ocirun.linux.namespaces).toEqual(out.runc.linux.namespaces);
    const b = makeBundle('ocirun-cli-spec-', ['sh', '-c', 'cat /proc/self/cgroup']);
    try {
      const config = JSON.parse(fs.readFileSync(path.join(b, 'config.json'), 'utf8'));
      config.linux.namespaces = [...out.ocirun.linux.namespaces, { type: 'cgroup' }];
      fs.writeFileSync(path.join(b, 'config.json'), JSON.stringify(config));
      for (const [name, bin] of runtimes) {
        const id = `spec-${name}-${process.pid}`;
        const r = cli(roots[name], ['run', '--bundle', b, id], { runtime: bin });
        cli(roots[name], ['delete', '--force', id], { runtime: bin });
        expect(r.status, `${name}: ${r.stderr}`).toBe(0);
        expect(r.stdout, name).toMatch(/^0::\/$/m);
      }
    } finally {
      removeBundle(b);
    }
  });

  it('checkpoint and restore: flags checked before CRIU, then CRIU\'s reason; the container keeps running', () => {
    const b = makeBundle('ocirun-cli-cr-', ['sleep', '300']);
    const images = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-cli-cr-img-'));
    try {
      for (const [name, bin] of runtimes) {
        const id = `cr-${name}-${process.pid}`;
        expect(cli(roots[name], ['run', '-d', '--bundle', b, id], { runtime: bin, detached: true }).status, name).toBe(0);
        const cp = (...a: string[]) => cli(roots[name], ['checkpoint', '--image-path', path.join(images, name), ...a, id], { runtime: bin });
        const absolute = cp('--parent-path', '/abs');
        expect(absolute.status, name).toBe(1);
        expect(errorMsg(absolute.stderr), name).toMatch(/--parent-path:? must be relative/);
        const missing = cp('--parent-path', '../no-parent');
        expect(missing.status, name).toBe(1);
        expect(errorMsg(missing.stderr), name).toMatch(/invalid --parent-path: .*no-parent: no such file or directory/);
        // CRIU 3.17 cannot work with this host's kernel (or waits on a loopback
        // that is down): both runtimes fail, or runc is stopped after 15 s, and
        // the container runs on. (Where CRIU works, test/integration/checkpoint.test.ts
        // dumps and restores for real.)
        const plain = name === 'runc' ? cli(roots[name], ['checkpoint', '--image-path', path.join(images, name), id], { runtime: bin, timeout: 15_000 }) : cp();
        expect(plain.status, name).not.toBe(0);
        if (name === 'ocirun') {
          expect(plain.status).toBe(1);
          expect(plain.stderr.trim().split('\n')).toHaveLength(1);
          expect(errorMsg(plain.stderr)).toMatch(/^checkpoint: CRIU cannot work on this host: criu check: .+$/);
        }
        expect(JSON.parse(cli(roots[name], ['state', id], { runtime: bin }).stdout).status, name).toBe('running');
        cli(roots[name], ['delete', '--force', id], { runtime: bin });
        // restore reads the checkpoint's descriptors first.
        const r = cli(roots[name], ['restore', '--bundle', b, '--image-path', path.join(images, 'none'), `${id}-restored`], { runtime: bin });
        expect(r.status, name).toBe(1);
        expect(errorMsg(r.stderr), name).toMatch(/none\/descriptors.json: no such file or directory/);
        expect(cli(roots[name], ['state', `${id}-restored`], { runtime: bin }).status, name).toBe(1);
      }
    } finally {
      removeBundle(b);
      fs.rmSync(images, { recursive: true, force: true });
    }
  });
});

