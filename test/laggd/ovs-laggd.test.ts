/**
 * Interoperability proof: laggd against Open vSwitch, an independent IEEE 802.1AX
 * implementation (userspace datapath, balance-tcp LACP bond, fast timeout), over two veth
 * pairs. Both sides must agree on every member (each sees the other as its partner, in sync,
 * with the configured priorities and keys), carry ping and a checked TCP transfer, and handle a
 * member's link going down and coming back on either side.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { testNeeding } from '../support/require.js';
import { createTopology, waitFor, type Laggd, type LaggStatusJson, type Topology } from './support/netns.js';
import { lacpMembersInSync, startOvs, type Ovs, type OvsBondOptions } from './support/ovs.js';
import { pingReplies, tcpTransfer, waitPing } from './support/traffic.js';

const needs = { root: true, tools: ['ip', 'ovs-vswitchd', 'ovsdb-server', 'ovs-vsctl', 'ovs-appctl', 'nc', 'ping'] };
const MEMBERS = ['veth0', 'veth1'];
const SYS_PRIO = 4096;
const PORT_PRIO_VETH1 = 200;

interface Rig {
  topo: Topology;
  laggd: Laggd;
  ovs: Ovs;
}

const DEFAULT_LAGGD_WORDS = ['lacp_fast_timeout', 'lacp_sys_prio', String(SYS_PRIO), 'lacp_port_prio', 'veth1', String(PORT_PRIO_VETH1)];

/**
 * laggd on host a (lacp; by default fast with custom system and port priority), Open vSwitch
 * on host b (by default active, fast).
 */
async function rig(t: ExecutionContext, tag: string, opts: { laggdWords?: string[]; ovs?: Partial<OvsBondOptions> } = {}): Promise<Rig> {
  const topo = await createTopology(t, { links: 2, tag });
  const ovs = await startOvs(topo.b, { members: MEMBERS, address: '10.77.0.2/24', tag: `${topo.prefix}-ovs`, ...opts.ovs });
  t.teardown(() => ovs.stop());
  const laggd = await topo.a.startLaggd();
  await laggd.ctlOk('laggkit0', 'create', 'laggproto', 'lacp', 'laggport', 'veth0', 'laggport', 'veth1', ...(opts.laggdWords ?? DEFAULT_LAGGD_WORDS));
  await topo.a.execOk(['ip', 'link', 'set', 'laggkit0', 'up']);
  await topo.a.execOk(['ip', 'addr', 'add', '10.77.0.1/24', 'dev', 'laggkit0']);
  return { topo, laggd, ovs };
}

const COLL_DIST = ['ACTIVE', 'COLLECTING', 'DISTRIBUTING'];

function laggdAllDistributing(st: LaggStatusJson, ports = MEMBERS): boolean {
  return ports.every((name) => {
    const p = st.ports.find((x) => x.name === name);
    return !!p && COLL_DIST.every((f) => p.flags.includes(f));
  });
}

async function bothNegotiated(r: Rig, ports = MEMBERS): Promise<LaggStatusJson> {
  const st = await waitFor(
    `laggd ports ${ports.join(',')} ACTIVE,COLLECTING,DISTRIBUTING`,
    async () => {
      const s = await r.laggd.status('laggkit0', true);
      return laggdAllDistributing(s, ports) ? s : undefined;
    },
    20_000,
  );
  await r.ovs.waitNegotiated(20_000, ports);
  // lacp/show can report a member in sync before bond/show has enabled it; a ping sent in
  // that window was seen lost, so traffic checks wait for the bond as well.
  await waitFor(`OVS bond to enable ${ports.join(',')}`, async () => {
    const b = await r.ovs.bondShow();
    return ports.every((n) => b.members.find((m) => m.name === n)?.enabled);
  });
  return st;
}

