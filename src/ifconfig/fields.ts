/**
 * Parsers for the single-line fields of an interface block that do not depend on the lagg
 * block: the header, inet and inet6 addresses, media, MAC addresses and LACP peer tuples. Each
 * returns undefined when the line is not fully understood, so the caller keeps it as unknown
 * rather than half-reading it.
 */
import { parseBitField } from './bits.js';
import type { BitField, Inet4Address, Inet6Address, LacpIdPair, LacpPeer, Media, MediaWord } from './model.js';

export interface Header {
  name: string;
  flags: BitField;
  metric?: number;
  mtu?: number;
  /** Header words the parser did not understand. */
  rest?: string;
}

const HEADER = /^([A-Za-z0-9_.-]+): flags=(\S+)(?:\s+(.*))?$/;
const INTEGER = /^\d{1,10}$/;

/** `em0: flags=8843<UP,...> metric 0 mtu 1500` (FreeBSD) or `wm0: flags=0x8843<...> mtu 1500` (NetBSD). */
export function parseHeader(text: string): Header | undefined {
  const m = HEADER.exec(text);
  if (!m) return undefined;
  const flags = parseBitField(m[2] ?? '');
  if (!flags) return undefined;
  const header: Header = { name: m[1] ?? '', flags };
  const words = (m[3] ?? '').split(/\s+/).filter((w) => w !== '');
  const rest: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i] ?? '';
    const next = words[i + 1];
    if ((w === 'metric' || w === 'mtu') && next !== undefined && INTEGER.test(next)) {
      header[w] = Number(next);
      i++;
    } else {
      rest.push(w);
    }
  }
  if (rest.length > 0) header.rest = rest.join(' ');
  return header;
}

/** True when a line is an interface header (used by detection and the block splitter). */
export function isHeader(text: string): boolean {
  return parseHeader(text) !== undefined;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function isIpv4(s: string): boolean {
  const m = IPV4.exec(s);
  if (m === null) return false;
  return m.slice(1).every((o) => Number(o) <= 255);
}

function maskToPrefix(mask: number): number | undefined {
  // A netmask is contiguous ones then zeros; anything else has no prefix length.
  const inverted = ~mask >>> 0;
  if ((inverted & (inverted + 1)) !== 0) return undefined;
  let n = 0;
  for (let bit = 31; bit >= 0 && (mask >>> bit) & 1; bit--) n++;
  return n;
}

function prefixToDotted(prefix: number): string {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (mask >>> s) & 0xff).join('.');
}

function parseNetmask(raw: string): { netmask: string; prefixLength?: number } | undefined {
  let value: number;
  if (/^0x[0-9a-fA-F]{8}$/.test(raw)) value = parseInt(raw.slice(2), 16);
  else if (isIpv4(raw)) value = raw.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  else return undefined;
  const netmask = [24, 16, 8, 0].map((s) => (value >>> s) & 0xff).join('.');
  const prefixLength = maskToPrefix(value);
  return prefixLength === undefined ? { netmask } : { netmask, prefixLength };
}

/** `inet A[/N] [--> D] [netmask M] [broadcast B] [vhid N] [flags X]` (text without the leading `inet`). */
export function parseInet(rest: string, line: number): Inet4Address | undefined {
  const words = rest.split(/\s+/).filter((w) => w !== '');
  const first = words.shift();
  if (first === undefined) return undefined;
  const [address = '', prefix] = first.split('/');
  if (!isIpv4(address)) return undefined;
  const out: Inet4Address = { line, address };
  if (prefix !== undefined) {
    if (!/^\d{1,2}$/.test(prefix) || Number(prefix) > 32) return undefined;
    out.prefixLength = Number(prefix);
    out.netmask = prefixToDotted(out.prefixLength);
  }
  while (words.length > 0) {
    const key = words.shift() ?? '';
    const value = words.shift();
    if (value === undefined) return undefined;
    if (key === '-->' && isIpv4(value)) out.destination = value;
    else if (key === 'netmask') {
      const mask = parseNetmask(value);
      if (!mask) return undefined;
      out.netmaskRaw = value;
      out.netmask = mask.netmask;
      if (mask.prefixLength !== undefined) out.prefixLength = mask.prefixLength;
    } else if (key === 'broadcast' && isIpv4(value)) out.broadcast = value;
    else if (key === 'vhid' && INTEGER.test(value)) out.vhid = Number(value);
    else if (key === 'flags' && /^(0x)?[0-9a-fA-F]+(<[^<>]*>)?$/.test(value)) out.flags = value;
    else return undefined;
  }
  return out;
}

