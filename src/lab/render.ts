/**
 * Human rendering of lab status: one block per guest, then the links, in the terms a BSD
 * engineer reads (interface names, carrier, subnets).
 */
import type { LabStatus } from './lab.js';

export function renderStatus(s: LabStatus): string {
  const out: string[] = [];
  out.push(`lab ${s.name}: ${s.running ? 'running' : 'NOT running'}  guest=${s.guest}  accel=${s.accel} (${s.accelReason})`);
  for (const v of s.vms) {
    const boot = v.bootToSshMs === undefined ? '' : `  boot-to-SSH ${(v.bootToSshMs / 1000).toFixed(1)} s`;
    out.push(`  ${v.name}  ${v.running ? 'up  ' : 'DOWN'}  ssh ${v.ssh}${boot}  pid ${v.pid}`);
    for (const n of v.nics) out.push(`      ${n.name.padEnd(7)} ${n.model.padEnd(6)} ${n.mac}  link ${n.link.padEnd(4)} ${n.addr ?? ''}`);
  }
  out.push('  links:');
  for (const l of s.links) {
    const b = 'vm' in l.b ? `${l.b.vm}:${l.b.nic}` : `${l.b.netns}:${l.b.tap}`;
    out.push(`    ${l.index + 1}  ${`${l.a.vm}:${l.a.nic}`.padEnd(10)} <-> ${b.padEnd(14)} ${l.model.padEnd(6)} ${l.subnet}`);
  }
  out.push(`  files: ${s.dir}`);
  return out.join('\n');
}
