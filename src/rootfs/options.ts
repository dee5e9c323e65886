/** Mount options of the runtime-spec, as runc's specconv parses them. */
import { MS } from '../sys/constants.js';

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
  lazytime: { clear: false, flag: MS.LAZYTIME },
  loud: { clear: true, flag: MS.SILENT },
  mand: { clear: false, flag: MS.MANDLOCK },
  noacl: { clear: true, flag: MS.POSIXACL },
  noatime: { clear: false, flag: MS.NOATIME },
  nodev: { clear: false, flag: MS.NODEV },
  nodiratime: { clear: false, flag: MS.NODIRATIME },
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
export const MOUNT_OPTIONS = [...Object.keys(FLAGS), ...Object.keys(PROPAGATION), 'tmpcopyup'].sort();

/** Options that runc accepts and this runtime does not apply yet: refused, never ignored. */
const UNSUPPORTED = new Set(['rro', 'rrw', 'ratime', 'rnoatime', 'rnosuid', 'rnodev', 'rnoexec', 'idmap', 'ridmap']);

export interface ParsedOptions {
  flags: number;
  propagation: number[];
  data: string;
  unsupported: string[];
  /** tmpcopyup (runc's extension): a tmpfs starts with a copy of what it covers. */
  copyUp: boolean;
}

export function parseMountOptions(options: readonly string[] = []): ParsedOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  const unsupported: string[] = [];
  let copyUp = false;
  for (const o of options) {
    const f = FLAGS[o];
    if (o === 'tmpcopyup') {
      copyUp = true;
    } else if (f) {
      flags = f.clear ? flags & ~f.flag : flags | f.flag;
    } else if (o in PROPAGATION) {
      propagation.push(PROPAGATION[o]);
    } else if (UNSUPPORTED.has(o)) {
      unsupported.push(o);
    } else {
      data.push(o);
    }
  }
  return { flags, propagation, data: data.join(','), unsupported, copyUp };
}

export const ROOTFS_PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE | MS.REC,
  shared: MS.SHARED | MS.REC,
  slave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE | MS.REC,
};
