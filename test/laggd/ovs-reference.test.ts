/**
 * The Open vSwitch rig on its own: two private OVS instances (userspace datapath, LACP bonds,
 * fast timeout) negotiate over veth pairs. This is the reference the laggd ↔ OVS tests and
 * the benchmark compare against, so if it fails the rig is broken, not laggd.
 */
import test from 'ava';
import { testNeeding } from '../support/require.js';
import { createTopology, waitFor } from './support/netns.js';
import { lacpMembersInSync, startOvs } from './support/ovs.js';
import { pingReplies, tcpTransfer, waitPing } from './support/traffic.js';

const needs = { root: true, tools: ['ip', 'ovs-vswitchd', 'ovsdb-server', 'ovs-vsctl', 'ovs-appctl', 'nc'] };

testNeeding(test, 'OVS ↔ OVS: both bonds negotiate every member fast, carry ping and TCP, and survive a member failure', needs, async (t) => {
  const topo = await createTopology(t, { links: 2, tag: 'lkor' });
  const members = topo.links.map((l) => l.a.ifname);
  const oa = await startOvs(topo.a, { members, address: '10.77.0.1/24', tag: `${topo.prefix}-ovsa` });
  t.teardown(() => oa.stop());
  const ob = await startOvs(topo.b, { members, address: '10.77.0.2/24', tag: `${topo.prefix}-ovsb` });
  t.teardown(() => ob.stop());

  const la = await oa.waitNegotiated(20_000);
  await ob.waitNegotiated(20_000);
  t.deepEqual(la.status, ['active', 'negotiated']);
  t.is(la.lacpTime, 'fast');
  for (const m of la.members) {
    t.true(m.actor.state.includes('timeout'), `${m.name} asks for the short timeout`);
    t.true(m.partner.state.includes('timeout'), `${m.name}'s partner uses the short timeout`);
    t.is(m.partner.sysId, (await ob.lacpShow()).sysId, `${m.name}'s partner is the other switch`);
  }
  const bond = await oa.bondShow();
  t.is(bond.mode, 'balance-tcp');
  t.is(bond.lacpStatus, 'negotiated');
  t.is(bond.members.filter((m) => m.enabled).length, 2);

  t.true(await waitPing(topo.a, '10.77.0.2'), 'ping across the bond');
  t.is(await pingReplies(topo.a, '10.77.0.2', 5), 5);
  const xfer = await tcpTransfer(topo.a, topo.b, '10.77.0.2', 2 * 1024 * 1024);
  t.is(xfer.receivedBytes, xfer.bytes);
  t.is(xfer.receivedSha, xfer.sentSha);

  // A member going down on one side takes it out of both bonds; traffic keeps flowing.
  await topo.setLink('a', 'veth0', 'down');
  await waitFor('veth0 disabled in the far bond', async () => {
    const b = await ob.bondShow();
    return b.members.find((m) => m.name === 'veth0')?.enabled === false;
  });
  t.is(await pingReplies(topo.a, '10.77.0.2', 3), 3);
  await topo.setLink('a', 'veth0', 'up');
  const back = await ob.waitNegotiated(20_000);
  t.true(lacpMembersInSync(back, members));
  t.is((await oa.lacpStats()).length, 2);
});
