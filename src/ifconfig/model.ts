/**
 * The typed model of `ifconfig` / `ifconfig -v` output (and of laggctl, which prints the same
 * FreeBSD-layout lagg block). This is the public shape other layers (status rendering, laggd and
 * lab tests, the e2e runner) read, so fields are only ever added, never renamed.
 *
 * Conventions: every parsed line keeps its 1-based line number in the input; optional fields are
 * absent when the output did not print them; lines the parser did not understand are kept in
 * `unknown` lists (per interface, or at top level before the first interface), never dropped.
 */

/** The ifconfig flavour whose grammar and conventions the output follows. */
export type Dialect = 'freebsd' | 'netbsd';

/** What the caller asked for: a dialect, or detection from the text. */
export type OsOption = Dialect | 'auto';

/**
 * Finer origin of the text within a dialect:
 * - freebsd         FreeBSD 9.x to 15 (`laggproto P lagghash L`, `laggport: IF flags=..`)
 * - freebsd-legacy  FreeBSD 7.x/8.x (`lagg: laggproto P`, `laggport IF <..>`, `state=3D` without names)
 * - intime          INtime's FreeBSD-derived stack (ieNgM interface names)
 * - laggctl         laggkit's own laggd control tool on Linux (FreeBSD layout, laggkitN names)
 * - netbsd          NetBSD 10 (`laggport:` header, `IF pri=N flags=0x..`)
 */
export type Variant = 'freebsd' | 'freebsd-legacy' | 'intime' | 'laggctl' | 'netbsd';

export interface DialectChoice {
  /** The `--os` value the caller passed. */
  requested: OsOption;
  /** The dialect the model was parsed as. */
  dialect: Dialect;
  variant: Variant;
  /** Why: "requested" or the evidence found by auto-detection. */
  reason: string;
}

/** A value printed as `hex<NAME,NAME>` (FreeBSD printb) or `0xhex<NAME,...>` (NetBSD snprintb). */
export interface BitField {
  value: number;
  /** The names printed between angle brackets (or decoded from a known bit table when absent). */
  names: string[];
  /** The text as printed, e.g. `1c<ACTIVE,COLLECTING,DISTRIBUTING>`. */
  raw: string;
}

export interface UnknownLine {
  line: number;
  text: string;
}

/** A `key: value` line of a known shape whose meaning is not modelled (drivername, vlan, carp...). */
export interface OtherLine {
  line: number;
  key: string;
  value: string;
}

export interface Inet4Address {
  line: number;
  address: string;
  /** Netmask as printed (`0xffffff00`, `255.255.255.0`) when printed separately from the address. */
  netmaskRaw?: string;
  /** Dotted-quad netmask. */
  netmask?: string;
  prefixLength?: number;
  broadcast?: string;
  /** Point-to-point peer (`inet A --> B`). */
  destination?: string;
  vhid?: number;
  /** NetBSD `flags 0x..`: the raw value. */
  flags?: string;
}

export interface Inet6Address {
  line: number;
  address: string;
  /** The `%zone` suffix of a scoped address, e.g. `lo0`. */
  zone?: string;
  prefixLength?: number;
  /** `scopeid 0x2`, as printed. */
  scopeId?: string;
  /** Address flags as words: tentative, deprecated, autoconf, temporary, detached, duplicated... */
  flags: string[];
  /** NetBSD prints `flags 0x..`: the raw value. */
  flagsValue?: string;
  pltime?: string;
  vltime?: string;
  vhid?: number;
}

export interface MediaWord {
  subtype: string;
  options: string[];
  mode?: string;
}

export interface Media {
  line: number;
  /** `Ethernet`, `IEEE802.11`... */
  type: string;
  /** The configured subtype, e.g. `autoselect`. */
  subtype: string;
  options: string[];
  mode?: string;
  instance?: number;
  /** What the link negotiated, from the parenthesised part. */
  active?: MediaWord;
  raw: string;
}

/** One side of an LACP peer tuple `(prio,MAC,key,portprio,portno)`; NetBSD prints only `[prio,MAC,key]`. */
export interface LacpPeer {
  systemPriority: number;
  /** MAC as printed by ifconfig (`58-9C-FC-10-FF-E0`), normalised to lower-case colon form. */
  systemMac: string;
  key: number;
  portPriority?: number;
  portNumber?: number;
}

