/**
 * A fake `Sys` for unit tests: it records every call in order and touches
 * nothing. Tests assert on `calls`, and make chosen calls fail with `failOn`.
 */
import { SysError, type CapSets, type Sys } from './types.js';

export interface RecordedCall {
  call: string;
  args: unknown[];
}

export class RecordingSys implements Sys {
  readonly calls: RecordedCall[] = [];
  caps: CapSets = { effective: (1n << 41n) - 1n, permitted: (1n << 41n) - 1n, inheritable: 0n };
  private nextFd = 100;
  private failures: { call: string; match?: (args: unknown[]) => boolean; errno: number; code: string }[] = [];

  /** Makes the next matching call throw a SysError with this errno code. */
  failOn(call: string, code: string, match?: (args: unknown[]) => boolean, errno = 2): this {
    this.failures.push({ call, match, errno, code });
    return this;
  }

  private rec(call: string, ...args: unknown[]): void {
    this.calls.push({ call, args });
    const i = this.failures.findIndex((f) => f.call === call && (!f.match || f.match(args)));
    if (i >= 0) {
      const f = this.failures.splice(i, 1)[0];
      throw new SysError(call, typeof args[0] === 'string' ? args[0] : typeof args[1] === 'string' ? args[1] : undefined, f.errno, f.code, 'injected failure');
    }
  }

