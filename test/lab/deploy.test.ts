/**
 * `laggkit deploy` end to end on the lab: two real Linux guests (dropbear, no SFTP), four links
 * (virtio x2, e1000 x2), real laggd built and installed by deploy, every step through the CLI
 * exactly as a user runs it with the lab's ssh-config. In order: LACP deployed on both guests,
 * traffic across, a cable pulled and plugged back, status, a second deploy that changes
 * nothing, undeploy restoring both guests (files and interfaces), bad input refused with the
 * host unchanged, and the rollback guard on the guest: a deploy whose verification fails, a
 * configuration that cuts the management path, and a deploy killed mid-way, each rolled back
 * by the guest itself.
 */
import test, { type ExecutionContext, type TestFn } from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { testNeeding } from '../support/require.js';
import { guestScript } from '../../src/lab/guest-ssh.js';
import { labUp } from '../../src/lab/lab.js';
import { labSshConfig } from '../../src/lab/ssh-config.js';
import type { LabState } from '../../src/lab/state.js';
import { checkExit, cli, isolatedLab, lacpDeployArgs, repo, waitFor, type CliResult } from './support/cli.js';

const { root: labRoot, name: NAME } = await isolatedLab(test, 'dp');
const needs = { tools: ['qemu-system-x86_64', 'dropbearkey', 'ssh-keygen', 'xz', 'busybox', 'make'] };
const PORTS = ['vtnet0', 'vtnet1', 'em0', 'em1'];
const serial = test.serial as unknown as TestFn;

let lab: LabState | undefined;
let sshConfig = '';
const before: Record<string, string> = {};

/** What "the guest as it was" means: interfaces, addresses, and every file deploy may touch. */
// DAD's "tentative" is a moment after boot, not state: left out.
const SNAPSHOT = `ip addr | grep -v _lft | grep -v ' dynamic ' | sed 's/ tentative//'; echo ---; for f in /etc/laggd.conf /etc/rc.d/laggd /usr/local/sbin/laggd /usr/local/sbin/laggctl /var/lib/laggkit; do [ -e "$f" ] && echo "$f present"; done; ls -la /etc /etc/rc.d | grep -v ' \\.$' | awk '{print $1, $5, $NF}'; md5sum /etc/passwd /etc/rc.d/sshd; pidof laggd || echo no-laggd`;

