#!/usr/bin/env node
// Our own spec-conformance checks. Each area builds a busybox bundle, runs it
// with the runtime binary given (ocirun, runc, ...) and checks what the
// process sees from inside and what the host sees. With --compare RUNTIME the
// same checks run against a second runtime, side by side.
//
//   node conformance/run.mjs --runtime bin/ocirun [--compare /usr/sbin/runc] [--only AREA]
//
// Exit status: 0 when every check passes for --runtime.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const project = path.resolve(here, '..');
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const runtime = path.resolve(opt('--runtime') ?? path.join(project, 'bin/ocirun'));
const compare = opt('--compare') || undefined;
const only = opt('--only');

function makeBundle(cmd, mutate) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-conf-'));
  fs.chmodSync(dir, 0o755); // a user-namespaced root must be able to reach its rootfs
  const r = spawnSync(process.execPath, [path.join(project, 'scripts/make-bundle.mjs'), dir, '--', ...cmd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make-bundle: ${r.stderr}`);
  const file = path.join(dir, 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  mutate?.(config);
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  return dir;
}

let seq = 0;
function newId() {
  return `conf-${process.pid}-${++seq}`;
}

/** Gives `fn` a fresh bundle and container id; removes both afterwards, whatever happens. */
function withBundle(rtPath, root, cmd, mutate, fn) {
  const bundle = makeBundle(cmd, mutate);
  const id = newId();
  try {
    return fn(bundle, id);
  } finally {
    spawnSync(rtPath, ['--root', root, 'delete', '--force', id], { encoding: 'utf8' });
    fs.rmSync(bundle, { recursive: true, force: true });
  }
}

/** Runs `cmd` in a container; returns {status, stdout, stderr}. */
function runIn(rt, root, cmd, mutate) {
  return withBundle(rt, root, cmd, mutate, (bundle, id) => {
    const r = spawnSync(rt, ['--root', root, 'run', '--bundle', bundle, id], { encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  });
}

function rt(rtPath, root, ...a) {
  return spawnSync(rtPath, ['--root', root, ...a], { encoding: 'utf8', timeout: 30_000 });
}

const hex = (caps) => {
  const bits = { CAP_AUDIT_WRITE: 29, CAP_KILL: 5, CAP_NET_BIND_SERVICE: 10, CAP_CHOWN: 0, CAP_SYS_ADMIN: 21 };
  let v = 0n;
  for (const c of caps) v |= 1n << BigInt(bits[c]);
  return v.toString(16).padStart(16, '0');
};

// Each area: a list of [name, check(rt, root) -> true | string (what was wrong)].
const areas = {
  process: [
    ['args and stdout', (r, root) => {
      const o = runIn(r, root, ['echo', 'hello', 'world']);
      return o.stdout === 'hello world\n' || `stdout ${JSON.stringify(o.stdout)} ${o.stderr}`;
    }],
    ['a program that exits at once still starts cleanly (5 runs)', (r, root) => {
      for (let i = 0; i < 5; i++) {
        const o = runIn(r, root, ['true']);
        if (o.status !== 0) return `run ${i}: status ${o.status} ${o.stderr}`;
      }
      return true;
    }],
    ['exit status', (r, root) => {
      const o = runIn(r, root, ['sh', '-c', 'exit 7']);
      return o.status === 7 || `status ${o.status}`;
    }],
    ['killed by a signal: 128+N', (r, root) => {
      // pid 1 cannot be killed from inside its own namespace: kill it from the host.
      return withBundle(r, root, ['sleep', '30'], undefined, (bundle, id) => {
        // KILL once the container runs (its state says so), then the status of run.
        const o = spawnSync('sh', ['-c', `"$0" --root "$1" run --bundle "$2" "$3" & for i in $(seq 200); do "$0" --root "$1" state "$3" 2>/dev/null | grep -q '"running"' && break; sleep 0.05; done; "$0" --root "$1" kill "$3" KILL; wait $!`, r, root, bundle, id], { encoding: 'utf8', timeout: 30_000 });
        return o.status === 137 || `status ${o.status} ${o.stderr}`;
      });
    }],
    ['env as configured, HOME added from /etc/passwd as runc does', (r, root) => {
      const o = runIn(r, root, ['env'], (c) => (c.process.env = ['PATH=/bin', 'FOO=bar baz']));
      const lines = o.stdout.trim().split('\n').sort();
      return JSON.stringify(lines) === JSON.stringify(['FOO=bar baz', 'HOME=/root', 'PATH=/bin']) || `env ${JSON.stringify(lines)}`;
    }],
    ['cwd', (r, root) => {
      const o = runIn(r, root, ['pwd'], (c) => (c.process.cwd = '/tmp'));
      return o.stdout === '/tmp\n' || `pwd ${JSON.stringify(o.stdout)} ${o.stderr}`;
    }],
    ['missing program fails create', (r, root) => {
      const o = runIn(r, root, ['/bin/nonexistent']);
      return (o.status !== 0 && /nonexistent/.test(o.stderr)) || `status ${o.status} stderr ${o.stderr}`;
    }],
  ],
  namespaces: [
    ['pid 1 in a new pid namespace', (r, root) => {
      const o = runIn(r, root, ['sh', '-c', 'echo $$']);
      return o.stdout === '1\n' || `pid ${o.stdout}`;
    }],
    ['new namespaces differ from the host', (r, root) => {
      const o = runIn(r, root, ['sh', '-c', 'for n in mnt uts ipc net pid cgroup; do readlink /proc/self/ns/$n; done']);
      const host = ['mnt', 'uts', 'ipc', 'net', 'pid', 'cgroup'].map((n) => fs.readlinkSync(`/proc/self/ns/${n}`));
      const inside = o.stdout.trim().split('\n');
      const same = inside.filter((l, i) => l === host[i]);
      return (inside.length === 6 && same.length === 0) || `inside ${inside.join(',')} shares ${same.join(',')}`;
    }],
    ['joined namespace by path', (r, root) => {
      const o = runIn(r, root, ['readlink', '/proc/self/ns/net'], (c) => {
        c.linux.namespaces = c.linux.namespaces.map((n) => (n.type === 'network' ? { type: 'network', path: `/proc/${process.pid}/ns/net` } : n));
      });
      return o.stdout.trim() === fs.readlinkSync('/proc/self/ns/net') || `net ${o.stdout} ${o.stderr}`;
    }],
    ['mount namespace joined by path (made by unshare --mount)', (r, root) => {
      const holder = spawn('unshare', ['--mount', '--propagation', 'private', 'sleep', '30'], { stdio: 'ignore' });
      try {
        const host = fs.readlinkSync('/proc/self/ns/mnt');
        let ns = host;
        for (let i = 0; i < 100 && ns === host; i++) {
          spawnSync('sleep', ['0.02']);
          try {
            ns = fs.readlinkSync(`/proc/${holder.pid}/ns/mnt`);
          } catch {
            /* not there yet */
          }
        }
        const o = runIn(r, root, ['readlink', '/proc/self/ns/mnt'], (c) => {
          c.linux.namespaces = c.linux.namespaces.map((n) => (n.type === 'mount' ? { type: 'mount', path: `/proc/${holder.pid}/ns/mnt` } : n));
        });
        return (o.status === 0 && o.stdout.trim() === ns && ns !== host) || `mnt ${o.stdout} (holder ${ns}) ${o.stderr}`;
      } finally {
        holder.kill('SIGKILL');
      }
    }],
    ['hostname without a uts namespace is refused, the host keeps its own', (r, root) => {
      const before = fs.readFileSync('/proc/sys/kernel/hostname', 'utf8');
      const o = runIn(r, root, ['true'], (c) => {
        c.hostname = 'not-the-host';
        c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== 'uts');
      });
      const after = fs.readFileSync('/proc/sys/kernel/hostname', 'utf8');
      if (after !== before) fs.writeFileSync('/proc/sys/kernel/hostname', before);
      return (o.status !== 0 && after === before) || `status ${o.status}, host hostname ${JSON.stringify(after)}`;
    }],
    ['hostname and domainname in a new uts namespace', (r, root) => {
      const o = runIn(r, root, ['sh', '-c', 'hostname; cat /proc/sys/kernel/domainname'], (c) => {
        c.hostname = 'conf-host';
        c.domainname = 'conf.example';
      });
      return o.stdout === 'conf-host\nconf.example\n' || `got ${JSON.stringify(o.stdout)}`;
    }],
    ['user namespace with id maps', (r, root) => {
      const o = runIn(r, root, ['sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map; id -u'], (c) => {
        c.linux.namespaces.push({ type: 'user' });
        c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        c.root.readonly = false;
        // sysfs cannot be mounted in a user namespace that does not own the network namespace's...
        c.mounts = c.mounts.filter((m) => m.type !== 'cgroup');
      });
      const words = o.stdout.trim().split(/\s+/);
      return (words.join(' ') === '0 100000 65536 0 100000 65536 0') || `got ${JSON.stringify(o.stdout)} ${o.stderr}`;
    }],
  ],
  rootfs: [
    ['mounts from config', (r, root) => {
      const o = runIn(r, root, ['cat', '/proc/self/mountinfo']);
      const need = [[' / /proc ', 'proc'], [' / /dev ', 'tmpfs'], [' / /dev/pts ', 'devpts'], [' / /dev/shm ', 'tmpfs'], [' / /dev/mqueue ', 'mqueue'], [' / /sys ', 'sysfs']];
      const miss = need.filter(([p, t]) => !o.stdout.split('\n').some((l) => l.includes(p) && l.includes(` - ${t} `)));
      return miss.length === 0 || `missing ${miss.map((m) => m[0].trim()).join(', ')}`;
    }],
    ['root is read-only when root.readonly', (r, root) => {
      const o = runIn(r, root, ['sh', '-c', 'touch /x 2>/dev/null && echo writable || echo readonly']);
      return o.stdout === 'readonly\n' || `got ${o.stdout}`;
    }],
    ['sysfs mounted read-only', (r, root) => {
      const o = runIn(r, root, ['sh', '-c', 'grep " /sys " /proc/self/mountinfo | cut -d" " -f6']);
      return /^ro,/.test(o.stdout) || `sys options ${o.stdout}`;
    }],
    ['bind mount of a host directory, read-only', (r, root) => {
      const src = fs.mkdtempSync(path.join(os.tmpdir(), 'conf-src-'));
      fs.writeFileSync(path.join(src, 'file'), 'from host\n');
      try {
        const o = runIn(r, root, ['sh', '-c', 'cat /mnt/data/file; touch /mnt/data/new 2>/dev/null && echo writable || echo readonly'], (c) => {
          c.mounts.push({ destination: '/mnt/data', type: 'bind', source: src, options: ['rbind', 'ro'] });
        });
        return o.stdout === 'from host\nreadonly\n' || `got ${JSON.stringify(o.stdout)} ${o.stderr}`;
      } finally {
        fs.rmSync(src, { recursive: true, force: true });
      }
    }],
    ['symlink in the rootfs cannot redirect a mount out of it', (r, root) => {
      const bundle = makeBundle(['sh', '-c', 'cat /proc/self/mountinfo']);
      const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'conf-escape-'));
      const id = newId();
      try {
        fs.symlinkSync(outside, path.join(bundle, 'rootfs/evil'));
        const config = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
        config.mounts.push({ destination: '/evil/x', type: 'tmpfs', source: 'tmpfs' });
        fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config));
        rt(r, root, 'run', '--bundle', bundle, id);
        // Whatever the runtime did, nothing may have been created or mounted at the host path.
        const hostMounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
        return (!fs.existsSync(path.join(outside, 'x')) && !hostMounts.includes(outside)) || `host directory ${outside} was touched`;
      } finally {
        rt(r, root, 'delete', '--force', id);
        fs.rmSync(bundle, { recursive: true, force: true });
        fs.rmSync(outside, { recursive: true, force: true });
      }
    }],
    ['--no-pivot', (r, root) => {
      return withBundle(r, root, ['cat', '/etc/group'], undefined, (bundle, id) => {
        const o = rt(r, root, 'run', '--no-pivot', '--bundle', bundle, id);
        return (o.status === 0 && o.stdout.startsWith('root:x:0:')) || `status ${o.status} ${o.stderr}`;
      });
    }],
  ],
  dev: [
    ['default devices', (r, root) => {
      const o = runIn(r, root, ['sh', '-c', 'for d in null zero full random urandom tty; do stat -c "%n %F %t:%T %a" /dev/$d; done']);
      const want = ['/dev/null character special file 1:3 666', '/dev/zero character special file 1:5 666', '/dev/full character special file 1:7 666', '/dev/random character special file 1:8 666', '/dev/urandom character special file 1:9 666', '/dev/tty character special file 5:0 666'];
      return o.stdout.trim() === want.join('\n') || `got ${o.stdout}`;
    }],
    ['standard symlinks', (r, root) => {
      const o = runIn(r, root, ['sh', '-c', 'for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done']);
      return o.stdout === '/proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\npts/ptmx\n' || `got ${JSON.stringify(o.stdout)}`;
    }],
    ['linux.devices', (r, root) => {
      const o = runIn(r, root, ['stat', '-c', '%F %t:%T %a %u:%g', '/dev/fuse'], (c) => {
        c.linux.devices = [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o600, uid: 0, gid: 5 }];
      });
      return o.stdout === 'character special file a:e5 600 0:5\n' || `got ${JSON.stringify(o.stdout)} ${o.stderr}`;
    }],
  ],
  paths: [
    ['masked file reads empty', (r, root) => {
      const o = runIn(r, root, ['sh', '-c', 'wc -c < /proc/timer_list; stat -c "%t:%T" /proc/timer_list']);
      return o.stdout === '0\n1:3\n' || `got ${JSON.stringify(o.stdout)} ${o.stderr}`;
    }],
    ['masked directory is empty', (r, root) => {
      const o = runIn(r, root, ['sh', '-c', 'ls -A /sys/firmware | wc -l']);
      return o.stdout.trim() === '0' || `got ${o.stdout}`;
    }],
    ['readonly path', (r, root) => {
      const o = runIn(r, root, ['sh', '-c', 'echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo writable || echo readonly']);
      return o.stdout === 'readonly\n' || `got ${o.stdout}`;
    }],
    ['sysctl', (r, root) => {
      const o = runIn(r, root, ['cat', '/proc/sys/net/ipv4/ip_forward'], (c) => {
        c.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
        c.linux.readonlyPaths = [];
      });
      return o.stdout === '1\n' || `got ${o.stdout} ${o.stderr}`;
    }],
  ],
  identity: [
    ['capabilities as configured', (r, root) => {
      const o = runIn(r, root, ['grep', '^Cap', '/proc/self/status']);
      const want = hex(['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']);
      const got = Object.fromEntries(o.stdout.trim().split('\n').map((l) => l.split(/:\s+/)));
      return (got.CapEff === want && got.CapPrm === want && got.CapBnd === want && got.CapInh === '0000000000000000' && got.CapAmb === '0000000000000000') || `got ${JSON.stringify(got)}`;
    }],
    ['no_new_privs', (r, root) => {
      const o = runIn(r, root, ['grep', 'NoNewPrivs', '/proc/self/status']);
      return /NoNewPrivs:\s+1/.test(o.stdout) || `got ${o.stdout}`;
    }],
    ['user, group and additional groups', (r, root) => {
      const o = runIn(r, root, ['sh', '-c', 'id -u; id -g; id -G'], (c) => (c.process.user = { uid: 1000, gid: 1001, additionalGids: [5, 1002] }));
      return o.stdout === '1000\n1001\n1001 5 1002\n' || `got ${JSON.stringify(o.stdout)} ${o.stderr}`;
    }],
    ['umask', (r, root) => {
      const o = runIn(r, root, ['sh', '-c', 'umask'], (c) => (c.process.user.umask = 0o27));
      return o.stdout === '0027\n' || `got ${o.stdout}`;
    }],
    ['rlimits', (r, root) => {
      const o = runIn(r, root, ['sh', '-c', 'ulimit -n; ulimit -Hn; ulimit -c'], (c) => {
        c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 512, hard: 1000 }, { type: 'RLIMIT_CORE', soft: 0, hard: 0 }];
      });
      return o.stdout === '512\n1000\n0\n' || `got ${JSON.stringify(o.stdout)}`;
    }],
    ['oom_score_adj', (r, root) => {
      const o = runIn(r, root, ['cat', '/proc/self/oom_score_adj'], (c) => (c.process.oomScoreAdj = 123));
      return o.stdout === '123\n' || `got ${o.stdout}`;
    }],
  ],
  console: [
    ['process.terminal: the pty goes to --console-socket, sized, as stdio and /dev/console', (r, root) => {
      const bundle = makeBundle(['sh', '-c', 'tty; stty size; ls -l /dev/console | cut -c1; echo done'], (c) => {
        c.process.terminal = true;
        c.process.consoleSize = { height: 30, width: 100 };
      });
      const sock = path.join(bundle, 'console.sock');
      const id = newId();
      try {
        const o = spawnSync('python3', [path.join(here, 'console-receiver.py'), sock, '--', r, '--root', root, 'create', '--console-socket', sock, '--bundle', bundle, id, '--', r, '--root', root, 'start', id], { encoding: 'utf8', timeout: 60_000 });
        const want = '/dev/pts/0\n30 100\nc\ndone\ncreate=0 start=0\n';
        return o.stdout === want || `got ${JSON.stringify(o.stdout)} ${o.stderr}`;
      } finally {
        rt(r, root, 'delete', '--force', id);
        fs.rmSync(bundle, { recursive: true, force: true });
      }
    }],
  ],
  fds: [
    ['only stdio reaches the program', (r, root) => {
      // ls opens the directory it lists: that one is fd 3.
      const o = runIn(r, root, ['ls', '/proc/self/fd']);
      return o.stdout.trim().split(/\s+/).join(' ') === '0 1 2 3' || `fds ${o.stdout}`;
    }],
    ['--preserve-fds passes fd 3', (r, root) => {
      const bundle = makeBundle(['cat', '/proc/self/fd/3']);
      const id = newId();
      const file = path.join(os.tmpdir(), `conf-fd-${process.pid}`);
      fs.writeFileSync(file, 'preserved\n');
      try {
        const fd = fs.openSync(file, 'r');
        const o = spawnSync(r, ['--root', root, 'run', '--preserve-fds', '1', '--bundle', bundle, id], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', fd] });
        fs.closeSync(fd);
        return o.stdout === 'preserved\n' || `got ${JSON.stringify(o.stdout)} ${o.stderr}`;
      } finally {
        rt(r, root, 'delete', '--force', id);
        fs.rmSync(bundle, { recursive: true, force: true });
        fs.rmSync(file, { force: true });
      }
    }],
  ],
  cgroups: [
    ['limits written and seen from inside', (r, root) => {
      const o = runIn(r, root, ['sh', '-c', 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.shares'], (c) => {
        c.linux.resources = { memory: { limit: 33554432 }, pids: { limit: 32 }, cpu: { shares: 256 } };
      });
      return o.stdout === '33554432\n32\n256\n' || `got ${JSON.stringify(o.stdout)} ${o.stderr}`;
    }],
    ['pids limit stops forks', (r, root) => {
      const o = runIn(r, root, ['sh', '-c', 'for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; echo all-started'], (c) => {
        c.linux.resources = { pids: { limit: 4 } };
      });
      return (!o.stdout.includes('all-started') && /can't fork/.test(o.stderr)) || `no fork failure: ${o.stdout} ${o.stderr}`;
    }],
    ['a 4 MiB memory limit still starts (setup is not charged)', (r, root) => {
      const o = runIn(r, root, ['echo', 'fits'], (c) => {
        c.linux.resources = { memory: { limit: 4194304 } };
      });
      return o.stdout === 'fits\n' || `got ${JSON.stringify(o.stdout)} ${o.stderr}`;
    }],
    ['device rules: a denied device cannot be opened', (r, root) => {
      const o = runIn(r, root, ['sh', '-c', 'head -c 1 /dev/fuse >/dev/null 2>&1 && echo opened || echo denied'], (c) => {
        // The node exists (mknod) but the device cgroup refuses it.
        c.linux.devices = [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666 }];
        c.linux.resources = { devices: [{ allow: false, access: 'rwm' }, { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' }] };
      });
      return o.stdout === 'denied\n' || `got ${JSON.stringify(o.stdout)} ${o.stderr}`;
    }],
    ['cgroup removed on delete', (r, root) => {
      return withBundle(r, root, ['true'], undefined, (bundle, id) => {
        rt(r, root, 'create', '--bundle', bundle, id);
        const pid = JSON.parse(rt(r, root, 'state', id).stdout).pid;
        const line = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => /:pids:/.test(l));
        const dir = path.join('/sys/fs/cgroup/pids', line.split(':')[2]);
        const existed = fs.existsSync(dir);
        rt(r, root, 'delete', '--force', id);
        return (existed && !fs.existsSync(dir)) || `existed ${existed}, after delete ${fs.existsSync(dir)} (${dir})`;
      });
    }],
  ],
  seccomp: [
    ['a rule returns its errno; the rest is allowed', (r, root) => {
      const o = runIn(r, root, ['sh', '-c', 'grep "^Seccomp:" /proc/self/status; mkdir /tmp/d 2>&1; echo still-running'], (c) => {
        c.root.readonly = false;
        c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] };
      });
      return /Seccomp:\s+2\n.*Permission denied\nstill-running\n$/s.test(o.stdout) || `got ${JSON.stringify(o.stdout)} ${o.stderr}`;
    }],
    ['argument conditions', (r, root) => {
      // umask(0o22) allowed, umask(0o77) refused with EPERM: busybox reports nothing, so check the value.
      const o = runIn(r, root, ['sh', '-c', 'umask 077; umask'], (c) => {
        c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['umask'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0o77, op: 'SCMP_CMP_EQ' }] }] };
      });
      return o.stdout === '0022\n' || `got ${JSON.stringify(o.stdout)} ${o.stderr}`;
    }],
    ['a profile that denies what the runtime itself uses, without no_new_privs', (r, root) => {
      // Loaded before the capability drop, the filter also covers the runtime's last steps.
      const o = runIn(r, root, ['echo', 'ran'], (c) => {
        c.process.noNewPrivileges = false;
        c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['close_range', 'getdents64', 'fcntl', 'openat2', 'faccessat2', 'statx'], action: 'SCMP_ACT_ERRNO' }] };
      });
      return o.stdout === 'ran\n' || `got ${JSON.stringify(o.stdout)} status ${o.status} ${o.stderr}`;
    }],
    ["podman's default profile loads", (r, root) => {
      // The config podman sent on this machine: captured by the manager
      // matrix test (test/integration/manager-matrix.test.ts) into the
      // corpus, or, without that run, the copy kept beside the checkout.
      const candidates = [path.join(process.env.OCIRUN_CORPUS_DIR ?? path.join(project, '.corpus'), 'podman-plain.json'), path.join(project, '../shared/manager-configs/podman-4.3-run-rm.json')];
      const file = candidates.find((f) => fs.existsSync(f));
      if (!file) return `no podman config captured: run test/integration/manager-matrix.test.ts first (looked in ${candidates.join(', ')})`;
      const profile = JSON.parse(fs.readFileSync(file, 'utf8')).linux.seccomp;
      const o = runIn(r, root, ['grep', '^Seccomp:', '/proc/self/status'], (c) => (c.linux.seccomp = profile));
      return /Seccomp:\s+2/.test(o.stdout) || `got ${JSON.stringify(o.stdout)} ${o.stderr}`;
    }],
  ],
  security: [
    ['CVE-2019-5736: a #!/proc/self/exe program never runs a host binary', (r, root) => {
      // A runtime that execs the program from node would run this file as JavaScript.
      return withBundle(r, root, ['/evil'], undefined, (bundle, id) => {
        fs.writeFileSync(path.join(bundle, 'rootfs/evil'), "#!/proc/self/exe\nrequire('fs').writeFileSync('/pwned', 'x');\n", { mode: 0o755 });
        const config = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
        config.root.readonly = false;
        fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config));
        const o = rt(r, root, 'run', '--bundle', bundle, id);
        return (o.status !== 0 && !fs.existsSync(path.join(bundle, 'rootfs/pwned'))) || `status ${o.status}, pwned: ${fs.existsSync(path.join(bundle, 'rootfs/pwned'))}`;
      });
    }],
    ['CVE-2024-21626: process.cwd /proc/self/fd/N never reaches the host', (r, root) => {
      const marker = path.join('/tmp', `ocirun-marker-${process.pid}`);
      fs.writeFileSync(marker, 'HOST-SECRET\n');
      try {
        for (let n = 3; n < 12; n++) {
          const o = runIn(r, root, ['sh', '-c', `cat ../../../../../../..${marker} 2>/dev/null; true`], (c) => (c.process.cwd = `/proc/self/fd/${n}`));
          if (o.stdout.includes('HOST-SECRET')) return `cwd /proc/self/fd/${n} reached the host's ${marker}`;
        }
        return true;
      } finally {
        fs.rmSync(marker, { force: true });
      }
    }],
    ['CVE-2025-31133: a /dev/null symlink cannot turn a masked path into a host file', (r, root) => {
      // The attack's target would be /proc/sys/kernel/core_pattern; here it is
      // a file of the bundle's, so that a vulnerable runtime changes nothing
      // of the host's: a write to the masked path must not reach it.
      const bundle = makeBundle(['sh', '-c', 'echo pwned > /proc/timer_list 2>/dev/null; true']);
      const id = newId();
      try {
        // A createContainer hook (cwd: the rootfs) swaps /dev/null for a link
        // to the decoy after the runtime made /dev, as an attacker's image would.
        const config = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
        config.linux.maskedPaths = ['/proc/timer_list'];
        config.linux.readonlyPaths = [];
        config.hooks = { createContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'rm -f dev/null && ln -s /decoy dev/null'] }] };
        // A read-only root cannot be remounted over the decoy's bind: runc
        // would then fail for that reason, not for the flaw.
        config.root.readonly = false;
        fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config));
        const decoy = path.join(bundle, 'rootfs/decoy');
        fs.writeFileSync(decoy, '');
        rt(r, root, 'run', '--bundle', bundle, id);
        const after = fs.readFileSync(decoy, 'utf8');
        return after === '' || `the masked /proc/timer_list was the file /dev/null points to: it now holds ${JSON.stringify(after)}`;
      } finally {
        rt(r, root, 'delete', '--force', id);
        fs.rmSync(bundle, { recursive: true, force: true });
      }
    }],
  ],
  hooks: [
    ['called in order, in the namespaces the spec names, with the state on stdin', (r, root) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conf-hooks-'));
      const hook = path.join(dir, 'hook.sh');
      const log = path.join(dir, 'log');
      fs.writeFileSync(hook, `#!/bin/sh\nstate=$(cat)\necho "$1 $(readlink /proc/self/ns/mnt) $(echo "$state" | grep -o '"status":"[a-z]*"')" >> ${log}\n`, { mode: 0o755 });
      try {
        const o = runIn(r, root, ['true'], (c) => {
          const h = (k) => [{ path: hook, args: ['hook.sh', k] }];
          c.hooks = { prestart: h('prestart'), createRuntime: h('createRuntime'), createContainer: h('createContainer'), poststart: h('poststart'), poststop: h('poststop') };
        });
        const host = fs.readlinkSync('/proc/self/ns/mnt');
        const lines = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' ')) : [];
        const kinds = lines.map((l) => l[0]).join(' ');
        if (o.status !== 0) return `status ${o.status} ${o.stderr}`;
        if (kinds !== 'prestart createRuntime createContainer poststart poststop') return `order: ${kinds}`;
        const where = lines.map((l) => (l[1] === host ? 'host' : 'container')).join(' ');
        if (where !== 'host host container host host') return `namespaces: ${where}`;
        const status = lines.map((l) => l[2]).join(' ');
        // runc runs poststart hooks within create, the container "created"
        // (the spec has them after start, "running"); ocirun does as runc.
        return status.endsWith('"status":"created" "status":"stopped"') || `states: ${status}`;
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }],
    ['a failing prestart or poststart hook fails the operation and leaves nothing', (r, root) => {
      // runtime-spec 1.3.0 made a failing poststart hook an error, as runc has it.
      const leftState = () => fs.readdirSync(root).some((e) => e.startsWith('conf-') && fs.existsSync(path.join(root, e, 'state.json')));
      const bad = runIn(r, root, ['true'], (c) => (c.hooks = { prestart: [{ path: '/bin/false' }] }));
      if (bad.status === 0) return 'create succeeded despite a failing prestart hook';
      if (leftState()) return 'state left behind';
      const post = runIn(r, root, ['echo', 'ran'], (c) => (c.hooks = { poststart: [{ path: '/bin/false' }] }));
      if (post.status === 0) return `poststart failure: status 0 ${post.stdout}`;
      return !leftState() || 'state left behind after a poststart failure';
    }],
    ['a hook past its timeout is killed and fails the operation', (r, root) => {
      const started = Date.now();
      const o = runIn(r, root, ['true'], (c) => (c.hooks = { createRuntime: [{ path: '/bin/sleep', args: ['sleep', '30'], timeout: 1 }] }));
      const took = Date.now() - started;
      return (o.status !== 0 && took < 15_000) || `status ${o.status} after ${took} ms`;
    }],
  ],
  lifecycle: [
    ['create, start, state, kill, delete', (r, root) => {
      const bundle = makeBundle(['sleep', '30']);
      const id = newId();
      const pidFile = path.join(bundle, 'pid');
      const steps = [];
      try {
        const c = rt(r, root, 'create', '--bundle', bundle, '--pid-file', pidFile, id);
        if (c.status !== 0) return `create: ${c.stderr}`;
        const s1 = JSON.parse(rt(r, root, 'state', id).stdout);
        steps.push(s1.status, String(s1.pid) === fs.readFileSync(pidFile, 'utf8').trim() ? 'pidfile-ok' : 'pidfile-bad');
        rt(r, root, 'start', id);
        steps.push(JSON.parse(rt(r, root, 'state', id).stdout).status);
        steps.push(rt(r, root, 'delete', id).status === 1 ? 'delete-refused' : 'delete-allowed');
        rt(r, root, 'kill', id, 'KILL');
        for (let i = 0; i < 100 && JSON.parse(rt(r, root, 'state', id).stdout).status !== 'stopped'; i++) spawnSync('sleep', ['0.05']);
        steps.push(JSON.parse(rt(r, root, 'state', id).stdout).status);
        steps.push(rt(r, root, 'kill', id, 'KILL').status === 1 ? 'kill-stopped-refused' : 'kill-stopped-allowed');
        steps.push(rt(r, root, 'delete', id).status === 0 ? 'deleted' : 'delete-failed');
        const gone = rt(r, root, 'state', id);
        steps.push(gone.status === 1 && /does not exist/.test(gone.stderr) ? 'gone' : 'still-there');
        const want = 'created pidfile-ok running delete-refused stopped kill-stopped-refused deleted gone';
        return steps.join(' ') === want || `steps: ${steps.join(' ')}`;
      } finally {
        rt(r, root, 'delete', '--force', id);
        fs.rmSync(bundle, { recursive: true, force: true });
      }
    }],
    ['delete of a created container kills its init', (r, root) => {
      return withBundle(r, root, ['true'], undefined, (bundle, id) => {
        rt(r, root, 'create', '--bundle', bundle, id);
        const pid = JSON.parse(rt(r, root, 'state', id).stdout).pid;
        const d = rt(r, root, 'delete', id);
        // Dead, or a zombie waiting for a reaper that is not ours (polled, bounded).
        const stateOf = () => {
          try {
            const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
            return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
          } catch {
            return 'gone';
          }
        };
        let st = stateOf();
        for (let i = 0; i < 100 && st !== 'gone' && st !== 'Z'; i++) {
          spawnSync('sleep', ['0.02']);
          st = stateOf();
        }
        return (d.status === 0 && (st === 'gone' || st === 'Z')) || `delete ${d.status} ${d.stderr} init state: ${st}`;
      });
    }],
    ['duplicate id refused', (r, root) => {
      return withBundle(r, root, ['sleep', '30'], undefined, (bundle, id) => {
        rt(r, root, 'create', '--bundle', bundle, id);
        const again = rt(r, root, 'create', '--bundle', bundle, id);
        return (again.status === 1 && /already exists/.test(again.stderr)) || `second create: ${again.status} ${again.stderr}`;
      });
    }],
  ],
};

