/**
 * linux.netDevices: host interfaces moved into the container's network
 * namespace, renamed when the config says so, as runc does it: set down,
 * then one RTM_NEWLINK that names the new namespace (IFLA_NET_NS_FD) and
 * the name (IFLA_IFNAME) together, so no name clash can happen half-way.
 * The kernel drops an interface's addresses when it changes namespace:
 * as runc, the permanent ones of global scope are read first (a dump in
 * the host's namespace) and the init adds them again inside. When the
 * namespace goes away the kernel returns physical devices to the host and
 * destroys virtual ones (a veth with its peer); the spec leaves that to
 * the kernel, as runc does.
 */
import { RuntimeError } from '../errors.js';
import { IFA, IFA_F_PERMANENT, IFF_UP, IFLA, NLM_F, NLMSG, RT_SCOPE_UNIVERSE, RTM } from '../sys/constants.js';
import { align4, NLMSG_HDRLEN, netlinkMessage, netlinkMessages } from '../sys/netlink.js';
import type { Sys } from '../sys/types.js';
import { errnoName } from '../sys/errno.js';

function attribute(type: number, data: Buffer): Buffer {
  const out = Buffer.alloc(align4(4 + data.length));
  out.writeUInt16LE(4 + data.length, 0);
  out.writeUInt16LE(type, 2);
  data.copy(out, 4);
  return out;
}

/** An address of an interface, as RTM_NEWADDR carries it (the address in hex, for the init's plan). */
export interface InterfaceAddress {
  family: number;
  prefixlen: number;
  address: string;
}

/** RTM_GETADDR for every address of every interface (a dump). */
export const addressDumpRequest = () => netlinkMessage(RTM.GETADDR, NLM_F.REQUEST | NLM_F.DUMP, Buffer.alloc(8));

/** From a dump's answer, the addresses of `index` that runc carries over: permanent, of global scope. */
export function parseAddresses(reply: Buffer, index: number): InterfaceAddress[] {
  const out: InterfaceAddress[] = [];
  for (const { at, len, type } of netlinkMessages(reply)) {
    if (type === NLMSG.DONE) break;
    const body = at + NLMSG_HDRLEN;
    if (type === NLMSG.ERROR) {
      const errno = -reply.readInt32LE(body);
      if (errno) throw new RuntimeError('linux.netDevices', `list addresses: errno ${errno}`);
    }
    if (type !== RTM.NEWADDR || reply.readUInt32LE(body + 4) !== index) continue;
    // struct ifaddrmsg, then its attributes.
    const [family, prefixlen, ifaFlags, scope] = [reply[body], reply[body + 1], reply[body + 2], reply[body + 3]];
    let flags = ifaFlags;
    let address: Buffer | undefined;
    let local: Buffer | undefined;
    for (let a = body + 8; a + 4 <= at + len; ) {
      const alen = reply.readUInt16LE(a);
      const atype = reply.readUInt16LE(a + 2);
      if (alen < 4) break;
      const data = reply.subarray(a + 4, a + alen);
      if (atype === IFA.ADDRESS) address = data;
      if (atype === IFA.LOCAL) local = data;
      if (atype === IFA.FLAGS) flags = data.readUInt32LE(0);
      a += align4(alen);
    }
    const addr = local ?? address;
    if (addr && flags & IFA_F_PERMANENT && scope === RT_SCOPE_UNIVERSE) out.push({ family, prefixlen, address: addr.toString('hex') });
  }
  return out;
}

/** RTM_NEWADDR: `a` on interface `index`. */
export function newAddressRequest(index: number, a: InterfaceAddress): Buffer {
  const info = Buffer.alloc(8); // struct ifaddrmsg
  info[0] = a.family;
  info[1] = a.prefixlen;
  info.writeUInt32LE(index, 4);
  const addr = Buffer.from(a.address, 'hex');
  return netlinkMessage(RTM.NEWADDR, NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, Buffer.concat([info, attribute(IFA.LOCAL, addr), attribute(IFA.ADDRESS, addr)]));
}

