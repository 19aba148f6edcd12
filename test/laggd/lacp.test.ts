/**
 * LACP between two laggd, each in its own namespace, over veth pairs: negotiation to
 * ACTIVE,COLLECTING,DISTRIBUTING, an aggregate taken down (silent) and up again, a partner that
 * goes silent while its carrier stays up, maxports
 * with STANDBY ports, and the marker responder. State is read the way an operator reads it:
 * through `laggctl laggkit0` parsed by the project's ifconfig parser.
 */
import test from 'ava';
import { testNeeding } from '../support/require.js';
import { laggPair, silence, sleep, startCapture, tcpTransfer, waitFor, type Laggd } from './support/netns.js';

const needs = { root: true, tools: ['ip', 'tc', 'socat', 'tcpdump', 'ss'] };
const ACD = ['ACTIVE', 'COLLECTING', 'DISTRIBUTING'];

const hasAll = (flags: string[] | undefined, want: string[]) => want.every((f) => flags?.includes(f));

async function allDistributing(d: Laggd, ports: string[]): Promise<boolean> {
  const flags = await d.portFlags();
  return ports.every((p) => hasAll(flags[p], ACD));
}

testNeeding(test, 'laggd <-> laggd: every port reaches ACTIVE,COLLECTING,DISTRIBUTING and traffic flows', needs, async (t) => {
  const ports = ['veth0', 'veth1', 'veth2'];
  const { topo, la, lb } = await laggPair(t, 'lacp', { links: 3, tag: 'ca', extra: ['lacp_fast_timeout'] });
  for (const d of [la, lb]) await waitFor('all ports collecting and distributing', () => allDistributing(d, ports), 20_000);
  const iface = await la.ifconfig('laggkit0', true);
  t.is(iface.lagg?.proto, 'lacp');
  t.deepEqual(iface.lagg?.hash, ['l2', 'l3', 'l4']);
  t.is(iface.status, 'active');
  // Both sides agree on the LAG: a's partner system is b's MAC, and the reverse.
  const sa = await la.status('laggkit0', true);
  const sb = await lb.status('laggkit0', true);
  for (const p of sa.ports) {
    t.is(p.lacp?.partner.system, sb.ether, `${p.name}: partner is b`);
    t.true(hasAll(p.lacp?.actor.state, ['ACTIVITY', 'TIMEOUT', 'AGGREGATION', 'SYNC', 'COLLECTING', 'DISTRIBUTING']), JSON.stringify(p.lacp?.actor.state));
  }
  t.truthy(iface.lagg?.lagId, 'lag id printed with -v');
  t.is((await topo.a.exec(['ping', '-c', '3', '-i', '0.2', '-W', '2', '10.77.0.2'])).code, 0);
  const r = await tcpTransfer(topo.a, topo.b, '10.77.0.2', 1024 * 1024);
  t.is(r.received, r.sent);
  const c = await la.counters();
  for (const p of ports) t.true((c[p]?.lacp_rx ?? 0) > 0 && (c[p]?.lacp_tx ?? 0) > 0, `${p} exchanged LACPDUs`);
  t.is(c.veth0?.lacp_illegal, 0);
});

testNeeding(test, 'a port whose partner goes silent (carrier up) leaves the LAG after the short timeout, and rejoins', needs, async (t) => {
  const ports = ['veth0', 'veth1'];
  const { topo, la, lb } = await laggPair(t, 'lacp', { links: 2, tag: 'cs', extra: ['lacp_fast_timeout'] });
  for (const d of [la, lb]) await waitFor('all ports distributing', () => allDistributing(d, ports), 20_000);
  const unsilence = await silence(topo.b, 'veth1');
  // 3 s short timeout (3 x 1 s fast periodic); allow generously for a loaded machine.
  await waitFor('veth1 to leave the LAG on a', async () => !(await la.portFlags()).veth1?.includes('DISTRIBUTING'), 15_000);
  const flags = await la.portFlags();
  t.true(hasAll(flags.veth0, ACD), `veth0 still distributing: ${JSON.stringify(flags)}`);
  const st = await la.status('laggkit0', true);
  const v1 = st.ports.find((p) => p.name === 'veth1');
  t.true(v1?.link, 'the link itself stayed up');
  t.true(v1?.lacp?.actor.state.includes('EXPIRED') || v1?.lacp?.actor.state.includes('DEFAULTED'), JSON.stringify(v1?.lacp));
  const events = await la.ctlOk('laggkit0', 'events');
  t.regex(events, /veth1.*(expired|defaulted)/);
  // b hears of it in a's next LACPDU (sent at once on the change) and stops using veth1 too.
  await waitFor('veth1 to leave the LAG on b', async () => !(await lb.portFlags()).veth1?.includes('DISTRIBUTING'), 15_000);
  t.is((await topo.a.exec(['ping', '-c', '3', '-i', '0.2', '-W', '2', '10.77.0.2'])).code, 0, 'traffic moved to veth0');

  await unsilence();
  for (const d of [la, lb]) await waitFor('veth1 to rejoin', () => allDistributing(d, ports), 20_000);
  t.pass();
});

