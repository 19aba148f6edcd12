/**
 * The lab end to end on real QEMU: two Linux guests built from this machine's Debian packages,
 * joined by two virtio and two e1000 links, booted once for the whole file (KVM when the probe
 * says it works, TCG otherwise; the test log says which). Then, in order: drivers and link
 * speeds inside the guests, SSH with strict host-key checking, ping over every link, carrier
 * loss and recovery through `laggkit lab link`, laggd aggregating all four links with LACP and
 * surviving a link failure, and `laggkit lab down` leaving nothing behind.
 */
import test, { type TestFn } from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { testNeeding } from '../support/require.js';
import { connect } from '../../src/ssh/index.js';
import { guestScript, guestTarget } from '../../src/lab/guest-ssh.js';
import { labUp } from '../../src/lab/lab.js';
import { findLaggd } from '../../src/lab/linux-image.js';
import { readState, type LabState } from '../../src/lab/state.js';
import { cli, distBuilt, processesMentioning, repo, waitFor, isolatedLab } from './support/cli.js';

const { root: labRoot, name: NAME } = await isolatedLab(test, 'lg');
const needs = { tools: ['qemu-system-x86_64', 'dropbearkey', 'ssh-keygen', 'xz', 'busybox'] };
const DATA = ['vtnet0', 'vtnet1', 'em0', 'em1'];
const MODEL: Record<string, 'virtio' | 'e1000'> = { vtnet0: 'virtio', vtnet1: 'virtio', em0: 'e1000', em1: 'e1000' };

// testNeeding takes a TestFn; the serial variant has the same call shape (and .skip), and
// these tests share one pair of guests, so they must run one after another.
const serial = test.serial as unknown as TestFn;

let lab: LabState | undefined;
let laggdBuild = '';

