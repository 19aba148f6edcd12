/**
 * Deploy's inputs, without a host: spec files and flags end in one validated model, every bad
 * field named by its path; the Linux adapter's `ip addr` reader and laggctl words.
 */
import test from 'ava';
import { parseSpecFile, specFromFlags } from '../../src/deploy/spec.js';
import { laggctlWords, parseIpAddr } from '../../src/targets/linux.js';
import { ifconfigWords } from '../../src/targets/freebsd.js';
import { netbsdIfconfigLines } from '../../src/targets/netbsd.js';

test('flags and a spec file give the same model', (t) => {
  const a = specFromFlags({
    name: 'laggkit0',
    laggproto: 'fec',
    laggport: ['em0', 'em1:2'],
    inet: ['192.0.2.10/24'],
    'lacp-fast-timeout': true,
    opt: ['lacp_sys_prio=100'],
  });
  const b = parseSpecFile(
    'aggregates:\n  - name: laggkit0\n    laggproto: loadbalance\n    laggports: [em0, {name: em1, pri: 2}]\n    inet: [192.0.2.10/24]\n    lacp_fast_timeout: true\n    opts: {lacp_sys_prio: 100}\n',
    'x.yaml',
  );
  t.deepEqual(a, b);
  t.is(a.aggregates[0]?.laggproto, 'loadbalance');
});

test('every bad field is named by its path, in one error', (t) => {
  const err = t.throws(() =>
    parseSpecFile(
      'aggregates:\n  - name: lagg0\n    laggproto: lacp\n    laggports: ["em0;reboot"]\n    inet: [300.1.1.1/24]\n    opts: {nope: 1, lacp_sys_prio: 70000}\n  - name: laggkit1\n    laggproto: none\n    laggports: [em2]\n    colour: red\n',
      's.yaml',
    ),
  );
  t.is((err as { code?: string }).code, 'E_SPEC');
  for (const p of [
    'aggregates[0].name',
    'aggregates[0].laggports[0]',
    'aggregates[0].inet[0]',
    'aggregates[0].opts.nope',
    'aggregates[0].opts.lacp_sys_prio',
    'aggregates[1]',
  ])
    t.true(err?.message.includes(p), `${p} in ${err?.message}`);
});

test('a port in two aggregates, or twice in one, is refused', (t) => {
  const e1 = t.throws(() =>
    parseSpecFile('aggregates:\n  - {name: laggkit0, laggproto: lacp, laggports: [em0]}\n  - {name: laggkit1, laggproto: lacp, laggports: [em0]}\n', 'd.yaml'),
  );
  t.regex(e1?.message ?? '', /aggregates\[1\]\.laggports\[0\]: em0 is already a port of laggkit0/);
  const e2 = t.throws(() => specFromFlags({ name: 'laggkit0', laggproto: 'lacp', laggport: ['em0', 'em0'] }));
  t.regex(e2?.message ?? '', /em0 is listed twice/);
});

test('YAML that does not parse is a parse error with its line', (t) => {
  const err = t.throws(() => parseSpecFile('aggregates:\n  - name: [laggkit0\n', 'bad.yaml'));
  t.is((err as { code?: string }).code, 'E_SPEC_YAML');
  t.regex(err?.message ?? '', /^bad\.yaml:\d+:/);
});

test('ip addr (iproute2 and busybox layout) gives the saved interface state', (t) => {
  const m = parseIpAddr(`2: mgmt0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel qlen 1000
    link/ether 52:54:00:ef:0a:00 brd ff:ff:ff:ff:ff:ff
    inet 10.0.2.15/24 scope global mgmt0
    inet6 fec0::5054:ff:feef:a00/64 scope site dynamic flags 100
    inet6 2001:db8::1/64 scope global
    inet6 fe80::5054:ff:feef:a00/64 scope link
3: veth0@if2: <BROADCAST,MULTICAST> mtu 9000 qdisc noop master br0 state DOWN
    link/ether 0a:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff
`);
  t.deepEqual(m.mgmt0, { name: 'mgmt0', up: true, mtu: 1500, mac: '52:54:00:ef:0a:00', inet: ['10.0.2.15/24'], inet6: ['2001:db8::1/64'] });
  t.deepEqual(m.veth0, { name: 'veth0', up: false, mtu: 9000, mac: '0a:00:00:00:00:01', inet: [], inet6: [], memberOf: 'master br0' });
});

test('the words each target speaks', (t) => {
  const spec = specFromFlags({
    name: 'laggkit0',
    laggproto: 'failover',
    laggport: ['em0:1', 'em1:2'],
    inet: ['192.0.2.1/24'],
    opt: ['failover_rx_all=1', 'rr_limit=4'],
  }).aggregates[0]!;
  t.is(laggctlWords(spec).join(' '), 'create laggproto failover laggport em0 pri 1 laggport em1 pri 2 laggfailover rx-all rr_limit 4 inet 192.0.2.1/24 up');
  t.is(ifconfigWords(spec).join(' '), 'laggproto failover laggport em0 laggport em1 rr_limit 4');
  t.deepEqual(
    netbsdIfconfigLines(spec).map((e) => `${e.key} ${e.value}`.trim()),
    ['laggproto failover', 'laggport em0 pri 1', 'laggport em1 pri 2', 'laggfailover rx-all', 'inet 192.0.2.1/24', 'up'],
  );
});
