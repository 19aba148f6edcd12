/**
 * `laggkit e2e` on the lab, end to end: two real Linux guests (laggd, seqstream, bonding.ko in
 * the image), a subset of the catalogue run on laggd and on Linux bonding with `--compare
 * stock --report`, and then the report opened in Debian's chromium (headless, driven by
 * puppeteer-core): no console error, no request leaving the page, every chart drawn with this
 * run's numbers; the screenshot and the report are kept in test/results/e2e/. A deliberately
 * failing scenario then gives exit 10, a failing JUnit case carrying the evidence, and a red row.
 *
 * The full catalogue is `npm run e2e`; this subset keeps the file to a few minutes under TCG.
 * Nothing here asserts on how long anything took: the figures are checked for being measured
 * (and the same in every report format), not for their size.
 */
import test, { type TestFn } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { testNeeding } from '../support/require.js';
import type { LabState } from '../../src/lab/state.js';
import type { E2eResult } from '../../src/e2e/engine.js';
import { checkExit, cli, e2eLab, isolatedLab, repo, type CliResult } from './support/cli.js';

const { root: labRoot, name: NAME } = await isolatedLab(test, 'ee');
const needs = { tools: ['qemu-system-x86_64', 'dropbearkey', 'ssh-keygen', 'xz', 'busybox', 'make', 'chromium'] };
const serial = test.serial as unknown as TestFn;
const artefacts = path.join(repo, 'test', 'results', 'e2e');

/** One case of most scenarios: every action kind, both drivers, one stock skip with its reason. */
const SUBSET = [
  'create-destroy[lacp,*',
  'steady-state[lacp,*',
  'lacp-converge-mixed',
  'spread[loadbalance,*',
  'cable-pull[lacp,virtio+virtio]',
  'failover-return[failover,virtio+virtio]',
  'mtu[failover,virtio+virtio]',
  'mgmt-untouched',
];
const EXPECTED_CASES = [
  'cable-pull[lacp,virtio+virtio]',
  'create-destroy[lacp,virtio+virtio]',
  'failover-return[failover,virtio+virtio]',
  'lacp-converge-mixed[lacp,virtio+e1000]',
  'mgmt-untouched[loadbalance,virtio+virtio+e1000+e1000]',
  'mtu[failover,virtio+virtio]',
  'spread[loadbalance,virtio+virtio]',
  'steady-state[lacp,virtio+virtio]',
];

let lab: LabState | undefined;
let run: CliResult | undefined;
const out = path.join(labRoot, 'report');
fs.rmSync(artefacts, { recursive: true, force: true });
fs.mkdirSync(artefacts, { recursive: true });

test.before(async () => {
  lab = await e2eLab(NAME);
});

function up(): LabState {
  if (!lab) throw new Error('the lab did not come up (see the log above)');
  return lab;
}

const env = () => ({ LAGGKIT_LAB_DIR: labRoot, NO_COLOR: '1' });
const readJson = (dir: string): E2eResult => JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')) as E2eResult;

interface PageCheck {
  errors: string[];
  requests: string[];
  drawn: number;
  charts: Array<{ id: string; labels: unknown[]; datasets: Array<{ label: string; data: unknown[] }>; inkPixels: number }>;
  rows: Array<{ id: string; status: string; background: string }>;
}

/** What the page says about itself: its charts (Chart.js's own data and the ink on each canvas) and its summary rows. */
const IN_PAGE = `(() => {
  const charts = [...document.querySelectorAll('canvas[data-chart]')].map((c) => {
    const chart = Chart.getChart(c);
    const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let ink = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i] > 0) ink++;
    const plain = (v) => (v && typeof v === 'object' ? { x: v.x, y: v.y } : v);
    return { id: c.dataset.chart, labels: chart ? chart.data.labels || [] : [], datasets: chart ? chart.data.datasets.map((d) => ({ label: d.label, data: d.data.map(plain) })) : [], inkPixels: ink };
  });
  const rows = [...document.querySelectorAll('#summary-table tbody tr')].map((tr) => ({ id: tr.dataset.case, status: tr.dataset.status, background: getComputedStyle(tr.querySelector('td:nth-child(2)')).backgroundColor }));
  return { drawn: Number(document.body.dataset.chartsDrawn), charts, rows };
})()`;

