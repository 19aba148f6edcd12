/**
 * Packet capture inside a namespace and Wireshark's verdict on what was captured.
 *
 * tcpdump writes the capture (it is lighter than dumpcap and says when it is listening);
 * tshark then decodes the file with Wireshark's own LACP and marker dissectors, which are an
 * implementation independent of ours. A frame is conformant when tshark raises no malformed
 * flag and no expert message of warning severity or above on it; decodeSlowFrames() returns
 * the dissected fields so tests can compare them with laggd's configuration and status.
 * hostileFrame() drives inject.py, which sends the deliberately broken frames.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOk, sleep, type Host } from './netns.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const injectScript = path.join(here, 'inject.py');

/** BPF for IEEE 802.3 slow protocols (LACP, marker). */
export const SLOW_PROTOCOLS_FILTER = 'ether proto 0x8809';

export interface Capture {
  file: string;
  /** Stop tcpdump and wait until the file is complete. */
  stop(): Promise<void>;
}

/**
 * Capture on `ifname` inside `host` into a pcap in the topology's temp dir; resolves once
 * tcpdump is listening, so nothing sent afterwards is missed.
 */
export async function startCapture(host: Host, ifname: string, opts: { filter?: string; name?: string } = {}): Promise<Capture> {
  const file = host.writeTemp(`${opts.name ?? ifname}.pcap`, '');
  const child: ChildProcess = host.spawn(['tcpdump', '-U', '-n', '-s', '0', '-i', ifname, '-w', file, ...(opts.filter ?? SLOW_PROTOCOLS_FILTER).split(' ')]);
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`tcpdump on ${ifname} in ${host.ns} did not start: ${err}`)), 10_000);
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`tcpdump on ${ifname} in ${host.ns} exited: ${err}`));
    });
  });
  return {
    file,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      await Promise.race([closed, sleep(5000)]);
    },
  };
}

export interface LacpPartyFields {
  sysPriority: number;
  sysId: string;
  key: number;
  portPriority: number;
  port: number;
  state: number;
}

export interface SlowFrame {
  number: number;
  time: number;
  src: string;
  dst: string;
  len: number;
  /** 1 LACP, 2 marker */
  subtype: number;
  lacp?: { version: number; actor: LacpPartyFields; partner: LacpPartyFields; collectorMaxDelay: number };
  /** tlvType 1 = information (request), 2 = response */
  marker?: { version: number; tlvType: number; requesterPort: number; requesterSystem: string; transactionId: number };
  malformed: boolean;
  /** Expert messages tshark attached to the frame. */
  expert: string[];
}

const FIELDS = [
  'frame.number',
  'frame.time_relative',
  'eth.src',
  'eth.dst',
  'frame.len',
  'slow.subtype',
  'lacp.version',
  'lacp.actor.sys_priority',
  'lacp.actor.sysid',
  'lacp.actor.key',
  'lacp.actor.port_priority',
  'lacp.actor.port',
  'lacp.actor.state',
  'lacp.partner.sys_priority',
  'lacp.partner.sysid',
  'lacp.partner.key',
  'lacp.partner.port_priority',
  'lacp.partner.port',
  'lacp.partner.state',
  'lacp.collector.max_delay',
  'marker.version',
  'marker.tlvType',
  'marker.requesterPort',
  'marker.requesterSystem',
  'marker.requesterTransId',
  '_ws.malformed',
  '_ws.expert.message',
];

type Layers = Record<string, string[] | undefined>;

const num = (l: Layers, k: string): number => {
  const v = l[k]?.[0];
  return v === undefined ? NaN : Number(v);
};
const str = (l: Layers, k: string): string => l[k]?.[0] ?? '';

function party(l: Layers, who: 'actor' | 'partner'): LacpPartyFields {
  return {
    sysPriority: num(l, `lacp.${who}.sys_priority`),
    sysId: str(l, `lacp.${who}.sysid`),
    key: num(l, `lacp.${who}.key`),
    portPriority: num(l, `lacp.${who}.port_priority`),
    port: num(l, `lacp.${who}.port`),
    state: num(l, `lacp.${who}.state`),
  };
}

/** Decode every slow-protocols frame of a pcap with tshark. */
export async function decodeSlowFrames(file: string): Promise<SlowFrame[]> {
  const out = await runOk(['tshark', '-n', '-r', file, '-Y', 'slow', '-T', 'json', ...FIELDS.flatMap((f) => ['-e', f])], { timeoutMs: 60_000 });
  const packets = JSON.parse(out.trim() || '[]') as Array<{ _source: { layers: Layers } }>;
  return packets.map(({ _source: { layers: l } }) => {
    const f: SlowFrame = {
      number: num(l, 'frame.number'),
      time: num(l, 'frame.time_relative'),
      src: str(l, 'eth.src'),
      dst: str(l, 'eth.dst'),
      len: num(l, 'frame.len'),
      subtype: num(l, 'slow.subtype'),
      malformed: l['_ws.malformed'] !== undefined,
      expert: l['_ws.expert.message'] ?? [],
    };
    if (f.subtype === 1 && l['lacp.version']) {
      f.lacp = {
        version: num(l, 'lacp.version'),
        actor: party(l, 'actor'),
        partner: party(l, 'partner'),
        collectorMaxDelay: num(l, 'lacp.collector.max_delay'),
      };
    }
    if (f.subtype === 2 && l['marker.version']) {
      f.marker = {
        version: num(l, 'marker.version'),
        tlvType: num(l, 'marker.tlvType'),
        requesterPort: num(l, 'marker.requesterPort'),
        requesterSystem: str(l, 'marker.requesterSystem'),
        transactionId: num(l, 'marker.requesterTransId'),
      };
    }
    return f;
  });
}

/**
 * tshark's expert summary of a whole capture (-z expert, warnings and above). Empty when
 * Wireshark found nothing to complain about.
 */
export async function expertProblems(file: string): Promise<string> {
  const out = await runOk(['tshark', '-n', '-r', file, '-q', '-z', 'expert,warn'], { timeoutMs: 60_000 });
  return out.trim();
}

export interface InjectResult {
  kind: string;
  sent: number;
  length: number;
  illegal: boolean;
}

/** Every frame kind inject.py knows, with whether a receiver must count it as illegal. */
export async function hostileKinds(): Promise<Array<{ kind: string; illegal: boolean; length: number }>> {
  const out = await runOk(['python3', injectScript, '--list']);
  return out
    .trim()
    .split('\n')
    .map((line) => {
      const [kind = '', legality = '', length = '0'] = line.split('\t');
      return { kind, illegal: legality === 'illegal', length: Number(length) };
    });
}

/** Send `count` frames of one kind out of `ifname` in `host` (see inject.py). */
export async function injectFrames(host: Host, ifname: string, kind: string, count = 1, extra: string[] = []): Promise<InjectResult> {
  const out = await host.execOk(['python3', injectScript, '--iface', ifname, '--kind', kind, '--count', String(count), ...extra], { timeoutMs: 120_000 });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as InjectResult;
}

/** Bit names of an 802.1AX state octet, in the order ifconfig -v and OVS print them. */
export const LACP_STATE_BITS = ['ACTIVITY', 'TIMEOUT', 'AGGREGATION', 'SYNC', 'COLLECTING', 'DISTRIBUTING', 'DEFAULTED', 'EXPIRED'] as const;

export function lacpStateNames(state: number): string[] {
  return LACP_STATE_BITS.filter((_, i) => (state & (1 << i)) !== 0);
}
