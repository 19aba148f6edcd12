/**
 * `laggkit e2e --target self` on NetBSD (src/e2e/targets/self-netbsd.ts), checked without a
 * NetBSD machine: what is checked is the generated shell, not a run on NetBSD.
 *
 * - Every script the flavour generates (up, down, a script on each side, side B's wrappers)
 *   parses with `sh -n` under this machine's POSIX shells (dash, and busybox sh where present)
 *   and names the devices and commands it must (tap20..tap24, rump_server with virtif and the
 *   stock driver's component, rump.ifconfig virtN create, rump.halt).
 * - down() and side B's wrappers run here against stand-ins for NetBSD's commands: down never
 *   fails, also after a half-done up(), and touches only what up() recorded; a wrapper takes
 *   tapN for virtN, prints virtN as tapN and keeps the exit status.
 * - The flavour is chosen for `uname -s` NetBSD; an OS without one is still refused clearly.
 * - The engine pairs side A's driver with side B's own (rump's stock driver) in every run.
 *
 * What this cannot show: that rump_server, librumphijack and tap(4) behave on NetBSD 10 as
 * the flavour's header says (read in NetBSD's sources), and that a catalogue run passes there.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../../src/cli/errors.js';
import { driversFor } from '../../src/e2e/drivers.js';
import { peerOf, runSkipReason } from '../../src/e2e/engine.js';
import { netbsdPlatform } from '../../src/e2e/platform.js';
import { expandCases, loadCatalogue } from '../../src/e2e/scenario.js';
import { selfFlavourFor, type SelfPlan } from '../../src/e2e/targets/self.js';
import { netbsdFlavour, RUMPHIJACK, sideBWrappers } from '../../src/e2e/targets/self-netbsd.js';
import type { E2eTarget } from '../../src/e2e/targets/types.js';

const plan = (over: Partial<SelfPlan> = {}): SelfPlan => ({
  name: 'e2e4242',
  stateDir: '/var/tmp/laggkit-e2e4242',
  binDir: '/var/tmp/laggkit-e2e4242/bin',
  links: 4,
  stock: 'lagg',
  ...over,
});

/** The POSIX shells here: dash always (the project's sh), busybox sh when installed. */
const shells = (): Array<{ name: string; argv: string[] }> => {
  const found: Array<{ name: string; argv: string[] }> = [];
  for (const [name, argv] of [
    ['dash', ['dash']],
    ['busybox sh', ['busybox', 'sh']],
  ] as const) {
    if (spawnSync(argv[0], [...argv.slice(1), '-c', 'true']).status === 0) found.push({ name, argv: [...argv] });
  }
  return found;
};

function parses(t: { true(v: boolean, m?: string): void; is(a: unknown, b: unknown, m?: string): void }, label: string, script: string): void {
  const sh = shells();
  t.true(sh.length > 0, 'a POSIX shell to check with');
  for (const s of sh) {
    const r = spawnSync(s.argv[0]!, [...s.argv.slice(1), '-n'], { input: script, encoding: 'utf8' });
    t.is(r.status, 0, `${label} parses under ${s.name}: ${r.stderr}`);
  }
}