testNeeding(test, 'an aggregate whose interface is down sends no LACPDU and counts its ports down; brought up, it converges again', needs, async (t) => {
  const ports = ['veth0', 'veth1'];
  const { topo, la, lb } = await laggPair(t, 'lacp', { links: 2, tag: 'cd', extra: ['lacp_fast_timeout'] });
  for (const d of [la, lb]) await waitFor('all ports distributing', () => allDistributing(d, ports), 20_000);
  await topo.a.execOk(['ip', 'link', 'set', 'laggkit0', 'down']);
  // a falls silent, so b's short timeout takes its ports out: a partner must not send to an
  // aggregate that delivers nothing.
  await waitFor('b to stop distributing on every port', async () => {
    const f = await lb.portFlags();
    return ports.every((p) => !f[p]?.includes('DISTRIBUTING'));
  });
  const before = await la.counters();
  await sleep(2500);
  const after = await la.counters();
  for (const p of ports) t.is(after[p]?.lacp_tx, before[p]?.lacp_tx, `${p}: no LACPDU while laggkit0 is down`);
  for (const p of (await la.status('laggkit0', true)).ports) t.false(p.link, `${p.name} counts as down while laggkit0 is down`);
  await topo.a.execOk(['ip', 'link', 'set', 'laggkit0', 'up']);
  for (const d of [la, lb]) await waitFor('all ports distributing again', () => allDistributing(d, ports), 20_000);
  t.is((await topo.a.exec(['ping', '-c', '3', '-i', '0.2', '-W', '2', '10.77.0.2'])).code, 0);
});

testNeeding(test, 'lagglacp maxports 2 puts the third port in STANDBY, and promotes it when one fails', needs, async (t) => {
  const ports = ['veth0', 'veth1', 'veth2'];
  const { topo, la, lb } = await laggPair(t, 'lacp', { links: 3, tag: 'cm', extra: ['lacp_fast_timeout', 'lagglacp', 'maxports', '2'] });
  const settled = async (d: Laggd) => {
    const f = await d.portFlags();
    return ports.filter((p) => hasAll(f[p], ACD)).length === 2 && ports.some((p) => f[p]?.includes('STANDBY')) ? f : undefined;
  };
  const fa = await waitFor('two distributing, one standby on a', () => settled(la), 20_000);
  const fb = await waitFor('two distributing, one standby on b', () => settled(lb), 20_000);
  t.log(JSON.stringify(fa), JSON.stringify(fb));
  const standbyA = ports.find((p) => fa[p]?.includes('STANDBY'));
  const standbyB = ports.find((p) => fb[p]?.includes('STANDBY'));
  t.is(standbyA, standbyB, 'both ends put the same link in standby');
  t.is((await la.status()).options.lacp_maxports, 2);
  // A distributing link fails: the standby port takes its place.
  const victim = ports.find((p) => p !== standbyA) ?? 'veth0';
  await topo.setLink('b', victim, 'down');
  await waitFor(`standby ${standbyA} promoted`, async () => hasAll((await la.portFlags())[standbyA ?? ''], ACD), 20_000);
  t.is((await topo.a.exec(['ping', '-c', '2', '-i', '0.2', '-W', '2', '10.77.0.2'])).code, 0);
});

