/**
 * laggctl and laggd's configuration surface: every ifconfig word, rejection of bad words with
 * nothing applied, the FreeBSD-layout status block (plain and -v), JSON, events, counters, the
 * control socket selection, the config file at start and on SIGHUP, and restoring members on
 * destroy and SIGTERM. One laggd in namespace a; the veth peers in b stay idle.
 */
import test from 'ava';
import { parseIfconfig } from '../../src/ifconfig/index.js';
import { testNeeding } from '../support/require.js';
import { createTopology, laggctlBin, run, waitFor, type Host, type Laggd } from './support/netns.js';

const needs = { root: true, tools: ['ip'] };

async function snapshot(d: Laggd, host: Host): Promise<unknown> {
  const st = await d.ctl('--json', 'laggkit0');
  const members = await Promise.all(['veth0', 'veth1'].map((i) => host.ifInfo(i)));
  return { st: st.code === 0 ? JSON.parse(st.stdout) : st.stderr, members };
}

testNeeding(test, 'every configuration word is accepted and shows in --json', needs, async (t) => {
  const topo = await createTopology(t, { links: 2, tag: 'ga' });
  const d = await topo.a.startLaggd();
  await d.ctlOk(
    'laggkit0',
    'create',
    'laggproto',
    'roundrobin',
    'laggport',
    'veth0',
    'pri',
    '5',
    'laggport',
    'veth1',
    'lagghash',
    'l2,l4',
    'rr_limit',
    '7',
    '-use_flowid',
    'flowid_shift',
    '3',
    'lacp_fast_timeout',
    '-lacp_strict',
    'laggfailover',
    'rx-all',
    'lagglacp',
    'maxports',
    '3',
    'lagglacp',
    'multi-speed',
    'lacp_passive',
    'lacp_full_wait',
    'lacp_sys_prio',
    '100',
    'lacp_port_prio',
    'veth1',
    '200',
    '-failover_preempt',
    'announce',
    '3',
    '250',
    'inet',
    '10.9.0.1/24',
    'inet6',
    'fd09::1/64',
    'mtu',
    '1400',
    'up',
  );
  let s = await d.status();
  t.is(s.laggproto, 'roundrobin');
  t.deepEqual(s.lagghash, ['l2', 'l4']);
  t.like(s.options, {
    rr_limit: 7,
    use_flowid: false,
    flowid_shift: 3,
    lacp_fast_timeout: true,
    lacp_strict: false,
    failover_rx_all: true,
    lacp_maxports: 3,
    lacp_multi_speed: true,
    lacp_passive: true,
    lacp_full_wait: true,
    lacp_sys_prio: 100,
    failover_preempt: false,
    announce_count: 3,
    announce_interval_ms: 250,
  });
  t.true(s.inet.includes('10.9.0.1/24'), JSON.stringify(s.inet));
  t.true(s.inet6?.includes('fd09::1/64'), JSON.stringify(s.inet6));
  t.is(s.mtu, 1400);
  t.true(s.flags.includes('UP'));
  // Without pri a port gets the default priority 0x8000, as NetBSD's lagg gives it.
  t.deepEqual(
    s.ports.map((p) => [p.name, p.prio]),
    [
      ['veth0', 5],
      ['veth1', 32768],
    ],
  );
  t.is((await topo.a.ifInfo('veth0')).mtu, 1400, 'the aggregate MTU reaches the members');
  // So does an MTU set with ip(8) on the TAP (seen through rtnetlink).
  await topo.a.execOk(['ip', 'link', 'set', 'laggkit0', 'mtu', '1450']);
  await waitFor('member MTU follows', async () => (await topo.a.ifInfo('veth1')).mtu === 1450);
  // Port LACP priority shows in the actor tuple once the protocol is LACP.
  await d.ctlOk('laggkit0', 'laggproto', 'lacp');
  s = await d.status('laggkit0', true);
  t.is(s.ports.find((p) => p.name === 'veth1')?.lacp?.actor.port_priority, 200);
  t.is(s.ports.find((p) => p.name === 'veth0')?.lacp?.actor.system_priority, 100);
  // fec is loadbalance, as in lagg(4).
  await d.ctlOk('laggkit0', 'laggproto', 'fec');
  t.is((await d.status()).laggproto, 'loadbalance');

  await d.ctlOk(
    'laggkit0',
    'use_flowid',
    'lacp_strict',
    '-lacp_fast_timeout',
    'laggfailover',
    '-rx-all',
    'lagglacp',
    '-multi-speed',
    '-lacp_passive',
    '-lacp_full_wait',
    'failover_preempt',
    '-laggport',
    'veth1',
    'down',
  );
  s = await d.status();
  t.like(s.options, {
    use_flowid: true,
    lacp_strict: true,
    lacp_fast_timeout: false,
    failover_rx_all: false,
    lacp_multi_speed: false,
    lacp_passive: false,
    lacp_full_wait: false,
    failover_preempt: true,
  });
  t.deepEqual(
    s.ports.map((p) => p.name),
    ['veth0'],
  );
  t.false(s.flags.includes('UP'));
});

