/**
 * `laggkit e2e --target self` on this machine, no VM: sides A and B in network namespaces,
 * data links through a wire namespace. Through the built CLI, a catalogue subset with
 * --compare stock --report: every action kind passes on laggd, and the stock runs pass on
 * Linux bonding where this kernel has it, or are skipped saying why where it has not. Then the
 * target itself: a cable pull takes carrier from both ends while both stay administratively
 * up, close() leaves no namespace or process behind, and so does Ctrl-C in the middle of a run.
 * Nothing asserts on how long anything took.
 */
import test, { type ExecutionContext, type TestFn } from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCases, type E2eResult } from '../../src/e2e/engine.js';
import { expandCases, filterCases, loadCatalogue } from '../../src/e2e/scenario.js';
import { selfTarget } from '../../src/e2e/targets/self.js';
import { testNeeding } from '../support/require.js';
import { checkExit, cli, ifSnapshot, repo, tapSummary, waitFor } from './support/cli.js';

const needs = { root: true, tools: ['ip', 'tc', 'unshare', 'nsenter', 'pgrep', 'make'] };
const serial = test.serial as unknown as TestFn;

const SUBSET = [
  'create-destroy[lacp,*',
  'steady-state[lacp,*',
  'steady-state[broadcast,*',
  'spread[roundrobin,*',
  'cable-pull[lacp,virtio+virtio]',
  'failover-return[failover,virtio+virtio]',
  'mtu[failover,virtio+virtio]',
  'mgmt-untouched',
];

const netnsOf = (pid: number): string[] =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(`lk-e2e${pid % 100000}-`));

/** The machine's own interface the default route leaves by, as it reads: must never change. */
function ownNetwork(): string {
  const dev = /dev (\S+)/.exec(execFileSync('ip', ['route', 'show', 'default'], { encoding: 'utf8' }))?.[1] ?? 'lo';
  return execFileSync('sh', ['-c', ifSnapshot(dev)], { encoding: 'utf8' });
}

