/**
 * Wire conformance of laggd's slow-protocols frames, judged by Wireshark: LACPDUs and marker
 * responses captured on the peer's end of each member decode with no malformed flag and no
 * expert warning, and every field (system and port priority, system MAC, key, port number,
 * state bits, partner information, collector max delay) is what laggd's configuration says
 * and what `laggctl -v` and `laggctl -v --json` print.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { testNeeding } from '../support/require.js';
import { laggPair, sleep, waitFor, type Laggd, type LaggStatusJson, type Topology } from './support/netns.js';
import { decodeSlowFrames, expertProblems, injectFrames, lacpStateNames, startCapture, type SlowFrame } from './support/capture.js';

const needs = { root: true, tools: ['ip', 'tcpdump', 'tshark', 'python3'] };
const SYS_PRIO_A = 1234;
const PORT_PRIO_A_VETH1 = 300;

type PortJson = LaggStatusJson['ports'][number];
type PartyJson = Record<string, unknown> & { state: string[] };

/** Two laggds in LACP; `extraA` configures side a, whose frames are checked; b is active, fast. */
async function lacpPair(t: ExecutionContext, tag: string, extraA: string[]): Promise<{ topo: Topology; la: Laggd; lb: Laggd }> {
  return laggPair(t, 'lacp', { links: 2, tag, extra: extraA, extraB: ['lacp_fast_timeout'] });
}

async function allDistributing(d: Laggd): Promise<LaggStatusJson> {
  return waitFor(
    'every port of laggkit0 and its partner distributing',
    async () => {
      const st = await d.status('laggkit0', true);
      return st.ports.length === 2 && st.ports.every((p) => p.flags.includes('DISTRIBUTING') && !!p.lacp?.partner.state.includes('DISTRIBUTING'))
        ? st
        : undefined;
    },
    20_000,
  );
}

/** "(8000,D6-6F-F1-65-BC-4B,2710,8000,0001)": the tuple ifconfig -v prints for one party. */
function lagIdTuple(p: { sysPriority: number; sysId: string; key: number; portPriority: number; port: number }): string {
  const h = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  return `(${h(p.sysPriority)},${p.sysId.toUpperCase().replace(/:/g, '-')},${h(p.key)},${h(p.portPriority)},${h(p.port)})`;
}

function partyOfJson(j: PartyJson) {
  return {
    sysPriority: Number(j.system_priority),
    sysId: String(j.system).toLowerCase(),
    key: Number(j.key),
    portPriority: Number(j.port_priority),
    port: Number(j.port),
    state: parseInt(String(j.state_value), 16),
  };
}

function assertClean(t: ExecutionContext, frames: SlowFrame[], where: string): void {
  for (const f of frames) {
    t.false(f.malformed, `${where} frame ${f.number} is malformed`);
    t.deepEqual(f.expert, [], `${where} frame ${f.number} has expert messages`);
    t.is(f.dst, '01:80:c2:00:00:02', `${where} frame ${f.number} destination`);
    t.is(f.len, 124, `${where} frame ${f.number} length`);
  }
}

