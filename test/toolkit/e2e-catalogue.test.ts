/**
 * The e2e catalogue and reports without a VM: the shipped scenario files load and cover what
 * the catalogue promises; a broken file is refused by the CLI naming the file and the field;
 * cases expand and filter as the flags say; a failing run becomes `not ok` in TAP and a
 * <failure> with its evidence in JUnit, and the HTML row is marked failed.
 */
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandCases, filterCases, loadCatalogue, parseScenario, stockOverride } from '../../src/e2e/scenario.js';
import { driversFor, laggkitSysctlNode } from '../../src/e2e/drivers.js';
import { freebsdPlatform } from '../../src/e2e/platform.js';
import { judge, figuresOf, type CaseResult, type E2eResult, type RunResult } from '../../src/e2e/engine.js';
import { renderJunit } from '../../src/e2e/report/junit.js';
import { renderTap } from '../../src/e2e/report/text.js';
import { renderHtml } from '../../src/e2e/report/html.js';
import type { CliResult } from '../lab/support/cli.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'run.js');

/** The built CLI, run synchronously; the result has the shape of the lab tests' CliResult. */
function cli(args: string[]): CliResult {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', input: '', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, ...(args.includes('--json') ? { json: JSON.parse(r.stdout) as CliResult['json'] } : {}) };
}

function scenarioDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-e2e-cat-'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

const GOOD = `name: probe
title: a probe
setup:
  proto: [lacp, failover]
  members: [[virtio, virtio], [e1000, e1000]]
action:
  kind: steady-state
expect:
  steady: { equals: 1 }
measure: [converge_ms]
`;

test('the shipped catalogue loads and covers the scenarios it promises', (t) => {
  const cat = loadCatalogue();
  const names = cat.map((c) => c.scenario.name);
  for (const n of [
    'create-destroy',
    'steady-state',
    'lacp-converge',
    'lacp-converge-mixed',
    'spread',
    'cable-pull',
    'failover-return',
    'mtu',
    'mgmt-untouched',
    'partner-silent',
    'one-way-loss',
    'flap-soak',
    'failover-announce',
    'ether-change',
    'unload-in-use',
    'lacp-interop',
  ])
    t.true(names.includes(n), n);
  const cases = expandCases(cat);
  const steady = cases
    .filter((c) => c.scenario.name === 'steady-state')
    .map((c) => c.proto)
    .sort();
  t.deepEqual(steady, ['broadcast', 'failover', 'lacp', 'loadbalance', 'roundrobin'], 'every protocol has a steady-state case');
  t.deepEqual(
    cases
      .filter((c) => c.scenario.name.startsWith('lacp-converge'))
      .map((c) => c.members.join('+'))
      .sort(),
    ['e1000+e1000', 'virtio+e1000', 'virtio+virtio'],
    'LACP converge per NIC model and mixed',
  );
  t.true(
    cases.filter((c) => c.scenario.name === 'cable-pull').every((c) => c.scenario.measure.includes('gap_ms_ab') && c.scenario.measure.includes('gap_ms_ba')),
    'cable pulls measure both directions',
  );
});

test('a scenario matrix expands to one case per protocol and member set, and the filters select from it', (t) => {
  const dir = scenarioDir({ 'probe.yaml': GOOD });
  const cases = expandCases(loadCatalogue(dir));
  t.deepEqual(
    cases.map((c) => c.id),
    ['probe[lacp,virtio+virtio]', 'probe[lacp,e1000+e1000]', 'probe[failover,virtio+virtio]', 'probe[failover,e1000+e1000]'],
  );
  t.deepEqual(
    filterCases(cases, { protos: ['failover'] }).map((c) => c.id),
    ['probe[failover,virtio+virtio]', 'probe[failover,e1000+e1000]'],
  );
  t.deepEqual(
    filterCases(cases, { nics: ['e1000'] }).map((c) => c.id),
    ['probe[lacp,e1000+e1000]', 'probe[failover,e1000+e1000]'],
  );
  t.deepEqual(filterCases(cases, { only: ['probe[lacp,*'] }).length, 2);
  t.deepEqual(filterCases(cases, { only: ['pro*'] }).length, 4);
  t.deepEqual(filterCases(cases, { only: ['nothing-*'] }).length, 0);
});

