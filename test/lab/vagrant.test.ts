/**
 * The Vagrantfile's Linux pair for real: Debian's vagrant and vagrant-libvirt, libvirt's QEMU,
 * and the local box `laggkit lab vagrant-box` packs from the lab's Linux guest (nothing is
 * downloaded). In order: the box is packed and added (to a Vagrant home of this test's own);
 * `vagrant up linux-lab-a linux-lab-b` boots both and its trigger runs `laggkit deploy` over
 * `vagrant ssh-config` on each; `laggkit status` shows laggkit0 with both ports active on both
 * boxes; a ping across the aggregate is answered and leaves on both ports (roundrobin); `vagrant
 * `laggkit e2e --target vagrant` runs a small catalogue on the pair (a cable pulled through
 * libvirt among it); `vagrant destroy` then leaves no libvirt domain, network or volume behind (the box's base volume,
 * which Vagrant keeps for the next `up`, is removed by the test, as it made the box).
 *
 * Takes about 4 minutes under TCG on a loaded 2-core machine, most of it the two boots.
 */
import test, { type ExecutionContext, type TestFn } from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inCI, testNeeding } from '../support/require.js';
import type { E2eResult } from '../../src/e2e/engine.js';
import { cli, processesMentioning, repo } from './support/cli.js';

const needs = { root: true, tools: ['vagrant', 'virsh', 'qemu-system-x86_64', 'qemu-img', 'mkfs.fat', 'syslinux', 'mcopy', 'ssh', 'busybox', 'dropbear'] };
const serial = test.serial as unknown as TestFn;
const BOXES = ['linux-lab-a', 'linux-lab-b'];
const ADDR: Record<string, string> = { 'linux-lab-a': '10.98.0.21', 'linux-lab-b': '10.98.0.22' };
const LIBVIRT = 'qemu:///system';
const BOX_VOLUME_PREFIX = 'laggkit-VAGRANTSLASH-linux-lab_vagrant_box_image_';

// Vagrant's box store and machine data of this test only, so a developer's own boxes and
// machines are neither used nor touched.
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-vagrant-'));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  VAGRANT_HOME: path.join(scratch, 'vagrant.d'),
  VAGRANT_DOTFILE_PATH: path.join(scratch, 'dot'),
  VAGRANT_DEFAULT_PROVIDER: 'libvirt',
  VAGRANT_CHECKPOINT_DISABLE: '1',
  VAGRANT_NO_COLOR: '1',
};