test.before(async () => {
  // laggd is part of the guest image; build its static binaries first (a no-op when current).
  try {
    execFileSync('make', ['-s', '-C', path.join(repo, 'kmod', 'posix'), 'static'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  } catch (err) {
    laggdBuild = `make -C kmod/posix static failed: ${String((err as { stderr?: Buffer }).stderr ?? err).slice(-500)}`;
  }
  try {
    lab = await labUp({ name: NAME, nics: ['virtio', 'virtio', 'e1000', 'e1000'] });
  } catch (err) {
    process.stderr.write(`lab up failed: ${(err as Error).message}\n`);
  }
});

function up(): LabState {
  if (!lab) throw new Error('the lab did not come up (see the log above)');
  return lab;
}

async function sh(vm: string, script: string): Promise<string> {
  const r = await guestScript(up(), vm, script);
  if (r.code !== 0) throw new Error(`${vm}: '${script}' exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

const carrier = async (vm: string, nic: string): Promise<string> => (await sh(vm, `cat /sys/class/net/${nic}/carrier 2>/dev/null || echo 0`)).trim();
const pingOk = async (vm: string, addr: string): Promise<boolean> => (await guestScript(up(), vm, `ping -c1 -W1 ${addr} >/dev/null`)).code === 0;

testNeeding(serial, 'two Linux guests with 2 virtio + 2 e1000 data NICs boot and answer SSH', needs, async (t) => {
  const s = up();
  t.true(s.accel === 'kvm' || s.accel === 'tcg', `accelerator ${s.accel}`);
  t.log(`accelerator: ${s.accel} (${s.accelReason})`);
  t.is(s.vms.length, 2);
  for (const v of s.vms) {
    t.true((v.bootToSshMs ?? 0) > 0, `${v.name} has a boot-to-SSH time`);
    t.log(`guest ${v.name}: boot-to-SSH ${((v.bootToSshMs ?? 0) / 1000).toFixed(1)} s under ${s.accel}`);
    t.is((await sh(v.name, 'hostname')).trim(), v.name);
  }
  t.is(s.links.length, 4);
});

testNeeding(serial, 'each data NIC is driven by the expected driver and reports a speed and full duplex', needs, async (t) => {
  for (const vm of ['A', 'B']) {
    for (const nic of DATA) {
      const out = (await sh(vm, `basename "$(readlink /sys/class/net/${nic}/device/driver)"; cat /sys/class/net/${nic}/speed /sys/class/net/${nic}/duplex`))
        .trim()
        .split('\n');
      t.is(out[0], MODEL[nic] === 'virtio' ? 'virtio_net' : 'e1000', `${vm}:${nic} driver`);
      t.is(out[1], MODEL[nic] === 'virtio' ? '10000' : '1000', `${vm}:${nic} speed (LACP needs a known speed)`);
      t.is(out[2], 'full', `${vm}:${nic} duplex`);
    }
  }
});

testNeeding(serial, 'SSH verifies host keys: the lab known_hosts works, an unknown or a changed key is refused', needs, async (t) => {
  const s = up();
  const vm = s.vms[0]!;
  const r = await cli(['lab', 'ssh', 'A', '--name', NAME, '--json', '--', 'cat', '/proc/sys/kernel/hostname']);
  t.is(r.code, 0, r.stderr);
  t.is(r.json?.result?.stdout.trim(), 'A');
  // A --json after `--` belongs to the remote program, not to laggkit.
  const echoed = await cli(['lab', 'ssh', 'A', '--name', NAME, '--json', '--', 'echo', '--json']);
  t.is(echoed.code, 0, echoed.stderr);
  t.is(echoed.json?.result?.stdout.trim(), '--json');
  // One argument is a command line (a pipeline), several are words (the space stays in one).
  const piped = await cli(['lab', 'ssh', 'A', '--name', NAME, '--json', '--', 'echo a b | wc -w']);
  t.is(piped.json?.result?.stdout.trim(), '2', piped.stderr);
  const worded = await cli(['lab', 'ssh', 'A', '--name', NAME, '--json', '--', 'printf', '[%s]', 'a | b']);
  t.is(worded.json?.result?.stdout, '[a | b]', worded.stderr);
  // An empty known_hosts: the key is unknown and must not be trusted silently.
  const empty = path.join(labRoot, 'empty_known_hosts');
  fs.writeFileSync(empty, '');
  const e1 = await connect({ ...guestTarget(s, vm), knownHostsFiles: [empty] }, { agentSocket: '' }).then(
    () => undefined,
    (e: { code?: string }) => e,
  );
  t.is(e1?.code, 'E_SSH_UNKNOWN_HOST');
  // Guest B's key filed under guest A's port: a changed key, refused.
  const bKey = fs
    .readFileSync(s.knownHosts, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`[127.0.0.1]:${s.vms[1]!.sshPort} `))!
    .split(' ')
    .slice(1)
    .join(' ');
  const wrong = path.join(labRoot, 'wrong_known_hosts');
  fs.writeFileSync(wrong, `[127.0.0.1]:${vm.sshPort} ${bKey}\n`);
  const e2 = await connect({ ...guestTarget(s, vm), knownHostsFiles: [wrong] }, { agentSocket: '' }).then(
    () => undefined,
    (e: { code?: string }) => e,
  );
  t.is(e2?.code, 'E_SSH_HOST_KEY_CHANGED');
});

testNeeding(serial, 'ping crosses every link', needs, async (t) => {
  for (let i = 1; i <= 4; i++) {
    t.true(await pingOk('A', `10.99.${i}.2`), `A -> B over link ${i}`);
    t.true(await pingOk('B', `10.99.${i}.1`), `B -> A over link ${i}`);
  }
});

for (const [nic, index, limitMs] of [
  ['vtnet1', 2, 5000],
  ['em1', 4, 8000],
] as const) {
  testNeeding(serial, `lab link A ${nic} down: both guests lose carrier and traffic stops; up restores both`, needs, async (t) => {
    t.true(distBuilt(), 'dist/ is built (npm run build)');
    const down = await cli(['lab', 'link', 'A', nic, 'down', '--name', NAME, '--json']);
    t.is(down.code, 0, down.stdout + down.stderr);
    t.deepEqual(down.json?.result?.changed, [`A:${nic}`, `B:${nic}`]);
    // virtio reports within milliseconds; the Linux e1000 driver in its 2-second watchdog.
    await waitFor(
      `carrier loss on A:${nic} and B:${nic}`,
      async () => ((await carrier('A', nic)) === '0' && (await carrier('B', nic)) === '0' ? true : undefined),
      limitMs,
    );
    t.false(await pingOk('A', `10.99.${index}.2`), 'no traffic over a link that is down');
    t.true(await pingOk('A', `10.99.1.2`), 'the other links still carry traffic');
    const st = await cli(['lab', 'status', '--name', NAME, '--json']);
    t.is(st.json?.result?.vms[0].nics.find((n: { name: string }) => n.name === nic).link, 'down');

    const upr = await cli(['lab', 'link', 'A', nic, 'up', '--name', NAME, '--json']);
    t.is(upr.code, 0, upr.stdout + upr.stderr);
    await waitFor(
      `carrier back on A:${nic} and B:${nic}`,
      async () => ((await carrier('A', nic)) === '1' && (await carrier('B', nic)) === '1' ? true : undefined),
      limitMs,
    );
    await waitFor(`ping over ${nic} again`, async () => ((await pingOk('A', `10.99.${index}.2`)) ? true : undefined), 10_000);
    t.pass();
  });
}

testNeeding(serial, 'lab link --one-side: only the named guest loses carrier', needs, async (t) => {
  const r = await cli(['lab', 'link', 'B', 'vtnet0', 'down', '--one-side', '--name', NAME, '--json']);
  t.is(r.code, 0, r.stdout + r.stderr);
  t.deepEqual(r.json?.result?.changed, ['B:vtnet0']);
  await waitFor('carrier loss on B:vtnet0', async () => ((await carrier('B', 'vtnet0')) === '0' ? true : undefined), 5000);
  t.is(await carrier('A', 'vtnet0'), '1', 'the far end keeps its carrier');
  t.false(await pingOk('A', '10.99.1.2'), 'but frames to the downed NIC are lost');
  t.is((await cli(['lab', 'link', 'B', 'vtnet0', 'up', '--one-side', '--name', NAME, '--json'])).code, 0);
  await waitFor('ping over vtnet0 again', async () => ((await pingOk('A', '10.99.1.2')) ? true : undefined), 10_000);
  t.is(await carrier('B', 'vtnet0'), '1');
});

testNeeding(
  serial,
  'lab console: the serial console on a terminal (node-pty), a command runs, Ctrl-] detaches',
  { tools: [...needs.tools, 'socat'] },
  async (t) => {
    const pty = await import('node-pty');
    const term = pty.spawn(process.execPath, [path.join(repo, 'bin', 'run.js'), 'lab', 'console', 'A', '--name', NAME], {
      name: 'xterm',
      cols: 100,
      rows: 30,
      env: { ...process.env } as Record<string, string>,
    });
    let out = '';
    term.onData((d) => (out += d));
    const exited = new Promise<number>((resolve) => term.onExit((e) => resolve(e.exitCode)));
    await waitFor('console attached', async () => (out.includes('console attached') ? true : undefined), 15_000, 100);
    // The guest's shell prints the sum, not the text typed: proof the line ran in the guest.
    await waitFor(
      'the guest shell answers',
      async () => {
        term.write('echo CONSOLE-$((40+2))\r');
        return out.includes('CONSOLE-42') ? true : undefined;
      },
      15_000,
      1000,
    );
    term.write('\x1d');
    t.is(await exited, 0);
    t.regex(out, /console detached/);
  },
);

testNeeding(serial, 'lab link refuses an unknown NIC or state with a usage error naming it', needs, async (t) => {
  const r = await cli(['lab', 'link', 'A', 'em9', 'down', '--name', NAME, '--json']);
  t.is(r.code, 2);
  t.is(r.json?.error?.code, 'E_LAB_NIC');
  t.regex(r.json?.error?.message ?? '', /em9/);
  const r2 = await cli(['lab', 'link', 'A', 'em0', 'sideways', '--name', NAME, '--json']);
  t.is(r2.code, 2);
  t.regex(r2.json?.error?.message ?? '', /sideways/);
});

interface PortJson {
  name: string;
  flags: string[];
}
async function lagPorts(vm: string): Promise<PortJson[]> {
  return (JSON.parse(await sh(vm, 'laggctl --json laggkit0')) as { ports: PortJson[] }).ports;
}
const distributing = (p: PortJson | undefined): boolean => !!p && ['ACTIVE', 'COLLECTING', 'DISTRIBUTING'].every((f) => p.flags.includes(f));

testNeeding(serial, 'laggd aggregates the four virtio and e1000 links with LACP and survives lab link failures', needs, async (t) => {
  t.is(laggdBuild, '', laggdBuild);
  t.truthy(findLaggd(), 'static laggd/laggctl were built');
  t.true(up().image.kind === 'linux-built' && (up().image as { laggd: boolean }).laggd, 'laggd is in the guest image');
  for (const [vm, n] of [
    ['A', 1],
    ['B', 2],
  ] as const) {
    await sh(
      vm,
      [
        ...DATA.map((d) => `ip addr flush dev ${d}`),
        'laggd -f >/tmp/laggd.log 2>&1 &',
        'i=0; while [ ! -S /run/laggd.sock ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done',
        `laggctl laggkit0 create laggproto lacp ${DATA.map((d) => `laggport ${d}`).join(' ')} lacp_fast_timeout lagglacp multi-speed`,
        'ip link set laggkit0 up',
        `ip addr add 10.77.0.${n}/24 dev laggkit0`,
      ].join('\n'),
    );
  }
  for (const vm of ['A', 'B']) {
    await waitFor(
      `${vm}: all four ports ACTIVE,COLLECTING,DISTRIBUTING`,
      async () => ((await lagPorts(vm)).filter(distributing).length === 4 ? true : undefined),
      60_000,
      500,
    );
  }
  // The first ping also resolves ARP through laggd: allow for a loaded host.
  await waitFor('ping over laggkit0', async () => ((await pingOk('A', '10.77.0.2')) ? true : undefined), 15_000);

  t.is((await cli(['lab', 'link', 'A', 'em0', 'down', '--name', NAME, '--json'])).code, 0);
  await waitFor(
    'A: em0 leaves the aggregation',
    async () => {
      const ps = await lagPorts('A');
      return !distributing(ps.find((p) => p.name === 'em0')) && ps.filter(distributing).length === 3 ? true : undefined;
    },
    30_000,
    500,
  );
  await waitFor('ping over laggkit0 with em0 down', async () => ((await pingOk('A', '10.77.0.2')) ? true : undefined), 10_000);
  t.log(`A with em0 down:\n${await sh('A', 'laggctl laggkit0')}`);

  t.is((await cli(['lab', 'link', 'A', 'em0', 'up', '--name', NAME, '--json'])).code, 0);
  for (const vm of ['A', 'B']) {
    await waitFor(`${vm}: em0 back in the aggregation`, async () => ((await lagPorts(vm)).filter(distributing).length === 4 ? true : undefined), 60_000, 500);
  }
  await waitFor('ping over laggkit0 with all four ports', async () => ((await pingOk('A', '10.77.0.2')) ? true : undefined), 15_000);
  t.pass();
});

testNeeding(serial, 'lab down stops every guest and leaves no process, socket or file behind', needs, async (t) => {
  const s = up();
  const pids = s.vms.map((v) => v.pid);
  const r = await cli(['lab', 'down', '--name', NAME, '--json']);
  t.is(r.code, 0, r.stdout + r.stderr);
  t.deepEqual([...(r.json?.result?.[0]?.stopped ?? [])].sort(), ['A', 'B']);
  for (const pid of pids) t.throws(() => process.kill(pid, 0), undefined, `QEMU pid ${pid} is gone`);
  t.deepEqual(processesMentioning(s.dir), [], 'no process refers to the lab folder');
  t.false(fs.existsSync(s.dir), 'lab folder (sockets, keys, logs) removed');
  t.is(readState(NAME), undefined);
  const again = await cli(['lab', 'status', '--name', NAME, '--json']);
  t.is(again.json?.error?.code, 'E_LAB_NOT_FOUND');
});