testNeeding(test, 'bad words are rejected with a message naming them, and nothing is applied', needs, async (t) => {
  const topo = await createTopology(t, { links: 2, tag: 'gb' });
  const d = await topo.a.startLaggd();
  await d.ctlOk('laggkit0', 'create', 'laggproto', 'failover', 'laggport', 'veth0');
  const cases: Array<[string[], RegExp]> = [
    [['laggproto', 'lacp', 'rr_limit', 'x'], /bad value 'x' for 'rr_limit'/],
    [['laggproto', 'bogus'], /bad value 'bogus' for 'laggproto'/],
    [['laggport', 'veth1', 'frobnicate'], /unknown word 'frobnicate'/],
    [['laggport', 'veth1', 'laggport', 'nosuch0'], /laggport nosuch0: no such interface/],
    [['laggport', 'veth0'], /laggport veth0: already a member/],
    [['-laggport', 'veth1'], /-laggport veth1: not a member/],
    [['laggport'], /'laggport' needs an interface name/],
    [['laggport', 'veth1', 'pri', '70000'], /bad value '70000' for 'pri'/],
    [['lagghash', 'l2,l5'], /bad value 'l2,l5' for 'lagghash'/],
    [['flowid_shift', '32'], /bad value '32' for 'flowid_shift'/],
    [['lacp_sys_prio', '65536'], /bad value '65536' for 'lacp_sys_prio'/],
    [['lacp_port_prio', 'veth1', '5'], /lacp_port_prio veth1: not a member/],
    [['laggfailover', 'tx-all'], /bad value 'tx-all' for 'laggfailover'/],
    [['lagglacp', 'maxports', '0'], /bad value '0' for 'maxports'/],
    [['lagglacp', 'fast'], /bad value 'fast' for 'lagglacp'/],
    [['announce', '3'], /'announce' needs INTERVAL_MS/],
    [['inet', '10.1.2.3'], /bad value '10.1.2.3' for 'inet'/],
    [['inet6', 'fd00::1/129'], /bad value 'fd00::1\/129' for 'inet6'/],
    [['mtu', '20'], /bad value '20' for 'mtu'/],
    [['ether', '01:00:5e:00:00:01'], /bad value '01:00:5e:00:00:01' for 'ether'/],
    [['create'], /create: aggregate already exists/],
    [['destroy', 'laggproto', 'lacp'], /destroy must be the only word/],
    [['rr_limit', '-1'], /bad value '-1' for 'rr_limit'/],
  ];
  const before = await snapshot(d, topo.a);
  for (const [words, re] of cases) {
    const r = await d.ctl('laggkit0', ...words);
    t.is(r.code, 1, `${words.join(' ')} must fail`);
    t.regex(r.stderr, re, words.join(' '));
    t.is(r.stdout, '');
  }
  t.deepEqual(await snapshot(d, topo.a), before, 'state unchanged after every rejected line');
  const other = await d.ctl('laggkit9', 'laggproto', 'lacp');
  t.is(other.code, 1);
  t.regex(other.stderr, /laggkit9: no such aggregate/);
  const unknown = await d.ctl('-x', 'laggkit0');
  t.not(unknown.code, 0);
  t.regex(unknown.stderr, /unknown option '-x'/);
  t.true(d.running);
});