/** Whether Linux bonding loads here: built in, loaded, or a module for this kernel. */
function bondingHere(): boolean {
  try {
    execFileSync('sh', ['-c', '[ -d /sys/module/bonding ] || modprobe -n bonding'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

testNeeding(serial, 'e2e --target self --compare stock --report: a catalogue subset passes with no VM, every format agrees', needs, async (t) => {
  t.timeout(900_000);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-e2e-self-'));
  t.teardown(() => fs.rmSync(out, { recursive: true, force: true }));
  const own = ownNetwork();
  const r = await cli(['e2e', '--target', 'self', '--compare', 'stock', '--report', out, ...SUBSET.flatMap((g) => ['--only', g])], { NO_COLOR: '1' }, 800_000);
  checkExit(t, r, 0, 'e2e --target self');
  const res = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as E2eResult;
  t.regex(res.target, /^self on this machine \(Linux: network namespaces A and B/);
  t.deepEqual(res.cases.map((c) => c.id).sort(), [
    'cable-pull[lacp,virtio+virtio]',
    'create-destroy[lacp,virtio+virtio]',
    'failover-return[failover,virtio+virtio]',
    'mgmt-untouched[loadbalance,virtio+virtio+e1000+e1000]',
    'mtu[failover,virtio+virtio]',
    'spread[roundrobin,virtio+virtio]',
    'steady-state[broadcast,virtio+virtio]',
    'steady-state[lacp,virtio+virtio]',
  ]);
  t.deepEqual(res.totals, { pass: 8, fail: 0, skip: 0 });
  const stock = bondingHere();
  for (const c of res.cases) {
    const [lk, st] = c.runs;
    t.is(lk!.status, 'pass', `${c.id} laggkit: ${lk!.failures.join('; ')}`);
    t.true(Object.keys(lk!.captures).length > 0, `${c.id}: evidence captured`);
    if (stock) t.is(st!.status, 'pass', `${c.id} stock: ${st!.failures.join('; ')}`);
    else {
      t.is(st!.status, 'skip', `${c.id}: no bonding in this kernel`);
      t.regex(st!.reason ?? '', /^bonding does not load on this machine: /);
    }
  }
  // The cable pull on the wire: both receivers heard the outage and the stream after it.
  const pull = res.cases.find((c) => c.id === 'cable-pull[lacp,virtio+virtio]')!.runs[0]!;
  t.deepEqual(
    pull.events.filter((e) => e.kind === 'link').map((e) => e.what),
    ['veth0 cable pulled', 'veth0 plugged back'],
  );
  t.is(pull.metrics.active_during, 1, 'one member left while veth0 was pulled');
  t.true(pull.metrics.gap_ms_ab! > 0 && pull.metrics.gap_ms_ba! >= 0, 'gaps measured both ways');
  t.true(pull.portSeries.length === 2 && pull.portSeries.every((s) => s.t_ms.length > 3), 'per-port traffic sampled through the pull');
  const fo = res.cases.find((c) => c.id.startsWith('failover-return'))!.runs[0]!;
  t.deepEqual([fo.metrics.active_before, fo.metrics.active_during, fo.metrics.active_after], [0, 1, 0], 'primary, backup, primary');
  // TAP, JUnit and JSON agree.
  const points = r.stdout.split('\n').filter((l) => /^(not )?ok \d+ - /.test(l));
  t.is(points.length, 16);
  t.is(points.filter((l) => / # SKIP /.test(l)).length, stock ? 0 : 8);
  const junit = fs.readFileSync(path.join(out, 'junit.xml'), 'utf8');
  t.regex(junit, new RegExp(`<testsuites name="laggkit e2e" tests="16" failures="0" skipped="${stock ? 0 : 8}"`));
  if (!stock) t.regex(junit, /<skipped message="bonding does not load on this machine: /);
  t.regex(r.stdout, /^# cable-pull\[lacp,virtio\+virtio\] gap_ms_ab: laggkit [\d.]+, /m);
  // Nothing left, and the machine's own network as it was.
  t.is(ownNetwork(), own);
  t.log(tapSummary(r.stdout));
});

testNeeding(serial, "the self target's cable pull: both ends lose carrier and stay up; close() removes every namespace and process", needs, async (t) => {
  t.timeout(300_000);
  const target = await selfTarget({});
  let closed = false;
  t.teardown(async () => {
    if (!closed) await target.close();
  });
  t.deepEqual(netnsOf(process.pid).sort(), [`lk-e2e${process.pid % 100000}-a`, `lk-e2e${process.pid % 100000}-b`, `lk-e2e${process.pid % 100000}-w`]);
  const link = `cat /sys/class/net/veth1/carrier; ip -o link show dev veth1 | grep -o '<[^>]*>'`;
  for (const s of ['A', 'B'] as const) t.is((await target.sh(s, link)).stdout, '1\n<BROADCAST,MULTICAST,UP,LOWER_UP>\n', `${s}: veth1 up with carrier`);
  // Each side has its own processes and files, as two machines would.
  await target.sh('A', 'cp "$(command -v sleep)" /tmp/lkmark && /tmp/lkmark 600 >/dev/null 2>&1 &');
  t.is((await target.sh('A', 'pidof lkmark | wc -w')).stdout, '1\n');
  t.is((await target.sh('B', 'cat /tmp/lkmark 2>&1 >/dev/null; pidof lkmark | wc -w')).stdout, 'cat: /tmp/lkmark: No such file or directory\n0\n');
  await target.cable('veth1', false);
  for (const s of ['A', 'B'] as const)
    t.is((await target.sh(s, link)).stdout, '0\n<NO-CARRIER,BROADCAST,MULTICAST,UP>\n', `${s}: veth1 admin-up without carrier`);
  t.is((await target.sh('A', 'cat /sys/class/net/veth0/carrier')).stdout, '1\n', 'the other links keep theirs');
  await target.cable('veth1', true);
  for (const s of ['A', 'B'] as const) t.is((await target.sh(s, link)).stdout, '1\n<BROADCAST,MULTICAST,UP,LOWER_UP>\n', `${s}: carrier back`);
  const holders = fs
    .readdirSync('/var/tmp')
    .filter((d) => d === `laggkit-e2e${process.pid % 100000}`)
    .flatMap((d) => ['A', 'B'].map((s) => Number(fs.readFileSync(path.join('/var/tmp', d, `${s}.pid`), 'utf8'))));
  t.is(holders.length, 2);
  await target.close();
  closed = true;
  t.deepEqual(netnsOf(process.pid), []);
  t.false(fs.existsSync(`/var/tmp/laggkit-e2e${process.pid % 100000}`));
  await waitFor('the side holders to end', async () => (holders.every((p) => !fs.existsSync(`/proc/${p}`)) ? true : undefined), 10_000);
});

/** Start an e2e --target self run, interrupt it when `ready` says so, and check nothing is left. */
async function interrupted(t: ExecutionContext, ready: (stdout: string, pid: number) => boolean): Promise<void> {
  const child = spawn(process.execPath, [path.join(repo, 'bin', 'run.js'), 'e2e', '--target', 'self', '--only', 'cable-pull[lacp,virtio+virtio]'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitFor('the moment to interrupt', async () => (ready(stdout, child.pid!) ? true : undefined), 120_000, 20);
  child.kill('SIGINT');
  t.is(await exited, 130);
  t.deepEqual(netnsOf(child.pid!), []);
  t.false(fs.existsSync(`/var/tmp/laggkit-e2e${child.pid! % 100000}`));
}

testNeeding(serial, 'Ctrl-C during an e2e --target self run: exit 130, no namespace or process left', needs, async (t) => {
  t.timeout(300_000);
  // The plan line comes once the target is up; the namespaces then exist.
  await interrupted(t, (stdout, pid) => stdout.includes('1..1') && netnsOf(pid).length === 3);
});

testNeeding(serial, 'Ctrl-C while the self target is still being built: the build finishes, then everything goes', needs, async (t) => {
  t.timeout(300_000);
  // The first namespace exists, the run has not started: the sides are being built.
  await interrupted(t, (stdout, pid) => netnsOf(pid).length > 0 && !stdout.includes('1..1'));
});

testNeeding(serial, "the self target's impairments: one direction dropped, or only LACPDUs, on the wire, and restored", needs, async (t) => {
  t.timeout(300_000);
  const target = await selfTarget({});
  t.teardown(() => target.close());
  const rx = async (s: 'A' | 'B'): Promise<number> => Number((await target.sh(s, 'cat /sys/class/net/veth2/statistics/rx_packets')).stdout);
  const ping = async (s: 'A' | 'B', to: string): Promise<boolean> => (await target.sh(s, `ping -c 2 -W 1 ${to} >/dev/null`)).code === 0;
  await target.sh('A', 'ip addr add 10.99.3.1/24 dev veth2');
  await target.sh('B', 'ip addr add 10.99.3.2/24 dev veth2');
  t.true(await ping('A', '10.99.3.2'), 'veth2 carries a ping before');
  // A→B dropped: B hears nothing from A while A still hears B.
  await target.impair('veth2', { direction: 'a-to-b', what: 'all' }, true);
  const [a0, b0] = [await rx('A'), await rx('B')];
  t.false(await ping('A', '10.99.3.2'));
  t.false(await ping('B', '10.99.3.1'), 'no answer comes back B-ward either');
  t.is(await rx('B'), b0, 'B received nothing from A');
  t.true((await rx('A')) > a0, "A received B's frames");
  // Only LACPDUs dropped, both ways: IP passes, veth2 never joins an LACP aggregate, veth3 does.
  for (const direction of ['a-to-b', 'b-to-a'] as const) await target.impair('veth2', { direction, what: 'lacp' }, true);
  t.true(await ping('A', '10.99.3.2'), 'IP crosses while LACPDUs are dropped');
  for (const s of ['A', 'B'] as const)
    await target.sh(
      s,
      'laggd -f >/tmp/laggd.log 2>&1 & i=0; while [ ! -S /run/laggd.sock ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; laggctl laggkit0 create laggproto lacp laggport veth3 laggport veth2 lacp_fast_timeout && ip link set laggkit0 up',
    );
  const ports = async (): Promise<string> => (await target.sh('A', 'laggctl laggkit0 | awk \'$1 == "laggport:" { print $2, $3 }\'')).stdout;
  const joined = await waitFor(
    'veth3 to distribute',
    async () => ((await ports()).includes('veth3 flags=1d<MASTER,ACTIVE,COLLECTING,DISTRIBUTING>') ? await ports() : undefined),
    60_000,
  );
  t.regex(joined, /^veth2 flags=0<>$/m, 'veth2 without a partner while its LACPDUs are dropped');
  for (const direction of ['a-to-b', 'b-to-a'] as const) await target.impair('veth2', { direction, what: 'all' }, false);
  await waitFor('veth2 to distribute once restored', async () => (/^veth2 \S*DISTRIBUTING/m.test(await ports()) ? true : undefined), 60_000);
  t.pass();
});

testNeeding(
  serial,
  'a stream that never gets through fails the run before anything is measured, naming the silent direction',
  { ...needs, tools: [...needs.tools, 'iptables'] },
  async (t) => {
    t.timeout(300_000);
    const target = await selfTarget({});
    t.teardown(() => target.close());
    // B's own stack drops the stream's datagrams (its port, 47001): A→B is never heard, B→A is.
    await target.sh('B', 'iptables -I INPUT -p udp --dport 47001 -j DROP');
    const cases = filterCases(expandCases(loadCatalogue()), { only: ['failover-return[failover,virtio+virtio]'] });
    t.is(cases.length, 1);
    const res = await runCases(target, cases, { compare: 'none', repeat: 1 });
    const run = res.cases[0]!.runs[0]!;
    t.is(run.status, 'fail');
    t.is(run.failures.length, 1, JSON.stringify(run.failures));
    t.regex(run.failures[0]!, /^error: the stream did not get through within 20 s of its start: A→B \(B's receiver: /);
    t.notRegex(run.failures[0]!, /B→A/, 'B→A was heard');
    // Nothing was pulled: the failure came before the action's disturbance.
    t.false(
      run.events.some((e) => e.kind === 'link'),
      JSON.stringify(run.events),
    );
    t.is(res.totals.fail, 1);
  },
);