testNeeding(
  test,
  'a Marker PDU is answered with a Marker Response carrying the requester fields',
  { ...needs, tools: [...needs.tools, 'python3'] },
  async (t) => {
    const { topo, la, lb } = await laggPair(t, 'lacp', { links: 2, tag: 'ck', extra: ['lacp_fast_timeout'] });
    for (const d of [la, lb]) await waitFor('all ports distributing', () => allDistributing(d, ['veth0', 'veth1']), 20_000);
    const before = (await la.counters()).veth0;
    const cap = await startCapture(topo.b, 'veth0', ['ether', 'proto', '0x8809'], { hex: true });
    // Requester port 7, system 02:00:5e:10:20:30, transaction 0x12345678.
    const script = [
      'import socket, struct, sys',
      's = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)',
      's.bind((sys.argv[1], 0))',
      "src = bytes.fromhex('02005e102030')",
      "pdu = bytes([2, 1, 1, 16]) + struct.pack('!H6sIH', 7, src, 0x12345678, 0) + bytes([0, 0]) + bytes(90)",
      "s.send(bytes.fromhex('0180c2000002') + src + struct.pack('!H', 0x8809) + pdu)",
    ].join('\n');
    await topo.b.execOk(['python3', '-c', script, 'veth0']);
    const after = await waitFor(
      'marker response counted',
      async () => {
        const c = (await la.counters()).veth0;
        return c && (c.marker_resp_tx ?? 0) > (before?.marker_resp_tx ?? 0) ? c : undefined;
      },
      5000,
    );
    t.true((after.marker_rx ?? 0) > (before?.marker_rx ?? 0), 'marker counted as received');
    const text = await cap.stop();
    const hex = text
      .split('\n')
      .filter((l) => /^\s+0x[0-9a-f]+:/.test(l))
      .map((l) => l.replace(/^\s+0x[0-9a-f]+:\s*/, '').replace(/\s+/g, ''))
      .join('');
    // subtype 2, version 1, TLV 2 (response), length 16, port 7, system, transaction id.
    t.true(hex.includes('88090201021000070200' + '5e10203012345678'), `response on the wire: ${text.slice(0, 2000)}`);
    t.is(after.lacp_illegal ?? 0, before?.lacp_illegal ?? 0, 'nothing counted as illegal');
  },
);

testNeeding(test, 'laggd <-> laggd: a planned move (maxports lowered on a live LAG) flushes with a marker the partner answers', needs, async (t) => {
  const ports = ['veth0', 'veth1'];
  const { la, lb } = await laggPair(t, 'lacp', { links: 2, tag: 'cf', extra: ['lacp_fast_timeout'] });
  for (const d of [la, lb]) await waitFor('all ports distributing', () => allDistributing(d, ports), 20_000);
  await la.ctlOk('laggkit0', 'lagglacp', 'maxports', '1');
  const moved = await waitFor(
    'one port in standby',
    async () => {
      const f = await la.portFlags();
      return ports.find((p) => f[p]?.includes('STANDBY'));
    },
    15_000,
  );
  const ca = await waitFor(
    'marker answered',
    async () => {
      const c = await la.counters();
      return (c[moved]?.marker_resp_rx ?? 0) > 0 ? c : undefined;
    },
    10_000,
  );
  t.true((ca[moved]?.marker_tx ?? 0) > 0, `a sent a marker on ${moved}`);
  const cb = await lb.counters();
  t.true((cb[moved]?.marker_rx ?? 0) > 0 && (cb[moved]?.marker_resp_tx ?? 0) > 0, `b answered on ${moved}: ${JSON.stringify(cb[moved])}`);
  const other = ports.find((p) => p !== moved) ?? '';
  t.true(hasAll((await la.portFlags())[other], ACD), 'the other port kept distributing');
});

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');
const DESELECT = /unselected|partner changed|out of sync|expired|defaulted|link down/;

