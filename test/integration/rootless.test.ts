// Rootless: an unprivileged user (OCIRUN_TEST_USER, default ocirun-test,
// with /etc/subuid and /etc/subgid ranges; scripts/setup-and-test.sh makes
// it) runs containers with ocirun directly and under rootless podman, each
// scenario beside the same one under Debian's runc in the same run.
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfsTar, captureWrapper, keepInCorpus, OCIRUN, processesTagged, project, type CaptureWrapper } from './helpers.js';
import { Terminal } from './tmux.js';

const USER = process.env.OCIRUN_TEST_USER ?? 'ocirun-test';
const runc = execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim();
const RUNTIMES = { ocirun: OCIRUN, runc };
type Name = keyof typeof RUNTIMES;

const idOf = (flag: string) => spawnSync('id', [flag, USER], { encoding: 'utf8' });
const present = idOf('-u').status === 0;
// Where it must run (CI=true) a missing user is a failure, not a skip.
const suite = present || process.env.CI === 'true' ? describe : describe.skip;
const uid = present ? Number(idOf('-u').stdout) : -1;
const gid = present ? Number(idOf('-g').stdout) : -1;

let tmp: string;
let xdg: string;
let home: string;
beforeAll(() => {
  if (!present) throw new Error(`the test user ${USER} does not exist (scripts/setup-and-test.sh creates it)`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-rootless-'));
  fs.chmodSync(tmp, 0o755);
  xdg = path.join(tmp, 'xdg');
  home = path.join(tmp, 'home');
  for (const d of [xdg, home]) {
    fs.mkdirSync(d, { mode: 0o700 });
    fs.chownSync(d, uid, gid);
  }
  // A checkout the user cannot reach (under /root, say): the single file, copied where it can.
  if (asUser(['test', '-x', OCIRUN]).status !== 0) {
    RUNTIMES.ocirun = path.join(tmp, 'ocirun');
    fs.copyFileSync(path.join(project, 'build/ocirun'), RUNTIMES.ocirun);
    fs.chmodSync(RUNTIMES.ocirun, 0o755);
  }
});
afterAll(() => {
  if (!tmp) return;
  // podman's storage holds files of the user's subordinate ids: its own tool removes them.
  asUser(['podman', ...PODMAN_GLOBAL, 'system', 'reset', '-f'], { timeout: 60_000 });
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Runs a command as the test user, with its runtime dir and home under this run's temp dir. */
function asUser(argv: string[], opts: { cwd?: string; env?: Record<string, string>; timeout?: number; detached?: boolean } = {}): SpawnSyncReturns<string> {
  const env = { XDG_RUNTIME_DIR: xdg, HOME: home, PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', ...opts.env };
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return spawnSync('runuser', ['-u', USER, '--', 'env', '-C', opts.cwd ?? home, ...envArgs, ...argv], {
    encoding: 'utf8',
    timeout: opts.timeout ?? 30_000,
    // A command that leaves the container running gets no pipes of ours to hold open.
    stdio: opts.detached ? 'ignore' : ['ignore', 'pipe', 'pipe'],
  });
}

/** A bundle owned by the user: busybox, and the runtime's own `spec --rootless`. */
function userBundle(name: Name, tag: string, edit: (config: any) => void): { dir: string; spec: any } {
  const dir = path.join(tmp, `${name}-${tag}`);
  fs.mkdirSync(path.join(dir, 'rootfs'), { recursive: true });
  busyboxRootfsTar(`${dir}.tar`);
  execFileSync('tar', ['-C', path.join(dir, 'rootfs'), '-xf', `${dir}.tar`]);
  fs.rmSync(`${dir}.tar`);
  execFileSync('chown', ['-R', `${uid}:${gid}`, dir]);
  const r = asUser([RUNTIMES[name], 'spec', '--rootless'], { cwd: dir });
  if (r.status !== 0) throw new Error(`${name} spec --rootless: ${r.stderr}`);
  const file = path.join(dir, 'config.json');
  const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
  const config = structuredClone(spec);
  config.process.terminal = false;
  edit(config);
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  return { dir, spec };
}

const stateDirOf = (name: Name, id: string) => path.join(xdg, name, id);

/** What the host holds of a container of the user's: its state dir, its processes. */
function leftovers(name: Name, id: string): string[] {
  return [...(fs.existsSync(stateDirOf(name, id)) ? [`state dir ${stateDirOf(name, id)}`] : []), ...processesTagged((tag) => tag === id)];
}

/** A runtime's error lines (level=error), its warnings left out. */
const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.includes('level=error'));

async function directScenario(name: Name) {
  const bin = RUNTIMES[name];
  const out: Record<string, unknown> = {};
  const view = 'id; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; ls /dev | tr "\\n" " "; echo; grep -E "^(CapEff|NoNewPrivs):" /proc/self/status; touch /proc/sys/x 2>/dev/null || echo proc-sys-ro';
  const { dir, spec } = userBundle(name, 'direct', (c) => (c.process.args = ['sh', '-c', view]));
  out.spec = {
    namespaces: spec.linux.namespaces.map((n: any) => n.type).sort(),
    uidMappings: spec.linux.uidMappings,
    gidMappings: spec.linux.gidMappings,
    sys: spec.mounts.find((m: any) => m.destination === '/sys'),
    devptsOptions: spec.mounts.find((m: any) => m.destination === '/dev/pts').options,
    resources: spec.linux.resources ?? null,
  };
  const run = asUser([bin, 'run', `${name}-run`], { cwd: dir });
  out.run = { status: run.status, stdout: run.stdout, errors: errorLines(run.stderr) };
  out.afterRun = leftovers(name, `${name}-run`);

  // The lifecycle, detached.
  const id = `${name}-life`;
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  config.process.args = ['sleep', '300'];
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  out.create = asUser([bin, 'create', id], { cwd: dir, detached: true }).status;
  out.stateDirMade = fs.existsSync(stateDirOf(name, id));
  out.start = asUser([bin, 'start', id]).status;
  const state = JSON.parse(asUser([bin, 'state', id]).stdout || '{}');
  out.state = { status: state.status, owner: state.pid ? fs.statSync(`/proc/${state.pid}`).uid : undefined };
  out.listed = asUser([bin, 'list', '-q']).stdout.split('\n').includes(id);
  const exec = asUser([bin, 'exec', id, 'sh', '-c', 'id; echo $PPID']);
  out.exec = { status: exec.status, stdout: exec.stdout };
  out.execUnmappedUser = asUser([bin, 'exec', '--user', '1000:1000', id, 'id']).status;
  // No cgroup of its own: what needs one fails, as runc's does.
  out.withoutCgroup = Object.fromEntries(
    [['ps', id], ['pause', id], ['update', '--memory', '10m', id]].map((a) => {
      const r = asUser([bin, ...a]);
      return [a[0], { status: r.status, oneErrorLine: errorLines(r.stderr).length === 1 }];
    }),
  );
  out.kill = asUser([bin, 'kill', id, 'KILL']).status;
  for (let i = 0; i < 100 && JSON.parse(asUser([bin, 'state', id]).stdout || '{}').status !== 'stopped'; i++) await new Promise((r) => setTimeout(r, 50));
  out.delete = asUser([bin, 'delete', id]).status;
  out.afterDelete = leftovers(name, id);

  // run -d with a console socket: the pty's master goes to the socket's peer.
  config.process.terminal = true;
  config.process.args = ['sh', '-c', 'tty; id -u'];
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  const sock = path.join(home, `${name}.sock`);
  const cid = `${name}-console`;
  const consoleRun = asUser(['python3', path.join(project, 'conformance/console-receiver.py'), sock, '--', bin, 'create', '--console-socket', sock, cid, '--', bin, 'start', cid], { cwd: dir, timeout: 60_000 });
  out.console = consoleRun.stdout.replace(/\r/g, '').trim();
  asUser([bin, 'delete', '--force', cid]);
  out.afterConsole = leftovers(name, cid);
  return out;
}

/** A foreground `run` on a real terminal (tmux), the user typing into the container's shell. */
async function terminalScenario(name: Name) {
  const { dir } = userBundle(name, 'tty', (c) => {
    c.process.terminal = true;
    c.process.args = ['sh'];
  });
  const env = `XDG_RUNTIME_DIR=${xdg} HOME=${home}`;
  const t = new Terminal(`rootless-${name}`, `runuser -u ${USER} -- env -C ${dir} ${env} ${RUNTIMES[name]} run ${name}-tty; echo EXIT=$?`);
  try {
    await t.waitFor(/# $/m);
    t.type('echo T=$(tty) U=$(id -u); exit 3', 'Enter');
    const [, tty, u] = await t.waitFor(/^T=(\S+) U=(\d+)$/m);
    const [, exit] = await t.waitFor(/^EXIT=(\d+)$/m);
    return { tty, u, exit, leftovers: leftovers(name, `${name}-tty`) };
  } finally {
    t.close();
  }
}

suite('rootless, directly', () => {
  it('spec --rootless, run, create/start/state/list/exec/kill/delete, a console socket, as runc does', async () => {
    const mine = await directScenario('ocirun');
    const theirs = await directScenario('runc');
    expect(mine).toEqual(theirs);
    expect(mine).toMatchObject({
      spec: {
        namespaces: ['ipc', 'mount', 'pid', 'user', 'uts'],
        uidMappings: [{ containerID: 0, hostID: uid, size: 1 }],
        gidMappings: [{ containerID: 0, hostID: gid, size: 1 }],
        sys: { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] },
        resources: null,
      },
      run: { status: 0, errors: [] },
      afterRun: [],
      create: 0,
      stateDirMade: true,
      start: 0,
      state: { status: 'running', owner: uid },
      listed: true,
      exec: { status: 0 },
      withoutCgroup: { ps: { status: 1, oneErrorLine: true }, pause: { status: 1, oneErrorLine: true }, update: { status: 1, oneErrorLine: true } },
      kill: 0,
      delete: 0,
      afterDelete: [],
      console: '/dev/pts/0\n0\ncreate=0 start=0',
      afterConsole: [],
    });
    expect(mine.execUnmappedUser).not.toBe(0);
    expect((mine.spec as any).devptsOptions.some((o: string) => /^[ug]id=/.test(o))).toBe(false);
    expect((mine.run as any).stdout).toMatch(new RegExp(`^uid=0 gid=0 groups=0\\n +0 +${uid} +1\\n +0 +${gid} +1\\ndeny\\n.*\\bnull\\b.*\\bzero\\b`, 's'));
    expect((mine.exec as any).stdout).toMatch(/^uid=0 gid=0 groups=0\n/);
  }, 180_000);

  it('a redundant /dev/ptmx in linux.devices: the link to the devpts instance, as runc (dev.bats)', () => {
    const outcome = (name: Name) => {
      const { dir } = userBundle(name, 'ptmx', (c) => {
        c.linux.devices = [{ path: '/dev/ptmx', type: 'c', major: 5, minor: 2 }];
        c.process.args = ['sh', '-c', 'readlink /dev/ptmx; ls -lLn /dev/ptmx'];
      });
      const id = `${name}-ptmx`;
      const r = asUser([RUNTIMES[name], 'run', id], { cwd: dir });
      return { status: r.status, stdout: r.stdout.replace(/ +/g, ' ').replace(/ \w{3} +\d+ [\d:]+ /, ' <date> '), errors: errorLines(r.stderr), leftovers: leftovers(name, id) };
    };
    const mine = outcome('ocirun');
    const theirs = outcome('runc');
    expect(mine).toEqual(theirs);
    expect(mine.status).toBe(0);
    expect(mine.stdout).toMatch(/^pts\/ptmx\ncrw-rw-rw- 1 0 0 5, 2 <date> \/dev\/ptmx\n$/);
  }, 60_000);

  it('runs a shell on a real terminal, exit status back, as runc does', async () => {
    const mine = await terminalScenario('ocirun');
    const theirs = await terminalScenario('runc');
    expect(mine).toEqual(theirs);
    expect(mine).toEqual({ tty: '/dev/pts/0', u: '0', exit: '3', leftovers: [] });
  }, 120_000);
});

suite('rootless, bad input: exit 1, one line naming it, nothing left', () => {
  /** One runtime's failed run: its status, its error line, what is left. */
  function failing(name: Name, tag: string, edit: (c: any) => void, env?: Record<string, string>) {
    const { dir } = userBundle(name, tag, (c) => {
      c.process.args = ['true'];
      edit(c);
    });
    const id = `${name}-${tag}`;
    const r = asUser([RUNTIMES[name], 'run', id], { cwd: dir, env });
    return { status: r.status, errors: errorLines(r.stderr), leftovers: leftovers(name, id) };
  }

  it('a uid mapping outside the user subordinate range: newuidmap refuses it', () => {
    const edit = (c: any) => c.linux.uidMappings.push({ containerID: 1, hostID: 10, size: 5 });
    const mine = failing('ocirun', 'badmap', edit);
    const theirs = failing('runc', 'badmap', edit);
    expect(theirs.status).not.toBe(0);
    expect(mine.status).toBe(1);
    expect(mine.errors).toHaveLength(1);
    expect(mine.errors[0]).toMatch(/write id map: newuidmap \d+: .*(not allowed|range)/);
    expect(mine.leftovers).toEqual([]);
  });

  it('mappings that need newuidmap when it is not installed', () => {
    const edit = (c: any) => c.linux.uidMappings.push({ containerID: 1, hostID: 100_000, size: 5 });
    const mine = failing('ocirun', 'nohelper', edit, { PATH: '/nonexistent' });
    const theirs = failing('runc', 'nohelper', edit, { PATH: '/nonexistent' });
    expect(theirs.status).not.toBe(0);
    expect(mine.status).toBe(1);
    expect(mine.errors).toHaveLength(1);
    expect(mine.errors[0]).toMatch(/newuidmap was not found \(install the uidmap package\)/);
    expect(mine.leftovers).toEqual([]);
  });

  it('a cgroupsPath the user cannot create', () => {
    const edit = (c: any) => (c.linux.cgroupsPath = `/ocirun-rootless-${process.pid}`);
    const mine = failing('ocirun', 'cgpath', edit);
    const theirs = failing('runc', 'cgpath', edit);
    expect(theirs.status).not.toBe(0);
    expect(mine.status).toBe(1);
    expect(mine.errors).toHaveLength(1);
    expect(mine.errors[0]).toMatch(/create cgroup: \/sys\/fs\/cgroup\/.*ocirun-rootless-\d+: EACCES/);
    expect(mine.leftovers).toEqual([]);
  });

  it("joining a namespace of root's (pid 1's network namespace)", () => {
    const edit = (c: any) => c.linux.namespaces.push({ type: 'network', path: '/proc/1/ns/net' });
    const mine = failing('ocirun', 'rootns', edit);
    const theirs = failing('runc', 'rootns', edit);
    expect(theirs.status).not.toBe(0);
    expect(mine.status).toBe(1);
    expect(mine.errors).toHaveLength(1);
    expect(mine.errors[0]).toMatch(/linux\.namespaces\[\d+\]\.path: \/proc\/1\/ns\/net: stat: EACCES/);
    expect(mine.leftovers).toEqual([]);
  });

  it('a memory limit without a cgroup to set it in', () => {
    const edit = (c: any) => (c.linux.resources = { memory: { limit: 64 * 2 ** 20 } });
    const mine = failing('ocirun', 'limit', edit);
    const theirs = failing('runc', 'limit', edit);
    expect(theirs.status).not.toBe(0);
    expect(theirs.errors.join('\n')).toMatch(/cannot set memory limit: container could not join or create cgroup/);
    expect(mine.status).toBe(1);
    expect(mine.errors).toHaveLength(1);
    expect(mine.errors[0]).toMatch(/cannot set memory limit: container could not join or create cgroup/);
    expect(mine.leftovers).toEqual([]);
  });
});

// A hybrid host (v1 controllers, v2 mounted at /sys/fs/cgroup/unified) with
// a cgroup delegated to the user on every v1 hierarchy, as runc's suite sets
// it up for its "cgroup" rootless feature; the v2 mount is not delegated
// (nobody does on a hybrid host). runc's cgroupfs manager joins the v2 one
// only where it can (its NameGroup): the container runs, its processes in
// the delegated v1 cgroups and in the caller's v2 one.
const v1Mounts = fs
  .readFileSync('/proc/self/mountinfo', 'utf8')
  .split('\n')
  .map((l) => l.split(' - ')[1]?.split(' ')[0] === 'cgroup' ? l.split(' ')[4] : undefined)
  .filter((m): m is string => m !== undefined);
const hybrid = v1Mounts.length > 0 && fs.existsSync('/sys/fs/cgroup/unified/cgroup.controllers');
const hybridSuite = (present && hybrid) || process.env.CI === 'true' ? describe : describe.skip;

hybridSuite('rootless on a hybrid host, with a delegated v1 cgroup', () => {
  const base = `ocirun-rootless-deleg-${process.pid}`;
  /** Cgroups root made for a test, to be removed (children first) afterwards. */
  const madeByRoot: string[] = [];
  /** The test process's cgroups: "hierarchy id:controllers" → path. What runuser's children start in. */
  const ownCgroups = () => Object.fromEntries(fs.readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n').map((l) => [l.slice(0, l.lastIndexOf(':')), l.slice(l.lastIndexOf(':') + 1)]));
  const cgroupsOf = (pid: number) => Object.fromEntries(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n').map((l) => [l.slice(0, l.lastIndexOf(':')), l.slice(l.lastIndexOf(':') + 1)]));
  /** Every cgroup directory named `leaf` under any hierarchy (v1 and the v2 mount). */
  const dirsNamed = (leaf: string) => [...v1Mounts, '/sys/fs/cgroup/unified'].flatMap((m) => execFileSync('find', [m, '-maxdepth', '3', '-type', 'd', '-name', leaf], { encoding: 'utf8' }).split('\n').filter(Boolean));

  beforeAll(() => {
    if (!hybrid) throw new Error('this host is not cgroup v1 hybrid (v1 controllers and /sys/fs/cgroup/unified): the delegated-cgroup case cannot run');
    for (const m of v1Mounts) {
      const d = path.join(m, base);
      fs.mkdirSync(d);
      madeByRoot.push(d);
      for (const f of ['cpuset.cpus', 'cpuset.mems']) if (fs.existsSync(path.join(d, f))) fs.writeFileSync(path.join(d, f), fs.readFileSync(path.join(m, f)));
      for (const f of ['', 'cgroup.procs', 'tasks']) fs.chownSync(path.join(d, f), uid, gid);
    }
  });
  afterAll(() => {
    for (const d of madeByRoot.reverse()) {
      try {
        fs.rmdirSync(d);
      } catch {
        /* gone already, or a runtime left something in it: the test says so */
      }
    }
  });

  /** A detached container of the user's: where its init is, then what is left once it is deleted. */
  async function scenario(name: Name, tag: string, edit: (c: any) => void, limited = false) {
    const bin = RUNTIMES[name];
    const id = `${name}-${tag}-${process.pid}`;
    const { dir } = userBundle(name, `deleg-${tag}`, (c) => {
      c.process.args = ['sleep', '300'];
      edit(c);
    });
    const run = asUser([bin, 'run', '-d', id], { cwd: dir, detached: true });
    const state = JSON.parse(asUser([bin, 'state', id]).stdout || '{}');
    const cgroups = state.pid ? cgroupsOf(state.pid) : {};
    const pidsMax = limited && state.pid ? fs.readFileSync(path.join('/sys/fs/cgroup/pids', cgroups[Object.keys(cgroups).find((k) => k.split(':')[1].split(',').includes('pids'))!], 'pids.max'), 'utf8').trim() : undefined;
    const kill = asUser([bin, 'kill', id, 'KILL']).status;
    for (let i = 0; i < 100 && JSON.parse(asUser([bin, 'state', id]).stdout || '{}').status !== 'stopped'; i++) await new Promise((r) => setTimeout(r, 50));
    const del = asUser([bin, 'delete', id]).status;
    return { run: run.status, status: state.status, cgroups, pidsMax, kill, delete: del, leftovers: leftovers(name, id) };
  }

  it('a cgroupsPath in the delegated cgroup: the v1 hierarchies joined, with limits; the v2 mount left alone; nothing left', async () => {
    const outcome = async (name: Name) => {
      const r = await scenario(name, 'cgpath', (c) => {
        c.linux.cgroupsPath = `/${base}/${name}-cgpath-${process.pid}`;
        c.linux.resources = { pids: { limit: 50 } };
      }, true);
      // Each runtime names its own path: compared as "<path>".
      return { ...r, cgroupDirsLeft: dirsNamed(`${name}-cgpath-${process.pid}`), cgroups: Object.fromEntries(Object.entries(r.cgroups).map(([k, v]) => [k, v.replace(`${name}-cgpath-`, '<rt>-cgpath-')])) };
    };
    const mine = await outcome('ocirun');
    const theirs = await outcome('runc');
    expect(mine).toEqual(theirs);
    const own = ownCgroups();
    const expected = Object.fromEntries(Object.entries(own).map(([k, v]) => [k, k.startsWith('0:') ? v : `/${base}/<rt>-cgpath-${process.pid}`]));
    expect(mine).toEqual({ run: 0, status: 'running', cgroups: expected, pidsMax: '50', kill: 0, delete: 0, leftovers: [], cgroupDirsLeft: [] });
  }, 120_000);

  it("no cgroupsPath, and a cgroup named after the container that root made: the caller's cgroups, root's left alone", async () => {
    // rootless runc's default path is still the id under the caller's cgroup;
    // one there that is root's (not the user's to join) is skipped, not joined.
    const own = ownCgroups();
    const rootMade = (name: Name) => {
      for (const m of v1Mounts) {
        const key = Object.keys(own).find((k) => k.split(':')[1].split(',').some((c) => path.basename(m).split(',').includes(c.replace(/^name=/, ''))));
        const d = path.join(m, key ? own[key] : '/', `${name}-nopath-${process.pid}`);
        fs.mkdirSync(d);
        madeByRoot.push(d);
      }
    };
    rootMade('ocirun');
    rootMade('runc');
    const mine = await scenario('ocirun', 'nopath', () => {});
    const theirs = await scenario('runc', 'nopath', () => {});
    expect(mine).toEqual(theirs);
    expect(mine).toEqual({ run: 0, status: 'running', cgroups: own, pidsMax: undefined, kill: 0, delete: 0, leftovers: [] });
    // root's directories are still there, on every v1 hierarchy, and nothing was made under the v2 mount.
    for (const name of ['ocirun', 'runc'] as const) expect(dirsNamed(`${name}-nopath-${process.pid}`).map((d) => d.split('/')[3]).sort(), name).toEqual(v1Mounts.map((m) => m.split('/')[3]).sort());
  }, 120_000);
});

// Rootless podman: the runtime runs as root of podman's user namespace.
// cgroupfs and the file events backend: these VMs have no systemd.
const PODMAN_GLOBAL = ['--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
const IMAGE = 'localhost/ocirun-rootless-busybox:latest';

suite('rootless podman', () => {
  // ocirun runs through a wrapper that keeps what podman sends (the corpus of real configs).
  let capture: CaptureWrapper;
  const runtimeFor = (name: Name) => (name === 'ocirun' ? capture.bin : RUNTIMES[name]);
  const podman = (name: Name, args: string[], timeout = 60_000) => asUser(['podman', ...PODMAN_GLOBAL, '--runtime', runtimeFor(name), ...args], { timeout });
  const keep = (name: Name, corpusName: string) => {
    if (name !== 'ocirun') return;
    const config = capture.take('config');
    expect(config, `podman called ocirun (${corpusName})`).toBeDefined();
    keepInCorpus(corpusName, config);
  };
  beforeAll(() => {
    capture = captureWrapper(path.join(home, 'capture'), RUNTIMES.ocirun);
    fs.chownSync(path.join(home, 'capture'), uid, gid);
    const tar = path.join(tmp, 'image.tar');
    busyboxRootfsTar(tar);
    fs.chmodSync(tar, 0o644);
    const r = asUser(['podman', ...PODMAN_GLOBAL, 'import', '-q', tar, IMAGE], { timeout: 120_000 });
    if (r.status !== 0) throw new Error(`podman import as ${USER}: ${r.stderr}`);
  }, 180_000);

  function scenario(name: Name) {
    const out: Record<string, unknown> = {};
    const view = 'id; cat /proc/self/uid_map; grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status; ls /dev | tr "\\n" " "';
    const rm = podman(name, ['run', '--rm', '--network', 'none', IMAGE, 'sh', '-c', view]);
    out.runRm = { status: rm.status, stdout: rm.stdout };
    keep(name, 'podman-rootless-run');
    out.exitStatus = podman(name, ['run', '--rm', '--network', 'none', IMAGE, 'sh', '-c', 'exit 3']).status;
    const keepId = podman(name, ['run', '--rm', '--network', 'none', '--userns=keep-id', IMAGE, 'sh', '-c', 'id -u; id -g; cat /proc/self/uid_map | wc -l']);
    out.keepId = { status: keepId.status, stdout: keepId.stdout || keepId.stderr };
    keep(name, 'podman-rootless-keep-id');
    const d = podman(name, ['run', '-d', '--network', 'none', IMAGE, 'sleep', '300']);
    out.runDetached = d.status;
    const cid = d.stdout.trim();
    const exec = podman(name, ['exec', cid, 'sh', '-c', 'echo in-exec; id -u']);
    out.exec = { status: exec.status, stdout: exec.stdout };
    out.running = podman(name, ['inspect', '--format', '{{.State.Status}}', cid]).stdout.trim();
    out.stop = podman(name, ['stop', '-t', '1', cid]).status;
    out.stopped = podman(name, ['inspect', '--format', '{{.State.Status}}', cid]).stdout.trim();
    out.rm = podman(name, ['rm', cid]).status;
    out.left = podman(name, ['ps', '-aq']).stdout.trim();
    return out;
  }

  it('run --rm, exit status, --userns=keep-id, run -d, exec, stop, rm, as with runc', () => {
    const mine = scenario('ocirun');
    const theirs = scenario('runc');
    expect(mine).toEqual(theirs);
    expect(mine).toMatchObject({
      runRm: { status: 0 },
      exitStatus: 3,
      keepId: { status: 0, stdout: `${uid}\n${gid}\n3\n` },
      runDetached: 0,
      exec: { status: 0, stdout: 'in-exec\n0\n' },
      running: 'running',
      stop: 0,
      stopped: 'exited',
      rm: 0,
      left: '',
    });
    // podman's default seccomp profile, and its user namespace: the user's id, then the subordinate range.
    expect((mine.runRm as any).stdout).toMatch(new RegExp(`^uid=0 gid=0\\n +0 +${uid} +1\\n +1 +\\d+ +\\d+\\nNoNewPrivs:\\s+0\\nSeccomp:\\s+2\\n`));
  }, 240_000);

  it('run -it on a real terminal (tmux), as with runc', async () => {
    const session = async (name: Name) => {
      const env = `XDG_RUNTIME_DIR=${xdg} HOME=${home}`;
      const t = new Terminal(`rootless-podman-${name}`, `runuser -u ${USER} -- env -C ${home} ${env} podman ${PODMAN_GLOBAL.join(' ')} --runtime ${runtimeFor(name)} run -it --rm --network none ${IMAGE} sh; echo EXIT=$?`);
      try {
        await t.waitFor(/# $/m, 60_000);
        t.type('echo T=$(tty) U=$(id -u); exit 4', 'Enter');
        const [, tty, u] = await t.waitFor(/^T=(\S+) U=(\d+)\r?$/m);
        const [, exit] = await t.waitFor(/^EXIT=(\d+)$/m, 60_000);
        return { tty, u, exit };
      } finally {
        t.close();
      }
    };
    const mine = await session('ocirun');
    const theirs = await session('runc');
    expect(mine).toEqual(theirs);
    expect(mine).toEqual({ tty: '/dev/pts/0', u: '0', exit: '4' });
  }, 240_000);
});
