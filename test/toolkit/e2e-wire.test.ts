/**
 * The lab target's wire tools without a VM: two UDP sockets on 127.0.0.1 stand in for a lab
 * link's two QEMU ends (each datagram one Ethernet frame, as `-netdev dgram` sends them), and
 * the real iptables and tcpdump of this host drop and record them. Also: the per-protocol
 * expectations of a scenario file, and the frame classifier the announcement count rests on.
 */
import test, { type ExecutionContext, type TestFn } from 'ava';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { boundsFor } from '../../src/e2e/engine.js';
import { labWire } from '../../src/e2e/lab-wire.js';
import { parseScenario } from '../../src/e2e/scenario.js';
import { frameKind, isUdpTo } from '../../src/e2e/wire.js';
import type { LabState } from '../../src/lab/state.js';
import { testNeeding } from '../support/require.js';

const mac = (s: string): Buffer => Buffer.from(s.split(':').map((x) => Number.parseInt(x, 16)));
const ip4 = (s: string): Buffer => Buffer.from(s.split('.').map(Number));

function garp(addr: string, target = addr): Buffer {
  const f = Buffer.alloc(60);
  mac('ff:ff:ff:ff:ff:ff').copy(f, 0);
  mac('02:00:00:00:00:0a').copy(f, 6);
  f.writeUInt16BE(0x0806, 12);
  Buffer.from([0, 1, 8, 0, 6, 4, 0, 1]).copy(f, 14);
  mac('02:00:00:00:00:0a').copy(f, 22);
  ip4(addr).copy(f, 28);
  ip4(target).copy(f, 38);
  return f;
}

function lacpdu(): Buffer {
  const f = Buffer.alloc(124);
  mac('01:80:c2:00:00:02').copy(f, 0);
  mac('02:00:00:00:00:0b').copy(f, 6);
  f.writeUInt16BE(0x8809, 12);
  f[14] = 1; // LACP
  f[15] = 1; // version
  return f;
}

function unsolicitedNa(): Buffer {
  const f = Buffer.alloc(86);
  mac('33:33:00:00:00:01').copy(f, 0);
  f.writeUInt16BE(0x86dd, 12);
  f[14] = 0x60;
  f[20] = 58; // ICMPv6
  f[21] = 255;
  f[38] = 0xff;
  f[39] = 0x02;
  f[53] = 1; // ff02::1
  f[54] = 136; // neighbour advertisement
  return f;
}

function udpFrame(dport: number): Buffer {
  const f = Buffer.alloc(60);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45;
  f[23] = 17;
  f.writeUInt16BE(dport, 14 + 20 + 2);
  return f;
}

test('frames are told apart: gratuitous ARP, unsolicited NA, LACPDU, the stream, the rest', (t) => {
  t.is(frameKind(garp('10.77.0.1')), 'garp');
  t.is(frameKind(garp('10.77.0.1', '10.77.0.2')), 'other', 'an ARP for another address is no announcement');
  t.is(frameKind(unsolicitedNa()), 'unsolicited-na');
  const solicited = unsolicitedNa();
  solicited[53] = 2;
  t.is(frameKind(solicited), 'other', 'an NA to one node is an answer, not an announcement');
  t.is(frameKind(lacpdu()), 'lacp');
  t.true(isUdpTo(udpFrame(47001), 47001));
  t.false(isUdpTo(udpFrame(47002), 47001));
  t.is(frameKind(Buffer.alloc(10)), 'other');
});

const scenario = (extra: string): string =>
  [
    'name: probe',
    'title: a probe',
    'setup:',
    '  proto: [lacp, roundrobin]',
    '  members: [virtio, virtio]',
    'action:',
    '  kind: one-way-loss',
    'expect:',
    '  restored: { equals: 1 }',
    extra,
  ].join('\n');

