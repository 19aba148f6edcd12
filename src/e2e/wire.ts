/**
 * What a target can do to and see on the wire between A and B, beyond pulling a cable:
 * drop one direction of a data link (every frame, or only its LACPDUs), and record the frames
 * a link carries in one direction with the host's timestamps. The lab does both on the host,
 * where its links are UDP datagrams on 127.0.0.1 carrying raw Ethernet frames (lab-wire.ts).
 *
 * Also here: reading a classic pcap file, and telling announcements (gratuitous ARP,
 * unsolicited IPv6 neighbour advertisements) from other frames, so the actions judge frames
 * the same way whichever target captured them.
 */

/** a-to-b: frames A sends and B would receive; b-to-a the reverse. */
export type Direction = 'a-to-b' | 'b-to-a';

export interface Impairment {
  direction: Direction;
  /** every frame, or the LACPDUs alone (slow protocols ethertype 0x8809, subtype 1) */
  what: 'all' | 'lacp';
}

export interface WireFrame {
  /** host wall clock, ms (fractional) */
  atMs: number;
  nic: string;
  /** the Ethernet frame as the guest sent it */
  frame: Buffer;
}

export interface WireCapture {
  /** Stop recording; the frames seen since the capture started, in time order. */
  stop(): Promise<WireFrame[]>;
}

export interface PcapRecord {
  atMs: number;
  data: Buffer;
}

/** The records of a classic pcap file (micro- or nanosecond stamps, either byte order). */
export function readPcap(buf: Buffer): PcapRecord[] {
  if (buf.length < 24) return [];
  const magicLE = buf.readUInt32LE(0);
  const le = magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d;
  const magic = le ? magicLE : buf.readUInt32BE(0);
  if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) throw new Error('not a pcap file (bad magic)');
  const nano = magic === 0xa1b23c4d;
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const out: PcapRecord[] = [];
  let o = 24;
  while (o + 16 <= buf.length) {
    const sec = u32(o);
    const frac = u32(o + 4);
    const len = u32(o + 8);
    if (o + 16 + len > buf.length) break; // a record cut short by the capture's stop
    out.push({ atMs: sec * 1000 + (nano ? frac / 1e6 : frac / 1e3), data: buf.subarray(o + 16, o + 16 + len) });
    o += 16 + len;
  }
  return out;
}

/**
 * The UDP payload of an IPv4 datagram captured on Linux's loopback (DLT_EN10MB: an Ethernet
 * header of zeros first), with its ports; undefined for anything else.
 */
export function loopbackUdp(data: Buffer): { sport: number; dport: number; payload: Buffer } | undefined {
  if (data.length < 14 + 20 + 8 || data.readUInt16BE(12) !== 0x0800) return undefined;
  const ip = data.subarray(14);
  const ihl = (ip[0]! & 0x0f) * 4;
  if (ip[9] !== 17 || ip.length < ihl + 8) return undefined;
  return { sport: ip.readUInt16BE(ihl), dport: ip.readUInt16BE(ihl + 2), payload: ip.subarray(ihl + 8) };
}

export type FrameKind = 'garp' | 'unsolicited-na' | 'lacp' | 'other';

/**
 * An announcement is an ARP whose sender and target address are the same (a gratuitous ARP,
 * request or reply form) or an ICMPv6 neighbour advertisement to all nodes (ff02::1): what a
 * failover sends so the far end relearns where the aggregate's MAC lives.
 */
export function frameKind(f: Buffer): FrameKind {
  if (f.length < 14) return 'other';
  const type = f.readUInt16BE(12);
  if (type === 0x8809 && f[14] === 1) return 'lacp';
  if (type === 0x0806 && f.length >= 42) return f.subarray(28, 32).equals(f.subarray(38, 42)) ? 'garp' : 'other';
  if (type === 0x86dd && f.length >= 14 + 40 + 1) {
    const allNodes = f[38] === 0xff && f[39] === 0x02 && f.subarray(40, 53).every((b) => b === 0) && f[53] === 1;
    return f[20] === 58 && f[54] === 136 && allNodes ? 'unsolicited-na' : 'other';
  }
  return 'other';
}

/** A UDP datagram to `port` inside an (untagged IPv4) Ethernet frame: the e2e stream's data. */
export function isUdpTo(f: Buffer, port: number): boolean {
  if (f.length < 14 + 20 + 8 || f.readUInt16BE(12) !== 0x0800 || f[23] !== 17) return false;
  const ihl = (f[14]! & 0x0f) * 4;
  return f.readUInt16BE(14 + ihl + 2) === port;
}
