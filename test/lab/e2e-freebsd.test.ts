/**
 * `laggkit e2e` on FreeBSD guests, end to end through the built CLI: `--guest freebsd --image`
 * boots two guests from a FreeBSD image, if_laggkit.ko gets onto them through laggkit deploy
 * (built here against a FreeBSD source tree), seqstream is cross-compiled against a sysroot
 * taken from the guest, a subset of the catalogue runs on laggkit and on base lagg(4) with
 * `--compare stock --report`, and the end undeploys: the guests are as they were.
 *
 * Needs $LAGGKIT_FREEBSD_IMAGE and $LAGGKIT_FREEBSD_SYSROOT (as test/lab/deploy-freebsd.test.ts;
 * neither can be downloaded here): without them the test is reported skipped with the reason.
 * Nothing here asserts on how long anything took.
 */
import test, { type TestFn } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { guestScript } from '../../src/lab/guest-ssh.js';
import { listLabs, readState } from '../../src/lab/state.js';
import { testNeeding } from '../support/require.js';
import { cli, freebsdInputs, isolatedLab, repo, keptReport, type CliResult } from './support/cli.js';

const { image, sysroot, kernbuild, missing } = freebsdInputs();
const serial = test.serial as unknown as TestFn;
const TITLE = 'laggkit e2e --guest freebsd --compare stock --report: a catalogue subset passes on if_laggkit.ko and on lagg(4), deploy in, undeploy out';

/** One case per action that tells the drivers apart, plus the one FreeBSD stock skip. */
const SUBSET = ['steady-state[lacp,*', 'lacp-converge-mixed', 'cable-pull[lacp,virtio+virtio]', 'failover-return[failover,virtio+virtio]'];
const EXPECTED_CASES = [
  'cable-pull[lacp,virtio+virtio]',
  'failover-return[failover,virtio+virtio]',
  'lacp-converge-mixed[lacp,virtio+e1000]',
  'steady-state[lacp,virtio+virtio]',
];