  /** The recorded calls with one name. */
  named(call: string): unknown[][] {
    return this.calls.filter((c) => c.call === call).map((c) => c.args);
  }

  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null) { this.rec('mount', source, target, fstype, flags, data); }
  umount2(target: string, flags: number) { this.rec('umount2', target, flags); }
  pivotRoot(newRoot: string, putOld: string) { this.rec('pivotRoot', newRoot, putOld); }
  chdir(path: string) { this.rec('chdir', path); }
  fchdir(fd: number) { this.rec('fchdir', fd); }
  chroot(path: string) { this.rec('chroot', path); }
  unshare(flags: number) { this.rec('unshare', flags); }
  setns(fd: number, nstype: number) { this.rec('setns', fd, nstype); }
  sethostname(name: string) { this.rec('sethostname', name); }
  setdomainname(name: string) { this.rec('setdomainname', name); }
  open(path: string, flags: number, mode = 0) { this.rec('open', path, flags, mode); return this.nextFd++; }
  openat(dirfd: number, path: string, flags: number, mode = 0) { this.rec('openat', dirfd, path, flags, mode); return this.nextFd++; }
  openat2(dirfd: number, path: string, flags: number, resolve: number, mode = 0) { this.rec('openat2', dirfd, path, flags, resolve, mode); return this.nextFd++; }
  mkdirat(dirfd: number, name: string, mode: number) { this.rec('mkdirat', dirfd, name, mode); }
  /** What readlinkat answers, by name. */
  links: Record<string, string> = {};
  readlinkat(dirfd: number, name: string) {
    this.rec('readlinkat', dirfd, name);
    if (!(name in this.links)) throw new SysError('readlinkat', name, 22, 'EINVAL', 'not a symlink');
    return this.links[name];
  }
  mknodat(dirfd: number, name: string, mode: number, dev: bigint) { this.rec('mknodat', dirfd, name, mode, dev); }
  symlinkat(target: string, dirfd: number, name: string) { this.rec('symlinkat', target, dirfd, name); }
  fchown(fd: number, uid: number, gid: number) { this.rec('fchown', fd, uid, gid); }
  fchmod(fd: number, mode: number) { this.rec('fchmod', fd, mode); }
  close(fd: number) { this.rec('close', fd); }
  setCloexec(fd: number, on: boolean) { this.rec('setCloexec', fd, on); }
  dup(fd: number) { this.rec('dup', fd); return this.nextFd++; }
  fsType = 0x9fa0;
  /** The ST_* flags fstatfs reports. */
  fsFlags = 0;
  fstatfs(fd: number) { this.rec('fstatfs', fd); return { type: this.fsType, flags: this.fsFlags }; }
  dup2(oldFd: number, newFd: number) { this.rec('dup2', oldFd, newFd); }
  cloexecFrom(first: number) { this.rec('cloexecFrom', first); }
  flock(fd: number, op: number) { this.rec('flock', fd, op); }
  ioctl(fd: number, request: number, arg: number | Buffer) { this.rec('ioctl', fd, request, arg); return 0; }
  prctl(option: number, a2 = 0, a3 = 0, a4 = 0, a5 = 0) { this.rec('prctl', option, a2, a3, a4, a5); return 0; }
  capget() { this.rec('capget'); return { ...this.caps }; }
  capset(sets: CapSets) { this.rec('capset', sets); this.caps = { ...sets }; }
  setresuid(r: number, e: number, s: number) { this.rec('setresuid', r, e, s); }
  setresgid(r: number, e: number, s: number) { this.rec('setresgid', r, e, s); }
  setgroups(gids: number[]) { this.rec('setgroups', gids); }
  setrlimit(resource: number, soft: bigint, hard: bigint) { this.rec('setrlimit', resource, soft, hard); }
  memfdCreate(name: string, flags: number) { this.rec('memfdCreate', name, flags); return this.nextFd++; }
  addSeals(fd: number, seals: number) { this.rec('addSeals', fd, seals); }
  fexecve(fd: number, argv: string[], envp: string[]): never {
    this.rec('fexecve', fd, argv, envp);
    throw new Error('RecordingSys: fexecve reached (a real one would not return)');
  }
  waitpid(pid: number) { this.rec('waitpid', pid); return Promise.resolve(0); }
  connectUnix(socketPath: string, kind: 'stream' | 'dgram' = 'stream') { this.rec('connectUnix', socketPath, kind); return this.nextFd++; }
  bindUnixDgram(socketPath: string) { this.rec('bindUnixDgram', socketPath); return this.nextFd++; }
  pipe(): [number, number] { this.rec('pipe'); return [this.nextFd++, this.nextFd++]; }
  seccompLoad(flags: number, bpf: Buffer) { this.rec('seccompLoad', flags, bpf.length / 8); return flags & 8 ? this.nextFd++ : 0; }
  schedSetattr(attr: Buffer, pid = 0) { this.rec('schedSetattr', attr.toString('hex'), pid); }
  setIoPriority(value: number) { this.rec('setIoPriority', value); }
  personality(persona: number) { this.rec('personality', persona); }
  setMempolicy(mode: number, nodes: number[]) { this.rec('setMempolicy', mode, nodes); }
  ifIndex(name: string) { this.rec('ifIndex', name); return 7; }
  netlinkRoute(request: Buffer) {
    this.rec('netlinkRoute', request.toString('hex'));
    // An ACK: nlmsghdr (NLMSG_ERROR) with error 0, then the request's header.
    const ack = Buffer.alloc(36);
    ack.writeUInt32LE(36, 0);
    ack.writeUInt16LE(2, 4);
    ack.writeInt32LE(0, 16);
    request.copy(ack, 20, 0, 16);
    return ack;
  }
  joinSessionKeyring(name: string) { this.rec('joinSessionKeyring', name); return 1234; }
  keyPermissions(serial: number) { this.rec('keyPermissions', serial); return 0x3f010000; }
  setKeyPermissions(serial: number, perm: number) { this.rec('setKeyPermissions', serial, perm); }
  address(_buf: Buffer | Uint32Array) { return 0x1000n; }
  bpf(cmd: number, attr: Buffer) { this.rec('bpf', cmd, Buffer.from(attr)); return cmd === 5 || cmd === 13 ? this.nextFd++ : 0; }
  waitReadable(fd: number, timeoutMs: number) { this.rec('waitReadable', fd, timeoutMs); return Promise.resolve(true); }
  pollReadable(fd: number, timeoutMs: number) { this.rec('pollReadable', fd, timeoutMs); return true; }
  pidfdOpen(pid: number) { this.rec('pidfdOpen', pid); return this.nextFd++; }
  sendFd(sockFd: number, fd: number, name: string) { this.rec('sendFd', sockFd, fd, name); }
  prepareSendFd(sockFd: number, name: string) { return (fd: number) => this.sendFd(sockFd, fd, name); }
  socketPair(): [number, number] { this.rec('socketPair'); return [this.nextFd++, this.nextFd++]; }
  recvFd(sockFd: number) { this.rec('recvFd', sockFd); return this.nextFd++; }
  recvmsg(sockFd: number, buf: Buffer) { this.rec('recvmsg', sockFd, buf.length); return { n: 0 }; }
  passCredentials(sockFd: number) { this.rec('passCredentials', sockFd); }
  peerUid(sockFd: number) { this.rec('peerUid', sockFd); return 0; }
  /** What read() returns, in order; empty means end of file. */
  readData: Buffer[] = [];
  read(fd: number, buf: Buffer) {
    this.rec('read', fd);
    const next = this.readData.shift();
    if (!next) return 0;
    next.copy(buf);
    return Math.min(next.length, buf.length);
  }
  /** Everything written, per fd. */
  written = new Map<number, Buffer[]>();
  write(fd: number, buf: Buffer) {
    this.rec('write', fd, buf.toString('utf8'));
    this.written.set(fd, [...(this.written.get(fd) ?? []), Buffer.from(buf)]);
    return buf.length;
  }
  send(fd: number, buf: Buffer) { return this.write(fd, buf); }
  spawn(file: string, argv: string[], envp: string[], fds: number[]) { this.rec('spawn', file, argv, envp, fds); return 4242; }
  openTree(fd: number, recursive: boolean) { this.rec('openTree', fd, recursive); return this.nextFd++; }
  moveMount(fromFd: number, toFd: number) { this.rec('moveMount', fromFd, toFd); }
  fsopen(fsname: string) { this.rec('fsopen', fsname); return this.nextFd++; }
  fsconfig(fd: number, key: string, value?: string) { this.rec('fsconfig', fd, key, value); }
  fsmount(fd: number, attrs: number) { this.rec('fsmount', fd, attrs); return this.nextFd++; }
  mountSetattr(fd: number, set: number, clear: number, recursive: boolean, usernsFd?: number) { this.rec('mountSetattr', fd, set, clear, recursive, ...(usernsFd === undefined ? [] : [usernsFd])); }
  cwd = '/';
  getcwd() { this.rec('getcwd'); return this.cwd; }
  eaccess(path: string, mode: number) { this.rec('eaccess', path, mode); }
  schedSetaffinity(cpus: number[], pid = 0) { this.rec('schedSetaffinity', cpus, pid); }
  resetSignals(ignored: bigint) { this.rec('resetSignals', ignored); }
}
