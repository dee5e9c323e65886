/**
 * Loading the device filter and attaching it to the container's cgroup
 * (cgroup v2) with the bpf(2) system call. Attached with ALLOW_MULTI, as
 * runc does, so a filter a parent cgroup has (systemd's, say) still applies
 * too; when the cgroup had a filter of its own, the new one is attached
 * before the old one is detached, so there is never a moment without one.
 */
import { RuntimeError, step } from '../../errors.js';
import { BPF_CMD, O } from '../../sys/constants.js';
import { SysError, type Sys } from '../../sys/types.js';

const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
const BPF_CGROUP_DEVICE = 6;
const BPF_F_ALLOW_MULTI = 2;
/** Large enough for every bpf_attr layout used here; the kernel wants the tail zeroed. */
const ATTR_SIZE = 128;
const LOG_SIZE = 64 * 1024;

function loadProgram(sys: Sys, insns: Buffer): number {
  const license = Buffer.from('Apache\0');
  const log = Buffer.alloc(LOG_SIZE);
  const attr = Buffer.alloc(ATTR_SIZE);
  attr.writeUInt32LE(BPF_PROG_TYPE_CGROUP_DEVICE, 0);
  attr.writeUInt32LE(insns.length / 8, 4);
  attr.writeBigUInt64LE(sys.address(insns), 8);
  attr.writeBigUInt64LE(sys.address(license), 16);
  attr.writeUInt32LE(1, 24); // log_level
  attr.writeUInt32LE(LOG_SIZE, 28);
  attr.writeBigUInt64LE(sys.address(log), 32);
  try {
    return sys.bpf(BPF_CMD.PROG_LOAD, attr);
  } catch (err) {
    const verifier = log.toString('utf8', 0, Math.max(0, log.indexOf(0))).trim().split('\n').slice(-3).join('; ');
    throw verifier ? new RuntimeError('load device filter', `${(err as Error).message}: verifier: ${verifier}`, { cause: err }) : err;
  }
}

/** Ids of the device programs attached to this cgroup itself. */
function attachedPrograms(sys: Sys, cgroupFd: number): number[] {
  const ids = new Uint32Array(64);
  const attr = Buffer.alloc(ATTR_SIZE);
  attr.writeUInt32LE(cgroupFd, 0);
  attr.writeUInt32LE(BPF_CGROUP_DEVICE, 4);
  attr.writeBigUInt64LE(sys.address(ids), 16);
  attr.writeUInt32LE(ids.length, 24);
  sys.bpf(BPF_CMD.PROG_QUERY, attr);
  return [...ids.subarray(0, attr.readUInt32LE(24))];
}

function attachment(cgroupFd: number, progFd: number, flags: number): Buffer {
  const attr = Buffer.alloc(ATTR_SIZE);
  attr.writeUInt32LE(cgroupFd, 0);
  attr.writeUInt32LE(progFd, 4);
  attr.writeUInt32LE(BPF_CGROUP_DEVICE, 8);
  attr.writeUInt32LE(flags, 12);
  return attr;
}

export function installDeviceFilter(sys: Sys, cgroupDir: string, insns: Buffer): void {
  const cgroupFd = step('open cgroup for the device filter', () => sys.open(cgroupDir, O.RDONLY | O.DIRECTORY | O.CLOEXEC));
  try {
    const old = step('query device filters', () => attachedPrograms(sys, cgroupFd));
    const progFd = step('load device filter', () => loadProgram(sys, insns));
    try {
      step('attach device filter', () => sys.bpf(BPF_CMD.PROG_ATTACH, attachment(cgroupFd, progFd, BPF_F_ALLOW_MULTI)));
    } finally {
      sys.close(progFd);
    }
    for (const id of old) {
      step('detach the previous device filter', () => {
        const byId = Buffer.alloc(ATTR_SIZE);
        byId.writeUInt32LE(id, 0);
        let fd: number;
        try {
          fd = sys.bpf(BPF_CMD.PROG_GET_FD_BY_ID, byId);
        } catch (err) {
          if (err instanceof SysError && err.code === 'ENOENT') return; // gone meanwhile
          throw err;
        }
        try {
          sys.bpf(BPF_CMD.PROG_DETACH, attachment(cgroupFd, fd, 0));
        } finally {
          sys.close(fd);
        }
      });
    }
  } finally {
    sys.close(cgroupFd);
  }
}
