/**
 * The compact human view of a parsed model (`laggkit parse` without --json): one row per
 * interface, then per lagg interface one row per port with its flags and LACP state, then the
 * dialect choice and how many lines were kept as unknown.
 */
import type { IfconfigModel, IfInterface, LaggPort } from './model.js';

function columns(rows: string[][], indent = ''): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map(
    (row) =>
      indent +
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
  );
}

function address(i: IfInterface): string {
  const a = i.inet[0];
  if (!a) return '-';
  const more = i.inet.length > 1 ? ` +${i.inet.length - 1}` : '';
  return `${a.address}${a.prefixLength === undefined ? '' : `/${a.prefixLength}`}${more}`;
}

function portRow(p: LaggPort): string[] {
  const lacp = p.lacp;
  const partner = lacp?.id?.partner ?? lacp?.partner;
  return [
    p.name,
    p.priority === undefined ? '-' : String(p.priority),
    p.flags.names.join(',') || '-',
    lacp?.actorState?.names.join(',') || '-',
    lacp?.partnerState?.names.join(',') || '-',
    partner ? `${partner.systemMac} key ${partner.key}` : '-',
  ];
}

/** Text table for humans; the --json model carries everything this leaves out. */
export function formatTable(model: IfconfigModel): string {
  const out: string[] = [];
  const rows = [['INTERFACE', 'FLAGS', 'MTU', 'ETHER', 'INET', 'STATUS', 'LAGG']];
  for (const i of model.interfaces) {
    let lagg = '-';
    if (i.lagg && i.lagg.proto === '' && i.lagg.ports.length === 0 && i.lagg.laggdev !== undefined) lagg = `port of ${i.lagg.laggdev}`;
    else if (i.lagg) lagg = `${i.lagg.proto || '?'}${i.lagg.hash ? ` ${i.lagg.hash.join(',')}` : ''} (${i.lagg.ports.length} ports)`;
    rows.push([i.name, i.flags.names.join(',') || '-', i.mtu === undefined ? '-' : String(i.mtu), i.ether ?? '-', address(i), i.status ?? '-', lagg]);
  }
  out.push(...columns(rows));
  for (const i of model.interfaces) {
    if (!i.lagg || i.lagg.ports.length === 0) continue;
    out.push('', `${i.name} ports:`);
    out.push(...columns([['PORT', 'PRI', 'FLAGS', 'ACTOR STATE', 'PARTNER STATE', 'PARTNER'], ...i.lagg.ports.map(portRow)], '  '));
  }
  const unknown = model.unknown.length + model.interfaces.reduce((n, i) => n + i.unknown.length, 0);
  out.push('', `dialect: ${model.dialect.dialect} (${model.dialect.variant}): ${model.dialect.reason}`);
  if (unknown > 0) out.push(`${unknown} line(s) not understood were kept as unknown (see --json)`);
  return out.join('\n');
}