testNeeding(test, 'status block: FreeBSD ifconfig layout, parsed by the ifconfig parser, equal to --json', needs, async (t) => {
  const topo = await createTopology(t, { links: 2, tag: 'gs' });
  const d = await topo.a.startLaggd();
  await d.ctlOk('laggkit0', 'create', 'laggproto', 'failover', 'laggport', 'veth0', 'laggport', 'veth1');
  const down = await d.ctlOk('laggkit0');
  t.regex(
    down.split('\n')[0] ?? '',
    /^laggkit0: flags=802<BROADCAST,SIMPLEX> metric 0 mtu 1500$|^laggkit0: flags=8802<BROADCAST,SIMPLEX,MULTICAST> metric 0 mtu 1500$/,
  );
  await d.ctlOk('laggkit0', 'inet', '10.9.0.1/24', 'inet6', 'fd09::1/64');
  await waitFor('link up', async () => (await d.status()).status === 'active');
  const text = await d.ctlOk('laggkit0');
  const lines = text
    .trimEnd()
    .split('\n')
    .filter((l) => !l.startsWith('\tinet6 fe80::'));
  const expected = [
    /^laggkit0: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 1500$/,
    /^\tether [0-9a-f]{2}(:[0-9a-f]{2}){5}$/,
    /^\tinet 10\.9\.0\.1 netmask 0xffffff00 broadcast 10\.9\.0\.255$/,
    /^\tinet6 fd09::1 prefixlen 64$/,
    /^\tlaggproto failover lagghash l2,l3,l4$/,
    /^\tlaggport: veth0 flags=5<MASTER,ACTIVE>$/,
    /^\tlaggport: veth1 flags=0<>$/,
    /^\tgroups: lagg$/,
    /^\tmedia: Ethernet autoselect$/,
    /^\tstatus: active$/,
  ];
  t.is(lines.length, expected.length, text);
  expected.forEach((re, i) => t.regex(lines[i] ?? '', re));
  t.regex(text, /^\tinet6 fe80::[0-9a-f:]+%laggkit0 prefixlen 64 scopeid 0x[0-9a-f]+$/m);

  const model = parseIfconfig(text);
  const iface = model.interfaces[0];
  const json = await d.status();
  t.is(iface?.name, 'laggkit0');
  t.is(iface?.ether, json.ether);
  t.is(iface?.mtu, json.mtu);
  t.is(iface?.lagg?.proto, json.laggproto);
  t.deepEqual(iface?.lagg?.hash, json.lagghash);
  t.deepEqual(
    iface?.lagg?.ports.map((p) => [p.name, p.flags.names]),
    json.ports.map((p) => [p.name, p.flags]),
  );
  t.deepEqual(
    iface?.inet.map((a) => a.address),
    ['10.9.0.1'],
  );
  t.is(iface?.status, json.status);
  t.is(json.active_port, 'veth0');
  // The ether is the TAP's real MAC, and the members carry it.
  t.is((await topo.a.ifInfo('laggkit0')).mac, json.ether);
  t.is((await topo.a.ifInfo('veth1')).mac, json.ether);
});

testNeeding(test, 'status -v: lagg options, statistics, lag id and per-port LACP state as FreeBSD prints them', needs, async (t) => {
  const topo = await createTopology(t, { links: 2, tag: 'gv' });
  const la = await topo.a.startLaggd();
  const lb = await topo.b.startLaggd();
  for (const d of [la, lb]) await d.ctlOk('laggkit0', 'create', 'laggproto', 'lacp', 'lacp_fast_timeout', 'laggport', 'veth0', 'laggport', 'veth1', 'up');
  await waitFor('LACP up', async () => Object.values(await la.portFlags()).every((f) => f.includes('DISTRIBUTING')), 20_000);
  const text = await la.ctlOk('-v', 'laggkit0');
  const T = '[0-9A-F]{4}';
  const M = '[0-9A-F]{2}(-[0-9A-F]{2}){5}';
  const tuple = `\\(${T},${M},${T},${T},${T}\\)`;
  t.regex(
    text,
    /^\tlaggproto lacp lagghash l2,l3,l4\n\tlagg options:\n\t\tflags=[0-9a-f]+<[A-Z_,]*LACP_FAST_TIMO[A-Z_,]*>\n\t\tflowid_shift: 0\n\tlagg statistics:\n\t\tactive ports: 2\n\t\tflapping: 0\n/m,
  );
  t.regex(text, new RegExp(`^\\tlag id: \\[${tuple},\\n\\t\\t ${tuple}\\]$`, 'm'));
  t.regex(
    text,
    new RegExp(
      `^\\tlaggport: veth0 flags=1d<MASTER,ACTIVE,COLLECTING,DISTRIBUTING> state=3f<ACTIVITY,TIMEOUT,AGGREGATION,SYNC,COLLECTING,DISTRIBUTING>\\n\\t\\t\\[${tuple},\\n\\t\\t ${tuple}\\]$`,
      'm',
    ),
  );
  const iface = parseIfconfig(text).interfaces[0];
  t.is(iface?.lagg?.statistics?.activePorts, 2);
  t.true(iface?.lagg?.options?.lacpFastTimeout);
  t.is(iface?.lagg?.ports[1]?.lacp?.actorState?.value, 0x3f);
  const json = await la.status('laggkit0', true);
  t.is(iface?.lagg?.lagId?.partner.systemMac, (await lb.status()).ether);
  t.is(json.ports[0]?.lacp?.partner.system, (await lb.status()).ether);
});

