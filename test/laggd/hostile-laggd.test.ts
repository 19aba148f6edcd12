/**
 * Hostile input: malformed, truncated, oversized and flooded LACPDUs and marker PDUs sent by the
 * peer host onto a member of a converged LACP aggregate. laggd must keep running, count every
 * one of them as illegal (exactly: not one more, not one less), and keep its LACP state, the
 * partner it knows and traffic as they were.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { testNeeding } from '../support/require.js';
import { laggPair, sleep, waitFor, type Laggd, type LaggStatusJson, type PortCounters, type Topology } from './support/netns.js';
import { hostileKinds, injectFrames } from './support/capture.js';
import { pingReplies } from './support/traffic.js';

const needs = { root: true, tools: ['ip', 'python3', 'ping'] };

/**
 * The parts of laggctl -v --json that are LACP state. The periodic-transmit machine is left
 * out: it passes through PERIODIC_TX on every timer expiry, so a snapshot may catch it there.
 */
function lacpState(st: LaggStatusJson): unknown {
  return {
    status: st.status,
    lag_id: st.lag_id,
    active_ports: (st as unknown as { active_ports: number }).active_ports,
    ports: st.ports.map((p) => {
      const { ptx_state: _ptx, ...lacp } = (p.lacp ?? {}) as Record<string, unknown>;
      return { name: p.name, flags: p.flags, lacp };
    }),
  };
}

const illegalOf = (c: Record<string, PortCounters>) => Object.values(c).reduce((s, p) => s + (p.lacp_illegal ?? 0), 0);
const ringDropsOf = (c: Record<string, PortCounters>) =>
  Object.values(c).reduce((s, p) => s + Number((p as unknown as Record<string, number>).host_rx_ring_drops ?? 0), 0);

/** Two laggds in LACP (fast) over two links, 10.77.0.1 and .2, with every port distributing. */
async function convergedPair(t: ExecutionContext, tag: string): Promise<{ la: Laggd; lb: Laggd; topo: Topology }> {
  const { topo, la, lb } = await laggPair(t, 'lacp', { links: 2, tag, extra: ['lacp_fast_timeout'] });
  for (const d of [la, lb]) {
    // Both its own ports and its record of the partner settled: the "before" snapshot must
    // not catch the partner's last Collecting/Distributing PDU still on its way.
    await waitFor(
      'every port and its partner distributing',
      async () => {
        const st = await d.status('laggkit0', true);
        return st.ports.length === 2 && st.ports.every((p) => p.flags.includes('DISTRIBUTING') && !!p.lacp?.partner.state.includes('DISTRIBUTING'));
      },
      20_000,
    );
  }
  return { la, lb, topo };
}

/** Send frames, then check laggd counted exactly `expected` more illegal PDUs and changed no state. */
async function sendAndCheck(t: ExecutionContext, la: Laggd, send: () => Promise<number>, what: string): Promise<void> {
  const before = await la.status('laggkit0', true);
  const c0 = await la.counters();
  const expected = await send();
  const target = illegalOf(c0) + expected;
  await waitFor(`laggd to count ${expected} illegal PDUs (${what})`, async () => illegalOf(await la.counters()) >= target, 20_000, 100).catch(() => undefined);
  // A moment more, so a frame counted twice would show.
  await sleep(300);
  const c1 = await la.counters();
  t.true(la.running, `laggd still running after ${what}`);
  t.is(ringDropsOf(c1) - ringDropsOf(c0), 0, `no frames lost in laggd's receive ring during ${what}`);
  t.is(illegalOf(c1) - illegalOf(c0), expected, `illegal counter rose by exactly the ${expected} frames sent (${what})`);
  const after = await la.status('laggkit0', true);
  t.deepEqual(lacpState(after), lacpState(before), `LACP state unchanged after ${what}`);
}

testNeeding(test, 'every kind of malformed, truncated and oversized LACPDU and marker PDU is counted illegal and changes nothing', needs, async (t) => {
  const { la, topo } = await convergedPair(t, 'lkhk');
  const kinds = (await hostileKinds()).filter((k) => k.illegal);
  t.true(kinds.length >= 15, 'a broad catalogue of broken frames');
  t.true(kinds.some((k) => k.length < 124) && kinds.some((k) => k.length > 124), 'both truncated and oversized frames');
  for (const k of kinds) {
    await sendAndCheck(
      t,
      la,
      async () => {
        // Alternate members, so both ports' receive paths are exercised.
        const r = await injectFrames(topo.b, k.kind.length % 2 ? 'veth0' : 'veth1', k.kind, 3);
        return r.sent;
      },
      k.kind,
    );
  }
  t.is(await pingReplies(topo.a, '10.77.0.2', 5, 0.05), 5, 'traffic still flows');
});

testNeeding(test, 'a flood of illegal LACPDUs and marker PDUs on both members leaves laggd running, counting, and in the LAG', needs, async (t) => {
  const { la, lb, topo } = await convergedPair(t, 'lkhf');
  await sendAndCheck(
    t,
    la,
    async () => {
      const sent = await Promise.all([injectFrames(topo.b, 'veth0', 'lacp-truncated', 5000), injectFrames(topo.b, 'veth1', 'marker-bad-type', 5000)]);
      return sent.reduce((s, r) => s + r.sent, 0);
    },
    'a flood of 10000 frames',
  );
  // Still answering the peer in time: the far side never lost its partner.
  const stB = await lb.status('laggkit0', true);
  t.true(
    stB.ports.every((p) => p.flags.includes('DISTRIBUTING')),
    'peer kept both ports distributing',
  );
  t.is(await pingReplies(topo.a, '10.77.0.2', 5, 0.05), 5, 'traffic still flows');
  // And it still responds to control: a laggctl round trip succeeds.
  t.is((await la.ctl('laggkit0')).code, 0);
});

testNeeding(test, 'hostile frames from a spoofed system id do not make laggd adopt a new partner', needs, async (t) => {
  const { la, topo } = await convergedPair(t, 'lkhs');
  const partnerBefore = (await la.status('laggkit0', true)).ports.map((p) => p.lacp?.partner);
  // Broken LACPDUs whose actor claims another system: decoding must reject them before use.
  for (const kind of ['lacp-bad-terminator', 'lacp-bad-collector', 'lacp-oversized', 'lacp-truncated']) {
    await sendAndCheck(
      t,
      la,
      async () => (await injectFrames(topo.b, 'veth0', kind, 20, ['--src', '02:66:66:66:66:66'])).sent,
      `${kind} from a spoofed system`,
    );
  }
  t.deepEqual(
    (await la.status('laggkit0', true)).ports.map((p) => p.lacp?.partner),
    partnerBefore,
  );
});
