// What the integration tests share: a busybox bundle, the CLI, host-side views.
import { execFileSync, spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const project = path.resolve(__dirname, '../..');
/**
 * The runtime under test: bin/ocirun, or what $OCIRUN_TEST_BINARY names
 * (the Node engine's wrapper, or the single file copied out of the
 * checkout; see test/run-all.sh).
 */
export const OCIRUN = process.env.OCIRUN_TEST_BINARY ?? path.join(project, 'bin/ocirun');

/** koffi's addon for this platform, as the single file embeds it (scripts/build.mjs). */
export const KOFFI_ADDON = path.join(project, 'node_modules/@koromix/koffi-linux-x64/linux_x64/koffi.node');
/** The C stage, as the single file embeds it. */
export const STAGE = path.join(project, 'build/ocirun-stage');
/** The names of the single file's kept copies of the addon and the stage (src/kept-copy.ts): their digests. */
const keptName = (name: string, file: string, suffix = ''): string => `${name}-${crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 32)}${suffix}`;
export const keptAddonName = (): string => keptName('koffi', KOFFI_ADDON, '.node');
export const keptStageName = (): string => keptName('stage', STAGE);

/**
 * The bound on one command that a stalled container must not stretch: 5 s
 * (containerd's shim gives kill and delete 10). In the qemu guests
 * (scripts/cgroup2-vm.sh, scripts/systemd-vm.sh) the CPU is emulated (TCG)
 * and a command that waits on nothing takes 0.5-3 s, up to 10 on a loaded
 * host: there the bound is containerd's deadline itself.
 */
export const EMULATED = /QEMU TCG CPU/.test(fs.readFileSync('/proc/cpuinfo', 'utf8'));
export const COMMAND_BOUND_MS = EMULATED ? 10_000 : 5000;

/**
 * Under emulation, what one command of `bin` that waits on nothing takes at
 * this moment (`state` of an id that does not exist): a guest's speed varies
 * from one second to the next with the host's load, and what a stalled
 * container must not add comes on top of it. On real hardware, 0: the
 * bound is the whole time.
 */
export function startupCostMs(bin: string, root: string): number {
  if (!EMULATED) return 0;
  const t0 = Date.now();
  spawnSync(bin, ['--root', root, 'state', 'no-such-container'], { stdio: 'ignore', timeout: 60_000 });
  return Date.now() - t0;
}

/** A runtime command's exit status (-1: killed), time taken, bound and stderr. */
export interface TimedOutcome {
  status: number | null;
  ms: number;
  /** COMMAND_BOUND_MS, plus (under emulation) what a command takes here now (startupCostMs). */
  bound: number;
  stderr: string;
}

/**
 * One runtime command against `root`, killed after `killAfterMs(bound)` so
 * that a hang is seen as a failure, not waited on forever. Its stderr goes
 * through a file: a process it leaves running (run -d, exec -d) would hold
 * a pipe open.
 */
export function timedCommand(bin: string, root: string, args: string[], killAfterMs: (bound: number) => number): TimedOutcome {
  const bound = COMMAND_BOUND_MS + startupCostMs(bin, root);
  const errFile = path.join(root, `.stderr-${process.pid}`);
  const errFd = fs.openSync(errFile, 'w+');
  const t0 = Date.now();
  try {
    // SIGKILL: runc ignores SIGTERM while its exec waits on a stopped process.
    const r = spawnSync(bin, ['--root', root, ...args], { timeout: killAfterMs(bound), killSignal: 'SIGKILL', stdio: ['ignore', 'ignore', errFd] });
    return { status: r.signal ? -1 : r.status, ms: Date.now() - t0, bound, stderr: fs.readFileSync(errFile, 'utf8').trim() };
  } finally {
    fs.closeSync(errFd);
    fs.rmSync(errFile, { force: true });
  }
}

const madeBundles: string[] = [];

/** A bundle from busybox-static running `args`; `edit` changes its config. Removed after the test file (test/integration/setup.ts). */
export function makeBundle(prefix: string, args: string[], edit?: (config: any) => void): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  madeBundles.push(dir);
  const r = spawnSync(process.execPath, [path.join(project, 'scripts/make-bundle.mjs'), dir, '--', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make-bundle: ${r.stderr}`);
  if (edit) {
    const file = path.join(dir, 'config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8'));
    edit(config);
    fs.writeFileSync(file, JSON.stringify(config, null, 2));
  }
  return dir;
}

/**
 * Removes a test bundle, unless something is still mounted under it: a
 * recursive delete would cross into the mounts (a leaked /sys/fs/cgroup
 * there would lose the host's empty cgroups). Such a bundle is left, and a
 * test that checks leftovers has already failed on it.
 */
export function removeBundle(dir: string): void {
  if (fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(`${dir}/`)) return;
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Removes the bundles this test file made (its containers are gone by now). */
export function removeMadeBundles(): void {
  for (const dir of madeBundles.splice(0)) removeBundle(dir);
}

/**
 * Runs a runtime command (ocirun unless `runtime` says otherwise) with a
 * bounded time. `detached` is for commands that leave a process running
 * (run -d, exec -d): it gets no pipes of ours to hold open, so only the
 * error text is kept, through a file.
 */
export function cli(root: string, args: string[], opts: { runtime?: string; cwd?: string; input?: string; timeout?: number; detached?: boolean; env?: Record<string, string> } = {}): SpawnSyncReturns<string> {
  const argv = ['--root', root, ...args];
  const base = { encoding: 'utf8' as const, cwd: opts.cwd, timeout: opts.timeout ?? 30_000, env: opts.env && { ...process.env, ...opts.env } };
  if (!opts.detached) return spawnSync(opts.runtime ?? OCIRUN, argv, { ...base, input: opts.input ?? '' });
  const errFile = path.join(os.tmpdir(), `ocirun-cli-${process.pid}-${Date.now()}.err`);
  const errFd = fs.openSync(errFile, 'w+');
  try {
    const r = spawnSync(opts.runtime ?? OCIRUN, argv, { ...base, stdio: ['ignore', 'ignore', errFd] });
    return { ...r, stdout: '', stderr: fs.readFileSync(errFile, 'utf8') };
  } finally {
    fs.closeSync(errFd);
    fs.rmSync(errFile, { force: true });
  }
}

/**
 * `ps --format json`: the pids, once the command succeeded; a failed
 * command fails the test with its status and stderr, not a JSON error.
 */
export function psPids(root: string, id: string): number[] {
  const r = cli(root, ['ps', '--format', 'json', id]);
  if (r.status !== 0) throw new Error(`ps ${id}: status ${r.status} ${r.signal ?? ''} ${r.stderr}`);
  return JSON.parse(r.stdout) as number[];
}

/** Fields of /proc/PID/status (or of its text printed from inside a container). */
export function statusFields(text: string): Record<string, string> {
  return Object.fromEntries(text.split('\n').filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
}

export const nsOf = (pid: number, ns: string) => fs.readlinkSync(`/proc/${pid}/ns/${ns}`);

export const TEST_IMAGE = 'localhost/ocirun-test-busybox:latest';

/** A tar of a minimal busybox-static rootfs, the managers' test image. */
export function busyboxRootfsTar(tarFile: string): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-image-'));
  try {
    // The image's / as images have it (mkdtemp makes it 0700): users other than root must reach /bin.
    fs.chmodSync(dir, 0o755);
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.mkdirSync(path.join(dir, 'tmp'));
    fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
    fs.copyFileSync('/bin/busybox', path.join(dir, 'bin/busybox'));
    fs.chmodSync(path.join(dir, 'bin/busybox'), 0o755);
    for (const a of ['sh', 'echo', 'cat', 'id', 'grep', 'sleep', 'touch', 'hostname', 'ls', 'true', 'tty', 'stty', 'stat', 'wc', 'cut', 'head', 'sort', 'tr', 'sed', 'uname', 'env', 'seq', 'df', 'readlink', 'mkdir', 'rm', 'pwd', 'test']) fs.symlinkSync('busybox', path.join(dir, 'bin', a));
    execFileSync('tar', ['-C', dir, '-cf', tarFile, '.']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A busybox-static image for the managers, imported into podman (no registry here). */
export function ensureImage(image = TEST_IMAGE): void {
  const tar = path.join(os.tmpdir(), `ocirun-image-${process.pid}.tar`);
  try {
    busyboxRootfsTar(tar);
    execFileSync('podman', ['import', '-q', tar, image]);
  } finally {
    fs.rmSync(tar, { force: true });
  }
}

/**
 * What a container `id` left on the host: its state dir, a cgroup directory
 * on any hierarchy, a mount under the bundle, a process of its (tagged by
 * the stage's environment, or in one of its cgroups).
 */
export function leftovers(root: string, id: string, bundle: string, opts: { processes?: boolean } = {}): string[] {
  const found: string[] = [];
  if (fs.existsSync(path.join(root, id))) found.push(`state dir ${path.join(root, id)}`);
  const own = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n');
  if (fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    // cgroup v2 only: one hierarchy, mounted at /sys/fs/cgroup.
    const dir = path.join('/sys/fs/cgroup', own.find((l) => l.startsWith('0::'))!.slice(3), id);
    if (fs.existsSync(dir)) found.push(`cgroup ${dir}`);
  } else {
    for (const c of fs.readdirSync('/sys/fs/cgroup')) {
      const line = own.find((l) => l.split(':')[1]?.split(',').includes(c) || (c === 'unified' && l.startsWith('0::')));
      const dir = path.join('/sys/fs/cgroup', c, line ? line.split(':')[2] : '/', id);
      if (fs.existsSync(dir)) found.push(`cgroup ${dir}`);
    }
  }
  if (fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(bundle)) found.push('a mount under the bundle');
  if (opts.processes === false) return found;
  found.push(...processesTagged((tag, cg) => tag === id || cg.split('\n').some((l) => l.endsWith(`/${id}`))));
  return found;
}

/**
 * Processes of ours that `match`, from the container id the stage and the
 * init carry in their environment (_OCIRUN_CONTAINER) or their cgroups.
 */
export function processesTagged(match: (tag: string | undefined, cgroups: string) => boolean): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const tag = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((e) => e.startsWith('_OCIRUN_CONTAINER='))?.slice(18);
      const cg = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      if (match(tag, cg)) found.push(`process ${pid} (${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()})`);
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

export interface RunningContainer {
  root: string;
  bundle: string;
  id: string;
  initPid: number;
  /** Deletes the container (force) and its root and bundle. */
  remove(): void;
}

/** A detached container from a fresh bundle and state root, for tests that look at a running one. */
export function startContainer(name: string, args: string[], edit?: (config: any) => void): RunningContainer {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `ocirun-${name}-root-`));
  const bundle = makeBundle(`ocirun-${name}-`, args, edit);
  const id = `${name}-${process.pid}`;
  const r = cli(root, ['run', '-d', '--bundle', bundle, id], { detached: true });
  if (r.status !== 0) throw new Error(`run -d ${id}: ${r.stderr}`);
  const initPid = JSON.parse(cli(root, ['state', id]).stdout).pid as number;
  return {
    root,
    bundle,
    id,
    initPid,
    remove() {
      cli(root, ['delete', '--force', id]);
      fs.rmSync(root, { recursive: true, force: true });
      removeBundle(bundle);
    },
  };
}

/** Waits until `condition` holds (polling every 20 ms), or fails with `what` after the deadline. */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface Containerd {
  /** The private daemon's client, `ctr`. */
  ctr(args: string[], timeout?: number): SpawnSyncReturns<string>;
  /** Its directory: config, root, state, socket, log. */
  dir: string;
  stop(): Promise<void>;
}

/**
 * A private containerd (config, root, state and unix socket under a temp
 * dir; no CRI plugin) with the busybox test image imported. `baseDir`
 * holds them (the snapshotter's overlay needs a file system that can be an
 * upper layer).
 */
export async function startContainerd(baseDir = os.tmpdir()): Promise<Containerd> {
  const dir = fs.mkdtempSync(path.join(baseDir, 'ocirun-containerd-'));
  fs.writeFileSync(
    path.join(dir, 'config.toml'),
    [
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${dir}/c.sock"`,
      '[ttrpc]',
      `  address = "${dir}/c.sock.ttrpc"`,
      '[debug]',
      '  address = ""',
      '[metrics]',
      '  address = ""',
      '',
    ].join('\n'),
  );
  const log = fs.openSync(path.join(dir, 'containerd.log'), 'w');
  const daemon = spawn('containerd', ['--config', path.join(dir, 'config.toml')], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const ctr = (args: string[], timeout = 30_000) => spawnSync('ctr', ['-a', path.join(dir, 'c.sock'), ...args], { encoding: 'utf8', timeout });
  const stop = async () => {
    await stopDaemon(daemon);
    // Mounts of containerd's snapshots go with it; what it made is under dir.
    spawnSync('umount', ['-R', '-l', path.join(dir, 'root')]);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(() => fs.existsSync(path.join(dir, 'c.sock')), 'containerd listening', 10_000);
    ensureImage();
    const archive = path.join(dir, 'image.tar');
    execFileSync('podman', ['save', '-q', '--format', 'oci-archive', '-o', archive, TEST_IMAGE]);
    const imported = ctr(['images', 'import', archive]);
    if (imported.status !== 0) throw new Error(`ctr images import: ${imported.stderr}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { ctr, dir, stop };
}

export interface Dockerd {
  /** The private daemon's client. */
  docker(args: string[], timeout?: number): SpawnSyncReturns<string>;
  stop(): Promise<void>;
}

/**
 * A private dockerd (data root, exec root and unix socket under a temp dir;
 * no TCP, no iptables, no bridge) with `runtimes` added by name, and the
 * busybox image imported as `image`. runc is its default runtime.
 * `daemonArgs` go to dockerd as well (`--exec-opt native.cgroupdriver=systemd`).
 */
export async function startDockerd(runtimes: Record<string, string>, image: string, daemonArgs: string[] = []): Promise<Dockerd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-docker-'));
  // Debian's client matches its daemon; another one earlier on PATH may not.
  const client = fs.existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
  const docker = (args: string[], timeout = 60_000) => spawnSync(client, ['-H', `unix://${dir}/docker.sock`, ...args], { encoding: 'utf8', timeout });
  const log = fs.openSync(path.join(dir, 'dockerd.log'), 'w');
  const daemon = spawn(
    'dockerd',
    [
      '--data-root', `${dir}/data`, '--exec-root', `${dir}/exec`, '--pidfile', `${dir}/dockerd.pid`, '-H', `unix://${dir}/docker.sock`,
      '--iptables=false', '--ip6tables=false', '--bridge=none', ...daemonArgs, ...Object.entries(runtimes).flatMap(([name, bin]) => ['--add-runtime', `${name}=${bin}`]),
    ],
    { stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  for (let i = 0; i < 300 && docker(['version'], 5_000).status !== 0; i++) await new Promise((r) => setTimeout(r, 100));
  const v = docker(['version']);
  if (v.status !== 0) throw new Error(`dockerd did not start: ${v.stderr}\n${fs.readFileSync(path.join(dir, 'dockerd.log'), 'utf8').slice(-2000)}`);
  busyboxRootfsTar(path.join(dir, 'image.tar'));
  const imported = docker(['import', path.join(dir, 'image.tar'), image]);
  if (imported.status !== 0) throw new Error(`docker import: ${imported.stderr}`);
  return {
    docker,
    async stop() {
      await stopDaemon(daemon);
      spawnSync('umount', ['-R', '-l', path.join(dir, 'data')]);
      spawnSync('umount', ['-R', '-l', path.join(dir, 'exec')]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Stops a daemon a test started (SIGTERM, by its pid) and waits for it to exit. */
export async function stopDaemon(daemon: ChildProcess | undefined): Promise<void> {
  if (!daemon?.pid) return;
  daemon.kill('SIGTERM');
  await new Promise((r) => (daemon.exitCode !== null ? r(null) : daemon.once('exit', r)));
}

export interface CaptureWrapper {
  /** The wrapper to give the manager as its runtime. */
  bin: string;
  /** The newest capture of `kind` ("config" or "process"); taking a config clears them all. */
  take(kind: 'config' | 'process'): unknown | undefined;
}

/**
 * A runtime wrapper for a manager: it copies the bundle's config.json and
 * the exec process file it is given into `dir`, then runs `runtime` with
 * the same arguments. Whoever runs the manager must be able to write `dir`.
 */
export function captureWrapper(dir: string, runtime: string): CaptureWrapper {
  fs.mkdirSync(dir, { recursive: true });
  const bin = `${dir}.sh`;
  fs.writeFileSync(
    bin,
    `#!/bin/sh
prev=
for a in "$@"; do
  case "$prev" in
    --bundle|-b) cp "$a/config.json" "${dir}/$(date +%s%N)-config.json" 2>/dev/null ;;
    --process|-p) cp "$a" "${dir}/$(date +%s%N)-process.json" 2>/dev/null ;;
  esac
  prev=$a
done
exec "${runtime}" "$@"
`,
    { mode: 0o755 },
  );
  return {
    bin,
    take(kind) {
      const files = fs.readdirSync(dir).sort();
      const file = files.filter((f) => f.endsWith(`-${kind}.json`)).pop();
      const out = file ? JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) : undefined;
      if (kind === 'config') for (const f of files) fs.rmSync(path.join(dir, f));
      return out;
    },
  };
}

/**
 * The test corpus of real configs: what a manager sent ocirun, written to
 * $OCIRUN_CORPUS_DIR (default .corpus/ in the checkout) on every run, never
 * committed, so a new manager version is covered by running the tests again.
 */
export function keepInCorpus(name: string, config: unknown): void {
  const corpus = process.env.OCIRUN_CORPUS_DIR ?? path.join(project, '.corpus');
  fs.mkdirSync(corpus, { recursive: true });
  fs.writeFileSync(path.join(corpus, `${name}.json`), JSON.stringify(config, null, 2) + '\n');
}

/** A unit's properties, by `systemctl show` (systemd as PID 1). */
export function systemctlShow(unit: string, props: string[]): Record<string, string> {
  return Object.fromEntries(
    execFileSync('systemctl', ['show', unit, ...props.flatMap((p) => ['-p', p])], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}
