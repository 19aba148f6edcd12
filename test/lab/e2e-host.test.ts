/**
 * `laggkit e2e --target host` through the built CLI against two real OpenSSH servers, each in
 * a network namespace with its own /tmp, /run, /var/tmp and PID namespace (two machines as far
 * as laggd and the actions can tell), joined by four veth data links. Neither has laggd,
 * laggctl or seqstream on its PATH: e2e copies the static builds in and removes them again.
 * There is no cable to pull on such a target: the cable scenarios are reported skipped with
 * the reason in every format. Bad --link values are refused before anything is copied.
 */
import test, { type TestFn } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import type { E2eResult } from '../../src/e2e/engine.js';
import { missingPrerequisites, testNeeding } from '../support/require.js';
import { checkExit, cli, ifSnapshot, tapSummary } from './support/cli.js';
import { startNetnsHosts, type NetnsHosts } from './support/netns-hosts.js';

const needs = { root: true, tools: ['ip', 'tc', 'unshare', 'nsenter', '/usr/sbin/sshd', 'ssh-keygen', 'make'] };
const serial = test.serial as unknown as TestFn;
const LINKS = ['eth1', 'eth2', 'eth3', 'eth4'];
const SUBSET = [
  'steady-state[lacp,*',
  'steady-state[failover,*',
  'spread[loadbalance,*',
  'mtu[lacp,virtio+virtio]',
  'cable-pull[lacp,virtio+virtio]',
  'mgmt-untouched',
];

let lab: NetnsHosts | undefined;
test.before(async () => {
  if (missingPrerequisites(needs).length > 0) return; // each test says what is missing
  try {
    lab = await startNetnsHosts(`h${process.pid % 10000}`, LINKS);
  } catch (err) {
    process.stderr.write(`the two sshd hosts did not start: ${(err as Error).message}\n`);
  }
});
test.after.always(async () => {
  await lab?.stop();
});

function hosts(): NetnsHosts {
  if (!lab) throw new Error('the two sshd hosts did not start (see the log above)');
  return lab;
}

const base = (extra: string[]): string[] => [
  'e2e',
  '--target',
  'host',
  '--ssh-config',
  hosts().sshConfig,
  '-i',
  hosts().clientKey,
  '--host',
  'a',
  '--host',
  'b',
  ...extra,
];