testNeeding(test, 'laggd LACPDUs decode cleanly and carry its configuration, matching laggctl -v and --json', needs, async (t) => {
  const { topo, la, lb } = await lacpPair(t, 'lkwl', [
    'lacp_fast_timeout',
    'lacp_sys_prio',
    String(SYS_PRIO_A),
    'lacp_port_prio',
    'veth1',
    String(PORT_PRIO_A_VETH1),
  ]);
  await allDistributing(la);
  await allDistributing(lb);
  const caps = [await startCapture(topo.b, 'veth0'), await startCapture(topo.b, 'veth1')];
  const stA = await la.status('laggkit0', true);
  const sysA = String(stA.ports[0]!.lacp!.actor.system).toLowerCase();
  const fromA = (frames: SlowFrame[]) => frames.filter((f) => f.lacp?.actor.sysId === sysA);
  // Fast periodic transmission: a few PDUs per member within seconds.
  for (const c of caps) await waitFor('3 LACPDUs from laggd a', async () => fromA(await decodeSlowFrames(c.file)).length >= 3, 15_000, 250);
  for (const c of caps) await c.stop();

  const stA2 = await la.status('laggkit0', true);
  const stB = await lb.status('laggkit0', true);
  const text = await la.ctlOk('-v', 'laggkit0');
  t.is(stA2.options.lacp_sys_prio, SYS_PRIO_A);
  for (const [i, c] of caps.entries()) {
    const name = `veth${i}`;
    t.is(await expertProblems(c.file), '', `${name}: tshark expert summary`);
    const all = await decodeSlowFrames(c.file);
    assertClean(t, all, name);
    const mine = fromA(all);
    const last = mine[mine.length - 1]!;
    const port = stA2.ports.find((p) => p.name === name) as PortJson;
    const portB = stB.ports.find((p) => p.name === name) as PortJson;
    const actor = partyOfJson(port.lacp!.actor as PartyJson);
    const partner = partyOfJson(port.lacp!.partner as PartyJson);
    const lacp = last.lacp!;
    t.is(lacp.version, 1);
    // Configuration on the wire.
    t.is(lacp.actor.sysPriority, SYS_PRIO_A, `${name}: actor system priority is lacp_sys_prio`);
    t.is(lacp.actor.portPriority, name === 'veth1' ? PORT_PRIO_A_VETH1 : 32768, `${name}: actor port priority`);
    t.true(lacpStateNames(lacp.actor.state).includes('ACTIVITY'), `${name}: active mode`);
    t.true(lacpStateNames(lacp.actor.state).includes('TIMEOUT'), `${name}: lacp_fast_timeout asks for short timeout`);
    t.deepEqual(lacpStateNames(lacp.actor.state), ['ACTIVITY', 'TIMEOUT', 'AGGREGATION', 'SYNC', 'COLLECTING', 'DISTRIBUTING']);
    t.is(lacp.collectorMaxDelay, 0);
    // The wire equals laggctl --json, for the actor and the partner.
    t.deepEqual({ ...lacp.actor }, actor, `${name}: actor on the wire = laggctl -v --json actor`);
    t.deepEqual({ ...lacp.partner }, partner, `${name}: partner on the wire = laggctl -v --json partner`);
    t.deepEqual(port.lacp!.actor.state, lacpStateNames(lacp.actor.state));
    // The partner laggd sends is what b says about itself.
    t.deepEqual({ ...lacp.partner, state: 0 }, { ...partyOfJson(portB.lacp!.actor as PartyJson), state: 0 });
    // And the text status prints the same numbers, in ifconfig's lag-id notation.
    t.true(text.includes(lagIdTuple(lacp.actor)), `${name}: laggctl -v shows ${lagIdTuple(lacp.actor)}`);
    t.true(text.includes(lagIdTuple(lacp.partner)), `${name}: laggctl -v shows ${lagIdTuple(lacp.partner)}`);
    t.regex(text, new RegExp(`laggport: ${name} .*state=${lacp.actor.state.toString(16)}<${lacpStateNames(lacp.actor.state).join(',')}>`));
  }
});

testNeeding(test, 'laggd in passive, slow mode says so on the wire', needs, async (t) => {
  const { topo, la, lb } = await lacpPair(t, 'lkwp', ['lacp_passive', '-lacp_fast_timeout']);
  const cap = await startCapture(topo.b, 'veth0');
  await allDistributing(lb);
  const stA = await allDistributing(la);
  const sysA = String(stA.ports[0]!.lacp!.actor.system).toLowerCase();
  const fromA = async () => (await decodeSlowFrames(cap.file)).filter((f) => f.lacp?.actor.sysId === sysA);
  await waitFor('a LACPDU from passive laggd a', async () => (await fromA()).length >= 1, 10_000, 250);
  await cap.stop();
  const all = await decodeSlowFrames(cap.file);
  assertClean(t, all, 'veth0');
  t.is(await expertProblems(cap.file), '');
  for (const f of await fromA()) {
    const names = lacpStateNames(f.lacp!.actor.state);
    t.false(names.includes('ACTIVITY'), `frame ${f.number}: passive leaves Activity clear`);
    t.false(names.includes('TIMEOUT'), `frame ${f.number}: -lacp_fast_timeout asks for the long timeout`);
  }
  t.true((stA.options.lacp_passive as boolean) === true);
});

