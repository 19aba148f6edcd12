/**
 * LACP against a peer configured like NetBSD's agr(4): always active, system and port priority
 * 0x8000, the long timeout, and a key it does not let anyone choose. agr composes it from the
 * port's media subtype and its own interface index (sys/net/agr/ieee8023ad_lacp.c,
 * lacp_compose_key(): IFM_1000_T = 16 in bits 0..4, if_index << 5 in bits 5..14), so an agr0
 * with if_index 3 over 1000baseT ports says key 0x0070 on every port. The peer here is a
 * laggd set up exactly so; the other side is laggd with the core's defaults, as a laggkitN
 * facing an agr0 would be. Both must put every port in the LAG, agree on who the partner is,
 * and carry traffic.
 */
import test from 'ava';
import { testNeeding } from '../support/require.js';
import { laggPair, tcpTransfer, waitFor, type Laggd } from './support/netns.js';

const needs = { root: true, tools: ['ip', 'tc', 'socat', 'tcpdump', 'ss'] };
const ACD = ['ACTIVE', 'COLLECTING', 'DISTRIBUTING'];
const PORTS = ['veth0', 'veth1'];
const AGR_PRIO = 0x8000;
const AGR_KEY = (3 << 5) | 16; // agr0 (if_index 3), IFM_1000_T

async function allDistributing(d: Laggd): Promise<boolean> {
  const flags = await d.portFlags();
  return PORTS.every((p) => ACD.every((f) => flags[p]?.includes(f)));
}

testNeeding(test, 'laggd <-> an agr(4)-like peer (active, priority 0x8000, long timeout, its own key): LAG formed, traffic flows', needs, async (t) => {
  // b is the agr-like side: active is the default, priorities are 0x8000 unless set, the long
  // timeout unless lacp_fast_timeout is given; only the key is set, to agr's.
  const { topo, la, lb } = await laggPair(t, 'lacp', { links: 2, tag: 'ag', extra: [], extraB: ['lacp_key', String(AGR_KEY)] });
  for (const d of [la, lb]) await waitFor('every port collecting and distributing', () => allDistributing(d), 30_000);

  const sa = await la.status('laggkit0', true);
  const sb = await lb.status('laggkit0', true);
  for (const p of sb.ports) {
    // the peer really speaks agr's profile
    t.is(p.lacp?.actor.system_priority, AGR_PRIO, `${p.name}: agr system priority`);
    t.is(p.lacp?.actor.port_priority, AGR_PRIO, `${p.name}: agr port priority`);
    t.is(p.lacp?.actor.key, AGR_KEY, `${p.name}: agr key`);
    t.true(p.lacp?.actor.state.includes('ACTIVITY'), `${p.name}: active`);
    t.false(p.lacp?.actor.state.includes('TIMEOUT'), `${p.name}: long timeout`);
  }
  for (const p of sa.ports) {
    t.is(p.lacp?.partner.system, sb.ether, `${p.name}: partner is the agr-like side`);
    t.is(p.lacp?.partner.system_priority, AGR_PRIO);
    t.is(p.lacp?.partner.key, AGR_KEY, `${p.name}: its key taken as it is`);
    t.true(
      ['SYNC', 'COLLECTING', 'DISTRIBUTING'].every((f) => p.lacp?.partner.state.includes(f)),
      JSON.stringify(p.lacp?.partner.state),
    );
    // with no fast timeout asked on either side, laggkit stays on the long one too
    t.false(p.lacp?.actor.state.includes('TIMEOUT'), `${p.name}: long timeout`);
  }
  // one aggregator on each side: every port of b sees a's system as partner, with a's key
  const keysOfA = new Set(sa.ports.map((p) => p.lacp?.actor.key));
  t.is(keysOfA.size, 1, 'laggkit uses one key for the LAG');
  for (const p of sb.ports) t.is(p.lacp?.partner.system, sa.ether);

  t.is((await topo.a.exec(['ping', '-c', '3', '-i', '0.2', '-W', '2', '10.77.0.2'])).code, 0);
  const r = await tcpTransfer(topo.a, topo.b, '10.77.0.2', 1024 * 1024);
  t.is(r.received, r.sent);
  const c = await la.counters();
  for (const p of PORTS) t.is(c[p]?.lacp_illegal ?? 0, 0, `${p}: no LACPDU of the peer refused`);
});
