// Attacks by a process in a container on the runtime's own processes, each
// acted out for real against ocirun and runc in the same test: an attacker
// program (test/fixtures/reach-runtime.c) scans the container's /proc for
// every process that comes and goes while the host runs the runtime's
// commands, and tries to read a host file through its root, to reopen its
// fds for writing, to open a sysctl through a procfs fd of its, to write its
// executable, and to attach to it while it is outside the container's
// cgroups. The secret is a host file of the test's own; the attacker runs
// only inside containers made for the test.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, KOFFI_ADDON, keptAddonName, makeBundle, OCIRUN, project } from './helpers.js';

const RUNC = spawnSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).stdout.trim();
const runtimes = [['ocirun', OCIRUN], ['runc', RUNC]] as const;
type Name = (typeof runtimes)[number][0];
const roots = {} as Record<Name, string>;
let work: string;
let attacker: string;
let secret: string;
let token: string;
let seq = 0;

beforeAll(() => {
  expect(RUNC, 'runc is needed to compare with').not.toBe('');
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-attack-'));
  // Readable by all: a container's root in a user namespace is no one to
  // the host, and must fail to reach the file, not to read it.
  fs.chmodSync(work, 0o755);
  for (const [name] of runtimes) roots[name] = fs.mkdtempSync(path.join(work, `root-${name}-`));
  attacker = path.join(work, 'reach-runtime');
  execFileSync('gcc', ['-static', '-O2', '-o', attacker, path.join(project, 'test/fixtures/reach-runtime.c')]);
  token = crypto.randomBytes(12).toString('hex');
  secret = path.join(work, 'secret');
  fs.writeFileSync(secret, token, { mode: 0o644 });
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const EXTRA_CAPS = ['CAP_SYS_PTRACE', 'CAP_DAC_OVERRIDE'];

/** A bundle running `args` with the attacker at /reach-runtime; `caps` are added to every set. */
function bundle(args: string[], opts: { caps?: string[]; pids?: number } = {}): string {
  const b = makeBundle('ocirun-attack-', args, (c) => {
    for (const set of ['bounding', 'effective', 'permitted']) c.process.capabilities[set] = [...new Set([...c.process.capabilities[set], ...(opts.caps ?? [])])];
    if (opts.pids) c.linux.resources = { ...c.linux.resources, pids: { limit: opts.pids } };
  });
  fs.copyFileSync(attacker, path.join(b, 'rootfs/reach-runtime'));
  fs.chmodSync(path.join(b, 'rootfs/reach-runtime'), 0o755);
  return b;
}

interface Report {
  hits: string[];
  seen: number;
}

/**
 * Runs the attacker for `seconds` in container `id` (with `exec`), calls
 * `act` once it is scanning, and returns what it reached.
 */
async function attack(runtime: string, root: string, id: string, seconds: number, act: () => void, targets: string[] = []): Promise<Report> {
  // Its output goes to a file: `act` blocks this thread, and an attacker
  // blocked on a full pipe could hold a process it has seized.
  const outFile = path.join(work, `attack-${++seq}.out`);
  const outFd = fs.openSync(outFile, 'w');
  const p = spawn(runtime, ['--root', root, 'exec', id, '/reach-runtime', secret, String(seconds), ...targets], { stdio: ['ignore', outFd, outFd] });
  fs.closeSync(outFd);
  const exited = new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)));
  const read = () => fs.readFileSync(outFile, 'utf8');
  for (let i = 0; i < 200 && !read().includes('ready\n'); i++) await new Promise((r) => setTimeout(r, 25));
  expect(read(), 'the attacker did not start').toContain('ready\n');
  act();
  const code = await exited;
  const out = read();
  expect(code, out).toBe(0);
  const m = /hits (\d+) seen (\d+)/.exec(out);
  expect(m, out).not.toBeNull();
  return { hits: [...new Set(out.split('\n').filter((l) => l.startsWith('hit ')))], seen: Number(m![2]) };
}

/** Twelve containers of `member`'s bundle created beside pod container `id` (in its pid namespace), and deleted. */
function createMembers(bin: string, root: string, id: string, member: string): void {
  for (let i = 0; i < 12; i++) {
    const m = `${id}-m${i}`;
    const r = cli(root, ['create', '--bundle', member, m], { runtime: bin, detached: true });
    expect(r.status, r.stderr).toBe(0);
    expect(cli(root, ['delete', '--force', m], { runtime: bin }).status).toBe(0);
  }
}

