/**
 * The lagg block of an interface, in every layout the parser knows:
 *
 *   FreeBSD 9.x-15 / laggctl   laggproto lacp lagghash l2,l3,l4
 *                              lagg options: / lagg statistics: / lag id: [(..),\n (..)]   (-v)
 *                              laggport: em0 flags=1c<..> state=3d<..>                     (-v state)
 *                                      [(actor),\n (partner)]                              (-v)
 *   FreeBSD 8.x                laggproto lacp [laggdev X], state=3D without names
 *   FreeBSD 7.x                lagg: laggproto failover / \t\tlaggport em0 =5<MASTER,ACTIVE>
 *   NetBSD 10                  laggproto lacp / \t\tmax ports=.., actor=[..], partner=[..] (-v)
 *                              laggport: / \t\twm0 pri=32768 flags=0x1c<..>
 *                              \t\t\tactor: state=.. / partner=[..] / partner: port=.. (-v)
 *
 * Lines are fed one at a time with their indentation level (1 = directly under the header,
 * 2 = deeper). The block keeps a small context (which sub-block or port the next deeper line
 * belongs to) and answers whether it understood the line; the caller keeps the rest as unknown.
 */
import { parseBitField, parseLacpState } from './bits.js';
import { parseLacpIdPair, parseLacpPeer } from './fields.js';
import type { IfInterface, LaggInfo, LaggOptions, LaggPort, UnknownLine } from './model.js';

/** The first line of a two-line LACP tuple: its original text (kept if it never completes) and the tuple part. */
interface Pending extends UnknownLine {
  tuple: string;
}

type Context =
  | { kind: 'none' }
  | { kind: 'options' }
  | { kind: 'statistics' }
  | { kind: 'lagId'; pending?: Pending }
  | { kind: 'freebsdPort'; port: LaggPort; pending?: Pending }
  | { kind: 'legacy' }
  /** After `laggproto`: NetBSD -v prints max ports/actor/partner lines under it. */
  | { kind: 'protoDetails' }
  | { kind: 'netbsdPorts'; port?: LaggPort };

const NAME = /^[A-Za-z0-9_.-]+$/;
const INTEGER = /^\d{1,10}$/;

/** Option-flag names of `lagg options: flags=..` mapped onto the model's booleans. */
const OPTION_FLAGS: Record<string, keyof LaggOptions> = {
  USE_FLOWID: 'useFlowid',
  USE_NUMA: 'useNuma',
  LACP_STRICT: 'lacpStrict',
  LACP_FAST_TIMO: 'lacpFastTimeout',
  LACP_FAST_TIMEOUT: 'lacpFastTimeout',
  LACP_TIMEOUT: 'lacpFastTimeout',
  LACP_TXTEST: 'lacpTxTest',
  LACP_RXTEST: 'lacpRxTest',
};

export class LaggBlockParser {
  private ctx: Context = { kind: 'none' };

  constructor(private readonly iface: IfInterface) {}

  private lagg(line: number): LaggInfo {
    // A laggport line without a laggproto line (an excerpt) still gets a block; proto stays ''.
    this.iface.lagg ??= { line, proto: '', ports: [] };
    return this.iface.lagg;
  }

  /** Flush a half-read multi-line tuple into the interface's unknown lines. */
  private flushPending(): void {
    if ((this.ctx.kind === 'lagId' || this.ctx.kind === 'freebsdPort') && this.ctx.pending) {
      this.iface.unknown.push({ line: this.ctx.pending.line, text: this.ctx.pending.text });
      this.ctx.pending = undefined;
    }
  }

  /** Called for every level-1 line, understood or not: deeper lines after it are not ours. */
  resetContext(): void {
    this.flushPending();
    this.ctx = { kind: 'none' };
  }

  /** Must be called at the end of the interface block. */
  finish(): void {
    this.flushPending();
  }

