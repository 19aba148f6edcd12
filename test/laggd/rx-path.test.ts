/**
 * laggd's in-kernel receive path (kmod/posix/laggd_rxpath.c): a member's data frames reach
 * the TAP inside the kernel, through the tc program laggd puts on the member, and laggd's own
 * socket on the member takes in only the slow protocols frames. The per-port counters still
 * count every frame, LACP still converges on the PDUs laggd reads, and nothing arrives twice.
 * With LAGGD_RX_PATH=user every frame goes through laggd, as on a kernel without eBPF: the
 * same checks, the other way round.
 */
import test from 'ava';
import { testNeeding } from '../support/require.js';
import { laggPair, udpSend, waitFor, type Laggd, type PortCounters } from './support/netns.js';

const needs = { root: true, tools: ['ip', 'tc', 'ping'] };
const DATAGRAMS = 400;

const sum = (c: Record<string, PortCounters>, f: (p: PortCounters) => number | undefined) => Object.values(c).reduce((a, p) => a + (f(p) ?? 0), 0);

async function distributing(d: Laggd): Promise<void> {
  await waitFor('every port distributing', async () => Object.values(await d.portFlags()).every((f) => f.includes('DISTRIBUTING')), 20_000);
}

for (const path of ['kernel', 'user'] as const) {
  testNeeding(test, `receive path ${path}: every data frame counted and delivered once, LACP on laggd's socket`, needs, async (t) => {
    const { topo, la, lb } = await laggPair(t, 'lacp', {
      links: 2,
      tag: `rx${path[0]}`,
      extra: ['lacp_fast_timeout'],
      ...(path === 'user' ? { laggd: { env: { LAGGD_RX_PATH: 'user' } } } : {}),
    });
    await distributing(la);
    await distributing(lb);
    // The member's tc ingress program: the receive path's, or the one that only drops.
    const filter = await topo.b.execOk(['tc', 'filter', 'show', 'dev', 'veth0', 'ingress']);
    t.regex(filter, path === 'kernel' ? /laggd_rx/ : /laggd_drop/, filter);

    const ping = await topo.a.exec(['ping', '-c', '5', '-i', '0.2', '-W', '2', '10.77.0.2']);
    t.is(ping.code, 0, ping.stdout + ping.stderr);
    t.notRegex(ping.stdout, /DUP!/, 'no reply arrives twice');

    const before = await lb.counters();
    await udpSend(topo.a, '10.77.0.2', 9100, DATAGRAMS, 16);
    const after = await lb.counters();
    for (const [name, c] of Object.entries(after)) t.is(c.host_rx_kernel, path === 'kernel', `${name}: ${JSON.stringify(c)}`);
    const rx = sum(after, (c) => c.rx_packets) - sum(before, (c) => c.rx_packets);
    const socket = sum(after, (c) => c.host_rx_socket_frames) - sum(before, (c) => c.host_rx_socket_frames);
    t.log(`${path}: ${rx} frames counted on b's ports, ${socket} taken in by laggd's sockets`);
    t.true(rx >= DATAGRAMS, `every datagram counted on a port (${rx})`);
    if (path === 'kernel') t.true(socket < DATAGRAMS / 4, `laggd's sockets took in only control frames (${socket})`);
    else t.true(socket >= DATAGRAMS, `laggd's sockets took in every frame (${socket})`);
    // LACP kept running on what laggd reads: PDUs still arrive on every port.
    const pdus = Object.values(await lb.counters()).map((c) => c.lacp_rx ?? 0);
    t.true(
      pdus.every((n) => n > 0),
      JSON.stringify(pdus),
    );
    t.true(la.running && lb.running, 'both daemons still running');
  });
}