/** Open a report in headless chromium, with every request that leaves the file refused and logged. */
async function openReport(file: string, screenshot?: string): Promise<PageCheck> {
  const { default: puppeteer } = await import('puppeteer-core');
  const browser = await puppeteer.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warn') errors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${String(e)}`));
    await page.setRequestInterception(true);
    page.on('request', (r) => {
      if (r.url().startsWith('file:') || r.url().startsWith('data:')) void r.continue();
      else {
        requests.push(r.url());
        void r.abort();
      }
    });
    await page.goto(`file://${file}`, { waitUntil: 'load' });
    await page.waitForSelector('body[data-charts-drawn]', { timeout: 30_000 });
    // Runs in the page (plain JavaScript: this file is compiled without the DOM library).
    const result = (await page.evaluate(IN_PAGE)) as Omit<PageCheck, 'errors' | 'requests'>;
    if (screenshot) await page.screenshot({ path: screenshot as `${string}.png`, fullPage: true });
    return { errors, requests, ...result };
  } finally {
    await browser.close();
  }
}

testNeeding(
  serial,
  'laggkit e2e --compare stock --report: a catalogue subset passes on laggd and on Linux bonding, and TAP, JUnit and JSON agree',
  needs,
  async (t) => {
    t.timeout(1_500_000);
    up();
    run = await cli(['e2e', '--lab', NAME, '--compare', 'stock', '--report', out, ...SUBSET.flatMap((g) => ['--only', g])], env(), 1_400_000);
    // Kept whatever the outcome: the reports are the evidence of a failure too.
    if (fs.existsSync(out)) fs.cpSync(out, artefacts, { recursive: true });
    checkExit(t, run, 0, 'e2e');
    const res = readJson(out);
    t.deepEqual(res.cases.map((c) => c.id).sort(), EXPECTED_CASES);
    t.is(res.compare, 'stock');
    t.deepEqual(res.totals, { pass: 8, fail: 0, skip: 0 });
    for (const c of res.cases) {
      t.deepEqual(
        c.runs.map((r) => r.driver),
        ['laggkit', 'stock'],
        c.id,
      );
      const lk = c.runs[0]!;
      t.is(lk.status, 'pass', `${c.id} laggkit: ${lk.failures.join('; ')}`);
      t.true(Object.keys(lk.captures).length > 0, `${c.id}: evidence captured`);
    }
    // The one stock skip carries its reason into every format.
    const mixed = res.cases.find((c) => c.id.startsWith('lacp-converge-mixed'))!;
    t.is(mixed.runs[1]!.status, 'skip');
    t.regex(mixed.runs[1]!.reason ?? '', /different speeds/);
    for (const c of res.cases.filter((x) => x !== mixed)) t.is(c.runs[1]!.status, 'pass', `${c.id} stock: ${c.runs[1]!.failures.join('; ')}`);
    // Figures: measured on both drivers, ratio = laggkit / stock.
    const pull = res.cases.find((c) => c.id === 'cable-pull[lacp,virtio+virtio]')!;
    for (const m of ['gap_ms_ab', 'gap_ms_ba']) {
      const f = pull.figures.find((x) => x.metric === m)!;
      t.true(Number.isFinite(f.laggkit) && Number.isFinite(f.stock), `${m} measured on both`);
      if (f.stock) t.is(f.ratio, Math.round((f.laggkit! / f.stock) * 100) / 100);
    }
    for (const r of pull.runs) {
      t.true(r.portSeries.length === 2 && r.portSeries.every((s) => s.t_ms.length > 3), `${r.driver}: per-port traffic sampled through the pull`);
      t.deepEqual(
        r.events.filter((e) => e.kind === 'link').map((e) => e.what),
        ['vtnet0 cable pulled', 'vtnet0 plugged back'],
      );
      // The driver's own account (laggd's event ring, bonding's kernel log) is on the timeline too.
      t.true(
        r.events.some((e) => e.kind === 'state' && /vtnet0/.test(e.what)),
        `${r.driver}: the driver's vtnet0 events on the timeline`,
      );
      t.true(r.metrics.lost_ab! >= 0 && r.metrics.lost_ba! >= 0, 'both receivers reported');
    }
    const fo = res.cases.find((c) => c.id.startsWith('failover-return'))!;
    for (const r of fo.runs)
      t.deepEqual([r.metrics.active_before, r.metrics.active_during, r.metrics.active_after], [0, 1, 0], `${r.driver}: primary, backup, primary`);
    // laggctl captures are kept parsed as well as raw.
    const parsed = res.cases.find((c) => c.id.startsWith('steady-state'))!.runs[0]!.parsed as Record<
      string,
      { interfaces: Array<{ name: string; lagg?: unknown }> }
    >;
    t.true(
      Object.values(parsed).some((m) => m.interfaces.some((i) => i.name === 'laggkit0' && i.lagg)),
      'laggctl output parsed into the ifconfig model',
    );

    // TAP on stdout (not a terminal): one point per run, the same points as report.tap.
    const points = (s: string) =>
      s
        .split('\n')
        .filter((l) => /^(not )?ok \d+ - /.test(l))
        .map((l) => l.replace(/ \(.*\)$/, ''));
    t.regex(run.stdout, /^TAP version 14\n1\.\.16\n/);
    t.is(points(run.stdout).length, 16);
    t.deepEqual(points(run.stdout).sort(), points(fs.readFileSync(path.join(out, 'report.tap'), 'utf8')).sort());
    t.regex(run.stdout, /^ok \d+ - lacp-converge-mixed\[lacp,virtio\+e1000\] stock # SKIP .*different speeds/m);
    t.regex(run.stdout, /^# cable-pull\[lacp,virtio\+virtio\] gap_ms_ab: laggkit [\d.]+, stock [\d.]+, ratio [\d.]+$/m);
    t.regex(run.stdout, /^# 8 passed, 0 failed, 0 skipped$/m);
    const junit = fs.readFileSync(path.join(out, 'junit.xml'), 'utf8');
    t.regex(junit, /<testsuites name="laggkit e2e" tests="16" failures="0" skipped="1"/);
    t.is((junit.match(/<testcase /g) ?? []).length, 16);
    t.regex(junit, /<skipped message="Linux bonding \(802\.3ad\) puts members of different speeds/);
    t.log(points(run.stdout).join('\n'));
    t.log(
      run.stdout
        .split('\n')
        .filter((l) => l.startsWith('# '))
        .join('\n'),
    );
  },
);

testNeeding(serial, "the HTML report opens offline in headless chromium: no console error, every chart drawn with this run's data", needs, async (t) => {
  checkExit(t, run, 0, 'the e2e run of the previous test');
  const res = readJson(out);
  const page = await openReport(path.join(out, 'report.html'), path.join(artefacts, 'report.png'));
  t.deepEqual(page.errors, [], 'no console errors or warnings');
  t.deepEqual(page.requests, [], 'nothing requested from outside the file');
  t.is(page.drawn, page.charts.length);
  t.true(fs.statSync(path.join(artefacts, 'report.png')).size > 10_000, 'screenshot kept');
  // Figure charts: one bar per case that has the figure, laggkit and stock values as in report.json.
  const metrics = [...new Set(res.cases.flatMap((c) => c.figures.filter((f) => f.laggkit !== undefined || f.stock !== undefined).map((f) => f.metric)))];
  t.deepEqual(
    page.charts
      .filter((c) => c.id.startsWith('figure:'))
      .map((c) => c.id.slice(7))
      .sort(),
    metrics.sort(),
  );
  for (const m of metrics) {
    const chart = page.charts.find((c) => c.id === `figure:${m}`)!;
    const cases = res.cases.filter((c) => c.figures.some((f) => f.metric === m && (f.laggkit !== undefined || f.stock !== undefined)));
    t.deepEqual(
      chart.labels,
      cases.map((c) => c.id),
      `${m}: one bar group per case`,
    );
    t.deepEqual(
      chart.datasets.map((d) => d.label),
      ['laggkit', 'stock'],
    );
    t.deepEqual(
      chart.datasets[0]!.data,
      cases.map((c) => c.figures.find((f) => f.metric === m)!.laggkit ?? null),
      `${m}: laggkit values of this run`,
    );
    t.deepEqual(
      chart.datasets[1]!.data,
      cases.map((c) => c.figures.find((f) => f.metric === m)!.stock ?? null),
      `${m}: stock values of this run`,
    );
  }
  // Per-port traffic through the cable pull: the samples of this run, and the link events on it.
  const pullIndex = res.cases.findIndex((c) => c.id === 'cable-pull[lacp,virtio+virtio]');
  for (const [ri, r] of res.cases[pullIndex]!.runs.entries()) {
    const chart = page.charts.find((c) => c.id === `ports:${pullIndex}:${ri}`);
    t.truthy(chart, `traffic chart of the ${r.driver} run`);
    t.deepEqual(
      chart!.datasets.slice(0, 2).map((d) => d.data),
      r.portSeries.map((s) => s.t_ms.map((x, k) => ({ x, y: s.tx_pps[k] }))),
    );
    t.true(chart!.datasets[2]!.data.length >= 2, 'pull and plug marked');
  }
  t.true(
    page.charts.some((c) => c.id === 'dist:converge_ms'),
    'converge distribution drawn',
  );
  for (const c of page.charts) t.true(c.inkPixels > 500, `${c.id} has something drawn on its canvas`);
  t.deepEqual(
    page.rows.map((r) => r.status),
    res.cases.map(() => 'pass'),
  );
});

testNeeding(serial, 'a scenario that fails: exit 10, a failing JUnit case with the captured evidence, a red row in the HTML', needs, async (t) => {
  up();
  const dir = path.join(labRoot, 'failing-scenarios');
  fs.mkdirSync(dir, { recursive: true });
  // Failover keeps one member active: expecting every member active must fail, with evidence.
  fs.writeFileSync(
    path.join(dir, 'failover-all-active.yaml'),
    [
      'name: failover-all-active',
      'title: Failover with every member active (wrong on purpose)',
      'setup:',
      '  proto: failover',
      '  members: [virtio, virtio]',
      'action:',
      '  kind: steady-state',
      'expect:',
      '  active_members: { equals: members }',
      'measure: [converge_ms]',
      '',
    ].join('\n'),
  );
  const out2 = path.join(labRoot, 'report-failing');
  const r = await cli(['e2e', '--lab', NAME, '--scenarios', dir, '--report', out2, '--json'], env(), 600_000);
  checkExit(t, r, 10, 'failing e2e');
  t.is(r.json?.ok, false);
  t.is(r.json?.error?.code, 'E_E2E_FAILED');
  t.regex(r.json?.error?.message ?? '', /1 of 1 e2e case\(s\) failed: failover-all-active\[failover,virtio\+virtio\]/);
  const res = readJson(out2);
  t.is(res.cases[0]!.status, 'fail');
  t.deepEqual(res.cases[0]!.runs[0]!.failures, ['active_members is 1, expected 2 (the member count)']);
  const junit = fs.readFileSync(path.join(out2, 'junit.xml'), 'utf8');
  t.regex(junit, /<testsuites name="laggkit e2e" tests="1" failures="1" skipped="0"/);
  t.regex(
    junit,
    /<failure message="active_members is 1, expected 2 \(the member count\)" type="expectation">[^<]*scenario file: .*failover-all-active\.yaml[^<]*laggport: vtnet0 flags=[^<]*ACTIVE/,
  );
  const page = await openReport(path.join(out2, 'report.html'), path.join(artefacts, 'report-failing.png'));
  t.deepEqual(page.errors, []);
  t.deepEqual(
    page.rows.map((x) => [x.id, x.status]),
    [['failover-all-active[failover,virtio+virtio]', 'fail']],
  );
  const [red, green, blue] = (page.rows[0]!.background.match(/\d+/g) ?? []).map(Number);
  t.true(red! > 240 && green! < 240 && blue! < 240, `the failed row is red (${page.rows[0]!.background})`);
});