  /** A line directly under the header. Returns false when it is not a lagg line. */
  topLine(text: string, line: number): boolean {
    let m: RegExpExecArray | null;
    if ((m = /^laggproto\s+(\S+)((?:\s+\S+)*)$/.exec(text))) return this.laggproto(m[1] ?? '', m[2] ?? '', line, false);
    if ((m = /^lagg:\s+laggproto\s+(\S+)((?:\s+\S+)*)$/.exec(text))) return this.laggproto(m[1] ?? '', m[2] ?? '', line, true);
    if ((m = /^lagg:\s+laggdev\s+(\S+)$/.exec(text))) {
      if (!NAME.test(m[1] ?? '')) return false;
      this.iface.lagg ??= { line, proto: '', ports: [] };
      this.iface.lagg.laggdev = m[1];
      return true;
    }
    if (text === 'lagg options:') {
      this.lagg(line).options ??= { extra: {} };
      this.ctx = { kind: 'options' };
      return true;
    }
    if (text === 'lagg statistics:') {
      this.lagg(line).statistics ??= { extra: {} };
      this.ctx = { kind: 'statistics' };
      return true;
    }
    if ((m = /^lag id:\s*(.*)$/.exec(text))) {
      const pair = parseLacpIdPair(m[1] ?? '');
      if (pair) {
        this.lagg(line).lagId = pair;
        return true;
      }
      if (!/^\[\(/.test(m[1] ?? '')) return false;
      this.lagg(line);
      this.ctx = { kind: 'lagId', pending: { line, text, tuple: m[1] ?? '' } };
      return true;
    }
    if (text === 'laggport:') {
      this.lagg(line);
      this.ctx = { kind: 'netbsdPorts' };
      return true;
    }
    if (/^laggport:?\s/.test(text)) {
      const port = this.portLine(text, line);
      if (!port) return false;
      this.ctx = { kind: 'freebsdPort', port };
      return true;
    }
    if ((m = /^(lagglacp|laggfailover)((?:\s+\S+)+)$/.exec(text))) {
      const words = (m[2] ?? '').trim().split(/\s+/);
      const nb = (this.lagg(line).netbsd ??= {});
      if (m[1] === 'lagglacp') nb.lacpOptions = [...(nb.lacpOptions ?? []), ...words];
      else nb.failoverOptions = [...(nb.failoverOptions ?? []), ...words];
      return true;
    }
    return false;
  }

  private laggproto(proto: string, rest: string, line: number, legacy: boolean): boolean {
    const words = rest.split(/\s+/).filter((w) => w !== '');
    if (!/^(<unknown>|unknown|[a-z_]+)$/.test(proto)) return false;
    let hash: string[] | undefined;
    let laggdev: string | undefined;
    while (words.length > 0) {
      const key = words.shift();
      const value = words.shift();
      if (value === undefined) return false;
      if (key === 'lagghash' && /^[a-z0-9]+(,[a-z0-9]+)*$/.test(value)) hash = value.split(',');
      else if (key === 'laggdev' && NAME.test(value)) laggdev = value;
      else return false;
    }
    // Keep ports (and -v blocks) a laggport-first excerpt already produced; rebuild the head in print order.
    const previous = this.iface.lagg;
    const lagg: Omit<LaggInfo, 'ports'> = { line, proto };
    if (hash) lagg.hash = hash;
    if (laggdev ?? previous?.laggdev) lagg.laggdev = laggdev ?? previous?.laggdev;
    this.iface.lagg = { ...lagg, ...(previous && previous.proto === '' ? withoutHead(previous) : {}), ports: previous?.ports ?? [] };
    this.ctx = legacy ? { kind: 'legacy' } : { kind: 'protoDetails' };
    return true;
  }

  /** `laggport: em0 flags=1c<..> [state=..]`, or 7.x `laggport em0 =5<..>`. */
  private portLine(text: string, line: number): LaggPort | undefined {
    const m = /^laggport:?\s+(\S+)\s+(?:flags=|=)?(\S+)(?:\s+state=(\S+))?$/.exec(text);
    if (!m || !NAME.test(m[1] ?? '')) return undefined;
    const flags = parseBitField(m[2] ?? '');
    if (!flags) return undefined;
    const port: LaggPort = { line, name: m[1] ?? '', flags };
    if (m[3] !== undefined) {
      const state = parseLacpState(m[3]);
      if (!state) return undefined;
      port.lacp = { actorState: state };
    }
    this.lagg(line).ports.push(port);
    return port;
  }

  /** A deeper line. Returns false when it does not belong to the current lagg context. */
  subLine(text: string, line: number): boolean {
    const ctx = this.ctx;
    let m: RegExpExecArray | null;
    switch (ctx.kind) {
      case 'none':
        return false;
      case 'options': {
        const opts = (this.lagg(line).options ??= { extra: {} });
        if ((m = /^flags=(\S+)$/.exec(text))) {
          const flags = parseBitField(m[1] ?? '');
          if (!flags) return false;
          opts.flags = flags;
          for (const name of flags.names) {
            const key = OPTION_FLAGS[name];
            if (key) (opts as unknown as Record<string, boolean>)[key] = true;
          }
          return true;
        }
        if ((m = /^([a-z_][a-z0-9_ ]*):\s*(.*)$/.exec(text))) {
          const key = m[1] ?? '';
          const value = m[2] ?? '';
          if (key === 'flowid_shift' && INTEGER.test(value)) opts.flowidShift = Number(value);
          else if (key === 'rr_limit' && INTEGER.test(value)) opts.rrLimit = Number(value);
          else opts.extra[key] = value;
          return true;
        }
        return false;
      }
      case 'statistics': {
        const stats = (this.lagg(line).statistics ??= { extra: {} });
        if (!(m = /^([a-z_][a-z0-9_ ]*):\s*(.*)$/.exec(text))) return false;
        const key = m[1] ?? '';
        const value = m[2] ?? '';
        if (key === 'active ports' && INTEGER.test(value)) stats.activePorts = Number(value);
        else if (key === 'flapping' && INTEGER.test(value)) stats.flapping = Number(value);
        else stats.extra[key] = value;
        return true;
      }
      case 'lagId': {
        if (!ctx.pending) return false;
        const pair = parseLacpIdPair(`${ctx.pending.tuple}${text}`);
        if (!pair) {
          this.flushPending();
          return false;
        }
        this.lagg(line).lagId = pair;
        ctx.pending = undefined;
        return true;
      }
      case 'freebsdPort': {
        if (ctx.pending) {
          const pair = parseLacpIdPair(`${ctx.pending.tuple}${text}`);
          if (!pair) {
            this.flushPending();
            return false;
          }
          ctx.port.lacp = { ...ctx.port.lacp, id: pair };
          ctx.pending = undefined;
          return true;
        }
        const pair = parseLacpIdPair(text);
        if (pair) {
          ctx.port.lacp = { ...ctx.port.lacp, id: pair };
          return true;
        }
        if (/^\[\([^()]*\),$/.test(text)) {
          ctx.pending = { line, text, tuple: text };
          return true;
        }
        return false;
      }
      case 'legacy': {
        if (!/^laggport\s/.test(text)) return false;
        return this.portLine(text, line) !== undefined;
      }
      case 'protoDetails': {
        const nb = (this.lagg(line).netbsd ??= {});
        if ((m = /^max ports=(\d{1,10}), flags=(\S+)$/.exec(text))) {
          const flags = parseBitField(m[2] ?? '');
          if (!flags) return false;
          nb.maxPorts = Number(m[1]);
          nb.flags = flags;
          return true;
        }
        if ((m = /^(actor|partner)=\[([^[\]]*)\]$/.exec(text))) {
          const peer = parseLacpPeer(m[2] ?? '');
          if (!peer) return false;
          nb[m[1] === 'actor' ? 'actor' : 'partner'] = peer;
          return true;
        }
        return false;
      }
      case 'netbsdPorts':
        return this.netbsdPortLine(ctx, text, line);
    }
  }

  private netbsdPortLine(ctx: { kind: 'netbsdPorts'; port?: LaggPort }, text: string, line: number): boolean {
    let m: RegExpExecArray | null;
    if ((m = /^(\S+)\s+pri=(\d{1,10})\s+flags=(\S+)$/.exec(text))) {
      const flags = parseBitField(m[3] ?? '');
      if (!flags || !NAME.test(m[1] ?? '')) return false;
      const port: LaggPort = { line, name: m[1] ?? '', flags, priority: Number(m[2]) };
      this.lagg(line).ports.push(port);
      ctx.port = port;
      return true;
    }
    const port = ctx.port;
    if (!port) return false;
    if ((m = /^actor: state=(\S+)$/.exec(text))) {
      const state = parseLacpState(m[1] ?? '');
      if (!state) return false;
      port.lacp = { ...port.lacp, actorState: state };
      return true;
    }
    if ((m = /^partner=\[([^[\]]*)\]$/.exec(text))) {
      const peer = parseLacpPeer(m[1] ?? '');
      if (!peer) return false;
      port.lacp = { ...port.lacp, partner: peer };
      return true;
    }
    if ((m = /^partner: port=([0-9a-fA-F]{1,4}) prio=([0-9a-fA-F]{1,4}) state=(\S+)$/.exec(text))) {
      const state = parseLacpState(m[3] ?? '');
      if (!state) return false;
      const partner = port.lacp?.partner;
      // NetBSD prints partner=[..] first; a port/prio line without it has no peer to attach to.
      if (!partner) return false;
      port.lacp = {
        ...port.lacp,
        partnerState: state,
        partner: { ...partner, portNumber: parseInt(m[1] ?? '', 16), portPriority: parseInt(m[2] ?? '', 16) },
      };
      return true;
    }
    return false;
  }
}

function withoutHead(l: LaggInfo): Partial<LaggInfo> {
  const { line: _line, proto: _proto, hash: _hash, laggdev: _laggdev, ports: _ports, ...rest } = l;
  return rest;
}
