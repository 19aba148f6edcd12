/**
 * The NetBSD deploy adapter without a NetBSD host: the ifconfig words and sysctls it configures
 * with, the build commands it runs (the local one really runs kmod/netbsd/cross-build.sh), the
 * refusals that come before any host is touched, and status read from sysctl
 * net.laggkit.<if>.status spliced into ifconfig's text for the one NetBSD parser.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { specFromFlags } from '../../src/deploy/spec.js';
import { parseIfconfig } from '../../src/ifconfig/index.js';
import type { RemoteHost } from '../../src/targets/host.js';
import {
  netbsdConfigureScript,
  netbsdIfconfigLines,
  netbsdLocalBuildArgv,
  NETBSD_MODULE_PATH_SH,
  netbsdModuleArgs,
  netbsdModulePath,
  netbsdRemoteBuildArgv,
  netbsdSysctlSettings,
  netbsdTarget,
  parseNetbsdSysctl,
  spliceLaggStatus,
} from '../../src/targets/netbsd.js';
import type { BuildOptions, HostFacts } from '../../src/targets/types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixture = (n: string) => fs.readFileSync(path.join(root, 'test', 'fixtures', 'ifconfig', n), 'utf8');
const noHost = { name: 'nb1' } as RemoteHost; // the refusals come before any command is sent

test('lacp: NetBSD words for pri, optimistic, maxports and multi-linkspeed; the rest by sysctl', (t) => {
  const spec = specFromFlags({
    name: 'laggkit0',
    laggproto: 'lacp',
    laggport: ['wm0:1000', 'wm1'],
    inet: ['192.0.2.10/24', '192.0.2.11/24'],
    'lacp-fast-timeout': true,
    'lacp-strict': false,
    lagghash: 'l3,l4',
    opt: ['lacp_maxports=1', 'lacp_multi_speed=1', 'lacp_sys_prio=100'],
  }).aggregates[0]!;
  t.is(
    netbsdConfigureScript(spec),
    [
      'ifconfig laggkit0 create',
      'ifconfig laggkit0 laggproto lacp laggport wm0 pri 1000 laggport wm1 lagglacp optimistic lagglacp maxports 1 lagglacp multi-linkspeed',
      'sysctl -w net.laggkit.laggkit0.hash_layers=6',
      'sysctl -w net.laggkit.laggkit0.lacp_fast_timeout=1',
      'sysctl -w net.laggkit.laggkit0.lacp_sys_prio=100',
      'ifconfig laggkit0 inet 192.0.2.10/24',
      'ifconfig laggkit0 inet 192.0.2.11/24 alias',
      'ifconfig wm0 up',
      'ifconfig wm1 up',
      'ifconfig laggkit0 up',
    ].join('\n'),
  );
});

test('roundrobin and broadcast, which NetBSD ifconfig cannot name, are set by sysctl before the ports join', (t) => {
  const spec = specFromFlags({ name: 'laggkit1', laggproto: 'roundrobin', laggport: ['vioif1', 'vioif2'], opt: ['rr_limit=4', 'failover_rx_all=1'] })
    .aggregates[0]!;
  const lines = netbsdConfigureScript(spec).split('\n');
  t.deepEqual(lines.slice(0, 4), [
    'ifconfig laggkit1 create',
    'sysctl -w net.laggkit.laggkit1.proto=roundrobin',
    'ifconfig laggkit1 laggport vioif1 laggport vioif2',
    'sysctl -w net.laggkit.laggkit1.rr_limit=4',
  ]);
  // rx-all is a word only under failover; otherwise it goes by its sysctl
  t.true(lines.includes('sysctl -w net.laggkit.laggkit1.failover_rx_all=1'));
  const fo = specFromFlags({ name: 'laggkit2', laggproto: 'failover', laggport: ['wm0'], opt: ['failover_rx_all=1'] }).aggregates[0]!;
  t.deepEqual(netbsdSysctlSettings(fo), []);
  t.regex(netbsdConfigureScript(fo), /laggport wm0 laggfailover rx-all/);
});

test('persistence: NetBSD words in ifconfig.laggkitN, the rest as modload properties on the modules.conf line', async (t) => {
  const lacp = specFromFlags({
    name: 'laggkit0',
    laggproto: 'lacp',
    laggport: ['wm0:1000', 'wm1'],
    inet: ['192.0.2.10/24'],
    'lacp-strict': false,
    'lacp-fast-timeout': true,
    opt: ['lacp_maxports=1', 'lacp_sys_prio=100'],
  }).aggregates[0]!;
  t.deepEqual(
    netbsdIfconfigLines(lacp).map((e) => `${e.key} ${e.value}`.trim()),
    ['laggproto lacp', 'laggport wm0 pri 1000', 'laggport wm1', 'lagglacp optimistic', 'lagglacp maxports 1', 'inet 192.0.2.10/24', 'up'],
  );
  t.is(netbsdModuleArgs(lacp), '-i lacp_fast_timeout=1 -i lacp_sys_prio=100');
  // a protocol NetBSD's ifconfig cannot name is never written as a laggproto line it would refuse at boot
  const rr = specFromFlags({ name: 'laggkit1', laggproto: 'broadcast', laggport: ['vioif1'] }).aggregates[0]!;
  t.false(netbsdIfconfigLines(rr).some((e) => e.key === 'laggproto'));
  t.is(netbsdModuleArgs(rr), '-s proto=broadcast');
  const edits = await netbsdTarget.persistEdits(rr, {} as HostFacts, noHost);
  t.deepEqual(edits[0], { kind: 'modules', key: 'laggkit', value: '-s proto=broadcast' });
});

test("--build remote: the host's own make in the uploaded kmod/netbsd against /usr/src/sys", (t) => {
  t.deepEqual(netbsdRemoteBuildArgv('/tmp/laggkit-build-abc', 'abc'), [
    'make',
    '-C',
    '/tmp/laggkit-build-abc/kmod/netbsd',
    'MAKEOBJDIR=/tmp/laggkit-build-abc/kmod/netbsd',
    'S=/usr/src/sys',
    'LAGGKIT_BUILD_ID=abc',
  ]);
  // the Makefile it runs builds this directory's sources and the core's, through bsd.kmodule.mk
  const mk = fs.readFileSync(path.join(root, 'kmod', 'netbsd', 'Makefile'), 'utf8');
  t.regex(mk, /^KMOD=\s+laggkit$/m);
  t.regex(mk, /^SRCS=\s+if_laggkit\.c laggkit_lrq\.c \$\{CORE_SRCS\}$/m);
  t.regex(mk, /^\.include <bsd\.kmodule\.mk>$/m);
});

const facts = (present: boolean) => ({ srcTree: { present, path: '/usr/src' } }) as HostFacts;
const opts = (o: Partial<BuildOptions>): BuildOptions => ({
  mode: 'remote',
  buildId: '0123456789ab-1000000000',
  workDir: os.tmpdir(),
  progress: () => {},
  ...o,
});

test('--build remote without kernel sources on the host is refused before anything runs there', async (t) => {
  const err = await t.throwsAsync(netbsdTarget.build(noHost, facts(false), opts({})));
  t.is((err as { code?: string }).code, 'E_NO_SRC');
  t.regex(err?.message ?? '', /nb1 has no kernel sources in \/usr\/src\/sys/);
});

test('--build local: cross-build.sh with the sysroot; --kernbuild and a missing sysroot are refused', async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'laggkit-nb-'));
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
  t.deepEqual(netbsdLocalBuildArgv({ sysroot: '/src', workDir: work, buildId: 'b1' }), [
    'sh',
    path.join(root, 'kmod', 'netbsd', 'cross-build.sh'),
    '--sysroot',
    '/src',
    '--out',
    work,
    '--build-id',
    'b1',
  ]);
  t.is((t.throws(() => netbsdLocalBuildArgv({ workDir: work, buildId: 'b1' })) as { code?: string }).code, 'E_NO_SYSROOT');
  t.is((t.throws(() => netbsdLocalBuildArgv({ sysroot: '/src', kernbuild: '/k', workDir: work, buildId: 'b1' })) as { code?: string }).code, 'E_KERNBUILD');
  // the script really runs: a directory that is not a NetBSD tree fails the build with the reason
  const notATree = fs.mkdtempSync(path.join(os.tmpdir(), 'laggkit-nb-src-'));
  t.teardown(() => fs.rmSync(notATree, { recursive: true, force: true }));
  const err = await t.throwsAsync(netbsdTarget.build(noHost, facts(true), opts({ mode: 'local', sysroot: notATree, workDir: work })));
  t.is((err as { code?: string }).code, 'E_BUILD');
  t.regex(err?.message ?? '', /is not a NetBSD source tree \(no sys\/sys\/param\.h\)/);
});

test("status: the sysctl lagg block spliced into ifconfig -v reads like NetBSD's own lagg0", (t) => {
  const original = fixture('netbsd10-lacp-v.txt');
  const lagg0 = original.slice(original.indexOf('lagg0:'), original.indexOf('lo0:'));
  const lines = lagg0.split('\n');
  const start = lines.findIndex((l) => l.startsWith('\tlaggproto'));
  const end = lines.findIndex((l) => l.startsWith('\taddress:'));
  const block = lines.slice(start, end).join('\n') + '\n';
  const without = [...lines.slice(0, start), ...lines.slice(end)].join('\n').replace(/lagg0/g, 'laggkit0');
  const spliced = spliceLaggStatus(without, block);
  t.is(spliced.replace(/laggkit0/g, 'lagg0').trimEnd(), lagg0.trimEnd());
  const a = parseIfconfig(spliced, { os: 'netbsd' }).interfaces[0]!;
  const b = parseIfconfig(lagg0, { os: 'netbsd' }).interfaces[0]!;
  t.is(a.name, 'laggkit0');
  t.deepEqual(a.lagg?.ports, b.lagg?.ports);
  t.is(a.lagg?.proto, 'lacp');
  // no block (module without the sysctl): ifconfig's text unchanged
  t.is(spliceLaggStatus(without, ''), without);
});

test('sysctl net.laggkit.<if> in NetBSD\'s "name = value" form: integer leaves of that interface only', (t) => {
  const text =
    'net.laggkit.laggkit0.proto = lacp\nnet.laggkit.laggkit0.rr_limit = 0\nnet.laggkit.laggkit0.lacp_sys_prio = 100\nnet.laggkit.laggkit1.rr_limit = 9\nnet.laggkit.build_id = abc\n';
  t.deepEqual(parseNetbsdSysctl(text, 'laggkit0'), { rr_limit: 0, lacp_sys_prio: 100 });
});

test("the module goes where the running kernel's modload looks: /stand/MACHINE/X.Y/modules, osrelease on -current", (t) => {
  const cases: Array<[number, string, string]> = [
    [1001000000, 'NetBSD 10.1 amd64', '/stand/amd64/10.1/modules/laggkit/laggkit.kmod'],
    [1000000000, 'NetBSD 10.0 amd64', '/stand/amd64/10.0/modules/laggkit/laggkit.kmod'],
    // a 10.1 patch release and a -stable kernel keep the release's directory
    [1001000300, 'NetBSD 10.1_STABLE amd64', '/stand/amd64/10.1/modules/laggkit/laggkit.kmod'],
    [1099001200, 'NetBSD 10.99.12 amd64', '/stand/amd64/10.99.12/modules/laggkit/laggkit.kmod'],
    [902000000, 'NetBSD 9.2 i386', '/stand/i386/9.2/modules/laggkit/laggkit.kmod'],
  ];
  for (const [osreldate, uname, want] of cases) {
    t.is(netbsdModulePath({ osreldate, uname }), want, uname);
    // The probe computes it on the host, before the facts exist: the same answer from sh.
    const [, release, machine] = uname.split(' ');
    const stub = `sysctl() { echo ${osreldate}; }; uname() { case "$1" in -m) echo ${machine} ;; -r) echo ${release} ;; esac; }`;
    t.is(execFileSync('sh', ['-c', `${stub}\necho "${NETBSD_MODULE_PATH_SH}"`], { encoding: 'utf8' }).trim(), want, `${uname} (sh)`);
  }
});
