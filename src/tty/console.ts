/**
 * The process's console (process.terminal): a pty from the container's own
 * devpts, its slave as the process's stdio (and, for the container's init,
 * bound on /dev/console), its master sent to the console socket (runc's
 * setupConsole, for the standard and the setns init alike).
 */
import { O, ONLCR, RESOLVE, TCGETS, TCSETS, TIOCGPTN, TIOCGPTPEER, TIOCSCTTY, TIOCSPTLCK, TIOCSWINSZ } from '../sys/constants.js';
import type { Sys } from '../sys/types.js';
import { bindAt, mkdirAllInRoot, withFd } from '../rootfs/resolve.js';

/**
 * The pty leaves "\n" as it is, as runc 1.2+ sets the pty it proxies
 * (tty.go, ClearONLCR): the caller's own terminal turns it into "\r\n"
 * once, not twice ("\r\r\n"). Set on the slave before the process writes.
 */
function clearOnlcr(sys: Sys, slave: number): void {
  const termios = Buffer.alloc(64);
  sys.ioctl(slave, TCGETS, termios);
  termios.writeUInt32LE(termios.readUInt32LE(4) & ~ONLCR, 4);
  sys.ioctl(slave, TCSETS, termios);
}

export function setupConsole(sys: Sys, rootFd: number, socketFd: number, size: { height: number; width: number } | undefined, opts: { devConsole: boolean; controlling: boolean; clearOnlcr?: boolean }): void {
  const master = sys.open('/dev/ptmx', O.RDWR | O.NOCTTY | O.CLOEXEC);
  try {
    sys.ioctl(master, TIOCSPTLCK, Buffer.alloc(4));
    const n = Buffer.alloc(4);
    sys.ioctl(master, TIOCGPTN, n);
    const slavePath = `/dev/pts/${n.readUInt32LE(0)}`;
    if (size) {
      const ws = Buffer.alloc(8);
      ws.writeUInt16LE(size.height, 0);
      ws.writeUInt16LE(size.width, 2);
      sys.ioctl(master, TIOCSWINSZ, ws);
    }
    // TIOCGPTPEER: the slave of this very master, not whatever /dev/pts/N names.
    const slave = sys.ioctl(master, TIOCGPTPEER, O.RDWR | O.NOCTTY | O.CLOEXEC);
    if (opts.clearOnlcr) clearOnlcr(sys, slave);
    if (opts.devConsole) {
      // As runc: a /dev/console that is a symlink is refused (O_NOFOLLOW), so
      // the bind cannot be sent onto a /proc file (CVE-2025-52565); the bind
      // targets the opened file, never the path.
      sys.close(mkdirAllInRoot(sys, rootFd, '/dev'));
      const consoleFd = sys.openat2(rootFd, 'dev/console', O.CREAT | O.NOFOLLOW | O.RDONLY | O.CLOEXEC, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS, 0o666);
      withFd(sys, consoleFd, () => bindAt(sys, slave, consoleFd));
    }
    sys.sendFd(socketFd, master, slavePath);
    for (const fd of [0, 1, 2]) sys.dup2(slave, fd);
    sys.close(slave);
    if (opts.controlling) sys.ioctl(0, TIOCSCTTY, 0);
  } finally {
    sys.close(master);
    sys.close(socketFd);
  }
}