/** A script run by dash with stand-in commands (each logs its arguments to calls.log) first on PATH. */
function runWithStubs(
  t: { teardown(fn: () => void): void },
  script: string,
  stubs: Record<string, string>,
): { status: number | null; stdout: string; stderr: string; calls: string[]; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-nbself-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  for (const [name, body] of Object.entries(stubs))
    fs.writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >>${dir}/calls.log\n${body}\n`, { mode: 0o755 });
  const r = spawnSync('dash', ['-c', script], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, TMPDIR: dir } });
  const log = path.join(dir, 'calls.log');
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    calls: fs.existsSync(log)
      ? fs
          .readFileSync(log, 'utf8')
          .trim()
          .split('\n')
          .map((l) => l.trim())
      : [],
    dir,
  };
}

test('NetBSD self flavour: up, down, both sides and every side-B wrapper parse under POSIX sh (the generated scripts, not a run on NetBSD)', (t) => {
  for (const stock of ['lagg', 'agr'] as const) {
    const p = plan({ stock });
    parses(t, `up (${stock})`, netbsdFlavour.up(p));
    parses(t, 'down', netbsdFlavour.down(p));
    for (const side of ['A', 'B'] as const) parses(t, `side ${side}`, netbsdFlavour.side(p, side, 'ifconfig tap20 up\nseqstream now'));
    for (const [name, text] of Object.entries(sideBWrappers(p))) parses(t, `side B's ${name}`, text);
  }
  parses(t, 'side A without a bin folder', netbsdFlavour.side(plan({ binDir: undefined }), 'A', 'true'));
  t.is(netbsdFlavour.cable, undefined);
  t.is(netbsdFlavour.impair, undefined);
  t.regex(netbsdFlavour.lacksCable ?? '', /tap\(4\) keeps its link state.*virtif has none/);
  t.regex(netbsdFlavour.lacksImpair ?? '', /no wire between a link's two ends/);
});

test('NetBSD self flavour: up makes tap20..tap24 and a rump_server with virtif and the stock driver, virtN opening each tapN, mgmt on both sides', (t) => {
  const up = netbsdFlavour.up(plan());
  for (const u of [20, 21, 22, 23, 24]) {
    t.regex(up, new RegExp(`^ifconfig tap${u} create$`, 'm'));
    t.regex(up, new RegExp(`^echo tap${u} >>/var/tmp/laggkit-e2e4242/taps$`, 'm'), `tap${u} recorded for down()`);
    t.regex(up, new RegExp(`mknod /dev/tap${u} c \\$tapmajor ${u}`), `/dev/tap${u} made where missing`);
    t.regex(up, new RegExp(`rump\\.ifconfig virt${u} create`));
  }
  t.regex(up, /ifconfig tap20 media 1000baseT mediaopt full-duplex/, "LACP's full-duplex ports of a known speed");
  t.regex(
    up,
    /^rump_server -lrumpnet -lrumpnet_net -lrumpnet_netinet -lrumpnet_virtif -lrumpdev \$stocklib unix:\/\/\/var\/tmp\/laggkit-e2e4242\/rump\.sock$/m,
  );
  t.regex(up, /stocklib=-lrumpnet_lagg/);
  t.regex(netbsdFlavour.up(plan({ stock: 'agr' })), /stocklib=-lrumpnet_agr/);
  t.regex(up, /^ifconfig tap24 inet 192\.0\.2\.1\/24$/m);
  t.regex(up, /rump\.ifconfig virt24 inet 192\.0\.2\.2\/24$/m);
  t.regex(up, /modstat laggkit .*laggkit\.kmod is not loaded/);
  t.regex(up, /tap\$u exists already/);
  t.regex(up, /echo stock=yes; else echo "stock=no \$why"/);
  // The rump server is recorded before it starts, the taps as each is made: down() finds them after a failure.
  t.true(up.indexOf('touch /var/tmp/laggkit-e2e4242/rump') < up.indexOf('rump_server -l'));
  t.deepEqual(
    [0, 1, 2, 3].map((i) => netbsdFlavour.nic(i)),
    ['tap20', 'tap21', 'tap22', 'tap23'],
  );
  t.is(netbsdFlavour.mgmt, 'tap24');
});

