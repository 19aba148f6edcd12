/**
 * `laggkit e2e` on NetBSD guests, end to end through the built CLI: `--guest netbsd --image`
 * boots two guests from a NetBSD 10 image, laggkit.kmod gets onto them through laggkit deploy
 * (built here against a netbsd-10 tree by kmod/netbsd/cross-build.sh), seqstream is compiled on
 * the guests, a subset of the catalogue runs on laggkit.kmod against lagg(4) with `--compare
 * stock --report`, then on the same guests against agr(4) (`--stock agr`), including laggkit0
 * meeting agr0 (lacp-interop); the end undeploys: the guests are as they were.
 *
 * Needs $LAGGKIT_NETBSD_IMAGE (an image with the comp set, for cc) and a netbsd-10 tree at
 * $LAGGKIT_NETBSD_SYSROOT (default ~/.cache/laggkit/netbsd/src); without them the test is
 * reported skipped with the reason. It has not run on this project's machines: no NetBSD image
 * was at hand. Nothing here asserts on how long anything took.
 */
import test, { type TestFn } from 'ava';
import path from 'node:path';
import { guestScript } from '../../src/lab/guest-ssh.js';
import { listLabs, readState } from '../../src/lab/state.js';
import { testNeeding } from '../support/require.js';
import { cli, isolatedLab, netbsdInputs, keptReport, repo } from './support/cli.js';

const { image, sysroot, missing } = netbsdInputs();
const serial = test.serial as unknown as TestFn;
const TITLE =
  'laggkit e2e --guest netbsd --compare stock (lagg(4), then --stock agr): a catalogue subset passes on laggkit.kmod, what NetBSD cannot run is skipped with the reason, deploy in, undeploy out';

/** LACP on the e1000 pair (the only LACP NetBSD guests can form), failover on virtio, the unload refusal, the skips. */
const LAGG_SUBSET = [
  'steady-state[failover,*',
  'steady-state[roundrobin,*',
  'steady-state[lacp,*',
  'lacp-converge[lacp,e1000+e1000]',
  'cable-pull[lacp,e1000+e1000]',
  'unload-in-use[lacp,e1000+e1000]',
];
const AGR_SUBSET = ['lacp-interop', 'lacp-converge[lacp,e1000+e1000]', 'failover-return[failover,virtio+virtio]'];

