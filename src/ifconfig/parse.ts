/**
 * parseIfconfig: the text of `ifconfig [-v]` (FreeBSD 7.x-15, NetBSD 10, INtime) or laggctl into
 * an IfconfigModel.
 *
 * The text is cut into interface blocks at header lines (`NAME: flags=..`). Each body line is
 * read by its indentation relative to its header: level 1 lines are fields (ether, inet, media,
 * laggproto, laggport: ...), deeper lines belong to the sub-block opened by the level-1 line
 * before them (lagg options, LACP tuples, NetBSD port lists). The grammar accepts both
 * dialects; the dialect choice (requested or detected) is recorded, not used to reject lines.
 *
 * Nothing is dropped: a line that is not understood is kept as unknown with its line number.
 * Only text that cannot be ifconfig output at all raises ParseError: binary data, or no
 * interface header anywhere in non-blank text.
 */
import { ParseError, UsageError } from '../cli/errors.js';
import { parseBitField } from './bits.js';
import { chooseDialect } from './detect.js';
import { normaliseMac, parseHeader, parseInet, parseInet6, parseMedia, type Header } from './fields.js';
import { LaggBlockParser } from './lagg.js';
import type { BitField, IfconfigModel, IfInterface, OsOption, ParseOptions, UnknownLine } from './model.js';

export const OS_OPTIONS: readonly OsOption[] = ['freebsd', 'netbsd', 'auto'];

interface Line {
  line: number;
  /** Display column of the first non-blank character (tabs to multiples of 8). */
  column: number;
  text: string;
}

// Control characters other than tab/CR/LF, and U+FFFD (what invalid UTF-8 decodes to).
const BINARY = /[\u0000-\u0008\u000b-\u000c\u000e-\u001f\u007f\ufffd]/;

function splitLines(text: string): Line[] {
  const raw = text.split(/\r\n|\n|\r/);
  if (raw.length > 0 && raw[raw.length - 1] === '') raw.pop();
  return raw.map((s, i) => {
    let column = 0;
    let k = 0;
    for (; k < s.length; k++) {
      const c = s[k];
      if (c === '\t') column = (Math.floor(column / 8) + 1) * 8;
      else if (c === ' ') column++;
      else break;
    }
    return { line: i + 1, column, text: s.slice(k).trimEnd() };
  });
}

function newInterface(header: Header, line: number): IfInterface {
  const iface: IfInterface = { line, name: header.name, flags: header.flags, inet: [], inet6: [], groups: [], other: [], unknown: [] };
  if (header.metric !== undefined) iface.metric = header.metric;
  if (header.mtu !== undefined) iface.mtu = header.mtu;
  if (header.rest !== undefined) iface.unknown.push({ line, text: header.rest });
  return iface;
}

/** NetBSD prints long capability lists over several `capabilities=` lines: merge them. */
function mergeBits(previous: BitField | undefined, next: BitField): BitField {
  if (!previous || previous.value !== next.value) return next;
  return { value: next.value, names: [...previous.names, ...next.names], raw: `${previous.raw} ${next.raw}` };
}

const BIT_LINES: Record<string, 'options' | 'capabilities' | 'enabled' | 'ecCapabilities' | 'ecEnabled' | 'nd6'> = {
  'options=': 'options',
  'capabilities=': 'capabilities',
  'enabled=': 'enabled',
  'ec_capabilities=': 'ecCapabilities',
  'ec_enabled=': 'ecEnabled',
  'nd6 options=': 'nd6',
};

/** A level-1 line that is not part of the lagg block. Returns false when not understood. */
function fieldLine(iface: IfInterface, text: string, line: number): boolean {
  for (const [prefix, key] of Object.entries(BIT_LINES)) {
    if (text.startsWith(prefix)) {
      const bits = parseBitField(text.slice(prefix.length));
      if (!bits) return false;
      iface[key] = key === 'nd6' || key === 'options' ? bits : mergeBits(iface[key], bits);
      return true;
    }
  }
  let m: RegExpExecArray | null;
  if ((m = /^(ether|lladdr|hwaddr|address:)\s+(\S+)$/.exec(text))) {
    const mac = normaliseMac(m[2] ?? '');
    if (!mac) return false;
    if (m[1] === 'hwaddr') iface.hwaddr = mac;
    else iface.ether = mac;
    return true;
  }
  if ((m = /^inet\s+(.*)$/.exec(text))) {
    const addr = parseInet(m[1] ?? '', line);
    if (addr) iface.inet.push(addr);
    return addr !== undefined;
  }
  if ((m = /^inet6\s+(.*)$/.exec(text))) {
    const addr = parseInet6(m[1] ?? '', line);
    if (addr) iface.inet6.push(addr);
    return addr !== undefined;
  }
  if ((m = /^media:\s+(.*)$/.exec(text))) {
    const media = parseMedia(m[1] ?? '', line);
    if (media) iface.media = media;
    return media !== undefined;
  }
  if ((m = /^status:\s+(.+)$/.exec(text))) {
    iface.status = m[1] ?? '';
    return true;
  }
  if ((m = /^groups:\s+(.+)$/.exec(text))) {
    iface.groups.push(...(m[1] ?? '').split(/\s+/));
    return true;
  }
  if ((m = /^description:\s+(.*)$/.exec(text))) {
    iface.description = m[1] ?? '';
    return true;
  }
  // A `key: value` line of a kind not modelled (drivername, vlan, carp, plugged, input...).
  if ((m = /^([A-Za-z][A-Za-z0-9_.-]*(?: [A-Za-z0-9_.-]+){0,3}):(?:\s+(.*))?$/.exec(text))) {
    iface.other.push({ line, key: m[1] ?? '', value: m[2] ?? '' });
    return true;
  }
  return false;
}