testNeeding(test, 'laggd answers a marker request with a conformant marker response echoing the request', needs, async (t) => {
  const { topo, la, lb } = await lacpPair(t, 'lkwm', ['lacp_fast_timeout']);
  await allDistributing(la);
  await allDistributing(lb);
  const before = (await la.counters())['veth0']!;
  const cap = await startCapture(topo.b, 'veth0', { filter: 'ether proto 0x8809' });
  const src = '02:4c:4b:00:00:42';
  await injectFrames(topo.b, 'veth0', 'marker-request', 1, ['--xid', '0xdeadbeef', '--port', '42', '--src', src]);
  const isResponse = (f: SlowFrame) => f.marker?.tlvType === 2 && f.marker.transactionId === 0xdeadbeef;
  await waitFor('the marker response', async () => (await decodeSlowFrames(cap.file)).some(isResponse), 10_000, 200);
  await cap.stop();

  const frames = await decodeSlowFrames(cap.file);
  t.is(await expertProblems(cap.file), '');
  assertClean(t, frames, 'veth0');
  const responses = frames.filter(isResponse);
  t.is(responses.length, 1, 'exactly one response');
  const r = responses[0]!;
  const macA = (await topo.a.ifInfo('veth0')).mac;
  t.is(r.src, macA, 'sent from the member that received the request');
  t.is(r.marker!.version, 1);
  t.is(r.marker!.requesterPort, 42);
  t.is(r.marker!.requesterSystem, src);
  const after = (await la.counters())['veth0']!;
  t.is((after.marker_rx ?? 0) - (before.marker_rx ?? 0), 1);
  t.is((after.marker_resp_tx ?? 0) - (before.marker_resp_tx ?? 0), 1);
  t.is((after.lacp_illegal ?? 0) - (before.lacp_illegal ?? 0), 0);
});

testNeeding(test, 'laggd marker requests (a planned move to standby) decode cleanly, name the port, and get answered', needs, async (t) => {
  const { topo, la, lb } = await lacpPair(t, 'lkwk', ['lacp_fast_timeout']);
  await allDistributing(la);
  await allDistributing(lb);
  const caps = [await startCapture(topo.b, 'veth0'), await startCapture(topo.b, 'veth1')];
  const before = await la.counters();
  // Fewer ports allowed than are distributing: one goes to STANDBY behind a marker flush.
  await la.ctlOk('laggkit0', 'lagglacp', 'maxports', '1');
  const stA = await la.status('laggkit0', true);
  const sysA = String(stA.ports[0]!.lacp!.actor.system).toLowerCase();
  const isRequest = (f: SlowFrame) => f.marker?.tlvType === 1 && f.marker.requesterSystem === sysA;
  await waitFor(
    'a marker request from laggd a',
    async () => {
      for (const c of caps) if ((await decodeSlowFrames(c.file)).some(isRequest)) return true;
      return false;
    },
    10_000,
    200,
  );
  await waitFor(
    'laggd a to hear the marker response',
    async () => {
      const c = await la.counters();
      return Object.keys(c).some((n) => (c[n]!.marker_resp_rx ?? 0) > (before[n]!.marker_resp_rx ?? 0));
    },
    10_000,
  );
  await sleep(200);
  for (const c of caps) await c.stop();

  let requests = 0;
  for (const [i, c] of caps.entries()) {
    const name = `veth${i}`;
    const frames = await decodeSlowFrames(c.file);
    t.is(await expertProblems(c.file), '', `${name}: tshark expert summary`);
    assertClean(t, frames, name);
    const portA = stA.ports.find((p) => p.name === name)!;
    for (const req of frames.filter(isRequest)) {
      requests++;
      t.is(req.marker!.version, 1);
      t.is(req.marker!.requesterPort, Number((portA.lacp!.actor as PartyJson).port), `${name}: requester port is the flushed port`);
      // The partner's response echoes port, system and transaction id.
      const resp = frames.find(
        (f) => f.marker?.tlvType === 2 && f.marker.transactionId === req.marker!.transactionId && f.marker.requesterSystem === sysA && f.number > req.number,
      );
      t.truthy(resp, `${name}: response to transaction ${req.marker!.transactionId}`);
      t.is(resp?.marker?.requesterPort, req.marker!.requesterPort);
    }
  }
  t.true(requests >= 1, 'at least one marker request sent');
  const after = await la.counters();
  const sum = (c: typeof after, k: 'marker_tx' | 'marker_resp_rx') => Object.values(c).reduce((s, p) => s + (p[k] ?? 0), 0);
  t.is(sum(after, 'marker_tx') - sum(before, 'marker_tx'), requests, 'marker_tx counts the requests seen on the wire');
  t.true(sum(after, 'marker_resp_rx') - sum(before, 'marker_resp_rx') >= 1);
  const st = await la.status('laggkit0', true);
  t.is(st.ports.filter((p) => p.flags.includes('DISTRIBUTING')).length, 1, 'maxports 1 leaves one port distributing');
});