test.before(async (t) => {
  // Building laggd and booting two guests under TCG on a loaded machine can take minutes.
  t.timeout(600_000);
  execFileSync('make', ['-s', '-C', path.join(repo, 'kmod', 'posix'), 'static'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  try {
    lab = await labUp({ name: NAME, nics: ['virtio', 'virtio', 'e1000', 'e1000'] });
    sshConfig = path.join(labRoot, 'ssh_config');
    fs.writeFileSync(sshConfig, labSshConfig(lab));
    for (const vm of ['A', 'B']) before[vm] = (await guestScript(lab, vm, SNAPSHOT)).stdout;
  } catch (err) {
    process.stderr.write(`lab up failed: ${(err as Error).message}\n`);
  }
});

function up(): LabState {
  if (!lab) throw new Error('the lab did not come up (see the log above)');
  return lab;
}

const env = () => ({ LAGGKIT_LAB_DIR: labRoot });
const deployArgs = (vm: string, confirmTimeout = '180', verifyTimeout = '90') =>
  lacpDeployArgs(sshConfig, vm, PORTS, '10.77.0', [
    '--lacp-fast-timeout',
    '--opt',
    'lacp_multi_speed=1',
    '--confirm-timeout',
    confirmTimeout,
    '--verify-timeout',
    verifyTimeout,
    '--json',
  ]);
type Progress = { step?: string; ok?: boolean; ms?: number; event?: string; detail?: string };
const progress = (r: CliResult) =>
  r.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Progress);
/**
 * The steps of the attempt that ran: after the last `reconnect` event, if the connection
 * dropped during a probe (deploy then connects again, once, before anything changed; under
 * TCG on a busy host an SSH session to a guest sometimes goes). Before it only a probe may
 * have reported.
 */
function steps(r: CliResult, t: ExecutionContext): Array<{ step: string; ok: boolean; ms: number }> {
  const lines = progress(r);
  const last = lines.map((l) => l.event).lastIndexOf('reconnect');
  if (last >= 0) {
    t.log(`deploy connected again: ${lines[last]!.detail ?? ''}`);
    const before = lines.slice(0, last).filter((l) => l.event === undefined);
    t.deepEqual(
      before.map((l) => l.step),
      before.map(() => 'probe'),
      'before a reconnect: nothing but the probe whose connection dropped',
    );
  }
  return lines.slice(last + 1).filter((l): l is { step: string; ok: boolean; ms: number } => typeof l.step === 'string');
}

const sh = async (vm: string, script: string) => (await guestScript(up(), vm, script)).stdout;
const ports = async (vm: string) =>
  (JSON.parse(await sh(vm, '/usr/local/sbin/laggctl --json laggkit0')) as { ports: { name: string; flags: string[] }[] }).ports;
const distributing = (p: { flags: string[] }) => ['ACTIVE', 'COLLECTING', 'DISTRIBUTING'].every((f) => p.flags.includes(f));

testNeeding(serial, 'deploy LACP on both guests at once: every step reported, all four ports distributing', needs, async (t) => {
  up();
  const [a, b] = await Promise.all([cli(deployArgs('A'), env(), 300_000), cli(deployArgs('B'), env(), 300_000)]);
  checkExit(t, a, 0, 'deploy A');
  checkExit(t, b, 0, 'deploy B');
  const ran = steps(a, t);
  t.deepEqual(
    ran.map((s) => s.step),
    ['probe', 'plan', 'build', 'install', 'configure', 'verify', 'confirm', 'persist'],
  );
  t.true(ran.every((s) => s.ok && s.ms >= 0));
  t.true(a.json?.result?.changed);
  t.is(a.json?.result?.guard, 'confirmed');
  for (const vm of ['A', 'B']) t.is((await ports(vm)).filter(distributing).length, 4, `${vm}: four ports distributing`);
  t.regex(
    await sh('A', 'cat /etc/laggd.conf'),
    /^laggkit0 create laggproto lacp laggport vtnet0 laggport vtnet1 laggport em0 laggport em1 lacp_fast_timeout lagglacp multi-speed inet 10\.77\.0\.1\/24 up\n$/,
  );
});

testNeeding(serial, 'traffic crosses the aggregate; a cable pulled costs a port, not the path; plugged back it returns', needs, async (t) => {
  // Both deploys ran at once; B's side may settle a moment after A's verify passed.
  await waitFor(
    'B to answer over the aggregate',
    async () => ((await guestScript(up(), 'A', 'ping -c 1 -W 1 10.77.0.2')).code === 0 ? true : undefined),
    20_000,
    500,
  );
  t.regex(await sh('A', 'ping -c 5 -i 0.2 10.77.0.2'), / 0% packet loss/, 'before the pull');
  checkExit(t, await cli(['lab', 'link', 'A', 'em0', 'down', '--name', NAME], env()), 0, 'link down');
  await waitFor(
    'em0 out of the aggregate on both sides',
    async () =>
      (await ports('A')).find((p) => p.name === 'em0' && !distributing(p)) && (await ports('B')).find((p) => p.name === 'em0' && !distributing(p))
        ? true
        : undefined,
    20_000,
  );
  t.regex(await sh('A', 'ping -c 5 -i 0.2 10.77.0.2'), / 0% packet loss/, 'with em0 pulled');
  const st = await cli(['status', '--ssh-config', sshConfig, '--host', 'A', '--json'], env());
  checkExit(t, st, 0, 'status');
  const agg = st.json?.result?.aggregates?.[0];
  t.is(agg?.ports?.filter((p: { flags: string[] }) => distributing(p)).length, 3, 'status shows three ports distributing');
  t.true(st.json?.result?.module?.loaded);
  t.regex(st.json?.result?.module?.buildId ?? '', /^[0-9a-f]{12}$/);
  t.deepEqual(
    st.json?.result?.deployed?.persisted?.map((p: { inPlace: boolean }) => p.inPlace),
    [true],
  );
  checkExit(t, await cli(['lab', 'link', 'A', 'em0', 'up', '--name', NAME], env()), 0, 'link up');
  await waitFor(
    'em0 back on both sides',
    async () => ((await ports('A')).filter(distributing).length === 4 && (await ports('B')).filter(distributing).length === 4 ? true : undefined),
    30_000,
  );
  t.pass();
});

testNeeding(serial, 'a second identical deploy finds nothing to do and changes no file', needs, async (t) => {
  const files =
    'ls -la --full-time /etc/laggd.conf /usr/local/sbin/laggd /etc/rc.d/laggd 2>/dev/null || ls -la -e /etc/laggd.conf /usr/local/sbin/laggd /etc/rc.d/laggd; md5sum /etc/laggd.conf /usr/local/sbin/laggd /var/lib/laggkit/record.json';
  const s0 = await sh('A', files);
  const r = await cli(deployArgs('A'), env());
  checkExit(t, r, 0, 'second deploy');
  t.false(r.json?.result?.changed);
  t.deepEqual(
    steps(r, t).map((s) => s.step),
    ['probe', 'plan'],
  );
  t.is(await sh('A', files), s0);
});

testNeeding(serial, 'bad input: a clear error, its exit code, and the guest unchanged', needs, async (t) => {
  const s0 = await sh('A', SNAPSHOT);
  const base = ['deploy', '--ssh-config', sshConfig, '--host', 'A', '--json'];
  const cases: [string, string[], number, RegExp][] = [
    ['unknown port', [...base, '--name', 'laggkit1', '--laggproto', 'failover', '--laggport', 'em9'], 2, /E_PORT_UNKNOWN/],
    ['port already in an aggregate', [...base, '--name', 'laggkit1', '--laggproto', 'failover', '--laggport', 'em1'], 2, /E_PORT_BUSY/],
    ['hostile port name', [...base, '--laggproto', 'lacp', '--laggport', 'em0;reboot'], 2, /E_SPEC/],
    ['hostile value', [...base, '--laggproto', 'lacp', '--laggport', 'em0', '--inet', '10.0.0.1/24$(reboot)'], 2, /E_SPEC/],
    ['unknown option', [...base, '--laggproto', 'lacp', '--laggport', 'em0', '--opt', 'no_such=1'], 2, /E_SPEC/],
    [
      '--build remote on a host without a compiler',
      [...base, '--build', 'remote', '--laggproto', 'failover', '--laggport', 'em0'],
      6,
      /E_NO_TOOLCHAIN.*cc and make/,
    ],
    ['the management NIC without --allow-management-port', [...base, '--name', 'laggkit1', '--laggproto', 'failover', '--laggport', 'mgmt0'], 2, /E_MGMT_PORT/],
    ['a wrong key', [...base, '-i', path.join(labRoot, 'wrong_key'), '--laggproto', 'lacp', '--laggport', 'em0'], 4, /E_SSH_AUTH/],
  ];
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(labRoot, 'wrong_key')]);
  fs.writeFileSync(
    path.join(labRoot, 'ssh_config_wrongkey'),
    fs.readFileSync(sshConfig, 'utf8').replaceAll(/IdentityFile .*/g, `IdentityFile ${path.join(labRoot, 'wrong_key')}`),
  );
  (cases[7] as [string, string[], number, RegExp])[1] = [
    'deploy',
    '--ssh-config',
    path.join(labRoot, 'ssh_config_wrongkey'),
    '--host',
    'A',
    '--json',
    '--laggproto',
    'lacp',
    '--laggport',
    'em0',
  ];
  const spec = path.join(labRoot, 'bad.yaml');
  fs.writeFileSync(spec, 'aggregates:\n  - name: laggkit0\n    laggproto: lacpp\n    laggports: [em0, "em0;reboot"]\n    mtu: 12\n    colour: blue\n');
  cases.push([
    'a malformed spec file',
    [...base, '--spec', spec],
    2,
    /aggregates\[0\]\.laggproto.*aggregates\[0\]\.laggports\[1\].*aggregates\[0\]\.mtu.*colour/,
  ]);
  const notYaml = path.join(labRoot, 'notyaml.yaml');
  fs.writeFileSync(notYaml, 'aggregates: [\n  - {name: laggkit0\n');
  cases.push(['a file that is not YAML', [...base, '--spec', notYaml], 3, /E_SPEC_YAML/]);
  for (const [what, args, code, re] of cases) {
    const r = await cli(args, env());
    checkExit(t, r, code, what);
    t.regex(`${r.json?.error?.code} ${r.json?.error?.message}`, re, what);
    t.truthy(r.json?.error?.message, `${what}: a message`);
  }
  t.is(await sh('A', SNAPSHOT), s0, 'nothing changed on A');
});

