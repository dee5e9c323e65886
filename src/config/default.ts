/**
 * The config `ocirun spec` writes: runc's default. A shell on a terminal,
 * and every device denied but the ones runc always allows (/dev/null, ptys
 * and the like, appended by create).
 */
import fs from 'node:fs';
import { OCI_VERSION } from './constants.js';
import type { Config } from './schema.js';

/** Whether /sys/fs/cgroup is cgroup v2 alone (runc's cgroups.IsCgroup2UnifiedMode). */
function cgroup2Host(): boolean {
  return fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
}

export function defaultSpec(opts: { args?: string[]; terminal?: boolean } = {}): Config {
  const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: opts.terminal ?? true,
      user: { uid: 0, gid: 0 },
      args: opts.args ?? ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'ocirun',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      // runc's list: a cgroup namespace only on a cgroup v2 host.
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, ...(cgroup2Host() ? [{ type: 'cgroup' as const }] : [])],
      maskedPaths: [
        '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
        '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/**
 * runc's `spec --rootless` (specconv.ToRootless): a user namespace mapping
 * the caller's uid and gid to 0 instead of a network namespace, /sys bound
 * from the host (a fresh sysfs needs a network namespace of one's own), no
 * uid=/gid= mount options (those ids are not mapped), no cgroup resources.
 */
export function toRootless(spec: Config, uid: number, gid: number): Config {
  const linux = { ...spec.linux };
  linux.namespaces = [...(linux.namespaces ?? []).filter((n) => n.type !== 'network' && n.type !== 'user'), { type: 'user' }];
  linux.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }];
  linux.gidMappings = [{ containerID: 0, hostID: gid, size: 1 }];
  delete linux.resources;
  const mounts = (spec.mounts ?? []).map((m) =>
    m.destination.replace(/\/+$/, '') === '/sys'
      ? { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
      : { ...m, ...(m.options && { options: m.options.filter((o) => !o.startsWith('uid=') && !o.startsWith('gid=')) }) },
  );
  return { ...spec, mounts, linux };
}
