/**
 * e2e on NetBSD without a NetBSD machine: the platform's and drivers' shell snippets run here in
 * sh against stand-ins for NetBSD 10's ifconfig, sysctl, modstat, arp and netstat that print
 * what NetBSD prints: the real NetBSD 10 ifconfig output of test/fixtures/ifconfig/netbsd10-*.txt,
 * and for agr(4) and netstat -r the line formats of their sources (sbin/ifconfig/agr.c prints
 * "\tagrport: %s, flags=%s", usr.bin/netstat/if.c and route.c the column layouts). The engine is
 * driven over a stand-in target to show which driver each side runs and what is skipped, why.
 *
 * What this cannot show: that NetBSD's programs print exactly this on a running 10.x, and that
 * laggkit.kmod, lagg(4) and agr(4) behave as the scenarios expect. That takes NetBSD guests
 * (test/lab/e2e-netbsd.test.ts, with $LAGGKIT_NETBSD_IMAGE).
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { agrDriver, driversFor, netbsdLaggportStates, steadyTest, stockChoice } from '../../src/e2e/drivers.js';
import { peerOf, runCases, runSkipReason } from '../../src/e2e/engine.js';
import { netbsdPlatform } from '../../src/e2e/platform.js';
import { expandCases, loadCatalogue, parseScenario, type ScenarioCase } from '../../src/e2e/scenario.js';
import { netbsdHostProbe } from '../../src/e2e/targets/host.js';
import { NETBSD_PROBE, netbsdSkipCase, netbsdUnloadScript, parseNetbsdProbe } from '../../src/e2e/targets/netbsd-tools.js';
import { selfFlavourFor } from '../../src/e2e/targets/self.js';
import type { E2eTarget, Side } from '../../src/e2e/targets/types.js';
import { parseIfconfig } from '../../src/ifconfig/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixture = (name: string): string => fs.readFileSync(path.join(root, 'test', 'fixtures', 'ifconfig', `netbsd10-${name}.txt`), 'utf8');

/** One interface's stanza of an ifconfig -a text: its first line up to the next interface's. */
function stanza(text: string, ifname: string): string {
  const lines = text.split('\n');
  const from = lines.findIndex((l) => l.startsWith(`${ifname}: `));
  const to = lines.findIndex((l, i) => i > from && /^\S/.test(l));
  return `${lines
    .slice(from, to < 0 ? undefined : to)
    .join('\n')
    .replace(/\n+$/, '')}\n`;
}

/** NetBSD's plain ifconfig leaves out the statistics that -v adds (input:/output: lines). */
const plain = (s: string): string =>
  s
    .split('\n')
    .filter((l) => !/^\t(input|output):/.test(l))
    .join('\n');

/**
 * A folder of stand-in commands; `ifconfig` prints the stanza its files hold per interface
 * (IF.v for -v), logs every other call to calls.log, and lists the interfaces with -l.
 */
function stubs(
  t: { teardown(fn: () => void): void },
  files: Record<string, string>,
  extra: Record<string, string> = {},
): { sh(script: string): ReturnType<typeof spawnSync>; calls(): string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-nbsd-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  const script = (name: string, body: string): void => fs.writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  script(
    'ifconfig',
    [
      `d=${dir}`,
      'if [ "$1" = -l ]; then ls $d | sed -n "s/\\.if$//p" | tr "\\n" " "; echo; exit 0; fi',
      'v=; [ "$1" = -v ] && { v=.v; shift; }',
      'if [ $# -eq 1 ]; then [ -f $d/$1.if$v ] || { echo "ifconfig: $1: no such interface" >&2; exit 1; }; cat $d/$1.if$v; exit 0; fi',
      'echo "ifconfig $*" >> $d/calls.log',
    ].join('\n'),
  );
  for (const [name, body] of Object.entries(extra)) script(name, body.replaceAll('$d', dir));
  return {
    sh: (s) => spawnSync('sh', ['-c', s], { encoding: 'utf8', env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } }),
    calls: () => (fs.existsSync(path.join(dir, 'calls.log')) ? fs.readFileSync(path.join(dir, 'calls.log'), 'utf8').trim().split('\n') : []),
  };
}

