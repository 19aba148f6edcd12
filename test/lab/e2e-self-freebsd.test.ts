/**
 * `laggkit e2e --target self` on one FreeBSD machine: sides A and B are vnet jails joined by
 * epair links, laggkit's if_laggkit.ko against base lagg(4). The machine is a FreeBSD lab
 * guest reached with --host; the module gets there as a user's does, through `laggkit deploy`
 * (built here against a FreeBSD source tree), and leaves through `laggkit undeploy`.
 *
 * Checked: a catalogue subset passes on both drivers, each side reads its own laggkit0 in the
 * module's sysctl tree (both jails have one), what a jail cannot do (cable pulls, unloading a
 * module) is reported skipped with the reason, and the end leaves no jail, epair, scratch
 * folder or aggregate of e2e's behind.
 *
 * Needs $LAGGKIT_FREEBSD_IMAGE and a FreeBSD source tree (neither can be downloaded here):
 * without them the test is reported skipped with the reason. Nothing asserts on time.
 */
import test, { type TestFn } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { guestScript } from '../../src/lab/guest-ssh.js';
import { labUp } from '../../src/lab/lab.js';
import { labSshConfig } from '../../src/lab/ssh-config.js';
import type { LabState } from '../../src/lab/state.js';
import { testNeeding } from '../support/require.js';
import { checkExit, cli, freebsdInputs, isolatedLab, keptReport, repo } from './support/cli.js';

const { image, sysroot, kernbuild, missing } = freebsdInputs();
const serial = test.serial as unknown as TestFn;
const TITLE = 'laggkit e2e --target self --host on FreeBSD: vnet jails and epairs, if_laggkit.ko against lagg(4), nothing left behind';

const SUBSET = [
  'create-destroy[lacp,*',
  'steady-state[lacp,*',
  'spread[loadbalance,*',
  'mtu[failover,*',
  'cable-pull[lacp,virtio+virtio]',
  'unload-in-use',
  'mgmt-untouched',
];

if (missing) {
  process.stdout.write(`# skipped: ${TITLE}: ${missing}\n`);
  test.skip(`${TITLE} (skipped: ${missing})`, () => {});
} else {
  const { root: labRoot, name: NAME } = await isolatedLab(test, 'sf');
  const artefacts = path.join(repo, 'test', 'results', 'e2e-self-freebsd');

  testNeeding(serial, TITLE, { tools: ['qemu-system-x86_64', 'qemu-img', 'clang-19', 'ld.lld-19', 'bmake'] }, async (t) => {
    t.timeout(3_600_000);
    // One guest: the self target needs no second machine (the lab's far end is a namespace).
    const lab: LabState = await labUp({ name: NAME, guest: 'freebsd', image, nics: ['virtio'], peer: 'netns', timeoutSec: 900 });
    const sshConfig = path.join(labRoot, 'ssh_config');
    fs.writeFileSync(sshConfig, labSshConfig(lab));
    const sh = async (script: string) => (await guestScript(lab, 'A', script, 120_000, 90_000)).stdout;
    const env = { LAGGKIT_LAB_DIR: labRoot, NO_COLOR: '1' };
    const host = ['--ssh-config', sshConfig, '--host', 'A'];

    // The module, as a user gets it there: deploy laggkit9 (failover over the lab link, no peer needed).
    const deployed = await cli(
      [
        'deploy',
        ...host,
        '--name',
        'laggkit9',
        '--laggproto',
        'failover',
        '--laggport',
        'vtnet1',
        '--inet',
        '10.77.9.1/24',
        '--build',
        'local',
        '--sysroot',
        sysroot,
        ...(fs.existsSync(kernbuild) ? ['--kernbuild', kernbuild] : []),
        '--confirm-timeout',
        '180',
        '--verify-timeout',
        '90',
        '--yes',
        '--json',
      ],
      env,
      900_000,
    );
    checkExit(t, deployed, 0, 'deploy if_laggkit.ko');

    const out = path.join(labRoot, 'report');
    const run = await cli(['e2e', '--target', 'self', ...host, '--compare', 'stock', '--report', out, ...SUBSET.flatMap((g) => ['--only', g])], env, 2_400_000);
    const res = keptReport(t, run, out, artefacts, 'e2e --target self on FreeBSD');
    // uname -s: FreeBSD, or the name a derivative gave itself.
    t.regex(res.target, /^self on A \([\w-]+: vnet jails A and B, epair\(4\) links; 4 epair links/);
    const byId = new Map(res.cases.map((c) => [c.id, c]));
    for (const id of [
      'create-destroy[lacp,virtio+virtio]',
      'steady-state[lacp,virtio+virtio]',
      'spread[loadbalance,virtio+virtio]',
      'mtu[failover,virtio+virtio]',
    ]) {
      const c = byId.get(id);
      t.truthy(c, `${id} ran`);
      for (const r of c?.runs ?? []) t.is(r.status, 'pass', `${id} ${r.driver}: ${r.failures.join('; ')}`);
    }
    // Each jail's laggkit0 has its own sysctl node (net.link.laggkit.0 and 0_N): each side's
    // capture must carry its own event ring, which a jail reads only from its own node.
    const steady = byId.get('steady-state[lacp,virtio+virtio]')?.runs.find((r) => r.driver === 'laggkit');
    for (const side of ['A', 'B']) {
      const text = steady?.captures[`steady ${side}`] ?? '';
      t.regex(text, /^laggkit0: flags=/m, `steady ${side}: ifconfig -v laggkit0`);
      t.regex(text.split('--- events')[1] ?? '', /^\d+ \d+\.\d+ dl\d added$/m, `steady ${side}: its own event ring`);
    }
    // What jails cannot do is said, with the reason, on both drivers.
    for (const [id, why] of [
      ['cable-pull[lacp,virtio+virtio]', /epair\(4\) keeps its carrier/],
      ['unload-in-use', /a jail may not unload a kernel module/],
    ] as const) {
      const c = res.cases.find((x) => x.id.startsWith(id));
      t.truthy(c, `${id} listed`);
      for (const r of c?.runs ?? []) {
        t.is(r.status, 'skip', `${id} ${r.driver}`);
        t.regex(r.reason ?? '', why);
      }
    }
    const junit = fs.readFileSync(path.join(out, 'junit.xml'), 'utf8');
    t.regex(junit, /<skipped message="epair\(4\) keeps its carrier/);

    // Nothing of e2e's is left: no jail, no epair, no scratch folder; deploy's laggkit9 is untouched.
    const after = await sh(
      "jls name | grep '^lk-e2e' ; ifconfig -l | tr ' ' '\\n' | grep -E '^(epair|dl[0-9]|mgmt0)' ; ls -d /var/tmp/laggkit-e2e* 2>/dev/null; ifconfig -l",
    );
    t.regex(after, /laggkit9/);
    t.notRegex(after, /lk-e2e|epair|\bdl\d|mgmt0|laggkit-e2e/);

    checkExit(t, await cli(['undeploy', ...host, '--json'], env, 300_000), 0, 'undeploy');
    t.is((await sh('kldstat -q -m if_laggkit && echo loaded; true')).trim(), '', 'if_laggkit.ko unloaded by undeploy');
  });
}