describe('a process in the container', () => {
  it('cannot reach the runtime through the processes that set an exec up (host files, fds, sysctls, its binary, a process outside the cgroups)', async () => {
    const reports = {} as Record<Name, Report>;
    for (const [name, bin] of runtimes) {
      // CAP_SYS_PTRACE and CAP_DAC_OVERRIDE (a debugging image), and a pids
      // limit small enough that ocirun moves an exec'd process into the
      // cgroups only once it is set up.
      const b = bundle(['sleep', '1000'], { caps: EXTRA_CAPS, pids: 100 });
      const id = `attack-exec-${process.pid}-${++seq}`;
      const root = roots[name];
      expect(cli(root, ['run', '-d', '--bundle', b, id], { runtime: bin, detached: true }).status).toBe(0);
      try {
        const hostFile = path.join(work, `control-${name}`);
        reports[name] = await attack(bin, root, id, 8, () => {
          // A control the attacker must catch: a process handed a host file
          // it could reopen for writing (--preserve-fds), so a scan that
          // reaches nothing is a scan that works.
          const fd = fs.openSync(hostFile, 'w');
          try {
            const pidFile = path.join(work, `control-${name}.pid`);
            const r = spawnSync(bin, ['--root', root, 'exec', '-d', '--pid-file', pidFile, '--preserve-fds', '1', id, 'sleep', '2'], { stdio: ['ignore', 'ignore', 'pipe', fd], encoding: 'utf8' });
            expect(r.status, r.stderr).toBe(0);
          } finally {
            fs.closeSync(fd);
          }
          for (let i = 0; i < 30; i++) expect(cli(root, ['exec', id, 'true'], { runtime: bin }).status).toBe(0);
        });
      } finally {
        cli(root, ['delete', '--force', id], { runtime: bin });
      }
    }
    for (const [name] of runtimes) {
      const r = reports[name];
      // The control: its host file, from inside the container's pid namespace.
      expect(r.hits.some((h) => h.startsWith('hit fd-write ') && h.includes(`control-${name}`)), `${name}: ${r.hits.join('; ')}`).toBe(true);
    }
    const real = (name: Name) => reports[name].hits.filter((h) => !h.includes(`control-${name}`));
    expect(real('ocirun')).toEqual([]);
    // runc 1.1.5, for the record: with CAP_SYS_PTRACE a process of the
    // container can attach to runc's setns process before it has joined
    // the cgroups (it is not dumpable, which only stops those without the
    // capability). Nothing else of the host is reached.
    console.info(`runc ${spawnSync(RUNC, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]}: ${real('runc').length} hits: ${[...new Set(real('runc').map((h) => h.split(' ')[1]))].join(', ') || 'none'}`);
    expect(real('runc').filter((h) => !h.startsWith('hit ptrace '))).toEqual([]);
  });

  it("cannot reach a created container's init through another container in its pid namespace (a pod), without CAP_SYS_PTRACE", async () => {
    const reports = {} as Record<Name, Report>;
    for (const [name, bin] of runtimes) {
      const root = roots[name];
      const id = `attack-pod-${process.pid}-${++seq}`;
      expect(cli(root, ['run', '-d', '--bundle', bundle(['sleep', '1000'], { caps: ['CAP_DAC_OVERRIDE'] }), id], { runtime: bin, detached: true }).status).toBe(0);
      try {
        const pid = JSON.parse(cli(root, ['state', id], { runtime: bin }).stdout).pid;
        const member = makeBundle('ocirun-attack-member-', ['true'], (c) => {
          c.linux.namespaces = c.linux.namespaces.map((n: { type: string }) => (n.type === 'pid' ? { type: 'pid', path: `/proc/${pid}/ns/pid` } : n));
        });
        reports[name] = await attack(bin, root, id, 6, () => createMembers(bin, root, id, member));
      } finally {
        cli(root, ['delete', '--force', id], { runtime: bin });
      }
    }
    expect(reports.ocirun.seen).toBeGreaterThanOrEqual(12);
    expect(reports.ocirun.hits).toEqual([]);
    expect(reports.runc.hits).toEqual([]);
  });

  // The user namespace's maps: the usual one, and one that also maps the
  // host's root (uid and gid 0), which lets the namespace's root read files
  // host root owns: the engine's interpreter must belong to an id it does not map.
  const podMaps = {
    usual: [{ containerID: 0, hostID: 100000, size: 65536 }],
    'with the host\'s root mapped': [{ containerID: 0, hostID: 100000, size: 65536 }, { containerID: 65536, hostID: 0, size: 1 }],
  };
  it.each(Object.keys(podMaps))("cannot enter a new container's init while it sets up, from a pod sharing its user and pid namespaces, with CAP_SYS_PTRACE there (maps: %s)", async (maps) => {
    // Kubernetes' user-namespaced pods with a shared process namespace: the
    // pod's first container (A) made the user namespace, and a process in
    // it holds CAP_SYS_PTRACE (and CAP_SYS_ADMIN) there. The next
    // container (B) joins A's user and pid namespaces, so its init appears
    // in A's /proc while it sets up, rooted in the host's mounts until its
    // pivot_root. Reaching it would give A the host's / (the secret), its
    // mount namespace, its fds.
    const userns = (c: any) => {
      c.linux.uidMappings = podMaps[maps as keyof typeof podMaps];
      c.linux.gidMappings = podMaps[maps as keyof typeof podMaps];
    };
    const ownedByUserns = (b: string) => {
      fs.chmodSync(b, 0o755);
      execFileSync('chown', ['-R', '100000:100000', path.join(b, 'rootfs')]);
    };
    const podA = bundle(['sleep', '1000'], { caps: [...EXTRA_CAPS, 'CAP_SYS_ADMIN'] });
    const config = JSON.parse(fs.readFileSync(path.join(podA, 'config.json'), 'utf8'));
    config.linux.namespaces.push({ type: 'user' });
    userns(config);
    fs.writeFileSync(path.join(podA, 'config.json'), JSON.stringify(config));
    ownedByUserns(podA);
    const reports = {} as Record<Name, Report>;
    for (const [name, bin] of runtimes) {
      const root = roots[name];
      const id = `attack-userns-pod-${process.pid}-${++seq}`;
      const started = cli(root, ['run', '-d', '--bundle', podA, id], { runtime: bin, detached: true });
      expect(started.status, started.stderr).toBe(0);
      try {
        const pid = JSON.parse(cli(root, ['state', id], { runtime: bin }).stdout).pid;
        const member = makeBundle('ocirun-attack-member-', ['true'], (c) => {
          c.linux.namespaces = [...c.linux.namespaces.filter((n: { type: string }) => n.type !== 'pid'), { type: 'pid', path: `/proc/${pid}/ns/pid` }, { type: 'user', path: `/proc/${pid}/ns/user` }];
          userns(c);
        });
        ownedByUserns(member);
        reports[name] = await attack(bin, root, id, 8, () => createMembers(bin, root, id, member));
      } finally {
        cli(root, ['delete', '--force', id], { runtime: bin });
      }
    }
    expect(reports.ocirun.seen).toBeGreaterThanOrEqual(12);
    expect(reports.ocirun.hits).toEqual([]);
    expect(reports.runc.hits).toEqual([]);
  });

  it('refuses a user namespace that maps uid and gid 4294967294, the owner of the engine\'s interpreter copy, in one line, leaving nothing (runc runs it)', () => {
    const maps = [{ containerID: 0, hostID: 100000, size: 65536 }, { containerID: 65536, hostID: 4294967294, size: 1 }];
    const b = makeBundle('ocirun-attack-maps-', ['id'], (c) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = maps;
      c.linux.gidMappings = maps;
    });
    fs.chmodSync(b, 0o755);
    execFileSync('chown', ['-R', '100000:100000', path.join(b, 'rootfs')]);
    for (const [name, bin] of runtimes) {
      const id = `attack-maps-${process.pid}-${++seq}`;
      const r = cli(roots[name], ['run', '--bundle', b, id], { runtime: bin });
      try {
        if (name === 'runc') {
          expect(r.status, r.stderr).toBe(0);
          continue;
        }
        expect(r.status).toBe(1);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(/the user namespace maps uid and gid 4294967294, which must stay unmapped/);
        expect(fs.existsSync(path.join(roots[name], id))).toBe(false);
        expect(fs.readdirSync('/sys/fs/cgroup/pids').filter((d) => d === id)).toEqual([]);
      } finally {
        cli(roots[name], ['delete', '--force', id], { runtime: bin });
      }
    }
  });

  it("cannot reach the host through the init of a created container, waiting for start (its procfs handle, its fds)", async () => {
    const reports = {} as Record<Name, Report>;
    for (const [name, bin] of runtimes) {
      const root = roots[name];
      const id = `attack-created-${process.pid}-${++seq}`;
      expect(cli(root, ['create', '--bundle', bundle(['true'], { caps: EXTRA_CAPS }), id], { runtime: bin, detached: true }).status).toBe(0);
      try {
        reports[name] = await attack(bin, root, id, 1, () => {}, ['init']);
      } finally {
        cli(root, ['delete', '--force', id], { runtime: bin });
      }
    }
    expect(reports.ocirun.hits).toEqual([]);
    expect(reports.runc.hits).toEqual([]);
  });

  it("cannot take an exec'd process's sync socket before its exec (to forge ocirun's messages, or hold it so that exec never ends)", async () => {
    const reports = {} as Record<Name, Report>;
    const statuses = {} as Record<Name, (number | null)[]>;
    for (const [name, bin] of runtimes) {
      const root = roots[name];
      const id = `attack-grab-${process.pid}-${++seq}`;
      expect(cli(root, ['run', '-d', '--bundle', bundle(['sleep', '1000']), id], { runtime: bin, detached: true }).status).toBe(0);
      try {
        statuses[name] = [];
        reports[name] = await attack(bin, root, id, 4, () => {
          for (let i = 0; i < 20; i++) statuses[name].push(cli(root, ['exec', id, 'true'], { runtime: bin, timeout: 10_000 }).status);
        }, ['grab']);
      } finally {
        cli(root, ['delete', '--force', id], { runtime: bin });
      }
    }
    // The forked process is not dumpable until its execve: a process of the
    // container without CAP_SYS_PTRACE cannot take its fds.
    expect(reports.ocirun.hits).toEqual([]);
    expect(statuses.ocirun).toEqual(Array(20).fill(0));
    expect(reports.runc.hits).toEqual([]);
  });

  it('with CAP_SYS_PTRACE, takes the sync socket but cannot make exec hang or act on a forged message', async () => {
    const root = roots.ocirun;
    const id = `attack-grab-ptrace-${process.pid}-${++seq}`;
    expect(cli(root, ['run', '-d', '--bundle', bundle(['sleep', '1000'], { caps: EXTRA_CAPS }), id], { detached: true }).status).toBe(0);
    const sentinel = spawn('sleep', ['60']);
    try {
      const results: { status: number | null; ms: number; stderr: string }[] = [];
      const report = await attack(OCIRUN, root, id, 4, () => {
        for (let i = 0; i < 20; i++) {
          const t = Date.now();
          const r = cli(root, ['exec', id, 'true'], { timeout: 10_000 });
          results.push({ status: r.status, ms: Date.now() - t, stderr: r.stderr });
        }
      }, ['grab']);
      // Each exec ends: the program ran (0), or the forged line failed it (255), never the forger's words.
      for (const r of results) {
        expect([0, 255], r.stderr).toContain(r.status);
        expect(r.ms).toBeLessThan(5000);
        expect(r.stderr).not.toMatch(/forged by a process of the container/);
      }
      console.info(`sync socket taken ${report.hits.length} times in 20 execs; statuses ${results.map((r) => r.status).join(',')}`);
      expect(cli(root, ['kill', id, 'KILL']).status).toBe(0);
      expect(sentinel.exitCode).toBeNull();
    } finally {
      sentinel.kill();
      cli(root, ['delete', '--force', id]);
    }
  });

  it("cannot plant code for the runtime's next command through the host's /dev/shm (--ipc=host)", () => {
    // Until this round the single file kept a copy of koffi's addon in
    // /dev/shm/.ocirun-UID and loaded it when its owner, mode and size
    // were right. The planted library says so on the host if it is loaded.
    const marker = path.join(work, 'planted-library-ran');
    const lib = path.join(work, 'planted.so');
    const src = path.join(work, 'planted.c');
    // It notes which executable loaded it (other checkouts' older builds on this machine may, too).
    fs.writeFileSync(src, [
      '#include <fcntl.h>',
      '#include <unistd.h>',
      '__attribute__((constructor)) static void ran(void) {',
      '  char exe[4096]; ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);',
      `  int fd = open("${marker}", O_CREAT | O_WRONLY | O_APPEND, 0600);`,
      '  if (n > 0 && fd >= 0) { exe[n++] = 10; write(fd, exe, n); }',
      '  close(fd);',
      '}',
      '',
    ].join('\n'));
    execFileSync('gcc', ['-shared', '-fPIC', '-o', lib, src]);
    // As the old copy was checked by size: the addon's size, padded with zeros.
    const padded = Buffer.alloc(fs.statSync(KOFFI_ADDON).size);
    fs.readFileSync(lib).copy(padded);
    const names = [...new Set(fs.readFileSync(path.join(project, 'build/ocirun')).toString('latin1').match(/koffi-[0-9a-z]+\.node/g) ?? [])];
    expect(names.length, 'the embedded addon is named in build/ocirun').toBeGreaterThan(0);
    // And under the name of today's kept copy, in directories as a runtime
    // directory and the runtime's own are made (0755, 0700, and the file
    // 0500, all root's, as the container's root is the host's), for a host
    // root whose XDG_RUNTIME_DIR names that directory.
    const kept = keptAddonName();
    const plantKept = `mkdir -p -m 755 /dev/shm/rt && mkdir -p -m 700 /dev/shm/rt/ocirun-engine && rm -f /dev/shm/rt/ocirun-engine/${kept} && cp /planted /dev/shm/rt/ocirun-engine/${kept} && chmod 500 /dev/shm/rt/ocirun-engine/${kept}`;
    const hostEnv = { XDG_RUNTIME_DIR: '/dev/shm/rt' };
    for (const [name, bin] of runtimes) {
      const b = makeBundle('ocirun-attack-shm-', ['sh', '-c', `mkdir -p /dev/shm/.ocirun-0 && chmod 700 /dev/shm/.ocirun-0 && for n in ${names.join(' ')}; do rm -f /dev/shm/.ocirun-0/$n; cp /planted /dev/shm/.ocirun-0/$n && chmod 555 /dev/shm/.ocirun-0/$n || exit 1; done && ${plantKept}`], (c) => {
        c.mounts = [...c.mounts.filter((m: { destination: string }) => m.destination !== '/dev/shm'), { destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rw'] }];
        for (const set of ['bounding', 'effective', 'permitted']) c.process.capabilities[set].push('CAP_DAC_OVERRIDE');
      });
      fs.writeFileSync(path.join(b, 'rootfs/planted'), padded);
      try {
        const id = `attack-shm-${process.pid}-${++seq}`;
        const r = cli(roots[name], ['run', '--bundle', b, id], { runtime: bin });
        expect(r.status, `${name}: ${r.stderr}`).toBe(0);
        // The next commands on the host.
        expect(cli(roots[name], ['list'], { runtime: bin, env: hostEnv }).status).toBe(0);
        expect(cli(roots[name], ['delete', '--force', id], { runtime: bin, env: hostEnv }).status).toBe(0);
        expect(cli(roots[name], ['delete', 'no-such-container'], { runtime: bin, env: hostEnv }).status).toBe(1);
        const loadedBy = fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8').split('\n') : [];
        // The executable a command runs: bin/ocirun execs its checkout's build/ocirun.
        const runs = [bin, path.join(path.dirname(path.dirname(bin)), 'build/ocirun')];
        expect(loadedBy.filter((exe) => runs.includes(exe)), `${name} loaded the planted library`).toEqual([]);
      } finally {
        for (const n of names) fs.rmSync(`/dev/shm/.ocirun-0/${n}`, { force: true });
        fs.rmSync('/dev/shm/rt', { recursive: true, force: true });
      }
    }
  });
});