const out = (r: ReturnType<typeof spawnSync>): string => String(r.stdout);

test("platform: MAC, MTU, link state and transmit counter from NetBSD 10's own ifconfig output", (t) => {
  const wm0 = stanza(fixture('lacp-v'), 'wm0');
  const { sh } = stubs(t, { 'wm0.if': plain(wm0), 'wm0.if.v': wm0 });
  t.is(out(sh(netbsdPlatform.macOf('wm0'))), '52:54:00:12:34:01\n');
  t.is(out(sh(netbsdPlatform.mtuOf('wm0'))), '1500\n');
  t.is(out(sh(netbsdPlatform.txPackets('wm0'))), '9120\n', 'output: N packets, under -v');
  t.is(out(sh(netbsdPlatform.portIdent(['wm0']))), 'wm0 52:54:00:12:34:01 1500 up\n');
  t.is(sh(netbsdPlatform.exists('wm0')).status, 0);
  t.not(sh(netbsdPlatform.exists('wm7')).status, 0);
});

test('platform: a data link reset loses its inet addresses (NetBSD prints them with their prefix) and comes up', (t) => {
  const lagg0 = stanza(fixture('failover'), 'lagg0');
  const s = stubs(t, { 'vioif1.if': lagg0.replace(/^lagg0:/, 'vioif1:') });
  t.is(s.sh(netbsdPlatform.resetLink('vioif1', undefined)).status, 0);
  t.deepEqual(s.calls(), ['ifconfig vioif1 mtu 1500', 'ifconfig vioif1 inet 192.168.1.1 delete', 'ifconfig vioif1 up']);
});