test('NetBSD self flavour: side B runs with RUMP_SERVER and its wrappers first on the PATH, side A as the machine', (t) => {
  const p = plan();
  const b = netbsdFlavour.side(p, 'B', 'ifconfig -l');
  t.regex(b, /^exec env TMPDIR=\/var\/tmp\/laggkit-e2e4242\/B RUMP_SERVER=unix:\/\/\/var\/tmp\/laggkit-e2e4242\/rump\.sock sh -c /);
  t.regex(b, /PATH=\/var\/tmp\/laggkit-e2e4242\/bin-B:\/var\/tmp\/laggkit-e2e4242\/bin:\$PATH/);
  const a = netbsdFlavour.side(p, 'A', 'ifconfig -l');
  t.notRegex(a, /RUMP_SERVER|bin-B/);
  t.regex(a, /TMPDIR=\/var\/tmp\/laggkit-e2e4242\/A /);
  const w = sideBWrappers(p);
  t.regex(w.ifconfig!, /rump\.ifconfig "\$@"/);
  t.regex(
    w.seqstream!,
    new RegExp(
      `exec env LD_PRELOAD=/usr/lib/librumphijack\\.so RUMPHIJACK=${RUMPHIJACK.replaceAll('/', '\\/')} /var/tmp/laggkit-e2e4242/bin-B/seqstream-b "\\$@"`,
    ),
  );
  t.is(RUMPHIJACK, 'path=/rump,socket=all:nolocal,sysctl=yes');
  t.regex(w.dmesg!, /librumphijack\.so .* dmesg "\$@"/);
  t.regex(w.ping!, /exec rump\.ping "\$@"/);
  t.regex(w.modload!, /exit 1/);
});

test("NetBSD self flavour: side B's ifconfig wrapper takes tapN for virtN, prints virtN as tapN and keeps the exit status (run here with a stand-in rump.ifconfig)", (t) => {
  const w = sideBWrappers(plan());
  const r = runWithStubs(t, w.ifconfig!, {
    'rump.ifconfig':
      'printf "lagg0: flags=0x8843<UP> mtu 1500\\n\\tlaggport:\\n\\t\\tvirt20 pri=32768 flags=0x0\\n\\t\\tvirt21 pri=32768 flags=0x0\\nvirt2 virt200 virt24\\n"; exit 3',
  });
  t.is(r.status, 3, "rump.ifconfig's exit status");
  t.regex(r.stdout, /^\t\ttap20 pri=32768/m);
  t.regex(r.stdout, /^\t\ttap21 pri=32768/m);
  t.regex(r.stdout, /^virt2 virt200 tap24$/m, "only the run's units are renamed");
  t.deepEqual(r.calls, ['rump.ifconfig']);
  const args = runWithStubs(t, `sh -c '${w.ifconfig!.replaceAll("'", "'\\''")}' ifconfig lagg0 laggport tap20 laggport tap23 -laggport tap7 up`, {
    'rump.ifconfig': 'true',
  });
  t.is(args.status, 0);
  t.deepEqual(args.calls, ['rump.ifconfig lagg0 laggport virt20 laggport virt23 -laggport tap7 up']);
  const pg = runWithStubs(t, `sh -c '${w.pgrep!.replaceAll('/usr/bin/pgrep', 'pgrep').replaceAll("'", "'\\''")}' pgrep -x seqstream`, { pgrep: 'exit 0' });
  t.deepEqual(pg.calls, ['pgrep -x seqstream-b'], "side B's streams run as seqstream-b");
});

test('NetBSD self flavour: down never fails, also after a half-done up, and removes only what up recorded (run here with stand-ins)', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-nbself-state-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const p = plan({ stateDir: path.join(dir, 'state') });
  const stubs = {
    ifconfig:
      'case "$1 $2" in "lagg0 ") printf "lagg0: flags=0x8843<UP>\\n\\tlaggport:\\n\\t\\ttap20 pri=1 flags=0x0\\n" ;; "laggkit0 "|"agr0 ") exit 1 ;; esac; exit 0',
    sysctl: 'exit 1',
    'rump.halt': 'exit 1',
    modunload: 'exit 0',
  };
  // Nothing made at all: down still succeeds and calls nothing destructive.
  const none = runWithStubs(t, netbsdFlavour.down(p), stubs);
  t.is(none.status, 0);
  t.false(
    none.calls.some((c) => /destroy|rump\.halt|modunload/.test(c)),
    none.calls.join('\n'),
  );
  // Half-done: the rump server was being started, two taps made, lagg0 holding one of them.
  fs.mkdirSync(p.stateDir);
  fs.writeFileSync(path.join(p.stateDir, 'rump'), '');
  fs.writeFileSync(path.join(p.stateDir, 'taps'), 'tap20\ntap21\n');
  const half = runWithStubs(t, netbsdFlavour.down(p), stubs);
  t.is(half.status, 0);
  t.true(half.calls.includes('ifconfig lagg0 destroy'), "the run's lagg0 (it holds tap20) goes");
  t.false(half.calls.includes('ifconfig laggkit0 destroy'), "an aggregate without the run's taps stays");
  t.true(half.calls.includes('rump.halt'));
  t.true(half.calls.includes('ifconfig tap20 destroy') && half.calls.includes('ifconfig tap21 destroy'));
  t.false(half.calls.includes('ifconfig tap22 destroy'), 'a tap up() did not record is left alone');
  t.false(
    half.calls.some((c) => c.startsWith('modunload')),
    'no module unloaded that up() did not load',
  );
  t.false(fs.existsSync(p.stateDir), 'the state folder is gone');
});