function runAll(rtPath) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conf-root-'));
  const results = {};
  try {
    for (const [area, checks] of Object.entries(areas)) {
      if (only && only !== area) continue;
      results[area] = checks.map(([name, check]) => {
        let r;
        try {
          r = check(rtPath, root);
        } catch (err) {
          r = `threw ${err.message}`;
        }
        return { name, ok: r === true, why: r === true ? '' : String(r).slice(0, 300) };
      });
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  return results;
}

const mine = runAll(runtime);
const theirs = compare ? runAll(compare) : undefined;
let passed = 0;
let failed = 0;
console.log(`conformance: ${runtime}${compare ? ` (compared with ${compare})` : ''}`);
for (const [area, list] of Object.entries(mine)) {
  const ok = list.filter((c) => c.ok).length;
  const cmp = theirs ? `   ${path.basename(compare)}: ${theirs[area].filter((c) => c.ok).length}/${list.length}` : '';
  console.log(`  ${area.padEnd(11)} ${ok}/${list.length}${cmp}`);
  list.forEach((c, i) => {
    const other = theirs ? (theirs[area][i].ok ? ' [runc: pass]' : ` [runc: FAIL ${theirs[area][i].why}]`) : '';
    if (!c.ok || (theirs && !theirs[area][i].ok)) console.log(`    ${c.ok ? 'pass' : 'FAIL'} ${c.name}${c.ok ? '' : `: ${c.why}`}${other}`);
  });
  passed += ok;
  failed += list.length - ok;
}
console.log(`conformance: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
