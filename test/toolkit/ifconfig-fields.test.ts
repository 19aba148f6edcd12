/**
 * Line-level cases of the ifconfig parser that the golden fixtures do not all reach: media
 * variants, point-to-point and CIDR addresses, non-contiguous netmasks, NetBSD option lines,
 * malformed lagg lines kept as unknown, and CRLF input.
 */
import test from 'ava';
import { parseIfconfig, type IfInterface } from '../../src/ifconfig/index.js';

function one(body: string, header = 'em0: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 1500'): IfInterface {
  const model = parseIfconfig(`${header}\n${body}\n`);
  const iface = model.interfaces[0];
  if (!iface) throw new Error('no interface parsed');
  return iface;
}

test('media: options, mode, instance, multi-word types and the active part', (t) => {
  const wlan = one('\tmedia: IEEE 802.11 Wireless Ethernet autoselect mode 11g (autoselect mode 11g)');
  const bad = one('\tmedia: Ethernet autoselect (1000baseT instance 2)');
  t.is(bad.media, undefined);
  t.deepEqual(
    bad.unknown.map((u) => u.line),
    [2],
  );
  t.like(wlan.media, { type: 'IEEE 802.11 Wireless Ethernet', subtype: 'autoselect', mode: '11g' });
  t.deepEqual(wlan.media?.active, { subtype: 'autoselect', options: [], mode: '11g' });
  t.deepEqual(wlan.unknown, []);

  const fixed = one('\tmedia: Ethernet 10Gbase-SR <full-duplex,rxpause,txpause> instance 1');
  t.like(fixed.media, { type: 'Ethernet', subtype: '10Gbase-SR', options: ['full-duplex', 'rxpause', 'txpause'], instance: 1 });

  const nb = one('\tmedia: Ethernet autoselect (100baseTX full-duplex,flowcontrol)');
  t.deepEqual(nb.media?.active, { subtype: '100baseTX', options: ['full-duplex', 'flowcontrol'] });
});

test('inet: point-to-point, CIDR, dotted and non-contiguous netmasks', (t) => {
  const i = one(
    [
      '\tinet 10.0.0.1 --> 10.0.0.2 netmask 0xffffffff',
      '\tinet 192.0.2.1/25 broadcast 192.0.2.127 flags 0',
      '\tinet 198.51.100.1 netmask 255.255.254.0',
      '\tinet 203.0.113.1 netmask 0xff00ff00',
      '\tinet 203.0.113.2 netmask',
    ].join('\n'),
  );
  t.like(i.inet[0], { address: '10.0.0.1', destination: '10.0.0.2', prefixLength: 32, netmask: '255.255.255.255' });
  t.like(i.inet[1], { address: '192.0.2.1', prefixLength: 25, netmask: '255.255.255.128', broadcast: '192.0.2.127', flags: '0' });
  t.like(i.inet[2], { prefixLength: 23, netmaskRaw: '255.255.254.0' });
  t.is(i.inet[3]?.prefixLength, undefined, 'no prefix length for a non-contiguous mask');
  t.is(i.inet[3]?.netmask, '255.0.255.0');
  t.is(i.inet.length, 4);
  t.deepEqual(i.unknown, [{ line: 6, text: 'inet 203.0.113.2 netmask' }]);
});

test('inet6: FreeBSD words, pltime/vltime and NetBSD flags', (t) => {
  const i = one(
    [
      '\tinet6 2001:db8::5 prefixlen 64 deprecated autoconf temporary pltime 0 vltime 3600 vhid 3',
      '\tinet6 fe80::1%wm0/64 flags 0x8<DEPRECATED> scopeid 0x1',
      '\tinet6 not:an:address! prefixlen 64',
    ].join('\n'),
  );
  t.like(i.inet6[0], { address: '2001:db8::5', prefixLength: 64, flags: ['deprecated', 'autoconf', 'temporary'], pltime: '0', vltime: '3600', vhid: 3 });
  t.like(i.inet6[1], { address: 'fe80::1', zone: 'wm0', prefixLength: 64, flagsValue: '0x8<DEPRECATED>', scopeId: '0x1' });
  t.is(i.inet6.length, 2);
  t.is(i.unknown[0]?.line, 4);
});

test('NetBSD lagglacp / laggfailover option lines and a partner line without its partner tuple', (t) => {
  const i = one(
    [
      '\tlaggproto lacp',
      '\tlagglacp multi-speed maxports 4',
      '\tlaggfailover rx-all',
      '\tlaggport:',
      '\t\twm0 pri=100 flags=0x0',
      '\t\t\tpartner: port=0001 prio=8000 state=0x0',
    ].join('\n'),
    'lagg0: flags=0x8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> mtu 1500',
  );
  t.deepEqual(i.lagg?.netbsd, { lacpOptions: ['multi-speed', 'maxports', '4'], failoverOptions: ['rx-all'] });
  t.like(i.lagg?.ports[0], { name: 'wm0', priority: 100, flags: { value: 0, names: [] } });
  t.deepEqual(i.unknown, [{ line: 7, text: 'partner: port=0001 prio=8000 state=0x0' }]);
});

test('malformed lagg lines are unknown, never generic key: value lines', (t) => {
  const i = one(['\tlaggproto', '\tlaggport: em0', '\tlag id: nonsense', '\tlagg: something', '\tdrivername: em0'].join('\n'));
  t.deepEqual(
    i.unknown.map((u) => u.text),
    ['laggproto', 'laggport: em0', 'lag id: nonsense', 'lagg: something'],
  );
  t.deepEqual(i.other, [{ line: 6, key: 'drivername', value: 'em0' }]);
  t.is(i.lagg, undefined);
});

test('CRLF line ends and a laggport before laggproto', (t) => {
  const model = parseIfconfig('lagg0: flags=8843<UP> metric 0 mtu 1500\r\n\tlaggport: em0 flags=4<ACTIVE>\r\n\tlaggproto loadbalance lagghash l2\r\n');
  const lagg = model.interfaces[0]?.lagg;
  t.is(lagg?.proto, 'loadbalance');
  t.deepEqual(lagg?.hash, ['l2']);
  t.deepEqual(
    lagg?.ports.map((p) => p.name),
    ['em0'],
  );
});

test('old FreeBSD bare-hex LACP state gets its names decoded', (t) => {
  const i = one('\tlaggproto lacp\n\tlaggport: em0 flags=1c<ACTIVE,COLLECTING,DISTRIBUTING> state=45');
  t.deepEqual(i.lagg?.ports[0]?.lacp?.actorState, { value: 0x45, names: ['ACTIVITY', 'AGGREGATION', 'DEFAULTED'], raw: '45' });
});
