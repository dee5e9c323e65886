// Bad input: each case fails with a ConfigError that names the JSON path.
import { describe, expect, it } from 'vitest';
import { ConfigError, RuntimeError } from '../../src/errors.js';
import { parseJson, shapes } from '../../src/config/load.js';
import { planContainer } from '../../src/config/plan.js';
import { defaultSpec } from '../../src/config/default.js';
import { validateConfig, validateForRestore, type HostFacts } from '../../src/config/validate.js';

const host: HostFacts = {
  filesystems: () => new Set(['proc', 'tmpfs', 'sysfs', 'devpts', 'mqueue', 'cgroup', 'cgroup2']),
  sysctlExists: (n) => n === 'net.ipv4.ip_forward' || n === 'kernel.shmmax',
  fileKind: (p) => ({ '/nonexistent/ns': 'ENOENT', '/run/a-fifo': 'fifo' })[p] ?? 'file',
  isDirectory: (p) => !p.endsWith('/missing'),
  appArmor: () => false,
  selinux: () => false,
  isOwnNamespace: (p, type) => p === `/proc/self/ns/${type}`,
  resctrlRoot: () => undefined,
  systemdRunning: () => true,
};

type Mutate = (c: any) => void;
function check(mutate: Mutate, opts: { noPivot?: boolean } = {}): void {
  const c: any = defaultSpec();
  mutate(c);
  const config = parseJson(JSON.stringify(c), 'config.json');
  validateConfig(config, { bundle: '/bundle', host, noPivot: opts.noPivot });
  planContainer(config, { id: 'x', bundle: '/bundle' });
}

