/**
 * Sealed, anonymous copies of our own executables (CVE-2019-5736): a
 * program run from one has a /proc/PID/exe that nobody can write, so a
 * process of the container that reaches it cannot change a host file.
 */
import fs from 'node:fs';
import { F_SEAL, MFD } from '../sys/constants.js';
import { SysError, type Sys } from '../sys/types.js';

/** A close-on-exec memfd holding `bytes`, sealed against any change. */
export function sealedMemfd(sys: Sys, name: string, bytes: Uint8Array): number {
  const fd = executableMemfd(sys, name);
  for (let off = 0; off < bytes.length; ) off += fs.writeSync(fd, bytes, off);
  sys.addSeals(fd, SEALED);
  return fd;
}

/** The same with a copy of the file open at `src`, made in the kernel (sendfile, from the page cache). */
export function sealedMemfdOf(sys: Sys, name: string, src: number): number {
  const fd = executableMemfd(sys, name);
  try {
    fs.copyFileSync(`/proc/self/fd/${src}`, `/proc/self/fd/${fd}`);
    sys.addSeals(fd, SEALED);
  } catch (err) {
    sys.close(fd);
    throw err;
  }
  return fd;
}

const SEALED = F_SEAL.SEAL | F_SEAL.SHRINK | F_SEAL.GROW | F_SEAL.WRITE;

function executableMemfd(sys: Sys, name: string): number {
  // MFD_EXEC: under vm.memfd_noexec=1 a memfd made without it cannot be executed.
  try {
    return sys.memfdCreate(name, MFD.CLOEXEC | MFD.ALLOW_SEALING | MFD.EXEC);
  } catch (err) {
    // Kernels before 6.3 do not know MFD_EXEC; theirs are all executable.
    if (!(err instanceof SysError && err.code === 'EINVAL')) throw err;
    return sys.memfdCreate(name, MFD.CLOEXEC | MFD.ALLOW_SEALING);
  }
}