/** Parse a whole block's body lines into `iface`. */
function parseBody(iface: IfInterface, headerColumn: number, body: Line[]): void {
  const lagg = new LaggBlockParser(iface);
  for (const { line, column, text } of body) {
    if (text === '') continue;
    const depth = column - headerColumn;
    if (depth <= 8) {
      lagg.resetContext();
      // A lagg keyword line the lagg grammar rejected is malformed, not a generic `key: value`.
      const understood = lagg.topLine(text, line) || (!/^(lagg|lag id)/.test(text) && fieldLine(iface, text, line));
      if (!understood) iface.unknown.push({ line, text });
    } else if (!lagg.subLine(text, line)) {
      iface.unknown.push({ line, text });
    }
  }
  lagg.finish();
  // A half-read LACP tuple is only known to be unknown after the line that follows it.
  iface.unknown.sort((a, b) => a.line - b.line);
}

function firstMatch(lines: Line[], re: RegExp): Line | undefined {
  return lines.find((l) => re.test(l.text));
}

/**
 * Parse ifconfig output. Throws ParseError (and nothing else) for text that cannot be ifconfig
 * output; every other line ends up either in the model or in an `unknown` list.
 */
export function parseIfconfig(text: string, options: ParseOptions = {}): IfconfigModel {
  const os = options.os ?? 'auto';
  if (!OS_OPTIONS.includes(os)) {
    throw new UsageError('E_USAGE_OS', `unknown ifconfig dialect '${String(os)}'`, `Use one of: ${OS_OPTIONS.join(', ')}.`);
  }
  const rawLines = text.split(/\r\n|\n|\r/);
  const binaryAt = rawLines.findIndex((l) => BINARY.test(l));
  if (binaryAt >= 0) {
    throw new ParseError(
      'E_IFCONFIG_BINARY',
      `line ${binaryAt + 1}: binary data (control characters) where ifconfig text was expected`,
      binaryAt + 1,
      'Pass the text output of ifconfig, e.g. `ifconfig -v | laggkit parse`.',
    );
  }
  const lines = splitLines(text);
  const interfaces: IfInterface[] = [];
  const unknown: UnknownLine[] = [];
  let current: { iface: IfInterface; column: number; body: Line[] } | undefined;
  const close = (): void => {
    if (current) parseBody(current.iface, current.column, current.body);
    current = undefined;
  };
  for (const l of lines) {
    const header = parseHeader(l.text);
    if (header) {
      close();
      const iface = newInterface(header, l.line);
      interfaces.push(iface);
      current = { iface, column: l.column, body: [] };
    } else if (l.text === '') {
      if (current) current.body.push(l);
    } else if (current && l.column > current.column) {
      current.body.push(l);
    } else {
      // Text at or left of the header's column ends the block (a prompt, a closing fence...).
      close();
      unknown.push({ line: l.line, text: l.text });
    }
  }
  close();
  if (interfaces.length === 0 && lines.some((l) => l.text !== '')) {
    const indented = firstMatch(
      lines.filter((l) => l.column > 0),
      /./,
    );
    const first = indented ?? firstMatch(lines, /./);
    throw new ParseError(
      'E_IFCONFIG_NO_INTERFACE',
      indented
        ? `line ${indented.line}: indented ifconfig field with no interface header ('NAME: flags=...') before it`
        : `no interface header ('NAME: flags=...') found in ${lines.length} line(s) of input`,
      first?.line,
      'Pass complete ifconfig output including the interface header lines.',
    );
  }
  const partial = { interfaces, unknown };
  const dialect = chooseDialect(
    os,
    lines.map((l) => l.text),
    partial,
  );
  return { dialect, interfaces, unknown };
}
