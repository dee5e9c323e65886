/**
 * The container's own session keyring, as runc's init makes it (unless
 * --no-new-keyring). Without one the container would share the session
 * keyring of whoever ran the runtime, and could read or use those keys.
 * It is named "_ses.<id>" so that exec'd processes join the same one, and
 * made searchable by its possessor's uid, or by "other" in a user namespace.
 */
import { SysError, type Sys } from '../sys/types.js';

export const sessionKeyringName = (id: string) => `_ses.${id}`;

const SEARCH_BY_UID = 0x80000; // KEY_USR_SEARCH
const SEARCH_BY_OTHER = 0x8; // KEY_OTH_SEARCH

/** Joins (or makes) the keyring `name`; ENOSYS (no keyring support) is tolerated, as runc tolerates it. */
export function joinContainerKeyring(sys: Sys, name: string, inUserNs: boolean): void {
  let serial: number;
  try {
    serial = sys.joinSessionKeyring(name);
  } catch (err) {
    if (err instanceof SysError && err.code === 'ENOSYS') return;
    throw err;
  }
  sys.setKeyPermissions(serial, (sys.keyPermissions(serial) | (inUserNs ? SEARCH_BY_OTHER : SEARCH_BY_UID)) >>> 0);
}