test('expect_by_proto adds a protocol its own bounds; a protocol or metric the case lacks is refused', (t) => {
  const s = parseScenario(
    scenario(
      'expect_by_proto:\n  lacp: { removed: { equals: 1 } }\n  roundrobin: { removed: { equals: 0 } }\nstock:\n  linux:\n    expect_by_proto:\n      lacp: { removed: { min: 0 } }\n',
    ),
    '/x/probe.yaml',
  );
  t.deepEqual(boundsFor(s, 'laggkit', 'lacp', 'linux'), { restored: { equals: 1 }, removed: { equals: 1 } });
  t.deepEqual(boundsFor(s, 'laggkit', 'roundrobin', 'linux'), { restored: { equals: 1 }, removed: { equals: 0 } });
  t.deepEqual(boundsFor(s, 'stock', 'lacp', 'linux'), { restored: { equals: 1 }, removed: { min: 0 } });
  t.deepEqual(boundsFor(s, 'stock', 'roundrobin', 'linux'), { restored: { equals: 1 }, removed: { equals: 0 } });
  // The override is Linux bonding's: FreeBSD's lagg(4) is judged by the scenario's own bounds.
  t.deepEqual(boundsFor(s, 'stock', 'lacp', 'freebsd'), { restored: { equals: 1 }, removed: { equals: 1 } });
  const bad = t.throws(() =>
    parseScenario(scenario('expect_by_proto:\n  failover: { removed: { equals: 0 } }\n  lacp: { expire_ms: { max: 1 } }\n'), '/x/probe.yaml'),
  );
  t.regex(bad.message, /expect_by_proto\.failover: 'failover' is not in setup\.proto \(lacp, roundrobin\)/);
  t.regex(bad.message, /expect_by_proto\.lacp\.expire_ms: 'expire_ms' is not measured by action 'one-way-loss'/);
  const lacpOnly = t.throws(() => parseScenario(scenario('').replace('one-way-loss', 'partner-silent'), '/x/probe.yaml'));
  t.regex(lacpOnly.message, /setup\.proto\[1\]: partner-silent runs on lacp only/);
  const past = t.throws(() => parseScenario(scenario('').replace('kind: one-way-loss', 'kind: one-way-loss\n  member: 2'), '/x/probe.yaml'));
  t.regex(past.message, /action\.member: member 2 is past the end/);
  const badMac = t.throws(() => parseScenario(scenario('').replace('kind: one-way-loss', 'kind: ether-change\n  mac: 01:00:5e:00:00:01'), '/x/probe.yaml'));
  t.regex(badMac.message, /action\.mac: a unicast, locally administered MAC/);
});

/** Two sockets on 127.0.0.1, as a lab link's A and B ends, and a lab record naming them. */
async function fakeLink(t: ExecutionContext): Promise<{ a: dgram.Socket; b: dgram.Socket; state: LabState; heard: Record<'a' | 'b', Buffer[]> }> {
  const open = (): Promise<dgram.Socket> =>
    new Promise((resolve) => {
      const s = dgram.createSocket('udp4');
      s.bind(0, '127.0.0.1', () => resolve(s));
    });
  const [a, b] = [await open(), await open()];
  t.teardown(() => {
    a.close();
    b.close();
  });
  const heard: Record<'a' | 'b', Buffer[]> = { a: [], b: [] };
  a.on('message', (m) => heard.a.push(m));
  b.on('message', (m) => heard.b.push(m));
  const pa = a.address().port;
  const pb = b.address().port;
  const nic = (local: number, remote: number) => ({
    id: 'nic0',
    model: 'virtio' as const,
    mac: '52:54:00:00:00:01',
    name: 'vtnet0',
    netdev: { type: 'dgram' as const, localPort: local, remotePort: remote },
    link: 'up' as const,
  });
  const vm = (name: string, local: number, remote: number) => ({
    name,
    guest: 'linux' as const,
    pid: 0,
    sshPort: 0,
    sshUser: 'root',
    qmpSocket: '',
    consoleSocket: '',
    consoleLog: '',
    mgmtMac: '',
    nics: [nic(local, remote)],
  });
  const state = { name: `wire${process.pid}`, vms: [vm('A', pa, pb), vm('B', pb, pa)] } as unknown as LabState;
  return { a, b, state, heard };
}