test('platform: ping, the neighbour entry from arp -n, the management snapshot from ifconfig and netstat -rn', (t) => {
  const { sh } = stubs(
    t,
    {
      'vioif0.if':
        'vioif0: flags=0x8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> mtu 1500\n\taddress: 52:54:00:00:00:0a\n\tmedia: Ethernet autoselect\n\tstatus: active\n\tinet 10.0.2.15/24 broadcast 10.0.2.255 flags 0\n',
    },
    {
      arp: "echo '? (10.77.0.1) at 02:6c:6b:00:e2:01 on vioif1 22m59s S'",
      // netstat -rn's NetBSD columns: Destination Gateway Flags Refs Use Mtu Interface.
      netstat:
        "printf 'Routing tables\\n\\nInternet:\\nDestination        Gateway            Flags    Refs      Use    Mtu Interface\\ndefault            10.0.2.2           UGS         -        -      -  vioif0\\n10.0.2/24          link#1             UC          -        -      -  vioif0\\n127.0.0.1          lo0                UHl         -        -  33624  lo0\\n'",
    },
  );
  t.is(sh(netbsdPlatform.neighbourIs('10.77.0.1', '02:6c:6b:00:e2:01')).status, 0);
  t.is(sh(netbsdPlatform.neighbourIs('10.77.0.1', '02:6c:6b:00:e2:02')).status, 1);
  const snap = out(sh(netbsdPlatform.mgmtSnapshot('vioif0')));
  t.regex(snap, /^vioif0: flags=/);
  t.notRegex(snap, /media:|status:/);
  t.regex(snap, /^default 10\.0\.2\.2 UGS$/m);
  t.regex(snap, /^10\.0\.2\/24 link#1 UC$/m);
  t.notRegex(snap, /lo0/);
  t.is(netbsdPlatform.ping('10.77.0.2', 1372), 'ping -n -c 1 -w 1 -D -s 1372 10.77.0.2');
  t.is(netbsdPlatform.mgmt, 'vioif0');
  t.is(netbsdPlatform.announceLladdr('laggkit0'), 'true', 'the kernel announces a new link address itself (RTM_LLINFO_UPD)');
});

test("drivers: port states from NetBSD 10's lagg block, from ifconfig for lagg0 and from the status sysctl for laggkit0", (t) => {
  const { laggkit, stock } = driversFor('netbsd');
  const failover = stanza(fixture('failover'), 'lagg0');
  const lacp = stanza(fixture('lacp-v'), 'lagg0');
  // laggkit.kmod's status sysctl prints the lagg block alone, as ifconfig -v would.
  const block = (s: string): string =>
    s
      .split('\n')
      .filter((l) => /^\t(laggproto|\t)|^\tlaggport:/.test(l))
      .join('\n');
  for (const [text, proto, want] of [
    [failover, 'failover', 'wm0 active\nwm1 standby\n'],
    [lacp, 'lacp', 'wm0 active\nwm1 active\n'],
    [stanza(fixture('loadbalance'), 'lagg1'), 'loadbalance', 'vioif1 active\nvioif2 active\n'],
  ] as const) {
    const s = stubs(t, { 'lagg0.if': text }, { sysctl: `[ "$1" = -n ] && [ "$2" = net.laggkit.laggkit0.status ] && cat $d/status` });
    fs.writeFileSync(path.join(path.dirname(String(s.sh('command -v ifconfig').stdout).trim()), 'status'), `${block(text)}\n`);
    t.is(out(s.sh(stock.portStates(proto, ['wm0', 'wm1']))), want, `lagg0 ${proto}`);
    t.is(out(s.sh(laggkit.portStates(proto, ['wm0', 'wm1']))), want, `laggkit0 ${proto}`);
    t.is(s.sh(steadyTest(stock, proto, ['wm0', 'wm1'])).status, 0, `${proto} steady`);
  }
  // The LACP detail lines under a port (three tabs, no pri=) are not ports.
  t.is(out(stubs(t, { 'lagg0.if': lacp }).sh(netbsdLaggportStates('ifconfig lagg0', 'lacp'))).split('\n').length, 3);
});

test("drivers: laggkit0 and lagg0 take NetBSD's lagg words; what lagg(4) has no word for laggkit takes as sysctls, before the ports", (t) => {
  const { laggkit, stock } = driversFor('netbsd');
  const setup = { proto: 'lacp' as const, ports: ['wm0', 'wm1'], addr: '10.77.0.1/24', lacpFastTimeout: true, lacpMultiSpeed: true };
  t.deepEqual(laggkit.create(setup).split('\n'), [
    'ifconfig laggkit0 create',
    'ifconfig laggkit0 laggproto lacp',
    'sysctl -w net.laggkit.laggkit0.lacp_fast_timeout=1 >/dev/null',
    'ifconfig laggkit0 lagglacp multi-linkspeed',
    'ifconfig wm0 up',
    'ifconfig wm1 up',
    'ifconfig laggkit0 laggport wm0 laggport wm1',
    'ifconfig laggkit0 inet 10.77.0.1/24 up',
  ]);
  // lagg(4) has no short timeout at all: the case runs with its long one.
  t.notRegex(stock.create(setup), /fast_timeout|sysctl/);
  t.regex(laggkit.create({ ...setup, proto: 'roundrobin' }), /^sysctl -w net\.laggkit\.laggkit0\.proto=roundrobin >\/dev\/null$/m);
  // The primary by priority: NetBSD's failover picks the smallest pri, not the first port.
  t.regex(stock.create({ ...setup, proto: 'failover' }), /^ifconfig lagg0 laggport wm0 pri 1000 laggport wm1 pri 2000$/m);
  t.is(laggkit.setEther('02:6c:6b:00:e2:01'), 'ifconfig laggkit0 link 02:6c:6b:00:e2:01 active');
  t.deepEqual(laggkit.unload(), { script: 'modunload laggkit' });
  t.deepEqual(stock.unload(), { script: 'modunload if_lagg' });
  const modstat = stubs(
    t,
    {},
    { modstat: "printf 'NAME            CLASS      SOURCE     FLAG  REFS   SIZE REQUIRES\\nif_lagg         driver     builtin    -        0      - -\\n'" },
  );
  t.is(modstat.sh(stock.alive()).status, 0, 'a built-in lagg(4) is alive');
  t.not(modstat.sh(laggkit.alive()).status, 0, 'laggkit.kmod not loaded');
  t.not(modstat.sh(laggkit.prepare()).status, 0, "laggkit is deploy's to load");
  t.is(
    stock.skipReason?.('roundrobin', parseScenario(SCEN, 'probe.yaml').setup),
    'NetBSD lagg(4) has no roundrobin protocol (its protocols: none, lacp, failover, loadbalance)',
  );
  t.is(stock.skipReason?.('lacp', parseScenario(SCEN, 'probe.yaml').setup), undefined);
  t.is(laggkit.skipReason, undefined, 'laggkit.kmod has every protocol');
  // Events: NetBSD's kernel log stamps (uptime, 7 decimals).
  t.deepEqual(stock.events('x\n--- events\n[ 512.8160000] lagg0: link state changed\n[ 513.0000000] wm0: other\n'), [
    { at: { uptimeS: 512.816 }, what: 'link state changed' },
  ]);
});

test("drivers: laggkit0's capture puts its status block under the interface's first line, where the NetBSD parser reads a lagg block", (t) => {
  const lacp = stanza(fixture('lacp-v'), 'lagg0');
  const block = lacp
    .split('\n')
    .filter((l) => /^\t(laggproto|\t)|^\tlaggport:/.test(l))
    .join('\n');
  const own = lacp
    .split('\n')
    .filter((l) => !/^\t(laggproto|\t)|^\tlaggport:/.test(l))
    .join('\n')
    .replace(/^lagg0:/, 'laggkit0:');
  const s = stubs(
    t,
    { 'laggkit0.if.v': own, status: `${block}\n` },
    {
      sysctl: '[ "$1" = -n ] && { cat $d/status; exit 0; }; echo "net.laggkit.laggkit0.rr_limit = 0"',
      dmesg: "echo '[ 100.0000000] laggkit0: wm0 lacp selected'",
    },
  );
  const text = out(s.sh(driversFor('netbsd').laggkit.capture()));
  const [ifconfigText = '', events = ''] = text.split('--- events\n');
  const i = parseIfconfig(ifconfigText, { os: 'netbsd' }).interfaces.find((x) => x.name === 'laggkit0');
  t.is(i?.lagg?.proto, 'lacp');
  t.deepEqual(
    i?.lagg?.ports.map((p) => p.name),
    ['wm0', 'wm1'],
  );
  t.regex(ifconfigText, /rr_limit = 0/);
  t.deepEqual(driversFor('netbsd').laggkit.events(`x\n--- events\n${events}`), [{ at: { uptimeS: 100 }, what: 'wm0 lacp selected' }]);
});

/** agr0 as sbin/ifconfig/agr.c prints it: "\tagrport: IF, flags=" snprintb of the port flags. */
const AGR0 = [
  'agr0: flags=0x8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> mtu 1500',
  '\tagrport: wm0, flags=0x3<COLLECTING,DISTRIBUTING>',
  // AGRPORTINFO_BITS names bit 0 twice: a port only collecting reads "0x1<COLLECTING,DISTRIBUTING>".
  '\tagrport: wm1, flags=0x1<COLLECTING,DISTRIBUTING>',
  '\taddress: 52:54:00:12:34:01',
  '\tinet 10.77.0.2/24 broadcast 10.77.0.255 flags 0',
  '',
].join('\n');

test('agr(4): a port carries traffic when its flags number says DISTRIBUTING (0x2), whatever names it prints', (t) => {
  const s = stubs(t, { 'agr0.if': AGR0 });
  t.is(out(s.sh(agrDriver.portStates('lacp', ['wm0', 'wm1']))), 'wm0 active\nwm1 standby\n');
  t.not(s.sh(steadyTest(agrDriver, 'lacp', ['wm0', 'wm1'])).status, 0);
  const both = stubs(t, { 'agr0.if': AGR0.replace('0x1<', '0x3<') });
  t.is(both.sh(steadyTest(agrDriver, 'lacp', ['wm0', 'wm1'])).status, 0);
});

test('agr(4): ports lose every address first (agrport refuses a port with one), and agr0 gives its ports back before it is destroyed', (t) => {
  const wm0 =
    'wm0: flags=0x8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> mtu 1500\n\taddress: 52:54:00:12:34:01\n\tinet6 fe80::5054:ff:fe12:3401%wm0/64 flags 0 scopeid 0x1\n\tinet 192.0.2.9/24 broadcast 192.0.2.255 flags 0\n';
  const s = stubs(t, { 'wm0.if': wm0, 'agr0.if': AGR0 });
  t.is(s.sh(agrDriver.create({ proto: 'lacp', ports: ['wm0'], addr: '10.77.0.2/24', lacpFastTimeout: false, lacpMultiSpeed: false })).status, 0);
  t.deepEqual(s.calls(), [
    'ifconfig agr0 create',
    'ifconfig wm0 up',
    'ifconfig wm0 inet 192.0.2.9 delete',
    'ifconfig wm0 inet6 fe80::5054:ff:fe12:3401%wm0 delete',
    'ifconfig agr0 agrport wm0',
    'ifconfig agr0 inet 10.77.0.2/24 up',
  ]);
  const d = stubs(t, { 'agr0.if': AGR0 });
  t.is(d.sh(agrDriver.destroy()).status, 0);
  t.deepEqual(d.calls(), ['ifconfig agr0 -agrport wm0', 'ifconfig agr0 -agrport wm1', 'ifconfig agr0 destroy']);
  t.is(stubs(t, {}).sh(agrDriver.destroy()).status, 0, 'no agr0: nothing to do, no failure');
  t.deepEqual(agrDriver.unload(), { script: 'modunload if_agr' });
  t.is(agrDriver.stockKey, 'agr');
});

const SCEN = `name: probe
title: a probe
setup:
  proto: [lacp, failover]
  members: [[e1000, e1000], [virtio, virtio], [virtio, e1000]]
action:
  kind: steady-state
expect:
  steady: { equals: 1 }
`;

test('--stock on NetBSD picks lagg(4) (the default) or agr(4); elsewhere only the OS default is a choice', (t) => {
  t.is(stockChoice('netbsd'), 'lagg');
  t.is(driversFor('netbsd', 'agr').stock, agrDriver);
  t.is(driversFor('netbsd', 'lagg').stock.ifname, 'lagg0');
  t.is(driversFor('linux').stock.ifname, 'bond0');
  t.throws(() => driversFor('freebsd', 'agr'), { message: /--stock agr is not a stock driver on freebsd \(there: lagg\)/ });
  t.throws(() => driversFor('linux', 'lagg'), { message: /not a stock driver on linux/ });
});

test('what NetBSD cannot run is skipped with the reason: LACP on virtio members (vioif has no media), agr beyond LACP, the stock overrides', (t) => {
  t.regex(netbsdSkipCase('lacp', ['virtio', 'e1000']) ?? '', /vioif\(4\) has no media ioctl/);
  t.is(netbsdSkipCase('lacp', ['e1000', 'e1000']), undefined);
  t.is(netbsdSkipCase('failover', ['virtio', 'virtio']), undefined);
  const setup = parseScenario(SCEN, 'probe.yaml').setup;
  t.regex(agrDriver.skipReason?.('failover', setup) ?? '', /agr\(4\) speaks LACP only: it has no failover protocol/);
  t.regex(agrDriver.skipReason?.('lacp', { ...setup, lacp_multi_speed: true }) ?? '', /no multi-speed mode/);
  t.is(agrDriver.skipReason?.('lacp', setup), undefined);
});

/** A target of two NetBSD sides that records every script and answers as a converging aggregate. */
function fakeTarget(stock?: string): { target: E2eTarget; scripts: Record<Side, string[]> } {
  const scripts: Record<Side, string[]> = { A: [], B: [] };
  const target: E2eTarget = {
    kind: 'lab',
    describe: 'fake NetBSD pair',
    capabilities: ['cable', 'stock'],
    lacks: () => undefined,
    skipCase: netbsdSkipCase,
    platform: netbsdPlatform,
    drivers: driversFor('netbsd', stock),
    links: [
      { model: 'virtio', nic: 'vioif1' },
      { model: 'virtio', nic: 'vioif2' },
      { model: 'e1000', nic: 'wm0' },
      { model: 'e1000', nic: 'wm1' },
    ],
    sh: async (side, script) => {
      scripts[side].push(script);
      const stdout = script.includes('converge_ms')
        ? 'converge_ms=120\n'
        : script.includes('ping')
          ? 'ok\n'
          : /\^pri=|agrport:/.test(script)
            ? 'wm0 active\nwm1 active\n'
            : '';
      return { stdout, stderr: '', code: 0, signal: null };
    },
    cable: async () => {},
    impair: async () => {},
    capture: async () => ({ frames: [], stop: async () => [] }) as never,
    close: async () => {},
  };
  return { target, scripts };
}

test('lacp-interop on NetBSD with --stock agr: laggkit0 on A meets agr0 on B, and the comparison run turns it round', async (t) => {
  const cat = loadCatalogue();
  const c = expandCases(cat).find((x) => x.id === 'lacp-interop[lacp,e1000+e1000]') as ScenarioCase;
  t.truthy(c, 'the catalogue has the interop case');
  t.is(c.scenario.setup.peer, 'other');
  t.false(c.scenario.setup.lacp_fast_timeout, "agr's long timeout");
  const { target, scripts } = fakeTarget('agr');
  t.is(peerOf(target, target.drivers.laggkit, c), agrDriver);
  t.is(peerOf(target, agrDriver, c), target.drivers.laggkit);
  t.is(runSkipReason(target, target.drivers.laggkit, c), undefined);
  const res = await runCases(target, [c], { compare: 'stock', repeat: 1 });
  t.deepEqual(
    res.cases[0]!.runs.map((r) => [r.driver, r.status]),
    [
      ['laggkit', 'pass'],
      ['stock', 'pass'],
    ],
    JSON.stringify(res.cases[0]!.runs.map((r) => r.failures)),
  );
  const creates = (side: Side): string[] =>
    scripts[side]
      .filter((s) => s.includes('converge_ms'))
      .map((s) => (s.includes('ifconfig agr0 create') ? 'agr0' : s.includes('ifconfig laggkit0 create') ? 'laggkit0' : '?'));
  t.deepEqual(creates('A'), ['laggkit0', 'agr0']);
  t.deepEqual(creates('B'), ['agr0', 'laggkit0']);
  t.regex(res.cases[0]!.runs[0]!.events[0]!.what, /^create laggkit0 \(lacp\) on A, agr0 \(agr LACP\) on B$/);
});

test('the engine on NetBSD: LACP on virtio is a skipped case, agr runs only LACP, lagg(4) has no roundrobin, overrides are keyed netbsd and agr', async (t) => {
  const cases = expandCases([{ file: 'probe.yaml', scenario: parseScenario(SCEN, 'probe.yaml') }]);
  const res = await runCases(fakeTarget('agr').target, cases, { compare: 'stock', repeat: 1 });
  const byId = new Map(res.cases.map((c) => [c.id, c]));
  const lacpVirtio = byId.get('probe[lacp,virtio+virtio]')!;
  t.is(lacpVirtio.status, 'skip');
  t.regex(lacpVirtio.reason ?? '', /vioif\(4\) has no media ioctl/);
  t.is(byId.get('probe[lacp,virtio+e1000]')!.status, 'skip');
  const fo = byId.get('probe[failover,virtio+virtio]')!;
  t.deepEqual(
    fo.runs.map((r) => [r.driver, r.status]),
    [
      ['laggkit', 'pass'],
      ['stock', 'skip'],
    ],
  );
  t.regex(fo.runs[1]!.reason ?? '', /agr\(4\) speaks LACP only/);
  t.deepEqual(
    byId.get('probe[lacp,e1000+e1000]')!.runs.map((r) => r.status),
    ['pass', 'pass'],
  );
  const rr = expandCases([{ file: 'probe.yaml', scenario: parseScenario(SCEN.replace('[lacp, failover]', 'roundrobin'), 'probe.yaml') }])[0]!;
  t.regex(runSkipReason(fakeTarget().target, driversFor('netbsd').stock, rr) ?? '', /NetBSD lagg\(4\) has no roundrobin/);
  // The catalogue's own NetBSD and agr entries are read by their drivers.
  const cat = expandCases(loadCatalogue());
  const silent = cat.find((c) => c.scenario.name === 'partner-silent')!;
  const mtu = cat.find((c) => c.id === 'mtu[lacp,e1000+e1000]')!;
  t.regex(runSkipReason(fakeTarget().target, driversFor('netbsd').stock, silent) ?? '', /NetBSD lagg\(4\) has no short LACP timeout/);
  t.regex(runSkipReason(fakeTarget('agr').target, agrDriver, silent) ?? '', /agr\(4\) has no short LACP timeout/);
  t.regex(runSkipReason(fakeTarget('agr').target, agrDriver, mtu) ?? '', /agr\(4\) does not pass an MTU/);
  t.is(runSkipReason(fakeTarget().target, driversFor('netbsd').stock, mtu), undefined, "lagg(4)'s MTU case runs");
  t.truthy(
    cat.find((c) => c.id === 'unload-in-use[lacp,e1000+e1000]'),
    'an unload case NetBSD can run',
  );
});

test('NetBSD machines: the probe reads release, compiler and stock drivers; e2e unloads only what it loaded', (t) => {
  const s = stubs(
    t,
    {},
    {
      sysctl: '[ "$2" = kern.osrelease ] && echo 10.1',
      uname: 'echo amd64',
      modstat: `case "$1" in if_lagg) printf 'NAME CLASS SOURCE FLAG REFS SIZE REQUIRES\\nif_lagg driver builtin - 0 - -\\n' ;; *) exit 1 ;; esac`,
      ls: 'case "$1" in */if_agr/if_agr.kmod) exit 0 ;; *) exit 1 ;; esac',
      cc: 'true',
    },
  );
  const facts = parseNetbsdProbe(out(s.sh(NETBSD_PROBE)));
  t.deepEqual(facts, { release: '10.1', machine: 'amd64', cc: true, lagg: true, agr: true, laggLoaded: true, agrLoaded: false });
  t.is(netbsdUnloadScript(facts), 'modunload if_agr 2>/dev/null; true');
});

test("--target host on NetBSD: the SSH session's interface, the links by driver name, laggkit.kmod loaded", (t) => {
  const s = stubs(
    t,
    {
      'vioif0.if': 'vioif0: flags=0x8843<UP> mtu 1500\n\tinet 192.0.2.5/24 broadcast 192.0.2.255 flags 0\n',
      'wm0.if': 'wm0: flags=0x8843<UP> mtu 1500\n',
      'wm1.if': 'wm1: flags=0x8843<UP> mtu 1500\n',
    },
    { modstat: "printf 'NAME CLASS SOURCE FLAG REFS SIZE REQUIRES\\nlaggkit driver filesys - 0 40 -\\n'", sysctl: 'echo 10.1', uname: 'echo amd64' },
  );
  const r = out(s.sh(`SSH_CONNECTION='192.0.2.1 50000 192.0.2.5 22'\n${netbsdHostProbe(['wm0', 'wm1', 'wm9'])}`));
  t.regex(r, /^mgmt=vioif0$/m);
  t.regex(r, /^link=wm0 wm$/m);
  t.regex(r, /^link=wm9 absent$/m);
  t.regex(r, /^laggkit=yes$/m);
  t.regex(r, /^=== facts$/m);
});

test('--target self on NetBSD: the rump-kernel flavour (its scripts are checked in e2e-self-netbsd.test.ts)', (t) => {
  t.is(selfFlavourFor('root@nb', 'NetBSD', 'NetBSD').os, 'NetBSD');
  t.is(selfFlavourFor('m', 'FreeBSD', 'FreeBSD').os, 'FreeBSD');
});