testNeeding(serial, 'undeploy puts both guests back: interfaces, processes and files as before the first deploy', needs, async (t) => {
  const [a, b] = await Promise.all(['A', 'B'].map((vm) => cli(['undeploy', '--ssh-config', sshConfig, '--host', vm, '--json'], env())));
  checkExit(t, a as CliResult, 0, 'undeploy A');
  checkExit(t, b as CliResult, 0, 'undeploy B');
  for (const vm of ['A', 'B']) t.is(await sh(vm, SNAPSHOT), before[vm] ?? '(no snapshot)', `${vm} as before`);
  const again = await cli(['undeploy', '--ssh-config', sshConfig, '--host', 'A', '--json'], env());
  checkExit(t, again, 0, 'second undeploy');
  t.false(again.json?.result?.changed);
});

testNeeding(
  serial,
  'a deploy that fails verification is rolled back by the guard on the guest: exit 8 naming the cause, then undeploy leaves the guest as before',
  needs,
  async (t) => {
    const r = await cli(
      [
        'deploy',
        '--ssh-config',
        sshConfig,
        '--host',
        'A',
        '--json',
        '--name',
        'laggkit0',
        '--laggproto',
        'failover',
        '--laggport',
        'em1',
        '--inet',
        '10.77.9.1/24',
        '--verify-ping',
        '10.77.9.99',
        '--verify-timeout',
        '6',
        '--confirm-timeout',
        '40',
      ],
      env(),
      240_000,
    );
    checkExit(t, r, 8, 'deploy');
    t.is(r.json?.error?.code, 'E_ROLLED_BACK');
    t.regex(r.json?.error?.message ?? '', /rolled back: .*10\.77\.9\.99/);
    const after = await sh('A', 'pidof laggd || echo no-laggd; ip addr show dev em1; cat /var/lib/laggkit/guard/log');
    t.regex(after, /no-laggd/);
    t.regex(after, /inet 10\.99\.4\.1\/24/);
    t.regex(after, /rolled back \(restore exit 0\)/);
    const st = await cli(['status', '--ssh-config', sshConfig, '--host', 'A', '--json'], env());
    t.is(st.json?.result?.guard?.state, 'fired');
    checkExit(t, await cli(['undeploy', '--ssh-config', sshConfig, '--host', 'A'], env()), 0, 'undeploy');
    t.is(await sh('A', SNAPSHOT), before.A ?? '(no snapshot)', 'A as before');
  },
);

