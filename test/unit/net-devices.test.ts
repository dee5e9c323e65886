// linux.netDevices: the rtnetlink requests, byte by byte, and the order of the moves.
import { describe, expect, it } from 'vitest';
import { ackErrno, moveNetDevices, newLinkRequest } from '../../src/network/net-devices.js';
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
    const sent = sys.named('netlinkRoute').map(([hex]) => Buffer.from(hex as string, 'hex'));
    expect(sent.map((r) => [r.readInt32LE(20), r.readUInt32LE(28)])).toEqual([[4, 1], [4, 0], [5, 1], [5, 0]]);
    expect(sent[1].toString('latin1', 36, 40)).toBe('eth1');
    expect(sent[3].toString('latin1', 36, 41)).toBe('veth2');
  });
});
