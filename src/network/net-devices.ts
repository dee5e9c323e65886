/**
 * linux.netDevices: host interfaces moved into the container's network
 * namespace, renamed when the config says so, as runc does it: set down,
 * then one RTM_NEWLINK that names the new namespace (IFLA_NET_NS_FD) and
 * the name (IFLA_IFNAME) together, so no name clash can happen half-way.
 * When the namespace goes away the kernel returns physical devices to the
 * host and destroys virtual ones (a veth with its peer); the spec leaves
 * that to the kernel, as runc does.
 */
import { RuntimeError } from '../errors.js';
import type { Sys } from '../sys/types.js';

const RTM_NEWLINK = 16;
const NLM_F_REQUEST = 1;
const NLM_F_ACK = 4;
const NLMSG_ERROR = 2;
const IFLA_IFNAME = 3;
const IFLA_NET_NS_FD = 28;
const IFF_UP = 1;

const align4 = (n: number) => (n + 3) & ~3;

function attribute(type: number, data: Buffer): Buffer {
  const out = Buffer.alloc(align4(4 + data.length));
  out.writeUInt16LE(4 + data.length, 0);
  out.writeUInt16LE(type, 2);
  data.copy(out, 4);
  return out;
}

/** An RTM_NEWLINK request for interface `index`: flags to change, then attributes. */
export function newLinkRequest(index: number, opts: { flags?: number; change?: number; name?: string; netnsFd?: number }, seq = 1): Buffer {
  const info = Buffer.alloc(16); // struct ifinfomsg
  info.writeInt32LE(index, 4);
  info.writeUInt32LE(opts.flags ?? 0, 8);
  info.writeUInt32LE(opts.change ?? 0, 12);
  const attrs = [
    ...(opts.name !== undefined ? [attribute(IFLA_IFNAME, Buffer.from(`${opts.name}\0`))] : []),
    ...(opts.netnsFd !== undefined ? [attribute(IFLA_NET_NS_FD, Buffer.from(new Uint32Array([opts.netnsFd]).buffer))] : []),
  ];
  const body = Buffer.concat([info, ...attrs]);
  const header = Buffer.alloc(16); // struct nlmsghdr
  header.writeUInt32LE(16 + body.length, 0);
  header.writeUInt16LE(RTM_NEWLINK, 4);
  header.writeUInt16LE(NLM_F_REQUEST | NLM_F_ACK, 6);
  header.writeUInt32LE(seq, 8);
  return Buffer.concat([header, body]);
}

/** The errno of the kernel's answer to a request (0: done). */
export function ackErrno(reply: Buffer): number {
  if (reply.length < 20 || reply.readUInt16LE(4) !== NLMSG_ERROR) throw new RuntimeError('netlink', 'no acknowledgement from the kernel');
  return -reply.readInt32LE(16);
}

const ERRNO_NAMES: Record<number, string> = { 1: 'EPERM', 16: 'EBUSY', 17: 'EEXIST', 19: 'ENODEV', 22: 'EINVAL', 95: 'EOPNOTSUPP' };

function request(sys: Sys, what: string, req: Buffer): void {
  const errno = ackErrno(sys.netlinkRoute(req));
  if (errno) throw new RuntimeError('linux.netDevices', `${what}: errno ${errno} (${ERRNO_NAMES[errno] ?? 'E?'})`);
}

/** The host interfaces' indexes, looked up before anything exists so a missing one fails cleanly. */
export function netDeviceIndexes(sys: Sys, devices: Record<string, { name?: string }>): Map<string, number> {
  const out = new Map<string, number>();
  for (const host of Object.keys(devices)) {
    try {
      out.set(host, sys.ifIndex(host));
    } catch (err) {
      throw new RuntimeError('linux.netDevices', `${host}: no such network interface on the host (${(err as { code?: string }).code ?? 'ENODEV'})`);
    }
  }
  return out;
}

/** Moves each interface into the network namespace `netnsFd` (the init's), renamed as configured. */
export function moveNetDevices(sys: Sys, devices: Record<string, { name?: string }>, indexes: Map<string, number>, netnsFd: number): void {
  for (const [host, d] of Object.entries(devices)) {
    const index = indexes.get(host)!;
    const name = d.name || host;
    request(sys, `${host}: set down`, newLinkRequest(index, { flags: 0, change: IFF_UP }));
    request(sys, `${host}: move into the container's network namespace as ${name}`, newLinkRequest(index, { name, netnsFd }));
  }
}
