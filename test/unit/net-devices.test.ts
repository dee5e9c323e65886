// linux.netDevices: the rtnetlink requests, byte by byte, and the order of the moves.
import { describe, expect, it } from 'vitest';
import { ackErrno, moveNetDevices, newAddressRequest, newLinkRequest, parseAddresses } from '../../src/network/net-devices.js';
import { RecordingSys } from '../../src/sys/recording.js';

describe('network devices', () => {
  it('builds RTM_NEWLINK with the name and the namespace fd in one request', () => {
    const req = newLinkRequest(7, { name: 'eth7', netnsFd: 12 }, 3);
    // nlmsghdr: length, RTM_NEWLINK (16), REQUEST|ACK, seq 3.
    expect(req.readUInt32LE(0)).toBe(req.length);
    expect([req.readUInt16LE(4), req.readUInt16LE(6), req.readUInt32LE(8)]).toEqual([16, 5, 3]);
    // ifinfomsg: index 7, no flag changes.
    expect([req.readInt32LE(16 + 4), req.readUInt32LE(16 + 8), req.readUInt32LE(16 + 12)]).toEqual([7, 0, 0]);
    // IFLA_IFNAME (3) "eth7\0", padded to 8; then IFLA_NET_NS_FD (28) = 12.
    expect([req.readUInt16LE(32), req.readUInt16LE(34), req.toString('latin1', 36, 41)]).toEqual([9, 3, 'eth7\0']);
    expect([req.readUInt16LE(44), req.readUInt16LE(46), req.readUInt32LE(48)]).toEqual([8, 28, 12]);
    expect(req.length).toBe(52);
  });

  it('reads the kernel\'s answer as an errno', () => {
    const nack = Buffer.alloc(36);
    nack.writeUInt16LE(2, 4);
    nack.writeInt32LE(-19, 16);
    expect(ackErrno(nack)).toBe(19);
    expect(() => ackErrno(Buffer.alloc(4))).toThrow(/no acknowledgement/);
  });

  it('sets each interface down, then moves and renames it', () => {
    const sys = new RecordingSys();
    moveNetDevices(sys, { veth0: { name: 'eth1' }, veth2: {} }, new Map([['veth0', 4], ['veth2', 5]]), 9);
    const [dump, ...sent] = sys.named('netlinkRoute').map(([hex]) => Buffer.from(hex as string, 'hex'));
    // First the addresses, all at once (RTM_GETADDR, a dump).
    expect([dump.readUInt16LE(4), dump.readUInt16LE(6)]).toEqual([22, 0x301]);
    expect(sent.map((r) => [r.readInt32LE(20), r.readUInt32LE(28)])).toEqual([[4, 1], [4, 0], [5, 1], [5, 0]]);
    expect(sent[1].toString('latin1', 36, 40)).toBe('eth1');
    expect(sent[3].toString('latin1', 36, 41)).toBe('veth2');
  });

  it('keeps the permanent addresses of global scope, as runc, and adds them back with RTM_NEWADDR', () => {
    // A dump answer: three RTM_NEWADDR for index 4 (global permanent, link scope, dynamic) and one for index 5, then DONE.
    const addr = (index: number, scope: number, flags: number, ip: number[]) => {
      const local = Buffer.from([8, 0, 2, 0, ...ip]); // IFA_LOCAL
      const body = Buffer.concat([Buffer.from([2, 24, flags, scope]), Buffer.from(new Uint32Array([index]).buffer), local]);
      const h = Buffer.alloc(16);
      h.writeUInt32LE(16 + body.length, 0);
      h.writeUInt16LE(20, 4);
      return Buffer.concat([h, body]);
    };
    const done = Buffer.alloc(20);
    done.writeUInt32LE(20, 0);
    done.writeUInt16LE(3, 4);
    const dump = Buffer.concat([addr(4, 0, 0x80, [10, 77, 0, 1]), addr(4, 253, 0x80, [10, 77, 0, 2]), addr(4, 0, 0, [10, 77, 0, 3]), addr(5, 0, 0x80, [10, 88, 0, 1]), done]);
    const kept = parseAddresses(dump, 4);
    expect(kept).toEqual([{ family: 2, prefixlen: 24, address: '0a4d0001' }]);
    const req = newAddressRequest(9, kept[0]);
    // RTM_NEWADDR, REQUEST|ACK|EXCL|CREATE; ifaddrmsg AF_INET /24 on index 9; IFA_LOCAL and IFA_ADDRESS.
    expect([req.readUInt16LE(4), req.readUInt16LE(6), req[16], req[17], req.readUInt32LE(20)]).toEqual([20, 0x605, 2, 24, 9]);
    expect([req.readUInt16LE(26), req.toString('hex', 28, 32), req.readUInt16LE(34), req.toString('hex', 36, 40)]).toEqual([2, '0a4d0001', 1, '0a4d0001']);
  });
});