testNeeding(
  serial,
  'lockout: the management NIC as an LACP port (no partner there) cuts SSH; the guest rolls itself back, deploy exits 8 naming the cause',
  needs,
  async (t) => {
    const r = await cli(
      [
        'deploy',
        '--ssh-config',
        sshConfig,
        '--host',
        'A',
        '--json',
        '--laggproto',
        'lacp',
        '--lacp-strict',
        '--laggport',
        'mgmt0',
        '--allow-management-port',
        '--confirm-timeout',
        '25',
        '--verify-timeout',
        '10',
      ],
      env(),
      300_000,
    );
    checkExit(t, r, 8, 'deploy');
    t.is(r.json?.error?.code, 'E_ROLLED_BACK');
    t.regex(r.json?.error?.message ?? '', /rolled back: no confirmation within 25 s/);
    const after = await sh('A', 'ip addr show dev mgmt0; pidof laggd || echo no-laggd; cat /var/lib/laggkit/guard/log');
    t.regex(after, /inet 10\.0\.2\.15\/24/, 'the old address answers SSH again');
    t.regex(after, /no-laggd/);
    t.regex(after, /rolling back: no confirmation[\s\S]*rolled back \(restore exit 0\)/);
    checkExit(t, await cli(['undeploy', '--ssh-config', sshConfig, '--host', 'A'], env()), 0, 'undeploy');
    t.is(await sh('A', SNAPSHOT), before.A ?? '(no snapshot)', 'A as before');
  },
);

/**
 * Start a deploy to A and send it `signal` 1.5 s after its install step (guard armed,
 * configure under way); resolves with its exit code (null when a signal ended it) and stderr.
 */