testNeeding(test, 'events, counters, -a, list and --json forms', needs, async (t) => {
  const topo = await createTopology(t, { links: 2, tag: 'ge' });
  const d = await topo.a.startLaggd();
  await d.ctlOk('laggkit0', 'create', 'laggport', 'veth0', 'laggport', 'veth1', 'up');
  await d.ctlOk('laggkit1', 'create');
  await topo.setLink('b', 'veth0', 'down');
  await waitFor('link down event', async () => /veth0 link down/.test(await d.ctlOk('laggkit0', 'events')));
  const ev = await d.ctlOk('laggkit0', 'events');
  for (const line of ev.trimEnd().split('\n')) t.regex(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z {2}\S.*$/);
  t.regex(ev, /veth0 added/);
  t.regex(ev, /failover from veth0 to veth1|veth1/);
  const evj = JSON.parse(await d.ctlOk('--json', 'laggkit0', 'events')) as Array<{ seq: number; type: string; text: string; port: string | null }>;
  t.true(evj.length >= 3);
  t.true(
    evj.every((e, i) => i === 0 || e.seq > (evj[i - 1]?.seq ?? -1)),
    'seq increases',
  );
  t.true(evj.some((e) => e.port === 'veth0' && /down/.test(e.text)));

  const ct = await d.ctlOk('laggkit0', 'counters');
  const rows = ct.trimEnd().split('\n');
  t.regex(rows[0] ?? '', /^port\s+rx_packets\s+rx_bytes\s+tx_packets\s+tx_bytes\s+rx_drop\s+tx_drop\s+lacp_rx\s+lacp_tx\s+illegal\s+mark_rx\s+mark_tx$/);
  t.regex(rows[1] ?? '', /^veth0(\s+\d+){11}$/);
  t.regex(rows[2] ?? '', /^veth1(\s+\d+){11}$/);
  const cj = await d.counters();
  t.deepEqual(Object.keys(cj), ['veth0', 'veth1']);
  t.is(typeof cj.veth0?.tx_packets, 'number');

  t.deepEqual((await d.ctlOk('list')).trim().split('\n'), ['laggkit0', 'laggkit1']);
  t.deepEqual(JSON.parse(await d.ctlOk('--json', 'list')), ['laggkit0', 'laggkit1']);
  const all = await d.ctlOk('-a');
  t.deepEqual(
    parseIfconfig(all).interfaces.map((i) => i.name),
    ['laggkit0', 'laggkit1'],
  );
  const allj = JSON.parse(await d.ctlOk('--json', '-a')) as Array<{ name: string }>;
  t.deepEqual(
    allj.map((x) => x.name),
    ['laggkit0', 'laggkit1'],
  );
  await d.ctlOk('laggkit1', 'destroy');
  t.deepEqual((await d.ctlOk('list')).trim().split('\n'), ['laggkit0']);
  t.is((await topo.a.exec(['ip', 'link', 'show', 'laggkit1'])).code, 1, 'TAP removed');
});

testNeeding(test, 'socket selection: -s, LAGGD_SOCKET, and a clear error when laggd is not there', needs, async (t) => {
  const topo = await createTopology(t, { links: 1, tag: 'gk' });
  const d = await topo.a.startLaggd();
  const viaEnv = await topo.a.exec([laggctlBin, 'list'], { env: { ...process.env, LAGGD_SOCKET: d.socket } });
  t.is(viaEnv.code, 0, viaEnv.stderr);
  const mixed = await topo.a.exec([laggctlBin, '--json', '-s', d.socket, 'list']);
  t.is(mixed.stdout, '[]\n', '-s among the leading options');
  const missing = await run([laggctlBin, '-s', `${d.socket}.nope`, 'list']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /cannot reach laggd at .*\.nope/);
  // A second laggd on the same socket must refuse to start rather than steal it.
  const second = await topo.a.exec([`${laggctlBin.replace(/laggctl$/, 'laggd')}`, '-f', '-s', d.socket], { timeoutMs: 5000 });
  t.is(second.code, 1);
  t.regex(second.stderr, /another laggd is listening/);
  t.is((await d.ctl('list')).code, 0, 'the first laggd still answers');
});