testNeeding(test, 'laggd ↔ Open vSwitch: every member negotiated on both sides, with the configured priorities; ping and TCP flow', needs, async (t) => {
  const r = await rig(t, 'lkoi');
  const st = await bothNegotiated(r);
  const show = await r.ovs.lacpShow();
  const bond = await r.ovs.bondShow();

  t.is(bond.lacpStatus, 'negotiated');
  t.deepEqual(
    bond.members
      .filter((m) => m.enabled)
      .map((m) => m.name)
      .sort(),
    MEMBERS,
  );
  t.true(lacpMembersInSync(show, MEMBERS));
  for (const name of MEMBERS) {
    const lp = st.ports.find((p) => p.name === name)!;
    const om = show.members.find((m) => m.name === name)!;
    const actor = lp.lacp!.actor as Record<string, unknown> & { state: string[] };
    const partner = lp.lacp!.partner as Record<string, unknown> & { state: string[] };
    // What OVS believes about laggd is exactly what laggd says it sends...
    t.is(om.partner.sysId, String(actor.system).toLowerCase(), `${name}: OVS partner system`);
    t.is(om.partner.sysPriority, SYS_PRIO, `${name}: OVS partner system priority`);
    t.is(om.partner.sysPriority, Number(actor.system_priority));
    t.is(om.partner.key, Number(actor.key), `${name}: OVS partner key`);
    t.is(om.partner.portId, Number(actor.port), `${name}: OVS partner port`);
    t.is(om.partner.portPriority, name === 'veth1' ? PORT_PRIO_VETH1 : Number(actor.port_priority));
    t.is(om.partner.portPriority, Number(actor.port_priority));
    t.true(om.partner.state.includes('timeout'), `${name}: laggd asks for the short timeout`);
    // ...and what laggd believes about OVS is what OVS says it sends.
    t.is(String(partner.system).toLowerCase(), show.sysId, `${name}: laggd partner system`);
    t.is(Number(partner.system_priority), show.sysPriority);
    t.is(Number(partner.key), om.actor.key);
    t.is(Number(partner.port), om.actor.portId);
    t.is(Number(partner.port_priority), om.actor.portPriority);
    t.true(partner.state.includes('SYNC') && partner.state.includes('DISTRIBUTING'), `${name}: OVS in sync per laggd`);
    t.true(actor.state.includes('SYNC') && actor.state.includes('DISTRIBUTING'));
  }
  // OVS answers fast because laggd asked: it must be sending fast PDUs now.
  t.is(show.lacpTime, 'fast');

  t.true(await waitPing(r.topo.a, '10.77.0.2'), 'ping across laggd ↔ OVS');
  t.is(await pingReplies(r.topo.a, '10.77.0.2', 10, 0.05), 10);
  const xfer = await tcpTransfer(r.topo.a, r.topo.b, '10.77.0.2', 8 * 1024 * 1024);
  t.is(xfer.receivedBytes, xfer.bytes, 'every byte arrived');
  t.is(xfer.receivedSha, xfer.sentSha, 'bytes arrived intact');
  const back = await tcpTransfer(r.topo.b, r.topo.a, '10.77.0.1', 2 * 1024 * 1024, 5602);
  t.is(back.receivedSha, back.sentSha, 'reverse direction intact');
  t.true(r.laggd.running);
});

testNeeding(test, 'laggd ↔ Open vSwitch: a member link going down and up, on either side, is handled by both', needs, async (t) => {
  const r = await rig(t, 'lkof');
  await bothNegotiated(r);
  t.true(await waitPing(r.topo.a, '10.77.0.2'));

  for (const side of ['a', 'b'] as const) {
    const host = side === 'a' ? r.topo.a : r.topo.b;
    await host.setLink('veth0', 'down');
    await waitFor(`laggd drops veth0 after link down on ${side}`, async () => {
      const s = await r.laggd.status('laggkit0', true);
      const p = s.ports.find((x) => x.name === 'veth0');
      return p && !p.flags.includes('DISTRIBUTING') && !p.flags.includes('ACTIVE');
    });
    await waitFor(
      `OVS disables veth0 after link down on ${side}`,
      async () => (await r.ovs.bondShow()).members.find((m) => m.name === 'veth0')?.enabled === false,
    );
    // The survivor carries everything, on both sides.
    const st = await r.laggd.status('laggkit0', true);
    t.true(laggdAllDistributing(st, ['veth1']), `veth1 still distributing after veth0 down on ${side}`);
    t.true((await r.ovs.bondShow()).members.find((m) => m.name === 'veth1')?.enabled, 'OVS keeps veth1');
    t.is(await pingReplies(r.topo.a, '10.77.0.2', 5, 0.05), 5, `ping with veth0 down on ${side}`);
    const x = await tcpTransfer(r.topo.a, r.topo.b, '10.77.0.2', 1024 * 1024, side === 'a' ? 5611 : 5612);
    t.is(x.receivedSha, x.sentSha, `TCP with veth0 down on ${side}`);

    await host.setLink('veth0', 'up');
    const again = await bothNegotiated(r);
    t.true(laggdAllDistributing(again), `both members back after veth0 up on ${side}`);
    t.is(await pingReplies(r.topo.a, '10.77.0.2', 5, 0.05), 5);
  }
  const events = await r.laggd.ctlOk('laggkit0', 'events');
  t.regex(events, /veth0/, 'the event ring names the member that failed');
  t.true(r.laggd.running);
});

