/** Mount options of the runtime-spec, as runc's specconv parses them. */
import { MOUNT_ATTR, MS } from '../sys/constants.js';

const FLAGS: Record<string, { clear: boolean; flag: number }> = {
  acl: { clear: false, flag: MS.POSIXACL },
  async: { clear: true, flag: MS.SYNCHRONOUS },
  atime: { clear: true, flag: MS.NOATIME },
  bind: { clear: false, flag: MS.BIND },
  defaults: { clear: false, flag: 0 },
  dev: { clear: true, flag: MS.NODEV },
  diratime: { clear: true, flag: MS.NODIRATIME },
  dirsync: { clear: false, flag: MS.DIRSYNC },
  exec: { clear: true, flag: MS.NOEXEC },
  iversion: { clear: false, flag: MS.I_VERSION },
  lazytime: { clear: false, flag: MS.LAZYTIME },
  loud: { clear: true, flag: MS.SILENT },
  mand: { clear: false, flag: MS.MANDLOCK },
  noacl: { clear: true, flag: MS.POSIXACL },
  noatime: { clear: false, flag: MS.NOATIME },
  nodev: { clear: false, flag: MS.NODEV },
  nodiratime: { clear: false, flag: MS.NODIRATIME },
  noiversion: { clear: true, flag: MS.I_VERSION },
  noexec: { clear: false, flag: MS.NOEXEC },
  nolazytime: { clear: true, flag: MS.LAZYTIME },
  nomand: { clear: true, flag: MS.MANDLOCK },
  norelatime: { clear: true, flag: MS.RELATIME },
  nostrictatime: { clear: true, flag: MS.STRICTATIME },
  nosuid: { clear: false, flag: MS.NOSUID },
  nosymfollow: { clear: false, flag: MS.NOSYMFOLLOW },
  rbind: { clear: false, flag: MS.BIND | MS.REC },
  relatime: { clear: false, flag: MS.RELATIME },
  remount: { clear: false, flag: MS.REMOUNT },
  ro: { clear: false, flag: MS.RDONLY },
  rw: { clear: true, flag: MS.RDONLY },
  silent: { clear: false, flag: MS.SILENT },
  strictatime: { clear: false, flag: MS.STRICTATIME },
  suid: { clear: true, flag: MS.NOSUID },
  sync: { clear: false, flag: MS.SYNCHRONOUS },
  symfollow: { clear: true, flag: MS.NOSYMFOLLOW },
};

/**
 * runc's recursive attributes (mount_setattr with AT_RECURSIVE, after the
 * mount): "rro" makes every mount below read-only too, where "ro" on a
 * bind only touches the top one.
 */
const RECURSIVE: Record<string, { clear: boolean; attr: number }> = {
  rro: { clear: false, attr: MOUNT_ATTR.RDONLY },
  rrw: { clear: true, attr: MOUNT_ATTR.RDONLY },
  rnosuid: { clear: false, attr: MOUNT_ATTR.NOSUID },
  rsuid: { clear: true, attr: MOUNT_ATTR.NOSUID },
  rnodev: { clear: false, attr: MOUNT_ATTR.NODEV },
  rdev: { clear: true, attr: MOUNT_ATTR.NODEV },
  rnoexec: { clear: false, attr: MOUNT_ATTR.NOEXEC },
  rexec: { clear: true, attr: MOUNT_ATTR.NOEXEC },
  rnodiratime: { clear: false, attr: MOUNT_ATTR.NODIRATIME },
  rdiratime: { clear: true, attr: MOUNT_ATTR.NODIRATIME },
  rrelatime: { clear: false, attr: MOUNT_ATTR.RELATIME },
  rnorelatime: { clear: true, attr: MOUNT_ATTR.RELATIME },
  rnoatime: { clear: false, attr: MOUNT_ATTR.NOATIME },
  ratime: { clear: true, attr: MOUNT_ATTR.NOATIME },
  rstrictatime: { clear: false, attr: MOUNT_ATTR.STRICTATIME },
  rnostrictatime: { clear: true, attr: MOUNT_ATTR.STRICTATIME },
  rnosymfollow: { clear: false, attr: MOUNT_ATTR.NOSYMFOLLOW },
  rsymfollow: { clear: true, attr: MOUNT_ATTR.NOSYMFOLLOW },
};

const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/** Every option this runtime applies (what `features` reports as mountOptions). */
export const MOUNT_OPTIONS = [...Object.keys(FLAGS), ...Object.keys(RECURSIVE), ...Object.keys(PROPAGATION), 'tmpcopyup', 'idmap', 'ridmap'].sort();


export interface ParsedOptions {
  flags: number;
  /**
   * The flags an option asked to be off ("rw", "dev", "symfollow"), as
   * runc's ClearedFlags: a bind with any of them is remounted, and a locked
   * one of them on the source is an error rather than silently kept.
   */
  clearedFlags: number;
  propagation: number[];
  data: string;
  /** idmap (the top mount) or ridmap (it and all below): an id-mapped bind mount. */
  idmap?: 'idmap' | 'ridmap';
  /** tmpcopyup (runc's extension): a tmpfs starts with a copy of what it covers. */
  copyUp: boolean;
  /** MOUNT_ATTR_* to set and clear on the mount and every mount below it (the r* options). */
  recursive?: { set: number; clear: number };
}

export function parseMountOptions(options: readonly string[] = []): ParsedOptions {
  let flags = 0;
  let clearedFlags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  let idmap: ParsedOptions['idmap'];
  let copyUp = false;
  let recursive: ParsedOptions['recursive'];
  for (const o of options) {
    const f = FLAGS[o];
    const r = RECURSIVE[o];
    if (o === 'tmpcopyup') {
      copyUp = true;
    } else if (r) {
      recursive ??= { set: 0, clear: 0 };
      if (r.clear) {
        recursive.clear |= r.attr;
        recursive.set &= ~r.attr;
      } else {
        recursive.set |= r.attr;
        recursive.clear &= ~r.attr;
      }
      // The access time is one field: mount_setattr(2) takes a change of it
      // (setting a mode, or clearing one: "ratime", "rnostrictatime") only
      // with the whole field cleared, else EINVAL. As runc 1.3.6 (#5095).
      if ((r.attr & MOUNT_ATTR.ATIME_MASK) === r.attr) recursive.clear |= MOUNT_ATTR.ATIME_MASK;
    } else if (f) {
      if (f.clear) {
        flags &= ~f.flag;
        clearedFlags |= f.flag;
      } else {
        flags |= f.flag;
        clearedFlags &= ~f.flag;
      }
    } else if (o in PROPAGATION) {
      propagation.push(PROPAGATION[o]);
    } else if (o === 'idmap' || o === 'ridmap') {
      idmap = o;
    } else {
      data.push(o);
    }
  }
  return { flags, clearedFlags, propagation, data: data.join(','), copyUp, ...(recursive ? { recursive } : {}), ...(idmap ? { idmap } : {}) };
}

/**
 * linux.rootfsPropagation as runc (1.1.5 and 1.3.6) maps it: the plain
 * names apply to `/` alone, the r* ones (which the spec's schema does not
 * list, and runc takes) to every mount under it.
 */
export const ROOTFS_PROPAGATION: Record<string, number> = PROPAGATION;