testNeeding(test, 'laggd <-> laggd: `ether` on a live LAG keeps the LACP System ID, so no port is deselected and a stream goes on', needs, async (t) => {
  const ports = ['veth0', 'veth1'];
  const mac = '02:6c:6b:00:e2:01';
  const { topo, la, lb } = await laggPair(t, 'lacp', { links: 2, tag: 'ce', extra: ['lacp_fast_timeout'] });
  for (const d of [la, lb]) await waitFor('all ports distributing', () => allDistributing(d, ports), 20_000);
  // The kernel announces the TAP's new MAC itself (gratuitous ARP), as the e2e scenario has it.
  await topo.a.execOk(['sysctl', '-qw', 'net.ipv4.conf.laggkit0.arp_notify=1']);
  const before = await la.status('laggkit0', true);
  const system = before.ports[0]?.lacp?.actor.system;
  t.is(system, before.ether, 'before any ether change the System ID is the aggregate MAC');
  const seenA = lines(await la.ctlOk('laggkit0', 'events')).length;
  const seenB = lines(await lb.ctlOk('laggkit0', 'events')).length;

  // B pings A every 5 ms across the change: B→A is the direction that waits for B to learn.
  const ping = topo.b.exec(['ping', '-q', '-n', '-i', '0.005', '-c', '600', '-W', '1', '10.77.0.1']);
  await new Promise((r) => setTimeout(r, 1000));
  await la.ctlOk('laggkit0', 'ether', mac);
  let stopped = '';
  const watch = (async () => {
    for (let i = 0; i < 20; i++) {
      for (const [side, d] of [
        ['a', la],
        ['b', lb],
      ] as const)
        if (!(await allDistributing(d, ports))) stopped ||= `${side}: ${JSON.stringify(await d.portFlags())}`;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const [res] = await Promise.all([ping, watch]);
  t.is(stopped, '', 'every port kept distributing on both sides');

  const after = await la.status('laggkit0', true);
  t.is(after.ether, mac, 'the aggregate has the new MAC');
  for (const p of ports) t.is((await topo.a.ifInfo(p)).mac, mac, `${p} took it`);
  for (const p of after.ports) t.is(p.lacp?.actor.system, system, `${p.name}: the actor System ID is unchanged`);
  t.is(after.options.lacp_sys_mac, system as string);
  t.is(after.options.lacp_sys_mac_admin, false);
  for (const p of (await lb.status('laggkit0', true)).ports) t.is(p.lacp?.partner.system, system, `b ${p.name}: the partner it sees is unchanged`);
  const newA = lines(await la.ctlOk('laggkit0', 'events')).slice(seenA);
  const newB = lines(await lb.ctlOk('laggkit0', 'events')).slice(seenB);
  t.deepEqual(
    newA.filter((l) => DESELECT.test(l)),
    [],
    `a: ${newA.join(' | ')}`,
  );
  t.deepEqual(
    newB.filter((l) => DESELECT.test(l)),
    [],
    `b: ${newB.join(' | ')}`,
  );
  const m = /(\d+) packets transmitted, (\d+) received/.exec(res.stdout);
  t.truthy(m, res.stdout + res.stderr);
  const lost = Number(m?.[1]) - Number(m?.[2]);
  t.log(`ping B→A across the ether change: ${m?.[0]}`);
  t.true(lost <= 2, `at most 2 of ${m?.[1]} lost, lost ${lost}`);
  t.is((await topo.b.exec(['ip', 'neigh', 'show', '10.77.0.1', 'dev', 'laggkit0'])).stdout.includes(mac), true, 'b learned the new MAC');
});

testNeeding(test, 'lacp_sys_mac pins the System ID (the partner follows it) and -lacp_sys_mac goes back to the aggregate MAC', needs, async (t) => {
  const ports = ['veth0', 'veth1'];
  const sys = '02:00:5e:aa:bb:cc';
  const { la, lb } = await laggPair(t, 'lacp', { links: 2, tag: 'cy', extra: ['lacp_fast_timeout'] });
  for (const d of [la, lb]) await waitFor('all ports distributing', () => allDistributing(d, ports), 20_000);
  const bad = await la.ctl('laggkit0', 'lacp_sys_mac', '01:00:5e:00:00:01');
  t.not(bad.code, 0);
  t.regex(bad.stderr, /bad value '01:00:5e:00:00:01' for 'lacp_sys_mac'/);
  await la.ctlOk('laggkit0', 'lacp_sys_mac', sys);
  const st = await la.status('laggkit0', true);
  t.is(st.options.lacp_sys_mac, sys);
  t.is(st.options.lacp_sys_mac_admin, true);
  await waitFor(
    'b sees the pinned System ID, distributing',
    async () => {
      const sb = await lb.status('laggkit0', true);
      return sb.ports.every((p) => p.lacp?.partner.system === sys && hasAll(p.flags, ACD));
    },
    20_000,
  );
  // ether leaves a pinned System ID alone too
  await la.ctlOk('laggkit0', 'ether', '02:6c:6b:00:e2:02');
  t.is((await la.status('laggkit0', true)).options.lacp_sys_mac, sys);
  await la.ctlOk('laggkit0', '-lacp_sys_mac');
  const back = await la.status('laggkit0', true);
  t.is(back.options.lacp_sys_mac, '02:6c:6b:00:e2:02', 'automatic again: the aggregate MAC now');
  t.is(back.options.lacp_sys_mac_admin, false);
  await waitFor(
    'b follows, distributing',
    async () => {
      const sb = await lb.status('laggkit0', true);
      return sb.ports.every((p) => p.lacp?.partner.system === '02:6c:6b:00:e2:02' && hasAll(p.flags, ACD));
    },
    20_000,
  );
  t.pass();
});