const IPV6 = /^[0-9a-fA-F:.]+$/;

/** `inet6 A[%zone][/N] [prefixlen N] [scopeid 0xN] [flags..] [words] [pltime N] [vltime N] [vhid N]`. */
export function parseInet6(rest: string, line: number): Inet6Address | undefined {
  const words = rest.split(/\s+/).filter((w) => w !== '');
  const first = words.shift();
  if (first === undefined) return undefined;
  const [addrZone = '', prefix] = first.split('/');
  const [address = '', zone] = addrZone.split('%');
  if (!address.includes(':') || !IPV6.test(address)) return undefined;
  const out: Inet6Address = { line, address, flags: [] };
  if (zone !== undefined) {
    if (!/^[A-Za-z0-9_.-]+$/.test(zone)) return undefined;
    out.zone = zone;
  }
  if (prefix !== undefined) {
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > 128) return undefined;
    out.prefixLength = Number(prefix);
  }
  while (words.length > 0) {
    const key = words.shift() ?? '';
    const takesValue = ['prefixlen', 'scopeid', 'flags', 'pltime', 'vltime', 'vhid'].includes(key);
    if (!takesValue) {
      if (!/^[a-z][a-z_]*$/.test(key)) return undefined;
      out.flags.push(key);
      continue;
    }
    const value = words.shift();
    if (value === undefined) return undefined;
    if (key === 'prefixlen' && /^\d{1,3}$/.test(value) && Number(value) <= 128) out.prefixLength = Number(value);
    else if (key === 'scopeid' && /^(0x)?[0-9a-fA-F]+$/.test(value)) out.scopeId = value;
    else if (key === 'flags' && /^(0x)?[0-9a-fA-F]+(<[^<>]*>)?$/.test(value)) out.flagsValue = value;
    else if (key === 'pltime' || key === 'vltime') out[key] = value;
    else if (key === 'vhid' && INTEGER.test(value)) out.vhid = Number(value);
    else return undefined;
  }
  return out;
}

const MULTIWORD_MEDIA_TYPES = ['IEEE 802.11 Wireless Ethernet', 'Token ring', 'FDDI'];

function mediaOptions(words: string[]): string[] {
  return words.flatMap((w) => w.replace(/^<|>$/g, '').split(',')).filter((w) => w !== '');
}

function parseMediaWords(words: string[]): { subtype: string; options: string[]; mode?: string; instance?: number } | undefined {
  const subtype = words.shift() ?? '';
  const options: string[] = [];
  let mode: string | undefined;
  let instance: number | undefined;
  while (words.length > 0) {
    const w = words.shift() ?? '';
    if (w === 'mode' || w === 'instance') {
      const v = words.shift();
      if (v === undefined) return undefined;
      if (w === 'mode') mode = v;
      else if (INTEGER.test(v)) instance = Number(v);
      else return undefined;
    } else {
      options.push(...mediaOptions([w]));
    }
  }
  return {
    subtype,
    options,
    ...(mode === undefined ? {} : { mode }),
    ...(instance === undefined ? {} : { instance }),
  };
}