/** An RTM_NEWLINK request for interface `index`: flags to change, then attributes. */
export function newLinkRequest(index: number, opts: { flags?: number; change?: number; name?: string; netnsFd?: number }, seq = 1): Buffer {
  const info = Buffer.alloc(16); // struct ifinfomsg
  info.writeInt32LE(index, 4);
  info.writeUInt32LE(opts.flags ?? 0, 8);
  info.writeUInt32LE(opts.change ?? 0, 12);
  const attrs = [
    ...(opts.name !== undefined ? [attribute(IFLA.IFNAME, Buffer.from(`${opts.name}\0`))] : []),
    ...(opts.netnsFd !== undefined ? [attribute(IFLA.NET_NS_FD, Buffer.from(new Uint32Array([opts.netnsFd]).buffer))] : []),
  ];
  return netlinkMessage(RTM.NEWLINK, NLM_F.REQUEST | NLM_F.ACK, Buffer.concat([info, ...attrs]), seq);
}

/** The errno of the kernel's answer to a request (0: done). */
export function ackErrno(reply: Buffer): number {
  if (reply.length < NLMSG_HDRLEN + 4 || reply.readUInt16LE(4) !== NLMSG.ERROR) throw new RuntimeError('netlink', 'no acknowledgement from the kernel');
  return -reply.readInt32LE(NLMSG_HDRLEN);
}

function request(sys: Sys, what: string, req: Buffer): void {
  const errno = ackErrno(sys.netlinkRoute(req));
  if (errno) throw new RuntimeError('linux.netDevices', `${what}: errno ${errno} (${errnoName(errno)})`);
}

/**
 * linux.netDevices less the host's loopback, with a warning: the kernel
 * will not move it (EINVAL), and the container's network namespace has a
 * loopback of its own. runc 1.3.6 ignores netDevices altogether, so such a
 * config runs there; undefined when nothing is left to move.
 */
export function movableNetDevices(devices: Record<string, { name?: string }> | undefined, warn: (m: string) => void): Record<string, { name?: string }> | undefined {
  const out = Object.fromEntries(Object.entries(devices ?? {}).filter(([host]) => host !== 'lo'));
  if (devices?.lo) warn('linux.netDevices["lo"]: the loopback device is not moved (the kernel refuses it; the container has its own)');
  return Object.keys(out).length ? out : undefined;
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

/** An interface moved in, and the addresses to give it again there (by the init). */
export interface MovedDevice {
  name: string;
  addresses: InterfaceAddress[];
}

/** Moves each interface into the network namespace `netnsFd` (the init's), renamed as configured. */
export function moveNetDevices(sys: Sys, devices: Record<string, { name?: string }>, indexes: Map<string, number>, netnsFd: number): MovedDevice[] {
  const dump = sys.netlinkRoute(addressDumpRequest());
  const moved: MovedDevice[] = [];
  for (const [host, d] of Object.entries(devices)) {
    const index = indexes.get(host)!;
    const name = d.name || host;
    const addresses = parseAddresses(dump, index);
    request(sys, `${host}: set down`, newLinkRequest(index, { flags: 0, change: IFF_UP }));
    request(sys, `${host}: move into the container's network namespace as ${name}`, newLinkRequest(index, { name, netnsFd }));
    moved.push({ name, addresses });
  }
  return moved;
}

/** In the init (in the container's network namespace): the moved interfaces' addresses, again. */
export function restoreAddresses(sys: Sys, moved: MovedDevice[]): void {
  for (const m of moved) {
    if (!m.addresses.length) continue;
    const index = sys.ifIndex(m.name);
    for (const a of m.addresses) request(sys, `${m.name}: add address ${a.address}/${a.prefixlen}`, newAddressRequest(index, a));
  }
}
