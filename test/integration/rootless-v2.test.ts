// Rootless with a delegated cgroup, on cgroup v2 (the qemu guest: these
// machines are v1 hybrid). Root delegates a subtree to the test user as
// systemd does (the directory and its cgroup.procs, cgroup.subtree_control
// and cgroup.threads chowned); the user's shell sits in a leaf of it, and
// the container's cgroupsPath names another: limits really apply, a 16 MB
// memory limit OOM-kills a hog. runc does the same in the same run.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfsTar, OCIRUN } from './helpers.js';

const USER = process.env.OCIRUN_TEST_USER ?? 'ocirun-test';
const runc = execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim();
const RUNTIMES = { ocirun: OCIRUN, runc };
type Name = keyof typeof RUNTIMES;
const uid = Number(spawnSync('id', ['-u', USER], { encoding: 'utf8' }).stdout);
const gid = Number(spawnSync('id', ['-g', USER], { encoding: 'utf8' }).stdout);
const DELEGATED = `/ocirun-delegated-${process.pid}`;
const cg = (...p: string[]) => path.join('/sys/fs/cgroup', DELEGATED, ...p);

let tmp: string;
beforeAll(() => {
  if (!fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) throw new Error('needs cgroup v2 (scripts/cgroup2-vm.sh)');
  if (!(uid > 0)) throw new Error(`the test user ${USER} does not exist (scripts/setup-and-test.sh creates it)`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-rootless-v2-'));
  fs.chmodSync(tmp, 0o755);
  fs.writeFileSync('/sys/fs/cgroup/cgroup.subtree_control', '+memory +pids');
  fs.mkdirSync(cg());
  fs.mkdirSync(cg('caller'));
  for (const f of ['', 'cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads']) fs.chownSync(cg(f), uid, gid);
  execFileSync('chown', ['-R', `${uid}:${gid}`, cg('caller')]);
});
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  for (const d of [cg('caller'), cg()]) if (fs.existsSync(d)) fs.rmdirSync(d);
});

/** A user-owned bundle from the runtime's own `spec --rootless`, with the delegated cgroup and a 16 MB limit. */
function bundle(name: Name, args: string[], cgroupNs: boolean): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, 'rootfs'), { recursive: true });
  busyboxRootfsTar(`${dir}.tar`);
  execFileSync('tar', ['-C', path.join(dir, 'rootfs'), '-xf', `${dir}.tar`]);
  execFileSync('chown', ['-R', `${uid}:${gid}`, dir]);
  asUser([RUNTIMES[name], 'spec', '--rootless'], dir);
  const file = path.join(dir, 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  config.process.terminal = false;
  config.process.args = args;
  config.linux.cgroupsPath = path.join(DELEGATED, `c-${name}`);
  config.linux.resources = { memory: { limit: 16 * 2 ** 20, swap: 16 * 2 ** 20 }, pids: { limit: 32 } };
  // runc's spec has a cgroup namespace on cgroup v2; without one, cgroup2
  // cannot be mounted in the user namespace and the host's is bound instead.
  if (!cgroupNs) config.linux.namespaces = config.linux.namespaces.filter((n: any) => n.type !== 'cgroup');
  fs.writeFileSync(file, JSON.stringify(config));
  return dir;
}

/** As the test user, from a shell that root first put in the delegated subtree's leaf. */
function asUser(argv: string[], cwd: string) {
  const xdg = path.join(tmp, 'xdg');
  fs.mkdirSync(xdg, { recursive: true, mode: 0o700 });
  fs.chownSync(xdg, uid, gid);
  const script = 'echo $$ > "$0" && u=$1 d=$2 x=$3 && shift 3 && exec runuser -u "$u" -- env -C "$d" XDG_RUNTIME_DIR="$x" "$@"';
  const r = spawnSync('sh', ['-c', script, cg('caller', 'cgroup.procs'), USER, cwd, xdg, ...argv], { encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  return r;
}

// The subtree's memory.events counts its descendants' OOM kills too.
const oomKills = () => Number(/^oom_kill (\d+)$/m.exec(fs.readFileSync(cg('memory.events'), 'utf8'))![1]);

function scenario(name: Name, cgroupNs: boolean) {
  const own = path.join(DELEGATED, `c-${name}`);
  const view = `cat /proc/self/cgroup; cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup${own}/memory.max`;
  const dir = bundle(name, ['sh', '-c', `${view}; x=$(head -c 67108864 /dev/zero | tr "\\0" a); echo survived`], cgroupNs);
  const before = oomKills();
  const r = asUser([RUNTIMES[name], 'run', `rl2-${name}`], dir);
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    status: r.status,
    cgroup: r.stdout.split('\n')[0].replace(`c-${name}`, 'c-NAME'),
    memoryMax: r.stdout.split('\n')[1],
    survived: r.stdout.includes('survived'),
    oomKilled: oomKills() > before,
    left: fs.existsSync(cg(`c-${name}`)),
    stderr: r.status === 137 ? '' : r.stderr,
  };
}

describe('rootless on cgroup v2 with a delegated cgroup', () => {
  it('applies the memory limit in the delegated cgroup: a hog is OOM-killed, as under runc', () => {
    const mine = scenario('ocirun', true);
    const theirs = scenario('runc', true);
    expect(mine).toEqual(theirs);
    expect(mine).toEqual({ status: 137, cgroup: '0::/', memoryMax: '16777216', survived: false, oomKilled: true, left: false, stderr: '' });
  }, 300_000);

  it('without a cgroup namespace: the host cgroup2 mount, bound, shows the container cgroup, as under runc', () => {
    const mine = scenario('ocirun', false);
    const theirs = scenario('runc', false);
    expect(mine).toEqual(theirs);
    expect(mine).toEqual({ status: 137, cgroup: `0::${DELEGATED}/c-NAME`, memoryMax: '16777216', survived: false, oomKilled: true, left: false, stderr: '' });
  }, 300_000);
});