test('laggkit e2e refuses a broken scenario file naming the file and every bad field', (t) => {
  const broken = GOOD.replace('kind: steady-state', 'kind: steady-state\n  timeout_ms: -5')
    .replace('proto: [lacp, failover]', 'proto: [lacp, lacpp]')
    .replace('steady: { equals: 1 }', 'stedy: { equals: 1 }');
  const dir = scenarioDir({ 'probe.yaml': broken });
  const r = cli(['e2e', '--scenarios', dir, '--list', '--json']);
  t.is(r.code, 2, r.stdout + r.stderr);
  t.is(r.json?.error?.code, 'E_E2E_SCENARIO');
  const msg = r.json?.error?.message ?? '';
  t.true(msg.startsWith(path.join(dir, 'probe.yaml')), msg);
  t.regex(msg, /setup\.proto\[1\]/);
  t.regex(msg, /action\.timeout_ms/);
  t.regex(msg, /setup\.proto\[1\]: Invalid enum value.*'lacpp'/);
  // Metric names are checked once the shape is right: a typo is named with what is measured.
  const typo = scenarioDir({ 'probe.yaml': GOOD.replace('steady: { equals: 1 }', 'stedy: { equals: 1 }').replace('[converge_ms]', '[converge_ms, gap_ms]') });
  const r2 = cli(['e2e', '--scenarios', typo, '--list', '--json']);
  t.is(r2.code, 2);
  t.regex(
    r2.json?.error?.message ?? '',
    /probe\.yaml: 2 problems: expect\.stedy: 'stedy' is not measured by action 'steady-state' \(it measures: steady, converge_ms.*; measure\[1\]: 'gap_ms' is not measured/,
  );
  // Human mode: the same message on stderr, nothing on stdout.
  const h = cli(['e2e', '--scenarios', dir, '--list']);
  t.is(h.code, 2);
  t.is(h.stdout, '');
  t.regex(h.stderr, /probe\.yaml: 2 problems/);
});

test('a scenario file that is not YAML, or whose name differs from its file, is refused with the file named', (t) => {
  const notYaml = scenarioDir({ 'probe.yaml': 'name: probe\nsetup: [\n' });
  const r = cli(['e2e', '--scenarios', notYaml, '--list', '--json']);
  t.is(r.code, 3);
  t.is(r.json?.error?.code, 'E_E2E_SCENARIO_YAML');
  t.regex(r.json?.error?.message ?? '', /probe\.yaml(:\d+)?: not valid YAML/);
  t.throws(() => parseScenario(GOOD, '/x/other.yaml'), { message: /other\.yaml: name: 'probe' differs from the file name 'other'/ });
  const empty = scenarioDir({});
  t.is(cli(['e2e', '--scenarios', empty, '--list', '--json']).json?.error?.code, 'E_E2E_CATALOGUE');
});

test('--list prints the cases; bad --proto/--nic values are usage errors; --target host checks its flags before it connects', (t) => {
  const list = cli(['e2e', '--list', '--json', '--only', 'steady-state', '--proto', 'lacp,failover']);
  t.is(list.code, 0);
  t.deepEqual(
    list.json?.result?.cases.map((c: { id: string }) => c.id),
    ['steady-state[lacp,virtio+virtio]', 'steady-state[failover,virtio+virtio]'],
  );
  t.is(cli(['e2e', '--list', '--json', '--proto', 'lacp,bogus']).json?.error?.code, 'E_E2E_PROTO');
  t.is(cli(['e2e', '--list', '--json', '--nic', 'rtl8139']).json?.error?.code, 'E_E2E_NIC');
  t.is(cli(['e2e', '--target', 'host', '--json']).json?.error?.code, 'E_E2E_HOSTS');
  t.is(cli(['e2e', '--target', 'host', '--host', 'root@a', '--json']).json?.error?.code, 'E_E2E_HOSTS');
  t.is(cli(['e2e', '--target', 'vagrant', '--host', 'x', '--json']).json?.error?.code, 'E_E2E_HOSTS');
});

test('--guest freebsd without --image is a usage error that starts nothing', (t) => {
  const r = cli(['e2e', '--guest', 'freebsd', '--only', 'steady-state', '--json']);
  t.is(r.code, 2);
  t.is(r.json?.error?.code, 'E_E2E_IMAGE');
  t.regex(r.json?.error?.message ?? '', /--image PATH/);
});

test('NetBSD guests: --image is needed, --kernbuild refused, --stock only with --compare stock and only what the OS has', (t) => {
  for (const [args, code, msg] of [
    [['--guest', 'netbsd'], 'E_E2E_IMAGE', /--guest netbsd needs --image PATH \(a NetBSD disk image\)/],
    [['--guest', 'netbsd', '--image', 'x.qcow2', '--kernbuild', '/obj'], 'E_KERNBUILD', /--kernbuild is for FreeBSD/],
    [['--guest', 'netbsd', '--image', 'x.qcow2', '--stock', 'agr'], 'E_E2E_STOCK', /--stock agr names the driver --compare stock runs/],
    [['--guest', 'freebsd', '--image', 'x.raw', '--stock', 'agr', '--compare', 'stock'], 'E_E2E_STOCK', /not a stock driver on freebsd/],
    [['--stock', 'lagg', '--compare', 'stock'], 'E_E2E_STOCK', /--stock lagg is not a stock driver on linux/],
  ] as const) {
    const r = cli(['e2e', ...args, '--only', 'steady-state', '--json']);
    t.is(r.code, 2, args.join(' '));
    t.is(r.json?.error?.code, code);
    t.regex(r.json?.error?.message ?? '', msg);
  }
});

test('a scenario may pair the two drivers (peer: other) only when it needs the stock one; stock overrides are keyed by stock driver', (t) => {
  const text = (extra: string, needs = '') =>
    `name: probe\ntitle: a probe\nsetup:\n  proto: lacp\n  members: [e1000, e1000]\n${extra}action:\n  kind: steady-state\n${needs}`;
  const bad = t.throws(() => parseScenario(text('  peer: other\n'), 'probe.yaml'));
  t.regex(bad?.message ?? '', /setup\.peer: peer: other runs the stock driver on side B: add 'stock' to needs/);
  t.is(parseScenario(text('  peer: other\n', 'needs: [stock]\n'), 'probe.yaml').setup.peer, 'other');
  t.is(parseScenario(text(''), 'probe.yaml').setup.peer, 'same');
  const keyed = parseScenario(text('', 'stock:\n  netbsd:\n    skip: a\n  agr:\n    skip: b\n'), 'probe.yaml');
  t.is(stockOverride(keyed, 'netbsd')?.skip, 'a');
  t.is(stockOverride(keyed, 'agr')?.skip, 'b');
  t.regex(t.throws(() => parseScenario(text('', 'stock:\n  openbsd:\n    skip: c\n'), 'probe.yaml'))?.message ?? '', /stock/);
});

test('the FreeBSD guest flags are for the lab target: elsewhere they are refused before any connection', (t) => {
  for (const [args, flag] of [
    [['--target', 'self', '--guest', 'freebsd'], '--guest'],
    [['--target', 'vagrant', '--sysroot', '/usr/src'], '--sysroot'],
  ] as const) {
    const r = cli(['e2e', ...args, '--only', 'steady-state', '--json']);
    t.is(r.code, 2, flag);
    t.is(r.json?.error?.code, 'E_E2E_HOSTS');
    t.regex(r.json?.error?.message ?? '', new RegExp(`${flag} is for --target lab`));
  }
});

test('a stock override is per guest OS: the FreeBSD one applies on FreeBSD only, and the old unkeyed form is refused', (t) => {
  const text = (stock: string) =>
    `name: probe\ntitle: a probe\nsetup:\n  proto: lacp\n  members: [virtio, e1000]\naction:\n  kind: steady-state\nexpect:\n  steady: { equals: 1 }\n${stock}`;
  const s = parseScenario(text('stock:\n  freebsd:\n    skip: lagg(4) has no multi-speed\n  linux:\n    expect:\n      steady: { equals: 0 }\n'), 'probe.yaml');
  t.is(stockOverride(s, 'freebsd')?.skip, 'lagg(4) has no multi-speed');
  t.is(stockOverride(s, 'freebsd')?.expect, undefined);
  t.deepEqual(stockOverride(s, 'linux')?.expect, { steady: { equals: 0 } });
  t.is(stockOverride(s, 'netbsd'), undefined);
  t.is(stockOverride(s, 'agr'), undefined);
  const old = t.throws(() => parseScenario(text('stock:\n  skip: no\n'), 'probe.yaml'));
  t.regex(old?.message ?? '', /probe\.yaml/);
  t.regex(old?.message ?? '', /stock/);
  const bad = t.throws(() => parseScenario(text('stock:\n  freebsd:\n    expect:\n      gap_ms_ab: { max: 1 }\n'), 'probe.yaml'));
  t.regex(bad?.message ?? '', /stock\.freebsd\.expect\.gap_ms_ab/);
});

test('FreeBSD drivers: each side finds its own laggkit sysctl node, also when another vnet jail has the same unit', (t) => {
  // sysctl(8) as a jail sees it: every node is listed, only its own VNET's answers (others
  // print nothing, exit 0), as if_laggkit.ko's handlers do for a jailed reader.
  const stub = (own: string) =>
    `sysctl() { case "$1" in -N) printf 'net.link.laggkit.default_proto\\nnet.link.laggkit.0.proto\\nnet.link.laggkit.0.events\\nnet.link.laggkit.0_4.proto\\nnet.link.laggkit.10.proto\\n' ;; -n) [ "$2" = "net.link.laggkit.${own}.proto" ] && echo lacp ;; esac; return 0; }`;
  const lookup = (own: string, unit: string) => execFileSync('sh', ['-c', `${stub(own)}\necho "${laggkitSysctlNode(unit)}"`], { encoding: 'utf8' }).trim();
  t.is(lookup('0', '0'), '0', 'the host, or the jail that created laggkit0 first');
  t.is(lookup('0_4', '0'), '0_4', 'a second jail with its own laggkit0');
  t.is(lookup('10', '1'), '', 'unit 1 is not unit 10');
  t.is(lookup('10', '10'), '10');
});

test('FreeBSD drivers: laggkit0 and lagg0 take the same ifconfig words; options lagg keeps in sysctls go between create and the ports', (t) => {
  const d = driversFor('freebsd');
  const setup = { proto: 'lacp' as const, ports: ['vtnet1', 'em0'], addr: '10.77.0.1/24', lacpFastTimeout: true, lacpMultiSpeed: true };
  t.deepEqual(d.laggkit.create(setup).split('\n'), [
    'ifconfig laggkit0 create laggproto lacp lacp_fast_timeout',
    `sysctl net.link.laggkit.${laggkitSysctlNode('0')}.lacp_multi_speed=1 >/dev/null`,
    'ifconfig laggkit0 laggport vtnet1 laggport em0 up',
    'ifconfig laggkit0 inet 10.77.0.1/24',
  ]);
  t.deepEqual(d.stock.create({ ...setup, proto: 'failover', lacpFastTimeout: false, lacpMultiSpeed: false }).split('\n'), [
    'ifconfig lagg0 create laggproto failover',
    'ifconfig lagg0 laggport vtnet1 laggport em0 up',
    'ifconfig lagg0 inet 10.77.0.1/24',
  ]);
  t.regex(d.stock.prepare(), /kldload if_lagg/);
  // The hooks of the disturbance scenarios: a new MAC through ifconfig, unload through kldunload
  // (if_laggkit.ko must refuse it while laggkit0 exists), alive while the module is loaded.
  t.is(d.laggkit.setEther('02:6c:6b:00:e2:01'), 'ifconfig laggkit0 ether 02:6c:6b:00:e2:01');
  t.deepEqual(d.laggkit.unload(), { script: 'kldunload if_laggkit' });
  t.deepEqual(d.stock.unload(), { script: 'kldunload if_lagg' });
  t.is(d.laggkit.alive(), 'kldstat -q -m if_laggkit');
  // Events: laggkit's own ring (uptime to the ms), lagg's timestamped kernel-log lines.
  t.deepEqual(d.laggkit.events('ifconfig text\n--- events\n7 512.816 vtnet1 lacp selected\nnoise\n'), [
    { at: { uptimeS: 512.816 }, what: 'vtnet1 lacp selected' },
  ]);
  t.deepEqual(d.stock.events('x\n--- events\n[585] lagg0: link state changed to UP\n[586] vtnet1: link state changed to DOWN\n'), [
    { at: { uptimeS: 585 }, what: 'link state changed to UP' },
  ]);
});

test('judge names every miss; members stands for the member count', (t) => {
  t.deepEqual(judge({ active_members: 2, converge_ms: 900 }, { active_members: { equals: 'members' }, converge_ms: { max: 5000 } }, 2), []);
  t.deepEqual(judge({ active_members: 1 }, { active_members: { equals: 'members' }, ping_ok: { equals: 1 } }, 2), [
    'active_members is 1, expected 2 (the member count)',
    'ping_ok was not measured (the action did not get that far)',
  ]);
  t.deepEqual(judge({ gap_ms_ab: 700 }, { gap_ms_ab: { min: 1, max: 500 } }, 2), ['gap_ms_ab is 700, expected at most 500']);
});

function fakeResult(): E2eResult {
  const [c] = expandCases([{ file: '/x/probe.yaml', scenario: parseScenario(GOOD, '/x/probe.yaml') }]);
  const run = (driver: 'laggkit' | 'stock', converge: number, failures: string[]): RunResult => ({
    driver,
    mode: driver === 'stock' ? '802.3ad' : 'lacp',
    repeat: 1,
    status: failures.length ? 'fail' : 'pass',
    metrics: { steady: failures.length ? 0 : 1, converge_ms: converge },
    failures,
    captures: { 'steady A': 'laggport: vtnet0 flags=0<> & <evidence>' },
    parsed: {},
    events: [{ t_ms: 0, kind: 'action', what: 'create' }],
    gaps: [],
    portSeries: [],
    durationMs: 1234,
  });
  const runs = [run('laggkit', 2700, ['steady is 0, expected 1']), run('stock', 3000, [])];
  const cr: CaseResult = {
    id: c!.id,
    scenario: 'probe',
    title: 'a probe',
    description: '',
    file: c!.file,
    proto: c!.proto,
    members: c!.members,
    ports: ['vtnet0', 'vtnet1'],
    status: 'fail',
    runs,
    figures: figuresOf(c!, runs),
  };
  return {
    version: 1,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:10.000Z',
    target: 'test',
    compare: 'stock',
    repeat: 1,
    cases: [cr],
    totals: { pass: 0, fail: 1, skip: 0 },
  };
}

test('a failing run is not ok in TAP, a <failure> with its evidence in JUnit, a failed row in HTML; figures carry the ratio', (t) => {
  const res = fakeResult();
  t.deepEqual(res.cases[0]!.figures, [{ metric: 'converge_ms', laggkit: 2700, stock: 3000, ratio: 0.9, lowerIsBetter: true }]);
  const tap = renderTap(res);
  t.regex(tap, /^1\.\.2$/m);
  t.regex(tap, /^not ok 1 - probe\[lacp,virtio\+virtio\] laggkit$/m);
  t.regex(tap, /^ok 2 - probe\[lacp,virtio\+virtio\] stock/m);
  t.regex(tap, /converge_ms: laggkit 2700, stock 3000, ratio 0\.90/);
  const junit = renderJunit(res);
  t.regex(junit, /<testsuites name="laggkit e2e" tests="2" failures="1" skipped="0"/);
  t.regex(junit, /<failure message="steady is 0, expected 1" type="expectation">[^<]*laggport: vtnet0 flags=0&lt;&gt; &amp; &lt;evidence&gt;/);
  const html = renderHtml(res);
  t.regex(html, /<tr class="fail" data-case="probe\[lacp,virtio\+virtio\]" data-status="fail">/);
  t.notRegex(html, /<script[^>]+src=/, 'nothing loaded from elsewhere');
  t.notRegex(html, /(src|href)="https?:/, 'no remote resources');
  t.regex(html, /Chart\.js v4\.\d+\.\d+/, 'Chart.js is inlined');
});

test('over --repeat runs a figure is the median of each driver, skipped runs left out', (t) => {
  const [c] = expandCases([{ file: '/x/probe.yaml', scenario: parseScenario(GOOD, '/x/probe.yaml') }]);
  const run = (driver: 'laggkit' | 'stock', repeat: number, converge: number | undefined, status: RunResult['status'] = 'pass'): RunResult => ({
    driver,
    mode: driver,
    repeat,
    status,
    metrics: converge === undefined ? {} : { converge_ms: converge },
    failures: [],
    captures: {},
    parsed: {},
    events: [],
    gaps: [],
    portSeries: [],
    durationMs: 1,
  });
  const runs = [
    run('laggkit', 1, 3000),
    run('stock', 1, 500),
    run('laggkit', 2, 2000),
    run('stock', 2, 700),
    run('laggkit', 3, 9000),
    run('stock', 3, undefined, 'skip'),
  ];
  t.deepEqual(figuresOf(c!, runs), [{ metric: 'converge_ms', laggkit: 3000, stock: 600, ratio: 5, lowerIsBetter: true }]);
});

test("FreeBSD platform: a MAC from ifconfig's ether line, the neighbour entry from arp -n, read by the guest's sh", (t) => {
  // Stand-ins print what FreeBSD 15's ifconfig and arp print; the snippets run in this sh.
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-fbsd-'));
  t.teardown(() => fs.rmSync(bin, { recursive: true, force: true }));
  fs.writeFileSync(
    path.join(bin, 'ifconfig'),
    [
      '#!/bin/sh',
      "echo 'laggkit0: flags=1008843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST,LOWER_UP> metric 0 mtu 1500'",
      "echo '\toptions=4e500bb<RXCSUM,TXCSUM,VLAN_MTU>'",
      "echo '\tether 02:6c:6b:00:e2:01'",
      "echo '\tinet 10.77.0.1 netmask 0xffffff00 broadcast 10.77.0.255'",
      "echo '\tlaggproto lacp lagghash l2,l3,l4'",
    ].join('\n'),
    { mode: 0o755 },
  );
  fs.writeFileSync(path.join(bin, 'arp'), "#!/bin/sh\necho '? (10.77.0.1) at 02:6c:6b:00:e2:01 on laggkit0 expires in 1199 seconds [ethernet]'\n", {
    mode: 0o755,
  });
  const sh = (script: string) => spawnSync('sh', ['-c', script], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  t.is(sh(freebsdPlatform.macOf('laggkit0')).stdout, '02:6c:6b:00:e2:01\n');
  t.is(sh(freebsdPlatform.neighbourIs('10.77.0.1', '02:6c:6b:00:e2:01')).status, 0);
  t.is(sh(freebsdPlatform.neighbourIs('10.77.0.1', '02:6c:6b:00:e2:02')).status, 1);
  t.is(sh(freebsdPlatform.announceLladdr('laggkit0')).status, 0);
  t.regex(freebsdPlatform.mgmtSnapshot('vtnet0'), /^ifconfig vtnet0 .*\$4 == "vtnet0"/);
});
