// SCMP_ACT_NOTIFY: the notify fd goes to linux.seccomp.listenerPath with the
// container process state, and the agent (test/fixtures/seccomp-agent.py)
// decides the notified syscalls: here, mkdir fails with its EACCES.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, leftovers, makeBundle, OCIRUN, project } from './helpers.js';

const RUNC = spawnSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).stdout.trim();

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-notify-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function agent(connections: number, timeoutSec: number, mode: string[] = []): Promise<{ socket: string; lines: () => string[]; done: Promise<void> }> {
  const socket = path.join(tmp, `agent-${Date.now()}.sock`);
  const outFile = `${socket}.out`;
  const out = fs.openSync(outFile, 'w');
  const child = spawn('python3', [path.join(project, 'test/fixtures/seccomp-agent.py'), socket, String(connections), String(timeoutSec), ...mode], { stdio: ['ignore', out, 'inherit'] });
  fs.closeSync(out);
  const done = new Promise<void>((r) => child.on('exit', () => r()));
  const lines = () => fs.readFileSync(outFile, 'utf8').split('\n').filter(Boolean);
  while (!lines().includes('listening')) await new Promise((r) => setTimeout(r, 20));
  return { socket, lines, done };
}

describe('seccomp listener (SCMP_ACT_NOTIFY)', () => {
  for (const nnp of [true, false]) {
    it(`hands the notify fd and the process state to the agent, which decides mkdir (noNewPrivileges ${nnp})`, async () => {
      const a = await agent(1, 20);
      const id = `notify-${nnp}-${process.pid}`;
      const bundle = makeBundle('ocirun-notify-', ['sh', '-c', 'mkdir /dev/shm/x 2>&1; echo "mkdir=$?"; touch /dev/shm/y && echo touched'], (c) => {
        c.process.noNewPrivileges = nnp;
        // With no_new_privs also the flag libseccomp 2.5 has no attribute for (the filter is loaded with seccomp(2)).
        const flags = nnp ? ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] : [];
        c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', flags, listenerPath: a.socket, listenerMetadata: 'meta-1', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }] };
      });
      const root = path.join(tmp, `root-${nnp}`);
      const r = cli(root, ['run', '--bundle', bundle, id]);
      expect(r.stdout).toBe("mkdir: can't create directory '/dev/shm/x': Permission denied\nmkdir=1\ntouched\n");
      expect(r.status, r.stderr).toBe(0);
      await a.done;
      const [, stateLine, ...rest] = a.lines();
      const s = JSON.parse(stateLine);
      expect(s).toMatchObject({ fds: ['seccompFd'], metadata: 'meta-1', state: { id, status: 'creating', bundle } });
      expect(s.pid).toBe(s.state.pid);
      expect(s.pid).toBeGreaterThan(1);
      expect(rest[0]).toMatch(/^notified (83|258)$/); // mkdir or mkdirat on x86_64
      expect(leftovers(root, id, bundle)).toEqual([]);
    });
  }

  it('exec: the exec\'d process\'s own notify fd goes to the agent, with the state "running"', async () => {
    const a = await agent(2, 20);
    const id = `notify-exec-${process.pid}`;
    const bundle = makeBundle('ocirun-notify-', ['sleep', '100'], (c) => {
      c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: a.socket, listenerMetadata: 'meta-2', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }] };
    });
    const root = path.join(tmp, 'root-exec');
    try {
      expect(cli(root, ['run', '-d', '--bundle', bundle, id], { detached: true }).status).toBe(0);
      const initPid = JSON.parse(cli(root, ['state', id]).stdout).pid;
      const pidFile = path.join(tmp, 'exec.pid');
      const e = cli(root, ['exec', '--pid-file', pidFile, id, 'sh', '-c', 'mkdir /dev/shm/z 2>&1; echo "mkdir=$?"']);
      expect(e.stdout).toBe("mkdir: can't create directory '/dev/shm/z': Permission denied\nmkdir=1\n");
      const execState = JSON.parse(a.lines()[2]);
      expect(execState).toMatchObject({ fds: ['seccompFd'], metadata: 'meta-2', pid: Number(fs.readFileSync(pidFile, 'utf8')), state: { id, status: 'running', pid: initPid } });
      expect(a.lines()[3]).toMatch(/^notified (83|258)$/);
    } finally {
      cli(root, ['delete', '-f', id]);
    }
    await a.done;
  });

  it("exec: a filter that notifies clone, which the exec shim itself calls, does not wait on the agent; runc's does not either", async () => {
    // ocirun's exec shim forks the process under the container's filter: the
    // agent must have the notify fd before that fork, not after it.
    for (const [name, bin] of [['ocirun', OCIRUN], ['runc', RUNC]] as const) {
      const a = await agent(2, 20, ['continue']);
      const id = `notify-clone-${name}-${process.pid}`;
      const bundle = makeBundle('ocirun-notify-', ['sleep', '100'], (c) => {
        c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: a.socket, syscalls: [{ names: ['clone', 'clone3'], action: 'SCMP_ACT_NOTIFY' }] };
      });
      const root = path.join(tmp, `root-clone-${name}`);
      try {
        expect(cli(root, ['run', '-d', '--bundle', bundle, id], { runtime: bin, detached: true }).status, name).toBe(0);
        const e = cli(root, ['exec', id, 'sh', '-c', 'echo hi; (true); echo done'], { runtime: bin, timeout: 15_000 });
        expect([e.status, e.stdout], `${name}: ${e.stderr}`).toEqual([0, 'hi\ndone\n']);
        const states = a.lines().filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
        expect(states.map((st) => st.state.status), name).toEqual(['creating', 'running']);
      } finally {
        cli(root, ['delete', '-f', id], { runtime: bin });
      }
      await a.done;
    }
  });

  it("with no_new_privs, notifies the runtime's own read, openat and close too without waiting on an agent that has no fd yet; runc's neither (runc's seccomp-notify.bats)", async () => {
    // The filter is loaded last, and until the agent holds the notify fd a
    // notified call of the init's waits for ever: the engine's own reads
    // (JSC looks at /proc/self/statm before a collection) must not fall in
    // that gap. Five runs each, each within a bound.
    const runs = 5;
    for (const [name, bin] of [['ocirun', OCIRUN], ['runc', RUNC]] as const) {
      const a = await agent(runs, 20, ['continue']);
      const bundle = makeBundle('ocirun-notify-', ['sh', '-c', 'true'], (c) => {
        c.process.noNewPrivileges = true;
        c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: a.socket, architectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_X86_64'], syscalls: [{ names: ['execve', 'openat', 'open', 'read', 'close'], action: 'SCMP_ACT_NOTIFY' }] };
      });
      const root = path.join(tmp, `root-nnp-own-${name}`);
      const statuses: (number | null)[] = [];
      for (let i = 0; i < runs; i++) {
        const id = `notify-nnp-own-${name}-${process.pid}-${i}`;
        const r = cli(root, ['run', '--bundle', bundle, id], { runtime: bin, timeout: 15_000 });
        cli(root, ['delete', '-f', id], { runtime: bin });
        // Neither waits for ever. ocirun's container runs every time; runc
        // 1.1.5's container now and then exits 2 (sh, one run in five in a
        // CI rehearsal), which is recorded, not what is compared here.
        if (name === 'ocirun') expect([r.status, r.signal], `${name} run ${i}: ${r.stderr}`).toEqual([0, null]);
        else expect(r.signal, `${name} run ${i} returned: ${r.stderr}`).toBeNull();
        statuses.push(r.status);
      }
      process.stdout.write(`seccomp notify, no_new_privs, the runtime's own calls: ${name} exit statuses ${statuses.join(' ')}\n`);
      await a.done;
    }
  });

  it("exec: a filter that notifies calls of the exec's own setup after the load (execveat under no_new_privs; setresuid, capset, getcwd without) does not hold exec; runc's neither", async () => {
    // The exec's init loads the filter, then still switches user and
    // capabilities and execs the shim: a call of those that the profile
    // notifies waits on the agent, which must get the fd then, not once the
    // program's pid is known (it held exec for ever).
    const cases: [string[], boolean][] = [[['execveat'], true], [['setresuid'], false], [['capset'], false], [['getcwd'], false]];
    for (const [names, nnp] of cases) {
      for (const [name, bin] of [['ocirun', OCIRUN], ['runc', RUNC]] as const) {
        const a = await agent(2, 20, ['continue']);
        const id = `notify-own-${names[0]}-${name}-${process.pid}`;
        const bundle = makeBundle('ocirun-notify-', ['sleep', '100'], (c) => {
          c.process.noNewPrivileges = nnp;
          c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: a.socket, syscalls: [{ names, action: 'SCMP_ACT_NOTIFY' }] };
        });
        const root = path.join(tmp, `root-own-${name}`);
        try {
          expect(cli(root, ['run', '-d', '--bundle', bundle, id], { runtime: bin, detached: true }).status, name).toBe(0);
          const e = cli(root, ['exec', id, 'echo', 'exec-ran'], { runtime: bin, timeout: 15_000 });
          expect([e.status, e.signal, e.stdout], `${name} ${names} nnp=${nnp}: ${e.stderr}`).toEqual([0, null, 'exec-ran\n']);
        } finally {
          cli(root, ['delete', '-f', id], { runtime: bin });
        }
        await a.done;
      }
    }
  });

  it('with no_new_privs, the agent holds the notify fd once create returns, before start; runc\'s too', async () => {
    // Handed over only after start, an agent gone meanwhile left the
    // program never started while start said it had.
    for (const [name, bin] of [['ocirun', OCIRUN], ['runc', RUNC]] as const) {
      const a = await agent(1, 20, ['continue']);
      const id = `notify-create-${name}-${process.pid}`;
      const bundle = makeBundle('ocirun-notify-', ['sleep', '100'], (c) => {
        c.process.noNewPrivileges = true;
        c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: a.socket, syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }] };
      });
      const root = path.join(tmp, `root-create-${name}`);
      try {
        expect(cli(root, ['create', '--bundle', bundle, id], { runtime: bin, detached: true }).status, name).toBe(0);
        // The agent prints what it received as it gets to it (up to 10 s on a loaded machine), with start not yet called.
        const received = () => a.lines().filter((l) => l.startsWith('{'));
        for (let i = 0; i < 200 && received().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
        const states = received().map((l) => JSON.parse(l));
        expect(states.map((st) => st.state.status), name).toEqual(['creating']);
        expect(cli(root, ['start', id], { runtime: bin }).status, name).toBe(0);
      } finally {
        cli(root, ['delete', '-f', id], { runtime: bin });
      }
      await a.done;
    }
  });

  it('refuses NOTIFY on sendmsg, which hands the notify fd over (runc 1.3.6 takes it)', () => {
    const bundle = makeBundle('ocirun-notify-', ['true'], (c) => {
      c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/no-agent.sock', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }, { names: ['sendmsg'], action: 'SCMP_ACT_NOTIFY' }] };
    });
    const root = path.join(tmp, 'root-sendmsg');
    const r = cli(root, ['run', '--bundle', bundle, `notify-sendmsg-${process.pid}`]);
    expect([r.status, r.stderr.trim().split('\n').length]).toEqual([1, 1]);
    expect(r.stderr).toMatch(/linux\.seccomp\.syscalls\[1\]: SCMP_ACT_NOTIFY cannot be used for the sendmsg syscall/);
    expect(fs.existsSync(path.join(root, `notify-sendmsg-${process.pid}`))).toBe(false);
  });

  it('refuses NOTIFY without a listener, as the default action, or for write', () => {
    const bundle = makeBundle('ocirun-notify-', ['true'], (c) => {
      c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] };
    });
    const r = cli(path.join(tmp, 'root-bad'), ['run', '--bundle', bundle, `notify-bad-${process.pid}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/linux\.seccomp\.listenerPath: is required when an action is SCMP_ACT_NOTIFY/);
  });
});
