/**
 * `check`: can ocirun work on this host? One line per item, ok / missing /
 * note, with what to do about it, like LXC's lxc-checkconfig. Required items
 * make the exit status 1 when missing; optional ones only limit which
 * configs run.
 */
import fs from 'node:fs';
import { runningSystemd } from '../cgroups/systemd.js';
import { SystemdBus } from '../systemd/sdbus.js';
import { hostLayout } from '../cgroups/index.js';
import { appArmorEnabled, selinuxEnabled } from '../security/lsm.js';
import { embeddedAssets, execShim, stageBinary } from '../engine.js';
import { NamespaceTypes, NS_PROC_FILE } from '../config/constants.js';
import { O, RESOLVE } from '../sys/constants.js';
import type { Sys } from '../sys/types.js';
import { parseMountinfo } from '../rootfs/mountinfo.js';

export interface CheckLine {
  status: 'ok' | 'missing' | 'note';
  item: string;
  detail: string;
  required: boolean;
}

const read = (f: string) => {
  try {
    return fs.readFileSync(f, 'utf8').trim();
  } catch {
    return undefined;
  }
};

/** The filesystem type of the mount holding `dir` (the longest matching mount point). */
function fsTypeOf(dir: string): string | undefined {
  let best: { point: string; type: string } | undefined;
  for (const { mountPoint: point, fstype } of parseMountinfo(read('/proc/self/mountinfo') ?? '')) {
    if ((dir === point || dir.startsWith(point.endsWith('/') ? point : `${point}/`)) && (!best || point.length >= best.point.length)) best = { point, type: fstype };
  }
  return best?.type;
}

export function check(sys: Sys, stateRoot: string, libseccompVersion: string | undefined): CheckLine[] {
  const out: CheckLine[] = [];
  const add = (ok: boolean, item: string, okDetail: string, fix: string, required: boolean) =>
    out.push({ status: ok ? 'ok' : required ? 'missing' : 'note', item, detail: ok ? okDetail : fix, required });

  for (const name of NamespaceTypes) {
    const file = NS_PROC_FILE[name];
    // Without mount and pid namespaces no container can run; the others only limit configs.
    const required = name === 'mount' || name === 'pid';
    add(fs.existsSync(`/proc/self/ns/${file}`), `namespace: ${name}`, 'supported', `the kernel lacks ${name} namespaces (CONFIG_${file.toUpperCase()}_NS); configs asking for one fail`, required);
  }
  const maxUserNs = Number(read('/proc/sys/user/max_user_namespaces') ?? 0);
  add(maxUserNs > 0, 'user namespaces limit', `max_user_namespaces=${maxUserNs}`, 'sysctl user.max_user_namespaces=15000 to allow user namespaces', false);

  try {
    const layout = hostLayout();
    const names = layout.hierarchies.map((h) => h.name);
    const unified = layout.hierarchies.find((h) => h.name === 'unified');
    const v2controllers = unified ? read(`${unified.mountPoint}/cgroup.controllers`) : undefined;
    add(names.length > 0, 'cgroups', `${layout.mode}: ${names.filter((n) => n !== 'unified').join(' ') || ''}${unified ? ` unified(${v2controllers || 'no controllers'})` : ''}`.trim(), 'no cgroup filesystem is mounted under /sys/fs/cgroup', true);
    const have = new Set([...names.flatMap((n) => n.split(',')), ...(v2controllers ?? '').split(' ')]);
    for (const c of ['memory', 'pids', 'cpu', 'cpuset', 'freezer', 'devices', 'blkio', 'io']) {
      if (layout.mode === 'v2' ? ['freezer', 'devices', 'blkio'].includes(c) : c === 'io') continue;
      add(have.has(c), `cgroup controller: ${c}`, 'available', `not available: linux.resources for ${c} fail${c === 'freezer' ? ', and pause/resume' : ''}`, false);
    }
  } catch (err) {
    add(false, 'cgroups', '', `cannot read the cgroup layout: ${(err as Error).message}`, true);
  }

  add(/^Seccomp:/m.test(read('/proc/self/status') ?? ''), 'seccomp (kernel)', 'supported', 'the kernel lacks seccomp (CONFIG_SECCOMP_FILTER); configs with linux.seccomp fail', false);
  add(libseccompVersion !== undefined, 'libseccomp', `libseccomp.so.2 ${libseccompVersion}`, 'apt-get install libseccomp2; configs with linux.seccomp fail without it', false);
  const apparmor = appArmorEnabled();
  out.push({ status: 'note', item: 'AppArmor', detail: apparmor ? 'enabled on this host; process.apparmorProfile is applied' : 'not enabled; configs naming a profile are refused', required: false });
  out.push({ status: 'note', item: 'SELinux', detail: selinuxEnabled() ? 'enabled on this host; process labels and linux.mountLabel are applied' : 'not enabled; configs naming a process label are refused, linux.mountLabel is ignored with a warning', required: false });

  // --systemd-cgroup: systemd as PID 1, and its bus reachable.
  const systemd = runningSystemd();
  let bus = '';
  if (systemd) {
    try {
      new SystemdBus().close();
    } catch (err) {
      bus = (err as Error).message;
    }
  }
  out.push({ status: 'note', item: 'systemd cgroup driver', detail: !systemd ? 'systemd is not PID 1 here: --systemd-cgroup is refused' : bus ? `systemd is PID 1, but ${bus}` : 'systemd is PID 1 and its bus is reachable: --systemd-cgroup works', required: false });

  let openat2 = false;
  try {
    sys.close(sys.openat2(-100, '/', O.PATH | O.CLOEXEC, RESOLVE.NO_MAGICLINKS));
    openat2 = true;
  } catch {
    /* reported below */
  }
  add(openat2, 'openat2', 'supported (mount targets are resolved inside the rootfs)', 'needs Linux 5.6 or later: ocirun resolves every mount target with openat2', true);
  const rootType = fsTypeOf('/');
  add(rootType !== 'rootfs', 'pivot_root', `the host root is ${rootType}`, 'the host runs from an initramfs (rootfs), where pivot_root fails: use --no-pivot', false);
  const stateType = fsTypeOf(stateRoot);
  add(stateType !== undefined, `state dir ${stateRoot}`, `on ${stateType}`, 'cannot tell which filesystem holds it', false);
  for (const [name, file] of [['C stage', stageBinary()], ['exec shim', execShim()]]) {
    if (embeddedAssets()) {
      add(true, name, `embedded in ${process.execPath}`, '', true);
      continue;
    }
    let ok = false;
    try {
      fs.accessSync(file, fs.constants.X_OK);
      ok = true;
    } catch {
      /* reported */
    }
    add(ok, name, file, `${file} is missing or not executable: run npm install (it builds native/)`, true);
  }
  return out;
}
