/**
 * The wire-conformance rig checked against an independent implementation: Open vSwitch's
 * LACPDUs, captured with tcpdump and decoded by tshark, must come out clean and carry exactly
 * what `ovs-appctl lacp/show` says; and frames inject.py marks illegal must be flagged by
 * Wireshark where its dissector can tell (so the hostile tests really send broken frames).
 */
import test from 'ava';
import { testNeeding } from '../support/require.js';
import { createTopology, waitFor } from './support/netns.js';
import { decodeSlowFrames, expertProblems, hostileKinds, injectFrames, lacpStateNames, startCapture } from './support/capture.js';
import { startOvs } from './support/ovs.js';

const needs = { root: true, tools: ['ip', 'ovs-vswitchd', 'tcpdump', 'tshark', 'python3'] };

testNeeding(test, 'Open vSwitch LACPDUs decode cleanly in tshark and match lacp/show', needs, async (t) => {
  const topo = await createTopology(t, { links: 2, tag: 'lkwr' });
  const cap = await startCapture(topo.b, 'veth0');
  const ovs = await startOvs(topo.a, { members: ['veth0', 'veth1'], tag: `${topo.prefix}-ovs` });
  t.teardown(() => ovs.stop());
  // With no partner OVS sends slow-rate PDUs (every 30 s), but one goes out at once on attach.
  await waitFor('a LACPDU from OVS', async () => (await decodeSlowFrames(cap.file)).length > 0, 20_000, 250);
  await cap.stop();

  const frames = await decodeSlowFrames(cap.file);
  t.is(await expertProblems(cap.file), '', 'tshark expert summary is empty');
  const show = await ovs.lacpShow();
  const member = show.members.find((m) => m.name === 'veth0');
  t.truthy(member);
  for (const f of frames) {
    t.false(f.malformed, `frame ${f.number} malformed`);
    t.deepEqual(f.expert, [], `frame ${f.number} expert`);
    t.is(f.dst, '01:80:c2:00:00:02');
    t.is(f.len, 124);
    t.truthy(f.lacp);
    t.is(f.lacp!.version, 1);
    t.is(f.lacp!.actor.sysPriority, show.sysPriority);
    t.is(f.lacp!.actor.sysId, show.sysId);
    t.is(f.lacp!.actor.key, member!.actor.key);
    t.is(f.lacp!.actor.port, member!.actor.portId);
    t.is(f.lacp!.actor.portPriority, member!.actor.portPriority);
    t.true(lacpStateNames(f.lacp!.actor.state).includes('ACTIVITY'), 'lacp=active sets Activity');
  }
});

testNeeding(test, 'tshark flags the malformed frames inject.py sends, and passes its marker request', needs, async (t) => {
  const topo = await createTopology(t, { links: 1, tag: 'lkwi' });
  const cap = await startCapture(topo.b, 'veth0');
  const kinds = await hostileKinds();
  t.true(kinds.length >= 10);
  for (const k of kinds) await injectFrames(topo.a, 'veth0', k.kind, 1);
  await waitFor('every injected frame captured', async () => (await decodeSlowFrames(cap.file)).length >= kinds.length, 10_000, 200);
  await cap.stop();
  const frames = await decodeSlowFrames(cap.file);
  t.is(frames.length, kinds.length);
  // inject.py sends kinds in --list order, so frame i is kinds[i].
  const flagged = frames.filter((f, i) => kinds[i]!.illegal && (f.malformed || f.expert.length > 0)).length;
  // Wireshark does not check every field (version, terminator), but it must see most of them.
  t.true(flagged >= 8, `tshark flagged ${flagged} of the illegal frames`);
  const req = frames[kinds.findIndex((k) => k.kind === 'marker-request')]!;
  t.false(req.malformed);
  t.deepEqual(req.expert, []);
  t.is(req.marker?.tlvType, 1);
  t.is(req.marker?.transactionId, 0x1a2b3c4d);
  t.is(req.len, 124);
});