testNeeding(test, 'laggd passive ↔ Open vSwitch active negotiate at the slow rate, and the timeout follows laggctl at run time', needs, async (t) => {
  // laggd passive, slow; OVS active, slow: OVS starts, laggd answers.
  const r = await rig(t, 'lkop', { laggdWords: ['lacp_passive', '-lacp_fast_timeout'], ovs: { lacp: 'active', lacpTime: 'slow' } });
  await bothNegotiated(r);
  let show = await r.ovs.lacpShow();
  for (const m of show.members) {
    t.false(m.partner.state.includes('activity'), `${m.name}: OVS sees laggd passive`);
    t.false(m.partner.state.includes('timeout'), `${m.name}: laggd asks for the long timeout`);
  }
  t.is(await pingReplies(r.topo.a, '10.77.0.2', 3, 0.05), 3);

  // Switching laggd to fast at run time reaches the partner without renegotiation.
  await r.laggd.ctlOk('laggkit0', 'lacp_fast_timeout');
  show = await waitFor('OVS to see the short timeout', async () => {
    const s = await r.ovs.lacpShow();
    return s.members.every((m) => m.partner.state.includes('timeout')) ? s : undefined;
  });
  t.true(lacpMembersInSync(show, MEMBERS), 'still in sync after the change');
  const st = await r.laggd.status('laggkit0', true);
  t.true(laggdAllDistributing(st));
  t.true(st.ports.every((p) => p.lacp!.actor.state.includes('TIMEOUT')));
});

testNeeding(test, 'laggd active ↔ Open vSwitch passive negotiates; both passive never aggregate', needs, async (t) => {
  const r = await rig(t, 'lkoq', { laggdWords: ['lacp_fast_timeout'], ovs: { lacp: 'passive' } });
  await bothNegotiated(r);
  const show = await r.ovs.lacpShow();
  for (const m of show.members) {
    t.false(m.actor.state.includes('activity'), `${m.name}: OVS passive`);
    t.true(m.partner.state.includes('activity'), `${m.name}: laggd active`);
  }
  t.is(await pingReplies(r.topo.a, '10.77.0.2', 3, 0.05), 3);

  // Now laggd passive too: nobody speaks first, so after the partner information times out
  // (short timeout: 3 s) no member is distributing on either side.
  await r.laggd.ctlOk('laggkit0', 'lacp_passive');
  await waitFor(
    'laggd to stop distributing with two passive ends',
    async () => {
      const st = await r.laggd.status('laggkit0', true);
      return st.ports.every((p) => !p.flags.includes('DISTRIBUTING'));
    },
    20_000,
  );
  await waitFor(
    'OVS to stop negotiating with two passive ends',
    async () => !lacpMembersInSync(await r.ovs.lacpShow(), ['veth0']) && !lacpMembersInSync(await r.ovs.lacpShow(), ['veth1']),
    20_000,
  );
  t.pass('two passive ends do not aggregate');
  t.true(r.laggd.running);
});

testNeeding(test, 'laggd ↔ Open vSwitch: maxports puts a member in standby even though OVS never answers the marker', needs, async (t) => {
  const r = await rig(t, 'lkom');
  await bothNegotiated(r);
  t.true(await waitPing(r.topo.a, '10.77.0.2'));
  const before = await r.laggd.counters();
  await r.laggd.ctlOk('laggkit0', 'lagglacp', 'maxports', '1');
  const st = await waitFor(
    'one port distributing, the other standing by',
    async () => {
      const s = await r.laggd.status('laggkit0', true);
      const dist = s.ports.filter((p) => p.flags.includes('DISTRIBUTING'));
      return dist.length === 1 && s.ports.length === 2 ? s : undefined;
    },
    15_000,
  );
  const standby = st.ports.find((p) => !p.flags.includes('DISTRIBUTING'))!;
  t.false(standby.lacp!.actor.state.includes('SYNC'), `${standby.name}: standby port is out of sync`);
  // OVS enables members on the partner's Sync bit alone: it must take the standby one out.
  await waitFor(`OVS to disable ${standby.name}`, async () => (await r.ovs.bondShow()).members.find((m) => m.name === standby.name)?.enabled === false, 15_000);
  const after = await r.laggd.counters();
  const sum = (c: typeof after, k: 'marker_tx' | 'marker_resp_rx') => Object.values(c).reduce((s, p) => s + (p[k] ?? 0), 0);
  t.true(sum(after, 'marker_tx') - sum(before, 'marker_tx') >= 1, 'laggd flushed with a marker');
  t.is(sum(after, 'marker_resp_rx') - sum(before, 'marker_resp_rx'), 0, 'OVS never answers markers');
  t.is(await pingReplies(r.topo.a, '10.77.0.2', 5, 0.05), 5, 'traffic flows on the remaining member');
  const x = await tcpTransfer(r.topo.a, r.topo.b, '10.77.0.2', 1024 * 1024, 5621);
  t.is(x.receivedSha, x.sentSha);
});