const send = (from: dgram.Socket, to: dgram.Socket, frame: Buffer): Promise<void> =>
  new Promise((resolve, reject) => from.send(frame, to.address().port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
/** Both tests touch the host's firewall and loopback capture: one at a time. */
const serial = test.serial as unknown as TestFn;
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 200));

testNeeding(
  serial,
  'impair drops one direction of a link (every frame, or its LACPDUs only) with iptables, and close() leaves no rule behind',
  { root: true, tools: ['iptables'] },
  async (t) => {
    const { a, b, state, heard } = await fakeLink(t);
    const wire = labWire(state);
    t.teardown(() => wire.close());
    t.is(wire.lacksImpair, undefined);
    await wire.impair('vtnet0', { direction: 'b-to-a', what: 'lacp' }, true);
    await send(b, a, lacpdu());
    await send(b, a, garp('10.77.0.2'));
    await send(a, b, lacpdu());
    await settle();
    t.deepEqual(
      heard.a.map((f) => frameKind(f)),
      ['garp'],
      'B→A: the LACPDU dropped, the ARP delivered',
    );
    t.deepEqual(
      heard.b.map((f) => frameKind(f)),
      ['lacp'],
      'A→B untouched',
    );
    await wire.impair('vtnet0', { direction: 'b-to-a', what: 'all' }, true);
    await send(b, a, garp('10.77.0.2'));
    await settle();
    t.is(heard.a.length, 1, 'B→A: every frame dropped');
    await wire.impair('vtnet0', { direction: 'b-to-a', what: 'all' }, false);
    await wire.impair('vtnet0', { direction: 'b-to-a', what: 'lacp' }, false);
    await send(b, a, lacpdu());
    await settle();
    t.is(heard.a.length, 2, 'lifted: B→A delivered again');
    t.notRegex(execFileSync('iptables', ['-w', '-S']).toString(), new RegExp(`LKE2E-${state.name}`), 'no chain left once nothing is impaired');
    await wire.impair('vtnet0', { direction: 'a-to-b', what: 'all' }, true);
    t.regex(execFileSync('iptables', ['-w', '-S']).toString(), new RegExp(`-A INPUT -i lo -j LKE2E-${state.name}`));
    wire.close();
    t.notRegex(execFileSync('iptables', ['-w', '-S']).toString(), new RegExp(`LKE2E-${state.name}`), 'close() removes the chain and its jump');
    await t.throwsAsync(() => wire.impair('em9', { direction: 'a-to-b', what: 'all' }, true), { message: /has no UDP data link em9/ });
  },
);

testNeeding(
  serial,
  'capture records one direction of a link with tcpdump on lo, frames as the guest sent them',
  { root: true, tools: ['tcpdump'] },
  async (t) => {
    const { a, b, state } = await fakeLink(t);
    const wire = labWire(state);
    t.teardown(() => wire.close());
    const cap = await wire.capture(['vtnet0'], 'a-to-b');
    const before = Date.now();
    await send(a, b, garp('10.77.0.1'));
    await send(b, a, garp('10.77.0.2'));
    await send(a, b, unsolicitedNa());
    await settle();
    const frames = await cap.stop();
    t.deepEqual(
      frames.map((f) => [f.nic, frameKind(f.frame)]),
      [
        ['vtnet0', 'garp'],
        ['vtnet0', 'unsolicited-na'],
      ],
      'A→B only, in order',
    );
    t.true(frames[0]!.frame.equals(garp('10.77.0.1')), 'the frame byte for byte');
    t.true(Math.abs(frames[0]!.atMs - before) < 60_000, 'host wall-clock stamps');
  },
);