function expectField(mutate: Mutate, field: string | RegExp, problem?: RegExp): void {
  let caught: unknown;
  try {
    check(mutate);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  const e = caught as ConfigError;
  if (typeof field === 'string') expect(e.field).toBe(field);
  else expect(e.field).toMatch(field);
  if (problem) expect(e.message).toMatch(problem);
  // One line, naming the step.
  expect(e.message.split('\n')).toHaveLength(1);
  expect(e.message).toMatch(/^validate config: /);
}

describe('config validation', () => {
  it('accepts the default spec', () => {
    expect(() => check(() => {})).not.toThrow();
  });
  it('rejects text that is not JSON', () => {
    expect(() => parseJson('{]', 'config.json')).toThrow(/load config: config.json: not valid JSON/);
    expect(() => parseJson('{]', 'config.json')).toThrow(RuntimeError);
  });
  it('reads a null member as absent, as Go does (runc 1.3.6 timens.bats: "timeOffsets": null)', () => {
    const config = parseJson('{"linux": {"timeOffsets": null, "namespaces": [{"type": "time"}]}, "hooks": null}', 'config.json');
    expect(config).toEqual({ linux: { namespaces: [{ type: 'time' }] } });
    expect(() => check((c) => Object.assign(c.linux, { timeOffsets: null, namespaces: [...c.linux.namespaces, { type: 'time' }] }))).not.toThrow();
    // Not in an array: ["a", null] is no list of strings.
    expect(parseJson('{"args": ["a", null]}', 'config.json')).toEqual({ args: ['a', null] });
    expectField((c) => (c.process.args = ['sh', null]), 'process.args[1]');
  });
  it("matches keys to fields without regard to case, as Go's encoding/json does for runc (runc's update.bats writes linux.resources.CPU.Cpus)", () => {
    const config: any = parseJson('{"Linux": {"Resources": {"CPU": {"Cpus": "0", "Mems": "0"}}, "Sysctl": {"Net.IPv4.ip_forward": "1"}}, "Mounts": [{"Destination": "/x", "TYPE": "tmpfs"}], "annotations": {"Foo": "x"}, "unknownKey": {"Cwd": 1}}', 'config.json');
    expect(config).toEqual({
      linux: { resources: { cpu: { cpus: '0', mems: '0' } }, sysctl: { 'Net.IPv4.ip_forward': '1' } },
      mounts: [{ destination: '/x', type: 'tmpfs' }],
      annotations: { Foo: 'x' },
      unknownKey: { Cwd: 1 },
    });
    // A scalar named twice takes the last value, whatever its case.
    expect(parseJson('{"process": {"cwd": "/a", "CWD": "/b"}}', 'config.json')).toEqual({ process: { cwd: '/b' } });
    expect(parseJson('{"process": {"CWD": "/b", "cwd": "/a"}}', 'config.json')).toEqual({ process: { cwd: '/a' } });
    // An object named twice, in either case or in the same: the second adds
    // to the first, as Go decodes into what is there (arrays are replaced).
    const seccomp = { defaultAction: 'SCMP_ACT_ERRNO' };
    expect(parseJson(`{"linux": {"seccomp": ${JSON.stringify(seccomp)}, "maskedPaths": ["/a"]}, "Linux": {"maskedPaths": ["/b"]}}`, 'config.json')).toEqual({ linux: { seccomp, maskedPaths: ['/b'] } });
    expect(parseJson(`{"linux": {"seccomp": ${JSON.stringify(seccomp)}}, "linux": {"sysctl": {"a": "1"}}, "linux": {"sysctl": {"b": "2"}}}`, 'config.json')).toEqual({ linux: { seccomp, sysctl: { a: '1', b: '2' } } });
    expect(parseJson('{"process": {"noNewPrivileges": true}, "Process": {"args": ["sh"]}}', 'config.json')).toEqual({ process: { noNewPrivileges: true, args: ['sh'] } });
    // A later null changes nothing, and a repeated array is decoded into the
    // earlier elements (Go's decoder; runc keeps these settings too).
    expect(parseJson('{"process": {"noNewPrivileges": true, "NoNewPrivileges": null, "user": {"uid": 1000, "Uid": null}}}', 'config.json')).toEqual({ process: { noNewPrivileges: true, user: { uid: 1000 } } });
    expect(parseJson('{"mounts": [{"destination": "/x", "options": ["ro"]}, {"destination": "/y"}], "Mounts": [{"destination": "/x"}]}', 'config.json')).toEqual({ mounts: [{ destination: '/x', options: ['ro'] }] });
    // Decoded in place: many repeats cost what their text does.
    const repeats = `{${Array.from({ length: 40000 }, (_, i) => `"linux": {"sysctl": {"k${i}": "1"}}`).join(', ')}}`;
    expect(Object.keys((parseJson(repeats, 'config.json') as any).linux.sysctl)).toHaveLength(40000);
    // Go's folding: the long s is an s, the Kelvin sign a k; other letters outside ASCII name no field.
    expect(parseJson('{"linux": {"ſeccomp": {"defaultAction": "SCMP_ACT_ALLOW"}, "resources": {"memory": {"\u212Aernel": 5}}, "sysctl\u00e9": {}}}', 'config.json')).toEqual({ linux: { seccomp: { defaultAction: 'SCMP_ACT_ALLOW' }, resources: { memory: { kernel: 5 } }, 'sysctlé': {} } });
    // Colons and quotes inside strings are not members: a plain config and the
    // same with a repeated member (found only by counting) read as Go reads them.
    const plain = '{"hostname": "a:b\\\\", "annotations": {"k:\\"1": "v:"}, "process": {"args": ["sh", "-c", "x:y"]}}';
    expect(parseJson(plain, 'config.json')).toEqual({ hostname: 'a:b\\', annotations: { 'k:"1': 'v:' }, process: { args: ['sh', '-c', 'x:y'] } });
    expect(parseJson(plain.replace('"process"', '"hostname": "h", "process": {"cwd": "/a"}, "process"'), 'config.json')).toEqual({ hostname: 'h', annotations: { 'k:"1': 'v:' }, process: { cwd: '/a', args: ['sh', '-c', 'x:y'] } });
    // Go's depth limit: 10000 nested arrays and objects, the top object the first, in a field or not.
    const nested = (n: number) => `{"x": ${'['.repeat(n)}${']'.repeat(n)}}`;
    expect(() => parseJson(nested(9999), 'config.json')).not.toThrow();
    expect(() => parseJson(nested(10000), 'config.json')).toThrow(/not valid JSON: exceeded max depth \(10000 nested arrays and objects\)$/);
    expect(() => parseJson(nested(10000).replace('"x"', '"hooks": {}, "hooks"'), 'config.json')).toThrow(/exceeded max depth/);
    // Not JSON: said so, with where.
    expect(() => parseJson('{"a": 1,}', 'config.json')).toThrow(/not valid JSON: expected a string at position 8/);
    expect(() => parseJson('{"a": 1} x', 'config.json')).toThrow(/unexpected text after the value/);
    expect(() => parseJson('{"__proto__": {"polluted": 1}}', 'config.json')).not.toThrow();
    expect(({} as any).polluted).toBeUndefined();
    // update -r and exec -p: their own shapes.
    expect(parseJson('{"CPU": {"Cpus": "1"}, "Pids": {"Limit": 5}}', 'stdin', 'read resources', shapes.resources)).toEqual({ cpu: { cpus: '1' }, pids: { limit: 5 } });
    expect(parseJson('{"Args": ["sh"], "Env": ["A=1"], "User": {"UID": 0, "GID": 0}}', 'p.json', 'read process file', shapes.process)).toEqual({ args: ['sh'], env: ['A=1'], user: { uid: 0, gid: 0 } });
  });
  it('missing ociVersion', () => expectField((c) => delete c.ociVersion, 'ociVersion', /is required/));
  it('unsupported ociVersion', () => expectField((c) => (c.ociVersion = '2.0.0'), 'ociVersion'));
  it('unknown namespace', () => expectField((c) => c.linux.namespaces.push({ type: 'bogus' }), 'linux.namespaces[5].type', /one of/));
  it('duplicate namespace', () => expectField((c) => c.linux.namespaces.push({ type: 'pid' }), 'linux.namespaces[5].type', /twice/));
  it('takes an empty namespace path as none: a new namespace, as runc does', () => {
    const c: any = defaultSpec();
    c.linux.namespaces = c.linux.namespaces.map((n: any) => (n.type === 'mount' ? { type: 'mount', path: '' } : n));
    const config = parseJson(JSON.stringify(c), 'config.json');
    validateConfig(config, { bundle: '/bundle', host });
    const plan = planContainer(config, { id: 'x', bundle: '/bundle' });
    expect(plan.mountNs).toBe('new');
    expect(plan.join).toEqual([]);
  });
  it('namespace path that does not exist', () => expectField((c) => (c.linux.namespaces[1] = { type: 'network', path: '/nonexistent/ns' }), 'linux.namespaces[1].path'));
  it('namespace path that is a fifo, not a namespace file', () => expectField((c) => (c.linux.namespaces[1] = { type: 'network', path: '/run/a-fifo' }), 'linux.namespaces[1].path'));
  it('empty args', () => expectField((c) => (c.process.args = []), 'process.args', /empty/));
  it('negative uid', () => expectField((c) => (c.process.user.uid = -1), 'process.user.uid', /must be >= 0/));
  it('unknown rlimit', () => expectField((c) => c.process.rlimits.push({ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }), 'process.rlimits[1].type', /unknown rlimit/));
  it('soft rlimit above hard', () => expectField((c) => (c.process.rlimits[0] = { type: 'RLIMIT_NOFILE', soft: 10, hard: 5 }), 'process.rlimits[0]'));
  it('missing rootfs', () => expectField((c) => (c.root.path = 'missing'), 'root.path', /does not exist/));
  it('unknown filesystem type', () => expectField((c) => c.mounts.push({ destination: '/x', type: 'nosuchfs', source: 'x' }), 'mounts[7].type', /unknown filesystem type/));
  it('unknown sysctl', () => expectField((c) => (c.linux.sysctl = { 'fs.mqueue.bogus': '1' }), 'linux.sysctl.fs.mqueue.bogus', /unknown sysctl/));
  it("a network sysctl the host does not show is left to the container's network namespace, as runc does", () => {
    expect(() => check((c) => (c.linux.sysctl = { 'net.ipv6.conf.eth0.disable_ipv6': '1' }))).not.toThrow();
  });
  it("bind mounts with a filesystem's options (runc's checkBindOptions)", () => expectField((c) => c.mounts.push({ destination: '/mnt', type: 'bind', source: '/tmp', options: ['rbind', 'size=1m'] }), 'mounts[' + (defaultSpec() as any).mounts.length + '].options', /filesystem-specific options/));
  it('takes a relative mount destination, masked or read-only path as relative to /, as runc 1.3.6 does', () => {
    expect(() => check((c) => c.mounts.push({ destination: 'mnt', type: 'tmpfs', source: 'tmpfs' }))).not.toThrow();
    expect(() => check((c) => (c.linux.maskedPaths = ['proc/kcore'], c.linux.readonlyPaths = ['proc/sys']))).not.toThrow();
    expect(() => check((c) => (c.process.scheduler = { policy: 'SCHED_FIFO', nice: 40, priority: 1 }))).not.toThrow();
    expectField((c) => (c.process.scheduler = { policy: 'SCHED_OTHER', nice: 40 }), 'process.scheduler.nice', /-20 to 19/);
  });
  it('sysctl that is not namespaced', () => expectField((c) => (c.linux.sysctl = { 'vm.swappiness': '1' }), 'linux.sysctl.vm.swappiness', /not in a separate kernel namespace/));
  it('sysctl whose namespace is shared with the host', () => expectField((c) => {
    c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'network');
    c.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
  }, 'linux.sysctl.net.ipv4.ip_forward', /network namespace/));
  it("net sysctl in a joined network namespace that is the runtime's own", () => expectField((c) => {
    c.linux.namespaces = c.linux.namespaces.map((n: any) => (n.type === 'network' ? { type: 'network', path: '/proc/self/ns/net' } : n));
    c.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
  }, 'linux.sysctl.net.ipv4.ip_forward', /not allowed in host network namespace/));
  it('kernel.hostname as a sysctl (runc: it conflicts with the hostname field)', () => expectField((c) => (c.linux.sysctl = { 'kernel.hostname': 'x' }), 'linux.sysctl.kernel.hostname', /conflicts with the OCI "hostname" field/));
  it('user namespace without mappings', () => expectField((c) => c.linux.namespaces.push({ type: 'user' }), 'linux.uidMappings', /needs uidMappings/));
  it('relative hook path', () => expectField((c) => (c.hooks = { prestart: [{ path: 'bin/hook' }] }), 'hooks.prestart[0].path', /absolute/));
  it('hostname without a UTS namespace (it would be the host\'s)', () => expectField((c) => (c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'uts')), 'hostname', /private UTS namespace/));
  it('relative cwd', () => expectField((c) => (c.process.cwd = 'tmp'), 'process.cwd', /absolute/));
  it('env entry without =', () => expectField((c) => c.process.env.push('JUSTAKEY'), 'process.env[2]'));
  it('config for another platform', () => expectField((c) => (c.windows = {}), 'windows', /another platform/));
  it("podman's fileMode with the file-type bits (8630 = S_IFCHR | 0666) is a uint32, as in the spec", () => {
    expect(() => check((c) => (c.linux.devices = [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 8630, uid: 0, gid: 0 }]))).not.toThrow();
    // As runc: a device outside /dev, a sysctl written with slashes, a net sysctl in a joined namespace not the runtime's.
    expect(() => check((c) => (c.linux.devices = [{ path: '/foo-dev', type: 'c', major: 1, minor: 3 }]))).not.toThrow();
    expect(() => check((c) => (c.linux.sysctl = { 'kernel/shmmax': '1' }))).toThrow(/unknown sysctl/); // (the fake host knows the dotted name only)
    expect(() => check((c) => (c.linux.namespaces = c.linux.namespaces.map((n: any) => (n.type === 'network' ? { type: 'network', path: '/run/netns/x' } : n)), c.linux.sysctl = { 'net.ipv4.ip_forward': '1' }))).not.toThrow();
    expect(planContainer({ ...(defaultSpec() as any), linux: { ...(defaultSpec() as any).linux, devices: [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 8630 }] } }, { id: 'x', bundle: '/b' }).devices.find((d) => d.path === '/dev/fuse')?.mode).toBe(8630);
    expectField((c) => (c.linux.devices = [{ path: '/dev/x', type: 'c', major: 1, minor: 1, fileMode: -1 }]), 'linux.devices[0].fileMode', /must be >= 0/);
  });
  it('fields not applied by this build are refused, not ignored', () => {
    expectField((c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] }), 'linux.seccomp.listenerPath', /required when an action is SCMP_ACT_NOTIFY/);
    expectField((c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: '/run/agent.sock' }), 'linux.seccomp.defaultAction', /cannot be the default action/);
    expectField((c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock', syscalls: [{ names: ['write'], action: 'SCMP_ACT_NOTIFY' }] }), 'linux.seccomp.syscalls[0]', /write syscall/);
    expectField((c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }, { names: ['sendmsg'], action: 'SCMP_ACT_NOTIFY' }] }), 'linux.seccomp.syscalls[1]', /sendmsg syscall/);
    expectField((c) => (c.process.user.username = 'root'), 'process.user.username', /not supported/);
    expectField((c) => (c.mounts[0].options = ['idmap']), 'mounts[0]', /only supported for bind mounts/);
  });
  describe('without a mount namespace of its own', () => {
    const shareMounts: Mutate = (c) => {
      c.linux.namespaces = [{ type: 'pid' }, { type: 'uts' }];
      c.linux.maskedPaths = [];
      c.linux.readonlyPaths = [];
      c.root.readonly = false;
    };
    it('masked paths, in runc words', () => expectField((c) => {
      shareMounts(c);
      c.linux.maskedPaths = ['/proc/kcore'];
    }, 'linux.maskedPaths', /unable to restrict sys entries without a private mount namespace/));
    it('read-only paths', () => expectField((c) => {
      shareMounts(c);
      c.linux.readonlyPaths = ['/proc/sys'];
    }, 'linux.readonlyPaths', /unable to restrict sys entries/));
    it('a read-only root, which runc (1.1.5 and 1.3.6) ignores there: ignored with a warning', () => {
      expect(() => check((c) => (shareMounts(c), (c.root.readonly = true)))).not.toThrow();
      const warnings: string[] = [];
      const c: any = defaultSpec();
      shareMounts(c);
      c.root.readonly = true;
      expect(planContainer(c, { id: 'x', bundle: '/b', warn: (m) => warnings.push(m) }).readonlyRoot).toBe(false);
      expect(warnings).toEqual([expect.stringMatching(/root\.readonly is ignored without a mount namespace/)]);
    });
    it('rootfsPropagation, which would change the host', () => expectField((c) => {
      shareMounts(c);
      c.linux.rootfsPropagation = 'shared';
    }, 'linux.rootfsPropagation', /host's own mount propagation/));
    it('mounts over the host\'s own / as rootfs', () => expectField((c) => {
      shareMounts(c);
      c.root.path = '/';
    }, 'root.path', /host's own directories/));
    it('--no-pivot, which would move the rootfs over the host\'s /', () => {
      const c: any = defaultSpec();
      shareMounts(c);
      expect(() => check(shareMounts, { noPivot: true })).toThrow(/--no-pivot cannot be used/);
    });
    it('otherwise plans "none", and a path plans "joined"', () => {
      const c: any = defaultSpec();
      shareMounts(c);
      expect(planContainer(c, { id: 'x', bundle: '/bundle' }).mountNs).toBe('none');
      c.linux.namespaces.push({ type: 'mount', path: '/proc/1/ns/mnt' });
      expect(planContainer(c, { id: 'x', bundle: '/bundle' }).mountNs).toBe('joined');
      expect(planContainer(defaultSpec() as any, { id: 'x', bundle: '/bundle' }).mountNs).toBe('new');
    });
    it("the runtime's own mount namespace, where pivot_root would move the host's root", () => {
      expectField((c) => (c.linux.namespaces[c.linux.namespaces.findIndex((n: any) => n.type === 'mount')] = { type: 'mount', path: '/proc/self/ns/mnt' }), /linux\.namespaces\[\d\]\.path/, /runtime's own mount namespace/);
    });
  });
});

describe('--systemd-cgroup', () => {
  const withSystemd = (cgroupsPath: string, running = true) => {
    const c: any = defaultSpec();
    c.linux.cgroupsPath = cgroupsPath;
    validateConfig(parseJson(JSON.stringify(c), 'config.json'), { bundle: '/bundle', host: { ...host, systemdRunning: () => running }, systemdCgroup: true });
  };
  it('takes "slice:prefix:name" and the empty path', () => {
    expect(() => withSystemd('system.slice:docker:abc')).not.toThrow();
    expect(() => withSystemd('')).not.toThrow();
  });
  it('refuses another form, naming the field, before it asks whether systemd runs', () => {
    expect(() => withSystemd('/plain/path', false)).toThrow('validate config: linux.cgroupsPath: expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got "/plain/path" instead');
    expect(() => withSystemd('a--b.slice:p:n')).toThrow('validate config: linux.cgroupsPath: invalid slice name: a--b.slice');
  });
  it('refuses a host without systemd', () => {
    expect(() => withSystemd('system.slice:p:n', false)).toThrow('systemd: systemd not running on this host, cannot use systemd cgroups manager (no /run/systemd/system)');
  });
});

describe('restore', () => {
  const forRestore = (mutate: Mutate) => {
    const c: any = defaultSpec();
    c.process.terminal = false;
    mutate(c);
    const config = parseJson(JSON.stringify(c), 'config.json');
    validateConfig(config, { bundle: '/bundle', host });
    validateForRestore(config, { bundle: '/bundle', host });
  };
  it('takes what create takes, with a mount namespace of its own', () => expect(() => forRestore(() => {})).not.toThrow());
  it('refuses, in order, what this version cannot restore', () => {
    expect(() => forRestore((c) => {
      c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'mount');
      c.linux.maskedPaths = [];
      c.linux.readonlyPaths = [];
      c.root.readonly = false;
      c.process.terminal = true;
    })).toThrow('restore: a container without a mount namespace of its own cannot be restored by this version');
    expect(() => forRestore((c) => (c.process.terminal = true))).toThrow('restore: a container with process.terminal cannot be restored by this version');
    expect(() => forRestore((c) => (c.hooks = { createRuntime: [{ path: '/bin/true' }] }))).toThrow('restore: hooks.createRuntime: restore does not run these hooks in this version');
    expect(() => forRestore((c) => c.linux.namespaces.push({ type: 'cgroup', path: '/proc/1/ns/cgroup' }))).toThrow('restore: Do not know how to handle namespace cgroup');
  });
});
