/**
 * `laggkit deploy` to real FreeBSD kernels: two lab guests booted from a FreeBSD image (the form
 * of FreeBSD's BASIC-CI image, provisioned over the serial console), if_laggkit.ko built here
 * with --build local against a FreeBSD source tree, LACP over two virtio links between the
 * guests, a reboot of both (the module and laggkit0 come back from loader.conf and rc.conf), and
 * undeploy leaving both guests' files and interfaces as they were.
 *
 * Needs $LAGGKIT_FREEBSD_IMAGE (a FreeBSD disk image; asked for by name, since booting two
 * FreeBSD guests under TCG is the longest thing the suite can do) and $LAGGKIT_FREEBSD_SYSROOT (default ~/.cache/laggkit/freebsd/src; its built kernel directory
 * $LAGGKIT_FREEBSD_KERNBUILD, default ~/.cache/laggkit/freebsd/kernbuild, is used when present).
 * Neither can be downloaded here: without them the test is reported skipped with the reason.
 */
import test, { type TestFn } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'ssh2';
import { guestScript, waitForSsh } from '../../src/lab/guest-ssh.js';
import { labUp } from '../../src/lab/lab.js';
import { labSshConfig } from '../../src/lab/ssh-config.js';
import type { LabState } from '../../src/lab/state.js';
import { testNeeding } from '../support/require.js';
import { checkExit, cli, freebsdInputs, isolatedLab, lacpDeployArgs, waitFor, type CliResult } from './support/cli.js';

const { image, sysroot, kernbuild, missing } = freebsdInputs();
const serial = test.serial as unknown as TestFn;
const TITLE = 'FreeBSD guests: deploy LACP with --build local, traffic, no-op redeploy, reboot, undeploy';