interface Run {
  code: number;
  out: string;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: repo, env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

function virshNames(args: string[]): string[] {
  try {
    return execFileSync('virsh', ['-c', LIBVIRT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  } catch {
    return []; // no default pool yet: vagrant-libvirt creates it on first use
  }
}

/** What libvirt holds: the inventory a `vagrant destroy` must return to. */
function libvirtInventory(): { domains: string[]; networks: string[]; volumes: string[] } {
  return {
    domains: virshNames(['list', '--all', '--name']).sort(),
    networks: virshNames(['net-list', '--all', '--name']).sort(),
    volumes: virshNames(['vol-list', 'default'])
      .slice(2)
      .map((l) => l.split(/\s+/)[0]!)
      .sort(),
  };
}

const before = libvirtInventory();
let upResult: Run | undefined;
let destroyed = false;

const sshConfig = (box: string) => path.join(env.VAGRANT_DOTFILE_PATH!, `${box}.ssh_config`);
const onBox = (box: string, script: string) => execFileSync('ssh', ['-F', sshConfig(box), box, script], { encoding: 'utf8', timeout: 60_000 });
const txPackets = (box: string, port: string) => Number(onBox(box, `cat /sys/class/net/${port}/statistics/tx_packets`).trim());

async function destroyAndForgetBox(): Promise<Run> {
  const r = await run('vagrant', ['destroy', '-f', ...BOXES], 600_000);
  // Vagrant keeps a box's base volume in the pool for the next `up`; this test made the box.
  for (const vol of libvirtInventory().volumes) {
    if (vol.startsWith(BOX_VOLUME_PREFIX) && !before.volumes.includes(vol))
      execFileSync('virsh', ['-c', LIBVIRT, 'vol-delete', '--pool', 'default', vol], { stdio: 'ignore' });
  }
  destroyed = true;
  return r;
}

test.after.always(async () => {
  if (upResult && !destroyed) await destroyAndForgetBox();
  fs.rmSync(scratch, { recursive: true, force: true });
});

function libvirtRunning(t: ExecutionContext): boolean {
  try {
    execFileSync('virsh', ['-c', LIBVIRT, 'uri'], { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    t.fail(`libvirtd is not answering on ${LIBVIRT}: run npm run setup (as root it starts libvirtd and virtlogd)${inCI ? '' : ', or start libvirtd'}`);
    return false;
  }
}

testNeeding(serial, 'laggkit lab vagrant-box packs the lab guest as a libvirt box and adds it to Vagrant', needs, async (t) => {
  t.timeout(600_000);
  if (!libvirtRunning(t)) return;
  const out = path.join(scratch, 'linux-lab.box');
  const r = await cli(['lab', 'vagrant-box', '--output', out, '--json'], { VAGRANT_HOME: env.VAGRANT_HOME! }, 600_000);
  t.is(r.code, 0, r.stdout + r.stderr);
  t.is(r.json?.result?.name, 'laggkit/linux-lab');
  t.true(['kvm', 'qemu'].includes(r.json?.result?.driver), 'a libvirt domain type');
  t.true(r.json?.result?.added);
  // The libvirt provider's box format: qcow2 box.img + metadata.json + Vagrantfile.
  t.deepEqual(execFileSync('tar', ['-tf', out], { encoding: 'utf8' }).split('\n').filter(Boolean).sort(), ['Vagrantfile', 'box.img', 'metadata.json']);
  const unpacked = path.join(scratch, 'unpacked');
  fs.mkdirSync(unpacked);
  execFileSync('tar', ['-xf', out, '-C', unpacked]);
  t.deepEqual(JSON.parse(fs.readFileSync(path.join(unpacked, 'metadata.json'), 'utf8')), { provider: 'libvirt', format: 'qcow2', virtual_size: 1 });
  t.is(
    (JSON.parse(execFileSync('qemu-img', ['info', '--output=json', path.join(unpacked, 'box.img')], { encoding: 'utf8' })) as { format: string }).format,
    'qcow2',
  );
  t.regex(fs.readFileSync(path.join(unpacked, 'Vagrantfile'), 'utf8'), new RegExp(`lv\\.driver = "${r.json?.result?.driver}"`));
  t.regex((await run('vagrant', ['box', 'list'], 120_000)).out, /^laggkit\/linux-lab\s+\(libvirt, 0\)$/m);
  // Bad input is refused before anything is built.
  const bad = await cli(['lab', 'vagrant-box', '--name', 'no-slash', '--json'], { VAGRANT_HOME: env.VAGRANT_HOME! });
  t.is(bad.code, 2);
  t.is(bad.json?.error?.code, 'E_VAGRANT_BOX_NAME');
});

testNeeding(serial, 'vagrant up brings the Linux pair up and its trigger deploys laggkit0 on both over vagrant ssh-config', needs, async (t) => {
  t.timeout(1_200_000);
  const start = Date.now();
  upResult = await run('vagrant', ['up', 'linux-lab-a', 'linux-lab-b'], 1_100_000);
  t.log(`vagrant up: ${Math.round((Date.now() - start) / 1000)} s`);
  t.is(upResult.code, 0, upResult.out.slice(-4000));
  for (const box of BOXES) {
    t.regex(upResult.out, new RegExp(`${box}: deployed \\(guard confirmed\\)`), `${box}: deploy ran from the trigger`);
    t.true(fs.existsSync(sshConfig(box)), `${box}: the trigger wrote its ssh-config`);
    t.regex(fs.readFileSync(sshConfig(box), 'utf8'), /^\s*User root$/m);
  }
});

testNeeding(serial, 'the aggregate works: laggkit status shows both ports active, a ping across leaves on both ports', needs, async (t) => {
  t.timeout(300_000);
  if (upResult?.code !== 0) return void t.fail('vagrant up failed (see the test before)');
  for (const box of BOXES) {
    const s = await cli(['status', '--ssh-config', sshConfig(box), '--host', `root@${box}`, '--trust-new-host-key', '--json'], {}, 120_000);
    t.is(s.code, 0, s.stdout + s.stderr);
    const agg = (
      (s.json?.result?.aggregates ?? []) as Array<{ name: string; laggproto: string; inet: string[]; ports: Array<{ name: string; flags: string[] }> }>
    ).find((a) => a.name === 'laggkit0');
    t.is(agg?.laggproto, 'roundrobin', `${box}: laggkit0 is roundrobin`);
    t.deepEqual(agg?.inet, [`${ADDR[box]}/24`]);
    t.deepEqual(
      agg?.ports.map((p) => p.name),
      ['vtnet0', 'em0'],
      `${box}: the virtio and the e1000 link`,
    );
    t.true(
      agg?.ports.every((p) => p.flags.includes('ACTIVE')),
      `${box}: both ports active`,
    );
    t.is(s.json?.result?.deployed?.persisted?.[0]?.inPlace, true, `${box}: persisted in /etc/laggd.conf`);
  }
  const tx0 = { vtnet0: txPackets('linux-lab-a', 'vtnet0'), em0: txPackets('linux-lab-a', 'em0') };
  const ping = onBox('linux-lab-a', `ping -c 20 -i 0.2 -W 2 ${ADDR['linux-lab-b']}`);
  t.regex(ping, / 20 packets received, 0% packet loss/, ping);
  const sent = { vtnet0: txPackets('linux-lab-a', 'vtnet0') - tx0.vtnet0, em0: txPackets('linux-lab-a', 'em0') - tx0.em0 };
  t.log(`frames sent per port during 20 pings: ${JSON.stringify(sent)}`);
  // Roundrobin alternates ports per frame: each carries about half of the 20 requests.
  for (const p of ['vtnet0', 'em0'] as const) t.true(sent[p] >= 8, `${p} carried ${sent[p]} frames`);
});

/**
 * A small catalogue of the test's own for the pair: each box has one virtio and one e1000 link,
 * and libvirt's private networks are bridges, which never forward LACP frames.
 */
const VAGRANT_SCENARIOS: Record<string, string[]> = {
  'pair-steady': [
    'name: pair-steady',
    'title: Roundrobin and failover over the virtio and the e1000 link',
    'setup:',
    '  proto: [roundrobin, failover]',
    '  members: [virtio, e1000]',
    'action:',
    '  kind: steady-state',
    'expect:',
    '  steady: { equals: 1 }',
    '  ping_ok: { equals: 1 }',
    'measure: [converge_ms]',
  ],
  'pair-failover': [
    'name: pair-failover',
    'title: The virtio cable pulled through libvirt, the e1000 link takes over, and back',
    'setup:',
    '  proto: failover',
    '  members: [virtio, e1000]',
    'action:',
    '  kind: failover-return',
    'expect:',
    '  steady: { equals: 1 }',
    '  active_before: { equals: 0 }',
    '  active_during: { equals: 1 }',
    '  active_after: { equals: 0 }',
    'measure: [gap_ms_ab, gap_ms_ba]',
    'needs: [cable]',
  ],
};

testNeeding(serial, 'laggkit e2e --target vagrant runs on the pair over vagrant ssh-config and pulls a cable through libvirt', needs, async (t) => {
  t.timeout(600_000);
  if (upResult?.code !== 0) return void t.fail('vagrant up failed (see the test before)');
  const dir = path.join(scratch, 'scenarios');
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, lines] of Object.entries(VAGRANT_SCENARIOS)) fs.writeFileSync(path.join(dir, `${name}.yaml`), `${lines.join('\n')}\n`);
  const out = path.join(scratch, 'e2e-report');
  const vagrantEnv = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('VAGRANT_'))) as Record<string, string>;
  const r = await cli(['e2e', '--target', 'vagrant', '--trust-new-host-key', '--scenarios', dir, '--report', out, '--json'], vagrantEnv, 500_000);
  t.is(r.code, 0, r.stdout.slice(-3000) + r.stderr.slice(-2000));
  const res = r.json?.result?.result as E2eResult | undefined;
  t.regex(res?.target ?? '', /^vagrant linux-lab-a and linux-lab-b \(links vtnet0 em0; cables through libvirt\)$/);
  t.deepEqual(
    res?.cases.map((c) => [c.id, c.status]),
    [
      ['pair-failover[failover,virtio+e1000]', 'pass'],
      ['pair-steady[roundrobin,virtio+e1000]', 'pass'],
      ['pair-steady[failover,virtio+e1000]', 'pass'],
    ],
  );
  const pull = res?.cases[0]?.runs[0];
  t.deepEqual(
    pull?.events.filter((e) => e.kind === 'link').map((e) => e.what),
    ['vtnet0 cable pulled', 'vtnet0 plugged back'],
  );
  t.deepEqual([pull?.metrics.active_before, pull?.metrics.active_during, pull?.metrics.active_after], [0, 1, 0], 'primary, backup, primary');
  t.true(fs.existsSync(path.join(out, 'junit.xml')));
  // Every cable is plugged back: libvirt reports each private NIC's link up again.
  for (const box of BOXES) {
    const domain = fs.readFileSync(path.join(env.VAGRANT_DOTFILE_PATH!, 'machines', box, 'libvirt', 'id'), 'utf8').trim();
    for (const row of execFileSync('virsh', ['-c', LIBVIRT, 'domiflist', domain], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /laggkit-link/.test(l))) {
      const mac = row.trim().split(/\s+/)[4]!;
      t.regex(execFileSync('virsh', ['-c', LIBVIRT, 'domif-getlink', domain, mac], { encoding: 'utf8' }), /\bup\b/, `${box} ${mac}`);
    }
  }
});

testNeeding(serial, 'vagrant destroy leaves no libvirt domain, network or volume behind', needs, async (t) => {
  t.timeout(700_000);
  if (!upResult) return void t.fail('vagrant up did not run');
  const r = await destroyAndForgetBox();
  t.is(r.code, 0, r.out.slice(-3000));
  t.deepEqual(libvirtInventory(), before);
  t.deepEqual(processesMentioning('vagrant-libvirt.conf'), [], "no dnsmasq left for Vagrant's management network");
  for (const box of BOXES) t.deepEqual(processesMentioning(`_${box},`), [], `no QEMU left for ${box}`);
});
