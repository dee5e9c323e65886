/**
 * The container's console (process.terminal with --console-socket): a pty
 * from the container's own devpts, its slave as the process's stdio and
 * /dev/console, its master sent to the console socket (runc's setupConsole).
 */
import { MS, O, TIOCGPTN, TIOCSCTTY, TIOCSPTLCK, TIOCSWINSZ } from '../sys/constants.js';
import type { Sys } from '../sys/types.js';
import { fdPath, mkdirAllInRoot } from '../rootfs/resolve.js';

export function setupConsole(sys: Sys, rootFd: number, socketFd: number, size?: { height: number; width: number }): void {
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
    const consoleFd = mkdirAllInRoot(sys, rootFd, '/dev/console', { file: true, mode: 0o666 });
    try {
      sys.mount(slavePath, fdPath(consoleFd), null, MS.BIND, null);
    } finally {
      sys.close(consoleFd);
    }
    sys.sendFd(socketFd, master, slavePath);
    const slave = sys.open(slavePath, O.RDWR | O.NOCTTY);
    for (const fd of [0, 1, 2]) sys.dup2(slave, fd);
    sys.close(slave);
    sys.ioctl(0, TIOCSCTTY, 0);
  } finally {
    sys.close(master);
    sys.close(socketFd);
  }
}