if (missing) {
  process.stdout.write(`# skipped: ${TITLE}: ${missing}\n`);
  test.skip(`${TITLE} (skipped: ${missing})`, () => {});
} else {
  const { root: labRoot, name: NAME } = await isolatedLab(test, 'fb');
  let lab: LabState | undefined;
  let sshConfig = '';
  const before: Record<string, string> = {};
  const PORTS = ['vtnet1', 'vtnet2'];
  const SNAPSHOT = `ifconfig -a | grep -Ev 'media:|status:|nd6|inet6 fe80' ; md5 -r /etc/rc.conf /boot/loader.conf 2>&1; ls /boot/loader.conf.d /boot/modules /var/db/laggkit 2>&1; kldstat -q -m if_laggkit && echo if_laggkit-loaded; true`;
  const env = () => ({ LAGGKIT_LAB_DIR: labRoot });
  const sh = async (vm: string, script: string) => (await guestScript(lab as LabState, vm, script, 120_000)).stdout;
  const deployArgs = (vm: string) =>
    lacpDeployArgs(sshConfig, vm, PORTS, '10.77.0', [
      '--build',
      'local',
      '--sysroot',
      sysroot,
      ...(fs.existsSync(kernbuild) ? ['--kernbuild', kernbuild] : []),
      '--lacp-fast-timeout',
      '--confirm-timeout',
      '120',
      '--verify-timeout',
      '60',
      '--json',
    ]);
  const distributing = async (vm: string) => (await sh(vm, 'ifconfig laggkit0 2>/dev/null')).match(/laggport: \S+ flags=\S*DISTRIBUTING/g)?.length ?? 0;

  test.before(async (t) => {
    t.timeout(900_000);
    lab = await labUp({ name: NAME, guest: 'freebsd', image, nics: ['virtio', 'virtio'], timeoutSec: 600 });
    sshConfig = path.join(labRoot, 'ssh_config');
    fs.writeFileSync(sshConfig, labSshConfig(lab));
    for (const vm of ['A', 'B']) before[vm] = await sh(vm, SNAPSHOT);
  });

  testNeeding(
    serial,
    'the provisioned FreeBSD guest: root logs in by key only, no NetBSD variable in rc.conf, data NICs not DHCPed',
    { tools: ['qemu-system-x86_64'] },
    async (t) => {
      const vm = (lab as LabState).vms[0]!;
      // The image ships root with an empty password and `PermitEmptyPasswords yes`: the lab must
      // have turned that off, so a password-less login is refused.
      const refused = await new Promise<string>((resolve) => {
        const c = new Client();
        c.on('ready', () => {
          c.end();
          resolve('accepted');
        });
        c.on('error', (e) => resolve(e.message));
        c.connect({ host: '127.0.0.1', port: vm.sshPort, username: 'root', password: '', tryKeyboard: true, readyTimeout: 60_000, hostVerifier: () => true });
      });
      t.regex(refused, /authentication methods failed/i);
      const conf = await sh('A', 'cat /etc/rc.conf; grep -E "^(PermitRootLogin|PermitEmptyPasswords)" /etc/ssh/sshd_config');
      t.notRegex(conf, /^sshd=/m);
      t.regex(conf, /^PermitRootLogin prohibit-password$/m);
      t.regex(conf, /^PermitEmptyPasswords no$/m);
      for (const nic of PORTS) t.regex(conf, new RegExp(`^ifconfig_${nic}="up"$`, 'm'));
    },
  );

  testNeeding(serial, TITLE, { tools: ['qemu-system-x86_64', 'clang-19', 'bmake', 'qemu-img'] }, async (t) => {
    t.timeout(1_800_000);
    const [a, b] = await Promise.all([cli(deployArgs('A'), env(), 900_000), cli(deployArgs('B'), env(), 900_000)]);
    checkExit(t, a, 0, 'deploy A');
    checkExit(t, b, 0, 'deploy B');
    t.regex(a.json?.result?.plan?.buildId ?? '', /^[0-9a-f]{12}-\d+$/);
    t.is(await distributing('A'), 2);
    t.regex(await sh('A', 'ping -c 3 10.77.0.2'), / 0\.0% packet loss/);
    t.regex(await sh('A', 'sysctl -n net.link.laggkit.build_id'), new RegExp(a.json?.result?.plan?.buildId));
    t.regex(await sh('A', 'cat /etc/rc.conf'), /ifconfig_laggkit0="laggproto lacp laggport vtnet1 laggport vtnet2 lacp_fast_timeout 10\.77\.0\.1\/24 up"/);
    // A cable pulled costs a port, not the path; status shows it; plugged back, it returns.
    checkExit(t, await cli(['lab', 'link', 'A', 'vtnet2', 'down', '--name', NAME], env()), 0, 'link down');
    await waitFor(
      'vtnet2 out of the aggregate on both guests',
      async () => ((await distributing('A')) === 1 && (await distributing('B')) === 1 ? true : undefined),
      60_000,
      1000,
    );
    t.regex(await sh('A', 'ping -c 3 10.77.0.2'), / 0\.0% packet loss/, 'with vtnet2 pulled');
    const pulled = await cli(['status', '--ssh-config', sshConfig, '--host', 'A', '--json'], env());
    checkExit(t, pulled, 0, 'status with a cable pulled');
    t.deepEqual(
      pulled.json?.result?.aggregates?.[0]?.ports?.filter((p: { flags: string[] }) => p.flags.includes('DISTRIBUTING')).map((p: { name: string }) => p.name),
      ['vtnet1'],
    );
    checkExit(t, await cli(['lab', 'link', 'A', 'vtnet2', 'up', '--name', NAME], env()), 0, 'link up');
    await waitFor(
      'vtnet2 back on both guests',
      async () => ((await distributing('A')) === 2 && (await distributing('B')) === 2 ? true : undefined),
      60_000,
      1000,
    );
    const again = await cli(deployArgs('A'), env());
    checkExit(t, again, 0, 'second deploy');
    t.false(again.json?.result?.changed);

    // Reboot both: the module and laggkit0 must come back from loader.conf and rc.conf alone.
    // A guest counts as rebooted when its boot time has changed: sshd can answer for a while
    // after `shutdown -r` was asked for, from the system about to go down.
    const bootTime = async (vm: string) =>
      (await guestScript(lab as LabState, vm, 'sysctl -n kern.boottime', 30_000).catch(() => ({ stdout: '' }))).stdout.trim();
    const booted: Record<string, string> = {};
    for (const vm of ['A', 'B']) {
      booted[vm] = await bootTime(vm);
      await guestScript(lab as LabState, vm, '(sleep 1; shutdown -r now) >/dev/null 2>&1 &', 30_000);
    }
    for (const v of (lab as LabState).vms) {
      await waitForSsh(lab as LabState, v, Date.now() + 900_000, () => true);
      await waitFor(`${v.name} to come back rebooted`, async () => ((await bootTime(v.name)) || booted[v.name]) !== booted[v.name] || undefined, 900_000, 5000);
    }
    await waitFor(
      'laggkit0 distributing on both guests after the reboot',
      async () => ((await distributing('A')) === 2 && (await distributing('B')) === 2 ? true : undefined),
      120_000,
      2000,
    );
    t.regex(await sh('A', 'kldstat -q -m if_laggkit && echo loaded; ping -c 3 10.77.0.2'), /loaded[\s\S]* 0\.0% packet loss/);
    const st = await cli(['status', '--ssh-config', sshConfig, '--host', 'A', '--json'], env());
    t.deepEqual(st.json?.result?.deployed?.running, [{ name: 'laggkit0', differences: [] }]);

    const [ua, ub] = await Promise.all(['A', 'B'].map((vm) => cli(['undeploy', '--ssh-config', sshConfig, '--host', vm, '--json'], env())));
    checkExit(t, ua as CliResult, 0, 'undeploy A');
    checkExit(t, ub as CliResult, 0, 'undeploy B');
    for (const vm of ['A', 'B']) t.is(await sh(vm, SNAPSHOT), before[vm] ?? '(no snapshot)', `${vm} as before`);
  });
}
