/**
 * Dialect detection for `--os auto`. FreeBSD and NetBSD ifconfig differ in small, reliable
 * marks (NetBSD prints `flags=0x..`, `address:`, `enabled=`, a bare `laggport:` header and
 * `pri=N`; FreeBSD prints `metric 0`, `options=`, `ether`, `nd6 options=`, `lagghash`,
 * `laggport: IF flags=`). Each side's marks are counted on the trimmed lines; the larger count
 * wins, FreeBSD on a tie (it is also laggctl's layout). The variant refines the FreeBSD side.
 */
import type { Dialect, DialectChoice, IfconfigModel, OsOption, Variant } from './model.js';

const NETBSD_MARKS: Array<[RegExp, string]> = [
  [/^\S+: flags=0x[0-9a-fA-F]+/, 'flags=0x.. header'],
  [/^address: /, 'address: line'],
  [/^(ec_)?enabled=/, 'enabled= line'],
  [/^ec_capabilities=/, 'ec_capabilities= line'],
  [/^laggport:$/, 'bare laggport: header'],
  [/^\S+ pri=\d+ flags=/, 'port pri=N line'],
  [/^actor: state=/, 'actor: state= line'],
  [/^inet6? \S+\/\d+ .*\bflags /, 'inet A/N ... flags line'],
  [/^(lagglacp|laggfailover) /, 'lagglacp/laggfailover line'],
];

const FREEBSD_MARKS: Array<[RegExp, string]> = [
  [/^\S+: flags=[0-9a-fA-F]+<.* metric \d+/, 'metric in header'],
  [/^options=/, 'options= line'],
  [/^ether /, 'ether line'],
  [/^hwaddr /, 'hwaddr line'],
  [/^nd6 options=/, 'nd6 options= line'],
  [/^groups: /, 'groups: line'],
  [/ lagghash /, 'lagghash'],
  [/^laggport:? \S+ (flags)?=/, 'laggport: IF flags= line'],
  [/^lag id: /, 'lag id: line'],
  [/^lagg (options|statistics):$/, 'lagg options/statistics block'],
  [/ netmask 0x[0-9a-fA-F]{8}/, 'hex netmask'],
  [/^lagg: laggproto /, 'lagg: laggproto line'],
];

function score(lines: string[], marks: Array<[RegExp, string]>): { count: number; found: string[] } {
  const found = new Set<string>();
  let count = 0;
  for (const text of lines) {
    for (const [re, label] of marks) {
      if (re.test(text)) {
        count++;
        found.add(label);
      }
    }
  }
  return { count, found: [...found] };
}

function freebsdVariant(lines: string[], model: Omit<IfconfigModel, 'dialect'>): { variant: Variant; why: string } {
  if (lines.some((t) => /^lagg: (laggproto|laggdev) /.test(t) || /^laggport \S+ =/.test(t)))
    return { variant: 'freebsd-legacy', why: 'FreeBSD 7.x lagg: block' };
  if (lines.some((t) => /^laggport: \S+ flags=\S+ state=[0-9A-Fa-f]+$/.test(t))) return { variant: 'freebsd-legacy', why: 'FreeBSD 8.x state= without names' };
  if (model.interfaces.some((i) => i.lagg && i.lagg.proto !== '' && i.lagg.hash === undefined))
    return { variant: 'freebsd-legacy', why: 'laggproto without lagghash (FreeBSD 8.x)' };
  const names = model.interfaces.flatMap((i) => [i.name, ...(i.lagg?.ports.map((p) => p.name) ?? [])]);
  if (names.some((n) => /^ie\d+g\d+$/.test(n))) return { variant: 'intime', why: 'INtime ieNgM interface names' };
  const laggs = model.interfaces.filter((i) => i.lagg);
  if (laggs.length > 0 && model.interfaces.every((i) => /^laggkit\d+$/.test(i.name)) && !lines.some((t) => /^(nd6 options=|groups: )/.test(t)))
    return { variant: 'laggctl', why: 'only laggkitN interfaces without kernel nd6/groups lines (laggctl)' };
  return { variant: 'freebsd', why: 'FreeBSD layout' };
}

/** Decide the dialect. `lines` are the trimmed lines of the whole text. */
export function chooseDialect(requested: OsOption, lines: string[], model: Omit<IfconfigModel, 'dialect'>): DialectChoice {
  const nb = score(lines, NETBSD_MARKS);
  const fb = score(lines, FREEBSD_MARKS);
  const looksLike: Dialect = nb.count > fb.count ? 'netbsd' : 'freebsd';
  const variantOf = (d: Dialect): { variant: Variant; why: string } =>
    d === 'netbsd' ? { variant: 'netbsd', why: 'NetBSD layout' } : freebsdVariant(lines, model);
  if (requested !== 'auto') {
    const { variant } = variantOf(requested);
    const note = requested === looksLike || nb.count + fb.count === 0 ? '' : ` (the text looks like ${looksLike})`;
    return { requested, dialect: requested, variant, reason: `requested with --os ${requested}${note}` };
  }
  const { variant, why } = variantOf(looksLike);
  const evidence = looksLike === 'netbsd' ? nb.found : fb.found;
  const reason =
    nb.count + fb.count === 0
      ? 'no dialect marks found; FreeBSD layout assumed'
      : `detected ${looksLike} (${nb.count} NetBSD vs ${fb.count} FreeBSD marks: ${evidence.join(', ')}); ${why}`;
  return { requested, dialect: looksLike, variant, reason };
}