/** `Ethernet autoselect (1000baseT <full-duplex>)` (text after `media: `). */
export function parseMedia(rest: string, line: number): Media | undefined {
  const raw = rest.trim();
  if (raw === '') return undefined;
  let main = raw;
  let activeText: string | undefined;
  const paren = /^(.*?)\s*\(([^()]*)\)$/.exec(raw);
  if (paren) {
    main = paren[1] ?? '';
    activeText = paren[2] ?? '';
  }
  if (/[()]/.test(main)) return undefined;
  let type: string | undefined = MULTIWORD_MEDIA_TYPES.find((t) => main === t || main.startsWith(`${t} `));
  let remainder: string;
  if (type !== undefined) remainder = main.slice(type.length);
  else {
    const sp = main.search(/\s/);
    type = sp < 0 ? main : main.slice(0, sp);
    remainder = sp < 0 ? '' : main.slice(sp);
  }
  const parsed = parseMediaWords(remainder.split(/\s+/).filter((w) => w !== ''));
  if (!parsed || type === '') return undefined;
  const media: Media = { line, type, ...parsed, raw };
  if (activeText !== undefined) {
    const active = parseMediaWords(activeText.split(/\s+/).filter((w) => w !== ''));
    if (!active || active.subtype === '' || active.instance !== undefined) return undefined;
    const word: MediaWord = { subtype: active.subtype, options: active.options };
    if (active.mode !== undefined) word.mode = active.mode;
    media.active = word;
  }
  return media;
}

const MAC = /^[0-9a-fA-F]{1,2}([:-][0-9a-fA-F]{1,2}){5,19}$/;

/** A link-level address in lower-case colon form; undefined when it is not one. */
export function normaliseMac(text: string): string | undefined {
  if (!MAC.test(text)) return undefined;
  return text
    .split(/[:-]/)
    .map((b) => b.toLowerCase().padStart(2, '0'))
    .join(':');
}

const HEX4 = /^[0-9a-fA-F]{1,4}$/;

/** `8000,58-9C-FC-10-FF-E0,0155[,8000,0002]` (the inside of a tuple) → peer. */
export function parseLacpPeer(inner: string): LacpPeer | undefined {
  const parts = inner.split(',').map((p) => p.trim());
  if (parts.length !== 3 && parts.length !== 5) return undefined;
  const [prio = '', mac = '', key = '', portPrio, portNo] = parts;
  const systemMac = normaliseMac(mac);
  if (!HEX4.test(prio) || !HEX4.test(key) || systemMac === undefined) return undefined;
  const peer: LacpPeer = { systemPriority: parseInt(prio, 16), systemMac, key: parseInt(key, 16) };
  if (portPrio !== undefined && portNo !== undefined) {
    if (!HEX4.test(portPrio) || !HEX4.test(portNo)) return undefined;
    peer.portPriority = parseInt(portPrio, 16);
    peer.portNumber = parseInt(portNo, 16);
  }
  return peer;
}

/** `[(actor),(partner)]` with the line break FreeBSD prints already joined. */
export function parseLacpIdPair(text: string): LacpIdPair | undefined {
  const m = /^\[\(([^()]*)\),\s*\(([^()]*)\)\]$/.exec(text.trim());
  if (!m) return undefined;
  const actor = parseLacpPeer(m[1] ?? '');
  const partner = parseLacpPeer(m[2] ?? '');
  if (!actor || !partner) return undefined;
  return { actor, partner };
}

/** Format a MAC the way ifconfig's LACP lines do: upper-case, dash-separated. */
export function lacpMac(mac: string): string {
  return mac.toUpperCase().replace(/:/g, '-');
}

function hex4(n: number): string {
  return n.toString(16).toUpperCase().padStart(4, '0');
}

/** `(8000,58-9C-FC-10-FF-E0,0155,8000,0002)` for FreeBSD output. */
export function formatLacpPeer(peer: LacpPeer): string {
  const parts = [hex4(peer.systemPriority), lacpMac(peer.systemMac), hex4(peer.key)];
  if (peer.portPriority !== undefined && peer.portNumber !== undefined) parts.push(hex4(peer.portPriority), hex4(peer.portNumber));
  return `(${parts.join(',')})`;
}