testNeeding(
  serial,
  'e2e --target host runs a catalogue subset on two SSH hosts, copies the tools in and out, and skips cable pulls with the reason',
  needs,
  async (t) => {
    t.timeout(900_000);
    const h = hosts();
    for (const i of [0, 1] as const)
      t.is(h.onHost(i, 'for x in laggd laggctl seqstream; do command -v $x; done; true').trim(), '', 'no laggkit tools there before');
    const mgmtBefore = [0, 1].map((i) => h.onHost(i as 0 | 1, ifSnapshot('eth0')));
    const out = fs.mkdtempSync(path.join(path.dirname(h.sshConfig), 'report-'));
    const r = await cli(
      [...base(LINKS.flatMap((l) => ['--link', `${l}=${l}`])), '--compare', 'stock', '--report', out, ...SUBSET.flatMap((g) => ['--only', g])],
      { NO_COLOR: '1' },
      800_000,
    );
    checkExit(t, r, 0, 'e2e --target host');
    const res = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as E2eResult;
    t.regex(res.target, /^host a and b \(links eth1 eth2 eth3 eth4; tools pushed\/pushed\)$/);
    t.deepEqual(res.cases.map((c) => c.id).sort(), [
      'cable-pull[lacp,virtio+virtio]',
      'mgmt-untouched[loadbalance,virtio+virtio+e1000+e1000]',
      'mtu[lacp,virtio+virtio]',
      'spread[loadbalance,virtio+virtio]',
      'steady-state[failover,virtio+virtio]',
      'steady-state[lacp,virtio+virtio]',
    ]);
    t.deepEqual(res.totals, { pass: 5, fail: 0, skip: 1 });
    for (const c of res.cases.filter((x) => x.status === 'pass')) {
      const lk = c.runs.find((x) => x.driver === 'laggkit')!;
      t.is(lk.status, 'pass', `${c.id}: ${lk.failures.join('; ')}`);
      t.true(lk.metrics.steady === 1 && Number.isFinite(lk.metrics.converge_ms), `${c.id}: steady, converge time measured`);
    }
    // The management link detected from the SSH session (eth0 here, not the lab's mgmt0) and untouched.
    const mgmt = res.cases.find((c) => c.scenario === 'mgmt-untouched')!.runs[0]!;
    t.is(mgmt.metrics.mgmt_unchanged, 1);
    t.regex(mgmt.captures['management link before'] ?? '', /eth0/);
    const spread = res.cases.find((c) => c.scenario === 'spread')!.runs[0]!;
    t.is(spread.metrics.ports_used, 2, 'both members carried the 16 flows');
    // No cable on this target: skipped with the reason, in JSON, TAP and JUnit.
    const pull = res.cases.find((c) => c.scenario === 'cable-pull')!;
    t.is(pull.status, 'skip');
    t.is(pull.reason, 'no switch API to pull a cable on target host');
    t.regex(r.stdout, /^ok \d+ - cable-pull\[lacp,virtio\+virtio\] laggkit # SKIP no switch API to pull a cable on target host$/m);
    t.regex(fs.readFileSync(path.join(out, 'junit.xml'), 'utf8'), /<skipped message="no switch API to pull a cable on target host"/);
    // The stock runs: Linux bonding where it loads, else skipped saying why.
    const stockRuns = res.cases.flatMap((c) => c.runs.filter((x) => x.driver === 'stock'));
    t.true(stockRuns.length > 0);
    const bondingHere =
      fs.existsSync('/sys/module/bonding') ||
      fs.existsSync(`/lib/modules/${fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}/kernel/drivers/net/bonding`);
    for (const s of stockRuns) {
      if (bondingHere) t.not(s.status, 'fail', s.failures.join('; '));
      else t.regex(s.reason ?? '', /^(bonding does not load on a: |no switch API)/);
    }
    // What was copied in is gone, the aggregate is gone, the management link is as it was.
    for (const i of [0, 1] as const) {
      t.is(h.onHost(i, 'ls /var/tmp').trim(), '', 'scratch folder removed');
      t.is(h.onHost(i, 'pidof laggd seqstream; true').trim(), '', 'the daemons run from the copies are stopped');
      t.is(h.onHost(i, '[ -e /sys/class/net/laggkit0 ] && echo left; true').trim(), '');
      t.is(h.onHost(i, `for l in ${LINKS.join(' ')}; do ip -o -4 addr show dev $l; done`), '', 'the addresses the run gave the data links are gone');
      t.is(h.onHost(i, ifSnapshot('eth0')), mgmtBefore[i]!);
    }
    t.log(tapSummary(r.stdout));
  },
);

testNeeding(serial, 'e2e --target host refuses bad --host/--link input before it copies or changes anything', needs, async (t) => {
  t.timeout(120_000);
  const h = hosts();
  const state = (i: 0 | 1) => h.onHost(i, 'ls /var/tmp; ip -o addr show dev eth1 | grep -v _lft; pidof laggd; true');
  const before = [state(0), state(1)];
  const cases: Array<[string[], number, string, RegExp]> = [
    [['--link', 'eth0=eth0'], 2, 'E_E2E_LINK', /eth0 is the interface a's SSH session runs over/],
    [['--link', 'eth1=eth9'], 2, 'E_E2E_LINK', /the same interface name on A and B/],
    [['--link', 'eth5=eth5'], 2, 'E_E2E_LINK', /a has no interface eth5/],
    [['--link', 'eth1;reboot=eth1'], 2, 'E_BAD_IFNAME', /contains characters an interface name cannot have/],
    [['--link', 'eth1'], 2, 'E_E2E_LINK', /is not A-interface=B-interface/],
  ];
  for (const [extra, code, err, msg] of cases) {
    const r = await cli([...base(extra), '--json'], {}, 60_000);
    t.is(r.code, code, `${extra.join(' ')}: ${r.stdout}${r.stderr}`);
    t.is(r.json?.error?.code, err, extra.join(' '));
    t.regex(r.json?.error?.message ?? '', msg);
  }
  // Flags of another target are refused, not ignored.
  for (const [args, msg] of [
    [['--target', 'host', '--host', 'a', '--link', 'eth1=eth1'], /needs --host twice/],
    [['--target', 'self', '--host', 'a', '--host', 'b'], /give --host at most once/],
    [['--target', 'lab', '--host', 'a'], /--host is for --target host and self, not lab/],
    [['--target', 'vagrant', '--link', 'eth1=eth1'], /--link is for --target host, not vagrant/],
    [['--target', 'self', '--lab', 'x'], /--lab and --keep-lab are for --target lab, not self/],
  ] as Array<[string[], RegExp]>) {
    const r = await cli(['e2e', ...args, '--json']);
    t.is(r.code, 2, args.join(' '));
    t.is(r.json?.error?.code, 'E_E2E_HOSTS');
    t.regex(r.json?.error?.message ?? '', msg);
  }
  t.deepEqual([state(0), state(1)], before, 'nothing copied, started or addressed');
});

testNeeding(serial, 'e2e --target self --host runs both sides in namespaces on the one remote machine and leaves nothing there', needs, async (t) => {
  t.timeout(600_000);
  const h = hosts();
  const r = await cli(
    ['e2e', '--target', 'self', '--ssh-config', h.sshConfig, '-i', h.clientKey, '--host', 'a', '--only', 'cable-pull[lacp,virtio+virtio]', '--json'],
    {},
    500_000,
  );
  checkExit(t, r, 0, 'e2e --target self --host a');
  const res = r.json?.result?.result as E2eResult;
  t.regex(res.target, /^self on a \(Linux: network namespaces A and B/);
  const run = res.cases[0]!.runs[0]!;
  t.is(run.status, 'pass', run.failures.join('; '));
  t.deepEqual(
    run.events.filter((e) => e.kind === 'link').map((e) => e.what),
    ['veth0 cable pulled', 'veth0 plugged back'],
  );
  t.is(h.onHost(0, 'ip netns list; ls /var/tmp; pidof laggd seqstream; true').trim(), '', 'no namespace, copied tool or daemon left on a');
});