export interface LacpIdPair {
  actor: LacpPeer;
  partner: LacpPeer;
}

export interface LaggPortLacp {
  /** FreeBSD ` state=..` on the laggport line (actor state); NetBSD `actor: state=..`. */
  actorState?: BitField;
  /** NetBSD `partner: ... state=..`. */
  partnerState?: BitField;
  /** FreeBSD `[(actor),(partner)]` under the port. */
  id?: LacpIdPair;
  /** NetBSD `partner=[prio,MAC,key]` and `partner: port=.. prio=..`. */
  partner?: LacpPeer;
}

export interface LaggPort {
  line: number;
  name: string;
  flags: BitField;
  /** NetBSD `pri=N`. */
  priority?: number;
  lacp?: LaggPortLacp;
}

/** FreeBSD `-v` `lagg options:` block. */
export interface LaggOptions {
  flags?: BitField;
  useFlowid?: boolean;
  useNuma?: boolean;
  lacpStrict?: boolean;
  lacpFastTimeout?: boolean;
  lacpTxTest?: boolean;
  lacpRxTest?: boolean;
  flowidShift?: number;
  rrLimit?: number;
  /** Other `key: value` lines of the block, by key. */
  extra: Record<string, string>;
}

/** FreeBSD `-v` `lagg statistics:` block. */
export interface LaggStatistics {
  activePorts?: number;
  flapping?: number;
  extra: Record<string, string>;
}

/** NetBSD `-v` lines under `laggproto lacp`, and `lagglacp`/`laggfailover` option lines. */
export interface NetbsdLaggDetails {
  maxPorts?: number;
  flags?: BitField;
  actor?: LacpPeer;
  partner?: LacpPeer;
  /** Option words printed on `lagglacp ...` / `laggfailover ...` lines (e.g. `multi-speed`, `rx-all`). */
  lacpOptions?: string[];
  failoverOptions?: string[];
}

export interface LaggInfo {
  line: number;
  /** `lacp`, `failover`, `loadbalance`, `roundrobin`, `broadcast`, `none`, or `<unknown>` as printed. */
  proto: string;
  /** `lagghash l2,l3,l4` → ['l2','l3','l4']; absent where the OS does not print it. */
  hash?: string[];
  /** `laggdev X`: printed on a port interface by some FreeBSD versions. */
  laggdev?: string;
  options?: LaggOptions;
  statistics?: LaggStatistics;
  /** FreeBSD `-v` `lag id: [(actor),(partner)]` of the aggregator. */
  lagId?: LacpIdPair;
  netbsd?: NetbsdLaggDetails;
  ports: LaggPort[];
}

export interface IfInterface {
  line: number;
  name: string;
  flags: BitField;
  metric?: number;
  mtu?: number;
  description?: string;
  /** FreeBSD `options=` (enabled capabilities). */
  options?: BitField;
  /** FreeBSD `capabilities=` (`-m`), NetBSD `capabilities=` (lines merged). */
  capabilities?: BitField;
  /** NetBSD `enabled=`. */
  enabled?: BitField;
  /** NetBSD `ec_capabilities=` / `ec_enabled=`. */
  ecCapabilities?: BitField;
  ecEnabled?: BitField;
  /** FreeBSD `ether`, NetBSD `address:`, Linux-style `lladdr`. Lower-case colon form. */
  ether?: string;
  /** FreeBSD `hwaddr` (the permanent address). */
  hwaddr?: string;
  inet: Inet4Address[];
  inet6: Inet6Address[];
  media?: Media;
  /** `active`, `no carrier`, ... */
  status?: string;
  groups: string[];
  nd6?: BitField;
  lagg?: LaggInfo;
  other: OtherLine[];
  unknown: UnknownLine[];
}

export interface IfconfigModel {
  dialect: DialectChoice;
  interfaces: IfInterface[];
  /** Lines outside any interface (shell prompts, text around a pasted example). */
  unknown: UnknownLine[];
}

export interface ParseOptions {
  os?: OsOption;
}