test('--target self: the NetBSD flavour for uname -s NetBSD, and an OS without one is refused saying which there are', (t) => {
  t.is(selfFlavourFor('root@nb', 'NetBSD', 'NetBSD'), netbsdFlavour);
  t.is(selfFlavourFor('root@nb', 'MyBSD', 'NetBSD'), netbsdFlavour, 'a derivative by its kernel family');
  const e = t.throws(() => selfFlavourFor('root@p9', 'Plan9', 'Plan9'));
  t.true(e instanceof UsageError);
  t.is((e as UsageError).code, 'E_E2E_SELF_OS');
  t.regex(e?.message ?? '', /--target self has no Plan9 flavour yet \(root@p9 runs Plan9; there is one for Linux, FreeBSD, NetBSD\)/);
});

test("the engine on a target with a side B of its own: every run meets rump's stock driver on B; laggkit on B is skipped with the reason", (t) => {
  const d = driversFor('netbsd');
  const drivers = netbsdFlavour.drivers!(d);
  const sideB = netbsdFlavour.sideB!(d);
  const target = {
    kind: 'self',
    platform: netbsdPlatform,
    drivers,
    sideB,
    lacks: () => undefined,
  } as unknown as E2eTarget;
  const cases = expandCases(loadCatalogue());
  const steady = cases.find((c) => c.scenario.name === 'steady-state' && c.proto === 'lacp')!;
  t.is(peerOf(target, drivers.laggkit, steady), sideB.driver);
  t.is(peerOf(target, drivers.stock, steady), sideB.driver);
  t.regex(sideB.driver.label, /rump kernel, side B/);
  t.regex(sideB.driver.prepare(), /ifconfig -C .*grep -qx lagg/);
  t.false(/modload|modstat/.test(sideB.driver.prepare() + sideB.driver.alive()), "side B never loads a module into the machine's kernel");
  t.is(runSkipReason(target, drivers.laggkit, steady), undefined);
  const interop = cases.find((c) => c.scenario.setup.peer === 'other')!;
  t.is(runSkipReason(target, drivers.laggkit, interop), undefined, 'laggkit on A against the stock driver on B');
  t.regex(runSkipReason(target, drivers.stock, interop) ?? '', /rump kernel, which cannot load laggkit\.kmod/);
  const rr = cases.find((c) => c.proto === 'roundrobin')!;
  t.regex(runSkipReason(target, drivers.laggkit, rr) ?? '', /NetBSD lagg\(4\) has no roundrobin/, 'B cannot run it, so neither run can');
  const stockless = { ...target, lacks: (c: string) => (c === 'stock' ? 'no lagg here' : undefined) } as E2eTarget;
  t.is(runSkipReason(stockless, drivers.laggkit, steady), 'no lagg here', 'without the stock driver no run has a side B');
  for (const x of [drivers.laggkit, drivers.stock]) t.regex(JSON.stringify(x.unload()), /machine's own kernel/);
});