if (missing) {
  process.stdout.write(`# skipped: ${TITLE}: ${missing}\n`);
  test.skip(`${TITLE} (skipped: ${missing})`, () => {});
} else {
  const { root: labRoot } = await isolatedLab(test, 'en');
  const artefacts = path.join(repo, 'test', 'results', 'e2e-netbsd');
  const env = { LAGGKIT_LAB_DIR: labRoot, NO_COLOR: '1' };

  testNeeding(serial, TITLE, { tools: ['qemu-system-x86_64', 'qemu-img', 'clang-19', 'ld.lld-19'] }, async (t) => {
    t.timeout(5_400_000);
    const out1 = path.join(labRoot, 'report-lagg');
    const run1 = await cli(
      [
        'e2e',
        '--guest',
        'netbsd',
        '--image',
        image,
        '--boot-timeout',
        '900',
        '--sysroot',
        sysroot,
        '--keep-lab',
        '--compare',
        'stock',
        '--report',
        out1,
        ...LAGG_SUBSET.flatMap((g) => ['--only', g]),
      ],
      env,
      3_000_000,
    );
    const res = keptReport(t, run1, out1, path.join(artefacts, 'lagg'), 'e2e against lagg(4)');
    t.regex(res.target, /2 NetBSD guests, NetBSD 10\./);
    const byId = new Map(res.cases.map((c) => [c.id, c]));
    const run = (id: string, d: 'laggkit' | 'stock') => byId.get(id)?.runs.find((r) => r.driver === d);
    for (const id of [
      'steady-state[failover,virtio+virtio]',
      'lacp-converge[lacp,e1000+e1000]',
      'cable-pull[lacp,e1000+e1000]',
      'unload-in-use[lacp,e1000+e1000]',
    ])
      for (const d of ['laggkit', 'stock'] as const) t.is(run(id, d)?.status, 'pass', `${id} ${d}: ${run(id, d)?.failures.join('; ')}`);
    // lagg(4) has no roundrobin; LACP on virtio ports cannot form on NetBSD at all.
    t.is(run('steady-state[roundrobin,virtio+virtio]', 'laggkit')?.status, 'pass');
    t.regex(run('steady-state[roundrobin,virtio+virtio]', 'stock')?.reason ?? '', /NetBSD lagg\(4\) has no roundrobin/);
    t.is(byId.get('steady-state[lacp,virtio+virtio]')?.status, 'skip');
    t.regex(byId.get('steady-state[lacp,virtio+virtio]')?.reason ?? '', /vioif\(4\) has no media ioctl/);
    // Both modules refuse to unload while an aggregate of theirs exists.
    for (const d of ['laggkit', 'stock'] as const) t.is(run('unload-in-use[lacp,e1000+e1000]', d)?.metrics.unload_refused, 1, d);
    // laggkit0's status block comes from its sysctl and is parsed as NetBSD's.
    const steady = run('steady-state[failover,virtio+virtio]', 'laggkit')!;
    const parsed = Object.values(steady.parsed) as Array<{ interfaces: Array<{ name: string; lagg?: { ports: unknown[] } }> }>;
    t.true(
      parsed.some((m) => m.interfaces.some((i) => i.name === 'laggkit0' && i.lagg?.ports.length === 2)),
      'laggkit0 parsed with both ports',
    );

    const [name] = listLabs();
    const out2 = path.join(labRoot, 'report-agr');
    const run2 = await cli(
      ['e2e', '--lab', name ?? '', '--sysroot', sysroot, '--compare', 'stock', '--stock', 'agr', '--report', out2, ...AGR_SUBSET.flatMap((g) => ['--only', g])],
      env,
      2_000_000,
    );
    const res2 = keptReport(t, run2, out2, path.join(artefacts, 'agr'), 'e2e against agr(4)');
    t.regex(res2.target, /stock NetBSD agr\(4\)/);
    const interop = res2.cases.find((c) => c.id === 'lacp-interop[lacp,e1000+e1000]')!;
    for (const r of interop.runs) t.is(r.status, 'pass', `lacp-interop ${r.driver}: ${r.failures.join('; ')}`);
    t.regex(interop.runs[0]!.events[0]?.what ?? '', /create laggkit0 \(lacp\) on A, agr0 \(agr LACP\) on B/);
    const fo = res2.cases.find((c) => c.id === 'failover-return[failover,virtio+virtio]')!;
    t.is(fo.runs.find((r) => r.driver === 'laggkit')?.status, 'pass');
    t.regex(fo.runs.find((r) => r.driver === 'stock')?.reason ?? '', /agr\(4\) speaks LACP only/);

    // Undeployed and tidied: no module, no laggkit lines in modules.conf, no ifconfig.laggkit9, no deploy record, no seqstream.
    const state = readState(name ?? '');
    t.truthy(state, 'the kept lab is there to look at');
    for (const vm of ['A', 'B']) {
      const after = await guestScript(
        state!,
        vm,
        "modstat laggkit 2>/dev/null | grep -q '^laggkit ' && echo laggkit-loaded; grep -h '^[^#]*laggkit' /etc/modules.conf; ls /etc/ifconfig.laggkit9 /var/db/laggkit /var/tmp/laggkit-e2e 2>/dev/null; ifconfig -l | tr ' ' '\\n' | grep -E '^(laggkit|lagg|agr)[0-9]'; true",
      );
      t.is(after.stdout.trim(), '', `${vm} as before e2e`);
    }
  });
}
