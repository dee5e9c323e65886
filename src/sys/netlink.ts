/**
 * Netlink messages as byte strings: each a struct nlmsghdr (length, type,
 * flags, sequence, port) and its body, 4-byte aligned. The one place that
 * lays the header out and walks a stream of them: the system-call layer
 * (./libc.ts) to see where an answer ends, src/network/net-devices.ts to
 * read it. Plain bytes, not koffi's structs, so that building and reading
 * messages needs no FFI (unit tests run them without it).
 */
import { NLMSG } from './constants.js';

/** sizeof(struct nlmsghdr). */
export const NLMSG_HDRLEN = 16;

export const align4 = (n: number) => (n + 3) & ~3;

/** One message: the header, then `body`. */
export function netlinkMessage(type: number, flags: number, body: Buffer, seq = 1): Buffer {
  const header = Buffer.alloc(NLMSG_HDRLEN);
  header.writeUInt32LE(NLMSG_HDRLEN + body.length, 0);
  header.writeUInt16LE(type, 4);
  header.writeUInt16LE(flags, 6);
  header.writeUInt32LE(seq, 8);
  return Buffer.concat([header, body]);
}

export interface NetlinkMessage {
  /** Where the header starts in the buffer; the body follows at `at + NLMSG_HDRLEN`. */
  at: number;
  /** nlmsg_len: header and body. */
  len: number;
  type: number;
}

/** The messages of `buf` in order; a header too short to be one ends the walk. */
export function* netlinkMessages(buf: Buffer): Generator<NetlinkMessage> {
  for (let at = 0; at + NLMSG_HDRLEN <= buf.length; ) {
    const len = buf.readUInt32LE(at);
    if (len < NLMSG_HDRLEN) return;
    yield { at, len, type: buf.readUInt16LE(at + 4) };
    at += align4(len);
  }
}

/** Whether `buf` holds the end of an answer: an ACK or error (NLMSG_ERROR), or a dump's NLMSG_DONE. */
export const endsAnswer = (buf: Buffer): boolean => [...netlinkMessages(buf)].some((m) => m.type === NLMSG.ERROR || m.type === NLMSG.DONE);