testNeeding(test, 'config file: applied at start, re-applied idempotently on SIGHUP; a bad file changes nothing', needs, async (t) => {
  const topo = await createTopology(t, { links: 2, tag: 'gc' });
  const conf = [
    '# laggd configuration: laggctl lines',
    'laggkit0 create laggproto failover laggport veth0 laggport veth1 up',
    '',
    'laggctl laggkit0 inet 10.9.0.1/24   # a whole laggctl command is accepted too',
  ].join('\n');
  const d = await topo.a.startLaggd({ config: conf });
  let s = await d.status();
  t.is(s.laggproto, 'failover');
  t.deepEqual(
    s.ports.map((p) => p.name),
    ['veth0', 'veth1'],
  );
  t.true(s.inet.includes('10.9.0.1/24'));
  const nEvents = (await d.ctlOk('laggkit0', 'events')).split('\n').length;

  // Same file again: nothing changes (no duplicate ports, no new events).
  d.signal('SIGHUP');
  await waitFor('SIGHUP handled', () => /re-applying/.test(d.log()));
  await waitFor('config applied twice', () => (d.log().match(/: applied/g) ?? []).length >= 2);
  s = await d.status();
  t.deepEqual(
    s.ports.map((p) => p.name),
    ['veth0', 'veth1'],
  );
  t.is((await d.ctlOk('laggkit0', 'events')).split('\n').length, nEvents, 'no new events');

  // An edited file is applied on SIGHUP.
  const { writeFileSync } = await import('node:fs');
  if (!d.configFile) throw new Error('no config file');
  writeFileSync(d.configFile, `${conf}\nlaggkit0 laggproto roundrobin rr_limit 3\n`);
  d.signal('SIGHUP');
  await waitFor('roundrobin applied', async () => (await d.status()).laggproto === 'roundrobin');
  t.is((await d.status()).options.rr_limit, 3);

  // A file with one bad line: nothing of it is applied, laggd keeps running.
  writeFileSync(d.configFile, `${conf}\nlaggkit0 laggproto lacp\nlaggkit0 rr_limit banana\n`);
  d.signal('SIGHUP');
  await waitFor('bad line reported', () => /rr_limit.*banana|banana.*rr_limit/.test(d.log()));
  t.is((await d.status()).laggproto, 'roundrobin', 'the good line before the bad one was not applied either');
  t.regex(d.log(), /:6: .*bad value 'banana' for 'rr_limit'/);
  t.true(d.running);
});

testNeeding(test, 'a bad config file at start: laggd exits 1, names the line, creates nothing', needs, async (t) => {
  const topo = await createTopology(t, { links: 2, tag: 'gx' });
  const macBefore = (await topo.a.ifInfo('veth0')).mac;
  const file = topo.a.writeTemp('bad.conf', 'laggkit0 create laggport veth0\nlaggkit0 laggport nosuch9\n');
  const r = await topo.a.exec([laggctlBin.replace(/laggctl$/, 'laggd'), '-f', '-s', `${file}.sock`, '-c', file], { timeoutMs: 10_000 });
  t.is(r.code, 1);
  t.regex(r.stderr, /bad\.conf:2: .*laggport nosuch9: no such interface/);
  t.is((await topo.a.exec(['ip', 'link', 'show', 'laggkit0'])).code, 1, 'no TAP left behind');
  t.is((await topo.a.ifInfo('veth0')).mac, macBefore, 'member MAC restored');
});

