/**
 * Render a model back as FreeBSD `ifconfig [-v]` text. laggkit prints lagg status this way on
 * every target (operators read one layout), and the parser's round-trip tests use it:
 * parse(renderFreebsd(m)) gives m back for everything the FreeBSD layout can express.
 *
 * Not expressible, hence not printed: NetBSD-only details (port `pri=`, the `max ports`/actor/
 * partner lines, NetBSD partner state) and unknown lines (their place in the block is lost).
 */
import { formatBitField } from './bits.js';
import { formatLacpPeer } from './fields.js';
import type { IfconfigModel, IfInterface, Inet4Address, Inet6Address, LacpIdPair, LaggInfo, Media } from './model.js';

function inetLine(a: Inet4Address): string {
  let s = `inet ${a.address}`;
  if (a.netmaskRaw === undefined && a.prefixLength !== undefined) s += `/${a.prefixLength}`;
  if (a.destination !== undefined) s += ` --> ${a.destination}`;
  if (a.netmaskRaw !== undefined) s += ` netmask ${a.netmaskRaw}`;
  if (a.broadcast !== undefined) s += ` broadcast ${a.broadcast}`;
  if (a.vhid !== undefined) s += ` vhid ${a.vhid}`;
  if (a.flags !== undefined) s += ` flags ${a.flags}`;
  return s;
}

function inet6Line(a: Inet6Address): string {
  let s = `inet6 ${a.address}${a.zone === undefined ? '' : `%${a.zone}`}`;
  if (a.prefixLength !== undefined) s += ` prefixlen ${a.prefixLength}`;
  for (const f of a.flags) s += ` ${f}`;
  if (a.flagsValue !== undefined) s += ` flags ${a.flagsValue}`;
  if (a.scopeId !== undefined) s += ` scopeid ${a.scopeId}`;
  if (a.pltime !== undefined) s += ` pltime ${a.pltime}`;
  if (a.vltime !== undefined) s += ` vltime ${a.vltime}`;
  if (a.vhid !== undefined) s += ` vhid ${a.vhid}`;
  return s;
}

function mediaLine(m: Media): string {
  let s = `media: ${m.type}`;
  if (m.subtype !== '') s += ` ${m.subtype}`;
  if (m.options.length > 0) s += ` <${m.options.join(',')}>`;
  if (m.mode !== undefined) s += ` mode ${m.mode}`;
  if (m.instance !== undefined) s += ` instance ${m.instance}`;
  if (m.active) {
    const a = m.active;
    s += ` (${a.subtype}${a.options.length > 0 ? ` <${a.options.join(',')}>` : ''}${a.mode === undefined ? '' : ` mode ${a.mode}`})`;
  }
  return s;
}

function idPair(pair: LacpIdPair, indent: string): string[] {
  return [`[${formatLacpPeer(pair.actor)},`, `${indent} ${formatLacpPeer(pair.partner)}]`];
}

function laggLines(lagg: LaggInfo): string[] {
  const out: string[] = [];
  if (lagg.proto !== '') {
    let s = `\tlaggproto ${lagg.proto}`;
    if (lagg.hash) s += ` lagghash ${lagg.hash.join(',')}`;
    if (lagg.laggdev !== undefined) s += ` laggdev ${lagg.laggdev}`;
    out.push(s);
  } else if (lagg.laggdev !== undefined) {
    out.push(`\tlagg: laggdev ${lagg.laggdev}`);
  }
  if (lagg.options) {
    const o = lagg.options;
    out.push('\tlagg options:');
    if (o.flags) out.push(`\t\tflags=${formatBitField(o.flags)}`);
    if (o.flowidShift !== undefined) out.push(`\t\tflowid_shift: ${o.flowidShift}`);
    if (o.rrLimit !== undefined) out.push(`\t\trr_limit: ${o.rrLimit}`);
    for (const [k, v] of Object.entries(o.extra)) out.push(`\t\t${k}: ${v}`);
  }
  if (lagg.statistics) {
    const st = lagg.statistics;
    out.push('\tlagg statistics:');
    if (st.activePorts !== undefined) out.push(`\t\tactive ports: ${st.activePorts}`);
    if (st.flapping !== undefined) out.push(`\t\tflapping: ${st.flapping}`);
    for (const [k, v] of Object.entries(st.extra)) out.push(`\t\t${k}: ${v}`);
  }
  if (lagg.lagId) {
    const [first = '', second = ''] = idPair(lagg.lagId, '\t\t');
    out.push(`\tlag id: ${first}`, second);
  }
  for (const p of lagg.ports) {
    let s = `\tlaggport: ${p.name} flags=${formatBitField(p.flags)}`;
    if (p.lacp?.actorState) s += ` state=${formatBitField(p.lacp.actorState)}`;
    out.push(s);
    if (p.lacp?.id) out.push(...idPair(p.lacp.id, '\t\t').map((l, i) => (i === 0 ? `\t\t${l}` : l)));
  }
  return out;
}

function interfaceLines(i: IfInterface): string[] {
  let header = `${i.name}: flags=${formatBitField(i.flags)}`;
  if (i.metric !== undefined) header += ` metric ${i.metric}`;
  if (i.mtu !== undefined) header += ` mtu ${i.mtu}`;
  const out = [header];
  if (i.description !== undefined) out.push(`\tdescription: ${i.description}`);
  if (i.options) out.push(`\toptions=${formatBitField(i.options)}`);
  if (i.capabilities) out.push(`\tcapabilities=${formatBitField(i.capabilities)}`);
  if (i.enabled) out.push(`\tenabled=${formatBitField(i.enabled)}`);
  if (i.ecCapabilities) out.push(`\tec_capabilities=${formatBitField(i.ecCapabilities)}`);
  if (i.ecEnabled) out.push(`\tec_enabled=${formatBitField(i.ecEnabled)}`);
  if (i.ether !== undefined) out.push(`\tether ${i.ether}`);
  if (i.hwaddr !== undefined) out.push(`\thwaddr ${i.hwaddr}`);
  for (const a of i.inet) out.push(`\t${inetLine(a)}`);
  for (const a of i.inet6) out.push(`\t${inet6Line(a)}`);
  if (i.lagg) out.push(...laggLines(i.lagg));
  if (i.groups.length > 0) out.push(`\tgroups: ${i.groups.join(' ')}`);
  if (i.media) out.push(`\t${mediaLine(i.media)}`);
  if (i.status !== undefined) out.push(`\tstatus: ${i.status}`);
  if (i.nd6) out.push(`\tnd6 options=${formatBitField(i.nd6)}`);
  for (const o of i.other) out.push(`\t${o.key}:${o.value === '' ? '' : ` ${o.value}`}`);
  return out;
}

/** The model as FreeBSD ifconfig text, one interface after another, ending in a newline. */
export function renderFreebsd(model: Pick<IfconfigModel, 'interfaces'>): string {
  return model.interfaces
    .flatMap(interfaceLines)
    .map((l) => `${l}\n`)
    .join('');
}