async function deployInterrupted(signal: NodeJS.Signals, confirmTimeout: string, verifyTimeout: string): Promise<{ code: number | null; err: string }> {
  const child = spawn(process.execPath, [path.join(repo, 'bin', 'run.js'), ...deployArgs('A', confirmTimeout, verifyTimeout)], {
    env: { ...process.env, ...env() },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const code = await new Promise<number | null>((resolve) => {
    child.stderr.on('data', (d) => {
      err += d;
      if (/"step":"install","ok":true/.test(err)) setTimeout(() => child.kill(signal), 1500);
    });
    child.on('exit', (c) => resolve(c));
  });
  return { code, err };
}

/** After an interrupted deploy: the guard's log names `reason`, A has its old state, and undeploy leaves it as before. */
async function rolledBackBy(t: ExecutionContext, reason: RegExp, withinMs: number): Promise<void> {
  await waitFor(
    'the guard to roll A back',
    async () => (/rolled back/.test(await sh('A', 'cat /var/lib/laggkit/guard/log')) ? true : undefined),
    withinMs,
    1000,
  );
  t.regex(await sh('A', 'cat /var/lib/laggkit/guard/log'), reason);
  t.regex(await sh('A', 'pidof laggd || echo no-laggd; ip addr show dev em0'), /no-laggd[\s\S]*inet 10\.99\.3\.1\/24/);
  checkExit(t, await cli(['undeploy', '--ssh-config', sshConfig, '--host', 'A'], env()), 0, 'clean up');
  t.is(await sh('A', SNAPSHOT), before.A ?? '(no snapshot)', 'A as before');
}

testNeeding(serial, 'a deploy killed mid-configure leaves a guest that rolls itself back', needs, async (t) => {
  // B runs no LACP now, so verify would only wait: deploy is killed once configure has begun.
  const { err } = await deployInterrupted('SIGKILL', '20', '15');
  t.regex(err, /"step":"install","ok":true/, err);
  await rolledBackBy(t, /rolling back: no confirmation within 20 s/, 90_000);
});

testNeeding(serial, 'Ctrl-C mid-configure: deploy asks the guard to roll back at once and exits 130', needs, async (t) => {
  const { code, err } = await deployInterrupted('SIGINT', '120', '60');
  t.is(code, 130, err);
  // Asked at once, not left to the guard's 120 s deadline (which is still over a minute away).
  await rolledBackBy(t, /rolling back: deploy interrupted \(SIGINT\)/, 45_000);
});

testNeeding(
  serial,
  'a fleet from an Ansible inventory: canary first, then the rest; a second run changes nothing; a failing canary stops the fleet',
  needs,
  async (t) => {
    const inv = path.join(labRoot, 'hosts.ini');
    fs.writeFileSync(
      inv,
      `[lab]\nA laggkit_inet=10.77.5.1/24\nB laggkit_inet=10.77.5.2/24\n[lab:vars]\nlaggkit_laggproto=failover\nlaggkit_laggports=em0,em1\nlaggkit_opts={failover_rx_all: 1}\n`,
    );
    const r = await cli(['deploy', '--ssh-config', sshConfig, '--inventory', inv, '--parallel', '2', '--json'], env(), 300_000);
    checkExit(t, r, 0, 'fleet deploy');
    t.is(r.json?.result?.canary, 'A');
    t.deepEqual(
      r.json?.result?.hosts.map((h: { host: string; outcome: string }) => `${h.host} ${h.outcome}`),
      ['A deployed', 'B deployed'],
    );
    t.regex(await sh('A', 'ping -c 3 -i 0.2 10.77.5.2'), / 0% packet loss/);
    const again = await cli(['deploy', '--ssh-config', sshConfig, '--inventory', inv, '--limit', 'lab:!B'], env());
    checkExit(t, again, 0, 'second run, B excluded');
    t.regex(again.stdout, /A \(canary\)\s+A\s+unchanged/);
    t.notRegex(again.stdout, /^B /m);
    fs.writeFileSync(inv, `[lab]\nA laggkit_laggports=em9\nB\n[lab:vars]\nlaggkit_laggproto=failover\nlaggkit_laggports=em0\n`);
    const bad = await cli(['deploy', '--ssh-config', sshConfig, '--inventory', inv, '--json'], env());
    checkExit(t, bad, 2, 'failing canary');
    t.is(bad.json?.error?.code, 'E_FLEET');
    t.deepEqual(
      bad.json?.result?.hosts.map((h: { host: string; outcome: string }) => `${h.host} ${h.outcome}`),
      ['A failed', 'B not run'],
    );
    for (const vm of ['A', 'B']) checkExit(t, await cli(['undeploy', '--ssh-config', sshConfig, '--host', vm], env()), 0, `undeploy ${vm}`);
    for (const vm of ['A', 'B']) t.is(await sh(vm, SNAPSHOT), before[vm] ?? '(no snapshot)', `${vm} as before`);
  },
);
