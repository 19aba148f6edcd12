/**
 * laggd's in-kernel transmit path (kmod/posix/laggd_txpath.c): a frame the stack sends on the
 * aggregate leaves through the member the core's table names, redirected by the TAP's tc
 * egress program, without laggd reading it. It is on only where lk_output() would itself pick
 * the port by a flow id (loadbalance and lacp with use_flowid and l4 in the hash); elsewhere
 * every frame goes through laggd as before. The counters count both paths; a flow keeps one
 * member; a member that loses its carrier or leaves is out of the kernel's table at once.
 */
import test, { type ExecutionContext } from 'ava';
import { testNeeding } from '../support/require.js';
import { laggPair, udpSend, waitFor, type Laggd, type PortCounters, type Topology } from './support/netns.js';

const needs = { root: true, tools: ['ip', 'tc', 'ping', 'ethtool'] };
const DATAGRAMS = 400;

type Counters = Record<string, PortCounters>;
const total = (c: Counters, f: (p: PortCounters) => number | undefined) => Object.values(c).reduce((a, p) => a + (f(p) ?? 0), 0);
const perPort = (after: Counters, before: Counters, f: (p: PortCounters) => number | undefined) =>
  Object.fromEntries(Object.entries(after).map(([k, v]) => [k, (f(v) ?? 0) - (f(before[k] ?? v) ?? 0)]));

/** What a's ports sent and b's ports received for `count` datagrams over `flows` flows. */
async function send(topo: Topology, la: Laggd, lb: Laggd, port: number, count: number, flows: number) {
  const [a0, b0] = [await la.counters(), await lb.counters()];
  await udpSend(topo.a, '10.77.0.2', port, count, flows);
  const [a1, b1] = [await la.counters(), await lb.counters()];
  return {
    tx: perPort(a1, a0, (c) => c.tx_packets),
    kernel: perPort(a1, a0, (c) => c.host_tx_kernel_packets),
    rx: total(b1, (c) => c.rx_packets) - total(b0, (c) => c.rx_packets),
    after: a1,
  };
}

async function tapEgress(topo: Topology): Promise<string> {
  return topo.a.execOk(['tc', 'filter', 'show', 'dev', 'laggkit0', 'egress']);
}

/** ethtool's tx-checksumming line for a's interface. */
async function txCsum(topo: Topology, ifname: string): Promise<string> {
  const out = await topo.a.execOk(['ethtool', '-k', ifname]);
  return out.split('\n').find((l) => l.startsWith('tx-checksumming')) ?? out;
}

async function kernelPorts(la: Laggd): Promise<string[]> {
  return Object.entries(await la.counters())
    .filter(([, c]) => c.host_tx_kernel)
    .map(([n]) => n)
    .sort();
}

/** Ping across; unless the protocol is broadcast (every frame on every member), each reply once. */
async function pingOk(t: ExecutionContext, topo: Topology, broadcast = false): Promise<void> {
  const ping = await topo.a.exec(['ping', '-c', '3', '-i', '0.2', '-W', '2', '10.77.0.2']);
  t.is(ping.code, 0, ping.stdout + ping.stderr);
  if (!broadcast) t.notRegex(ping.stdout, /DUP!/, 'no reply arrives twice');
}

for (const path of ['kernel', 'user'] as const) {
  testNeeding(test, `transmit path ${path}: loadbalance spreads flows, counts every frame, delivers each once`, needs, async (t) => {
    const { topo, la, lb } = await laggPair(t, 'loadbalance', {
      links: 2,
      tag: `tx${path[0]}`,
      ...(path === 'user' ? { laggd: { env: { LAGGD_TX_PATH: 'user' } } } : {}),
    });
    const filter = await tapEgress(topo);
    if (path === 'kernel') t.regex(filter, /laggd_tx/, filter);
    else t.notRegex(filter, /laggd_tx/, filter);
    await pingOk(t, topo);
    const r = await send(topo, la, lb, 9200, DATAGRAMS, 16);
    t.log(`${path}: per-port tx ${JSON.stringify(r.tx)}, of which the kernel sent ${JSON.stringify(r.kernel)}; b received ${r.rx}`);
    t.deepEqual(await kernelPorts(la), path === 'kernel' ? ['veth0', 'veth1'] : []);
    const sent = Object.values(r.tx).reduce((a, b) => a + b, 0);
    const byKernel = Object.values(r.kernel).reduce((a, b) => a + b, 0);
    t.true(sent >= DATAGRAMS, `every datagram counted on a port (${sent})`);
    t.true(r.rx >= DATAGRAMS, `every datagram arrived (${r.rx})`);
    t.true(
      Object.values(r.tx).every((n) => n > 0),
      `16 flows use both members: ${JSON.stringify(r.tx)}`,
    );
    if (path === 'kernel') t.true(byKernel >= DATAGRAMS, `the kernel sent them (${byKernel})`);
    else t.is(byKernel, 0);
    t.true(la.running && lb.running, 'both daemons still running');
  });
}