testNeeding(test, 'destroy and SIGTERM restore member MAC, MTU and up/down state', needs, async (t) => {
  const topo = await createTopology(t, { links: 2, tag: 'gt' });
  await topo.a.setLink('veth1', 'down');
  const orig = await Promise.all(['veth0', 'veth1'].map((i) => topo.a.ifInfo(i)));
  const d = await topo.a.startLaggd();
  await d.ctlOk('laggkit0', 'create', 'laggport', 'veth0', 'laggport', 'veth1', 'mtu', '1300', 'up');
  const lagg = await topo.a.ifInfo('laggkit0');
  const during = await Promise.all(['veth0', 'veth1'].map((i) => topo.a.ifInfo(i)));
  t.is(during[1]?.mac, lagg.mac, 'members take the aggregate MAC');
  t.is(during[1]?.mtu, 1300);
  t.true(during[1]?.up, 'a member is brought up');
  await d.ctlOk('laggkit0', 'destroy');
  t.deepEqual(await Promise.all(['veth0', 'veth1'].map((i) => topo.a.ifInfo(i))), orig, 'restored by destroy');

  await d.ctlOk('laggkit0', 'create', 'laggport', 'veth0', 'laggport', 'veth1', 'mtu', '1300', 'up');
  t.is(await d.stop(), 0, 'SIGTERM: clean exit');
  t.deepEqual(await Promise.all(['veth0', 'veth1'].map((i) => topo.a.ifInfo(i))), orig, 'restored by SIGTERM');
  t.is((await topo.a.exec(['ip', 'link', 'show', 'laggkit0'])).code, 1, 'TAP gone');
  t.is((await topo.a.exec(['tc', 'filter', 'show', 'dev', 'veth0', 'ingress'])).stdout.trim(), '', 'ingress filter removed');
});

testNeeding(test, 'daemon mode: laggd detaches once ready, serves laggctl, and SIGTERM cleans up', needs, async (t) => {
  const topo = await createTopology(t, { links: 1, tag: 'gd' });
  const sock = `${topo.tmpDir}/daemon.sock`;
  const conf = topo.a.writeTemp('d.conf', 'laggkit0 create laggport veth0\n');
  const r = await topo.a.exec([laggctlBin.replace(/laggctl$/, 'laggd'), '-s', sock, '-c', conf], { timeoutMs: 10_000 });
  t.is(r.code, 0, r.stderr);
  const list = await topo.a.exec([laggctlBin, '-s', sock, 'list']);
  t.is(list.stdout, 'laggkit0\n');
  const pids = (await run(['ip', 'netns', 'pids', topo.a.ns])).stdout.trim().split(/\s+/).filter(Boolean);
  t.is(pids.length, 1, 'one daemon process in the namespace');
  await run(['kill', '-TERM', pids[0] ?? '']);
  await waitFor('daemon gone', async () => (await run(['ip', 'netns', 'pids', topo.a.ns])).stdout.trim() === '');
  t.is((await topo.a.exec(['ip', 'link', 'show', 'laggkit0'])).code, 1, 'TAP removed');
  const bad = topo.a.writeTemp('bad.conf', 'laggkit0 create rr_limit x\n');
  const rb = await topo.a.exec([laggctlBin.replace(/laggctl$/, 'laggd'), '-s', sock, '-c', bad], { timeoutMs: 10_000 });
  t.is(rb.code, 1, 'the waiting parent reports the failure');
  t.regex(rb.stderr, /bad\.conf:1: .*bad value 'x' for 'rr_limit'/);
});

testNeeding(test, 'a member interface that disappears leaves the aggregate; laggd stays idle and serving', needs, async (t) => {
  const topo = await createTopology(t, { links: 2, tag: 'gy' });
  const d = await topo.a.startLaggd();
  await d.ctlOk('laggkit0', 'create', 'laggport', 'veth0', 'laggport', 'veth1', 'up');
  await topo.a.execOk(['ip', 'link', 'del', 'veth1']);
  await waitFor('veth1 removed', async () => (await d.status()).ports.map((p) => p.name).join() === 'veth0');
  t.regex(await d.ctlOk('laggkit0', 'events'), /veth1 removed/);
  // A socket error left unread would make epoll spin; the daemon must be idle again.
  const stat = async () => Number((await run(['cat', `/proc/${d.pid}/stat`])).stdout.split(' ')[13] ?? 0);
  const before = await stat();
  await new Promise((r) => setTimeout(r, 1000));
  t.true((await stat()) - before < 50, 'less than half a second of CPU in one second');
  t.is((await d.ctl('list')).code, 0);
  // Deleting the aggregate's own interface destroys the aggregate, members restored.
  const mac = (await topo.a.ifInfo('veth0')).mac;
  t.not(mac, undefined);
  await topo.a.execOk(['ip', 'link', 'del', 'laggkit0']);
  await waitFor('aggregate gone', async () => (await d.ctlOk('list')) === '');
  t.is((await topo.a.exec(['tc', 'filter', 'show', 'dev', 'veth0', 'ingress'])).stdout.trim(), '', 'member isolation removed');
  t.true(d.running);
});