if (missing) {
  process.stdout.write(`# skipped: ${TITLE}: ${missing}\n`);
  test.skip(`${TITLE} (skipped: ${missing})`, () => {});
} else {
  // --keep-lab leaves the guests for the after-look; isolatedLab's hook stops them.
  const { root: labRoot } = await isolatedLab(test, 'ef');
  const artefacts = path.join(repo, 'test', 'results', 'e2e-freebsd');
  const out = path.join(labRoot, 'report');

  testNeeding(serial, TITLE, { tools: ['qemu-system-x86_64', 'qemu-img', 'clang-19', 'ld.lld-19', 'bmake'] }, async (t) => {
    t.timeout(3_600_000);
    const run: CliResult = await cli(
      [
        'e2e',
        '--guest',
        'freebsd',
        '--image',
        image,
        '--boot-timeout',
        '900',
        '--sysroot',
        sysroot,
        ...(fs.existsSync(kernbuild) ? ['--kernbuild', kernbuild] : []),
        '--keep-lab',
        '--compare',
        'stock',
        '--report',
        out,
        ...SUBSET.flatMap((g) => ['--only', g]),
      ],
      { LAGGKIT_LAB_DIR: labRoot, NO_COLOR: '1' },
      3_400_000,
    );
    const res = keptReport(t, run, out, artefacts, 'e2e');
    t.regex(res.target, /2 FreeBSD guests/);
    t.deepEqual(res.cases.map((c) => c.id).sort(), EXPECTED_CASES);
    t.deepEqual(res.totals, { pass: 4, fail: 0, skip: 0 });
    for (const c of res.cases) {
      t.deepEqual(
        c.runs.map((r) => [r.driver, r.mode]),
        [
          ['laggkit', c.proto],
          ['stock', c.proto],
        ],
        c.id,
      );
      t.is(c.runs[0]!.status, 'pass', `${c.id} laggkit: ${c.runs[0]!.failures.join('; ')}`);
    }
    // lagg(4) has no multi-speed LACP: the stock run is skipped with that reason.
    const mixed = res.cases.find((c) => c.id.startsWith('lacp-converge-mixed'))!;
    t.is(mixed.runs[1]!.status, 'skip');
    t.regex(mixed.runs[1]!.reason ?? '', /lagg\(4\).*different speeds/);
    for (const c of res.cases.filter((x) => x !== mixed)) t.is(c.runs[1]!.status, 'pass', `${c.id} stock: ${c.runs[1]!.failures.join('; ')}`);

    // Both drivers' status blocks are FreeBSD's ifconfig: kept parsed, laggkit0 and lagg0.
    const steady = res.cases.find((c) => c.id.startsWith('steady-state'))!;
    for (const [r, ifname] of [
      [steady.runs[0]!, 'laggkit0'],
      [steady.runs[1]!, 'lagg0'],
    ] as const) {
      const parsed = Object.values(r.parsed) as Array<{ interfaces: Array<{ name: string; lagg?: { ports: unknown[] } }> }>;
      t.true(
        parsed.some((m) => m.interfaces.some((i) => i.name === ifname && i.lagg?.ports.length === 2)),
        `${ifname}: ifconfig parsed with both ports`,
      );
    }
    // A cable pulled by QMP, measured by seqstream both ways on both drivers.
    const pull = res.cases.find((c) => c.id === 'cable-pull[lacp,virtio+virtio]')!;
    for (const r of pull.runs) {
      t.deepEqual(
        r.events.filter((e) => e.kind === 'link').map((e) => e.what),
        ['vtnet1 cable pulled', 'vtnet1 plugged back'],
      );
      t.true(r.metrics.gap_ms_ab! >= 0 && r.metrics.gap_ms_ba! >= 0, `${r.driver}: both receivers reported`);
      t.is(r.metrics.active_during, 1, `${r.driver}: one member left while the cable was out`);
      t.true(r.portSeries.length === 2 && r.portSeries.every((s) => s.t_ms.length > 3), `${r.driver}: per-port traffic sampled from netstat`);
    }
    // laggkit's own event ring (sysctl net.link.laggkit.0.events) is on the timeline.
    t.true(
      pull.runs[0]!.events.some((e) => e.kind === 'state' && /laggkit0: vtnet1/.test(e.what)),
      'if_laggkit.ko events about vtnet1 on the timeline',
    );
    for (const m of ['gap_ms_ab', 'gap_ms_ba']) {
      const f = pull.figures.find((x) => x.metric === m)!;
      t.true(Number.isFinite(f.laggkit) && Number.isFinite(f.stock), `${m} measured on both`);
    }
    const fo = res.cases.find((c) => c.id.startsWith('failover-return'))!;
    for (const r of fo.runs)
      t.deepEqual([r.metrics.active_before, r.metrics.active_during, r.metrics.active_after], [0, 1, 0], `${r.driver}: primary, backup, primary`);

    t.regex(run.stdout, /^TAP version 14\n1\.\.8\n/);
    t.regex(run.stdout, /^ok \d+ - lacp-converge-mixed\[lacp,virtio\+e1000\] stock # SKIP lagg\(4\)/m);
    t.regex(run.stdout, /^# 4 passed, 0 failed, 0 skipped$/m);
    const junit = fs.readFileSync(path.join(out, 'junit.xml'), 'utf8');
    t.regex(junit, /<testsuites name="laggkit e2e" tests="8" failures="0" skipped="1"/);

    // Undeployed and tidied: no module, no laggkit settings in rc.conf or loader.conf (a
    // comment that names laggkit is the image's or the user's, not deploy's), no deploy
    // record, no seqstream, if_lagg.ko unloaded again (e2e loaded it).
    const [name] = listLabs();
    const state = readState(name ?? '');
    t.truthy(state, 'the kept lab is there to look at');
    for (const vm of ['A', 'B']) {
      const after = await guestScript(
        state!,
        vm,
        'kldstat -q -m if_laggkit && echo laggkit-loaded; kldstat -q -m if_lagg && echo lagg-loaded; grep -h "^[^#]*laggkit" /etc/rc.conf /boot/loader.conf; ls /var/db/laggkit /var/tmp/laggkit-e2e /boot/modules/if_laggkit.ko 2>/dev/null; ifconfig -l; true',
      );
      t.is(after.stdout.trim(), 'vtnet0 vtnet1 vtnet2 em0 em1 lo0', `${vm} as before e2e`);
    }
    t.log(
      run.stdout
        .split('\n')
        .filter((l) => l.startsWith('# ') || /^(not )?ok /.test(l))
        .join('\n'),
    );
  });
}