testNeeding(test, 'transmit path kernel: one flow stays on one member', needs, async (t) => {
  const { topo, la, lb } = await laggPair(t, 'loadbalance', { links: 2, tag: 'txf' });
  await pingOk(t, topo);
  const r = await send(topo, la, lb, 9201, 100, 1);
  const used = Object.values(r.kernel).filter((n) => n >= 100);
  t.is(used.length, 1, `one member took the whole flow: ${JSON.stringify(r.kernel)}`);
});

testNeeding(test, 'transmit path kernel: a member that loses its carrier or leaves gets no more frames', needs, async (t) => {
  const { topo, la, lb } = await laggPair(t, 'lacp', { links: 2, tag: 'txl', extra: ['lacp_fast_timeout'] });
  for (const d of [la, lb])
    await waitFor('every port distributing', async () => Object.values(await d.portFlags()).every((f) => f.includes('DISTRIBUTING')), 20_000);
  await waitFor('both ports on the kernel path', async () => (await kernelPorts(la)).length === 2, 10_000);
  // Carrier: b's end goes down, a's veth1 loses its carrier.
  await topo.setLink('b', 'veth1', 'down');
  await waitFor('veth1 out of the kernel table', async () => (await kernelPorts(la)).join() === 'veth0', 10_000);
  let r = await send(topo, la, lb, 9202, DATAGRAMS, 16);
  t.log(`veth1 down: tx ${JSON.stringify(r.tx)}, kernel ${JSON.stringify(r.kernel)}, b received ${r.rx}`);
  t.is(r.tx.veth1, 0, 'nothing sent to the port without carrier');
  t.true(r.rx >= DATAGRAMS, `every datagram arrived over veth0 (${r.rx})`);
  await topo.setLink('b', 'veth1', 'up');
  await waitFor('veth1 back in the kernel table', async () => (await kernelPorts(la)).length === 2, 20_000);
  r = await send(topo, la, lb, 9203, DATAGRAMS, 16);
  t.true((r.kernel.veth1 ?? 0) > 0, `veth1 carries flows again: ${JSON.stringify(r.kernel)}`);
  // A member veth finishes the checksums of what the kernel sends it (see laggd_txpath.c)...
  t.regex(await txCsum(topo, 'veth1'), /: off/);
  // Leaving: after -laggport the member's own counter must not move while flows run.
  await la.ctlOk('laggkit0', '-laggport', 'veth1');
  t.deepEqual(await kernelPorts(la), ['veth0']);
  t.regex(await txCsum(topo, 'veth1'), /: on/, '...and gets its offload back when it leaves');
  const before = await topo.a.execOk(['cat', '/sys/class/net/veth1/statistics/tx_packets']);
  await udpSend(topo.a, '10.77.0.2', 9204, DATAGRAMS, 16);
  const after = await topo.a.execOk(['cat', '/sys/class/net/veth1/statistics/tx_packets']);
  // LACP on b still sends on its veth1, a's laggd may answer a PDU or two; data would be hundreds.
  t.true(Number(after) - Number(before) < 8, `veth1 sent ${Number(after) - Number(before)} frames after leaving`);
});

/** Where the kernel must not pick the port itself: lk_output() would not pick it by flow id. */
const OFF: Array<[string, string, string[]]> = [
  ['failover', 'failover', []],
  ['roundrobin', 'roundrobin', []],
  ['broadcast', 'broadcast', []],
  ['lagghash l3 (no l4: coarser than a flow id)', 'loadbalance', ['lagghash', 'l3']],
  ['-use_flowid', 'loadbalance', ['-use_flowid']],
];
for (const [what, proto, extra] of OFF) {
  testNeeding(test, `transmit path: ${what} sends through laggd`, needs, async (t) => {
    const { topo, la, lb } = await laggPair(t, proto, { links: 2, tag: 'txo', extra });
    t.regex(await tapEgress(topo), /laggd_tx/, 'the program is there, with its table off');
    await pingOk(t, topo, proto === 'broadcast');
    const r = await send(topo, la, lb, 9205, 200, 8);
    t.deepEqual(await kernelPorts(la), []);
    t.is(
      Object.values(r.kernel).reduce((a, b) => a + b, 0),
      0,
      JSON.stringify(r.kernel),
    );
    t.true(r.rx >= 200, `every datagram arrived (${r.rx})`);
    if (proto === 'loadbalance') {
      // and the option's way back turns the kernel's path on, on the running aggregate
      await la.ctlOk('laggkit0', ...(extra[0] === 'lagghash' ? ['lagghash', 'l2,l3,l4'] : ['use_flowid']));
      const back = await send(topo, la, lb, 9206, 200, 8);
      t.deepEqual(await kernelPorts(la), ['veth0', 'veth1']);
      t.true(Object.values(back.kernel).reduce((a, b) => a + b, 0) >= 200, JSON.stringify(back.kernel));
    }
  });
}
