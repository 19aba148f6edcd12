/**
 * The HTML report: one self-contained file that works offline. Tables are rendered here, so
 * the page reads without JavaScript; the charts are drawn in the browser by Chart.js, inlined
 * from node_modules together with the run's data (a JSON block, the same object as
 * report.json). Nothing is fetched: no CDN, no fonts, no images.
 *
 *   summary       a row per case, red/green/grey, laggkit vs stock figures and their ratio
 *   figures       a bar chart per headline metric, laggkit and stock side by side per case
 *   distributions every run's value of converge and gap figures (spread over --repeat runs)
 *   cases         per run: per-port transmit rate on A over time with the link events,
 *                 the event timeline, the misses and the captured evidence
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { CaseResult, E2eResult, RunResult } from '../engine.js';
import { fmt, runName } from './text.js';

const require = createRequire(import.meta.url);

function chartJsSource(): string {
  // The package exports only its module entries; the UMD build sits beside them in dist/.
  const file = path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');
  // The source map is not shipped inside the report; its comment would only make devtools ask.
  return fs.readFileSync(file, 'utf8').replace(/\n\/\/# sourceMappingURL=.*$/m, '');
}

export function htmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** JSON inside <script>: nothing in the data can close the element or open a comment. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;color:#1b1f24;background:#fff}
h1{margin:.2em 0}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #d0d7de;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.pass td.status{background:#dafbe1;color:#116329}tr.fail,tr.fail td{background:#ffebe9}tr.fail td.status{color:#cf222e;font-weight:bold}
tr.skip td{color:#57606a;background:#f6f8fa}
#summary-table td:nth-child(3),#summary-table td:nth-child(4){width:14em}#summary-table small{display:block;font-size:11px}
.totals span{display:inline-block;padding:2px 10px;border-radius:10px;margin-right:6px;font-weight:600}
.t-pass{background:#dafbe1;color:#116329}.t-fail{background:#ffebe9;color:#cf222e}.t-skip{background:#eaeef2;color:#57606a}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:1em}
.chart-box{border:1px solid #d0d7de;border-radius:6px;padding:.5em;height:300px;position:relative}
.chart-box canvas{width:100%!important;height:260px!important}
details{margin:.4em 0;border:1px solid #d0d7de;border-radius:6px;padding:.3em .6em}details.fail{border-color:#cf222e}
summary{cursor:pointer;font-weight:600}pre{background:#f6f8fa;padding:.5em;overflow:auto;max-height:22em;font-size:12px}
.miss{color:#cf222e}.muted{color:#57606a}
`;

/** The browser side: draws every canvas from the embedded data. Plain ES2017, no modules. */
const PAGE_SCRIPT = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('e2e-data').textContent);
  var COLORS = { laggkit: '#0969da', stock: '#bc4c00' };
  var PORT_COLORS = ['#0969da', '#1a7f37', '#8250df', '#bf3989', '#9a6700', '#57606a'];
  Chart.defaults.animation = false;
  Chart.defaults.responsive = true;
  Chart.defaults.maintainAspectRatio = false;
  var drawn = 0;
  function canvas(id) { return document.querySelector('canvas[data-chart="' + id + '"]'); }
  function figureValues(metric) {
    var labels = [], lk = [], st = [];
    data.cases.forEach(function (c) {
      c.figures.forEach(function (f) {
        if (f.metric !== metric || (f.laggkit === undefined && f.stock === undefined)) return;
        labels.push(c.id); lk.push(f.laggkit === undefined ? null : f.laggkit); st.push(f.stock === undefined ? null : f.stock);
      });
    });
    return { labels: labels, laggkit: lk, stock: st };
  }
  document.querySelectorAll('canvas[data-chart^="figure:"]').forEach(function (el) {
    var metric = el.getAttribute('data-chart').slice(7);
    var v = figureValues(metric);
    var sets = [{ label: 'laggkit', data: v.laggkit, backgroundColor: COLORS.laggkit }];
    if (data.compare === 'stock') sets.push({ label: 'stock', data: v.stock, backgroundColor: COLORS.stock });
    new Chart(el, { type: 'bar', data: { labels: v.labels, datasets: sets },
      options: { plugins: { title: { display: true, text: metric } }, scales: { y: { beginAtZero: true } } } });
    drawn++;
  });
  document.querySelectorAll('canvas[data-chart^="dist:"]').forEach(function (el) {
    var metric = el.getAttribute('data-chart').slice(5);
    var ids = [];
    var sets = {};
    data.cases.forEach(function (c) {
      c.runs.forEach(function (r) {
        if (r.metrics[metric] === undefined || r.status === 'skip') return;
        if (ids.indexOf(c.id) < 0) ids.push(c.id);
        (sets[r.driver] = sets[r.driver] || []).push({ x: ids.indexOf(c.id) + (r.driver === 'stock' ? 0.15 : -0.15), y: r.metrics[metric] });
      });
    });
    var datasets = Object.keys(sets).map(function (d) { return { label: d, data: sets[d], backgroundColor: COLORS[d] || '#57606a', pointRadius: 4 }; });
    new Chart(el, { type: 'scatter', data: { datasets: datasets },
      options: { plugins: { title: { display: true, text: metric + ' of every run' } },
        scales: { y: { beginAtZero: true }, x: { min: -0.5, max: ids.length - 0.5,
          afterBuildTicks: function (axis) { axis.ticks = ids.map(function (_, i) { return { value: i }; }); },
          ticks: { callback: function (v) { return ids[v] || ''; } } } } } });
    drawn++;
  });
  document.querySelectorAll('canvas[data-chart^="ports:"]').forEach(function (el) {
    var p = el.getAttribute('data-chart').split(':');
    var run = data.cases[+p[1]].runs[+p[2]];
    var datasets = run.portSeries.map(function (s, i) {
      return { label: s.port + ' tx/s', data: s.t_ms.map(function (t, k) { return { x: t, y: s.tx_pps[k] }; }),
        borderColor: PORT_COLORS[i % PORT_COLORS.length], backgroundColor: PORT_COLORS[i % PORT_COLORS.length], pointRadius: 0, borderWidth: 2 };
    });
    var marks = run.events.filter(function (e) { return e.kind === 'link' || e.kind === 'gap'; });
    datasets.push({ label: 'events', type: 'scatter', data: marks.map(function (e) { return { x: Math.round(e.t_ms), y: 0, what: e.what }; }),
      backgroundColor: '#cf222e', pointRadius: 6, pointStyle: 'triangle' });
    new Chart(el, { type: 'line', data: { datasets: datasets },
      options: { parsing: true, plugins: { title: { display: true, text: run.driver + ': frames sent per port on A (per second)' },
        tooltip: { callbacks: { label: function (ctx) { return ctx.raw.what || (ctx.dataset.label + ': ' + ctx.raw.y); } } } },
        scales: { x: { type: 'linear', title: { display: true, text: 'ms from stream start' } }, y: { beginAtZero: true } } } });
    drawn++;
  });
  document.body.setAttribute('data-charts-drawn', String(drawn));
})();
`;

function statusCell(s: string): string {
  return `<td class="status">${s === 'pass' ? 'pass' : s === 'fail' ? 'FAIL' : 'skip'}</td>`;
}

function driverStatus(c: CaseResult, driver: string): string {
  const runs = c.runs.filter((r) => r.driver === driver);
  if (runs.length === 0) return '<td class="muted">not run</td>';
  const fail = runs.filter((r) => r.status === 'fail').length;
  const skip = runs.filter((r) => r.status === 'skip').length;
  if (skip === runs.length) return `<td class="muted">skipped<small>${htmlEscape(runs[0]!.reason ?? '')}</small></td>`;
  return `<td class="${fail ? 'miss' : ''}">${fail ? `${fail}/${runs.length} failed` : `${runs.length - skip}/${runs.length} passed`}</td>`;
}

function summaryTable(res: E2eResult): string {
  const rows = res.cases.map((c) => {
    const figs = c.figures
      .map((f) => `${htmlEscape(f.metric)}: ${fmt(f.laggkit)} / ${fmt(f.stock)}${f.ratio !== undefined ? ` (×${fmt(f.ratio)})` : ''}`)
      .join('<br>');
    return `<tr class="${c.status}" data-case="${htmlEscape(c.id)}" data-status="${c.status}">${statusCell(c.status)}<td><a href="#case-${htmlEscape(c.id)}">${htmlEscape(c.id)}</a><br><span class="muted">${htmlEscape(c.title)}</span></td>${driverStatus(c, 'laggkit')}${driverStatus(c, 'stock')}<td>${figs || '<span class="muted">-</span>'}</td></tr>`;
  });
  return `<table id="summary-table"><thead><tr><th>status</th><th>case</th><th>laggkit</th><th>stock</th><th>figures: laggkit / stock (ratio)</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function runSection(c: CaseResult, ci: number, r: RunResult, ri: number, repeats: number): string {
  const metrics = Object.entries(r.metrics)
    .map(([k, v]) => `<tr><td>${htmlEscape(k)}</td><td class="num">${fmt(v)}</td></tr>`)
    .join('');
  const events = [...r.events]
    .sort((a, b) => a.t_ms - b.t_ms)
    .map((e) => `<tr><td class="num">${Math.round(e.t_ms)}</td><td>${e.side ?? ''}</td><td>${e.kind}</td><td>${htmlEscape(e.what)}</td></tr>`)
    .join('');
  const captures = Object.entries(r.captures)
    .map(([k, v]) => `<details><summary>${htmlEscape(k)}</summary><pre>${htmlEscape(v)}</pre></details>`)
    .join('');
  return [
    `<details class="${r.status}"${r.status === 'fail' ? ' open' : ''}><summary>${htmlEscape(runName(c.id, r, repeats))}: ${r.status}${r.reason && r.status === 'skip' ? ` (${htmlEscape(r.reason)})` : ''} <span class="muted">${htmlEscape(r.mode)}, ${(r.durationMs / 1000).toFixed(1)} s</span></summary>`,
    r.failures.length ? `<ul class="miss">${r.failures.map((f) => `<li>${htmlEscape(f)}</li>`).join('')}</ul>` : '',
    metrics ? `<table class="metrics"><thead><tr><th>metric</th><th>value</th></tr></thead><tbody>${metrics}</tbody></table>` : '',
    r.portSeries.length ? `<div class="chart-box"><canvas data-chart="ports:${ci}:${ri}"></canvas></div>` : '',
    events
      ? `<table class="timeline"><thead><tr><th>ms</th><th>side</th><th>kind</th><th>event</th></tr></thead><tbody>${events}</tbody></table><p class="muted">ms from the start of the packet stream (from the create step when there is no stream; negative: before the stream). Cable pulls and plugs are host times, within an SSH round trip; driver events carry the guest's clock.</p>`
      : '',
    captures,
    '</details>',
  ].join('\n');
}

export function renderHtml(res: E2eResult): string {
  const metrics = [...new Set(res.cases.flatMap((c) => c.figures.filter((f) => f.laggkit !== undefined || f.stock !== undefined).map((f) => f.metric)))];
  const distMetrics = ['converge_ms', 'gap_ms_ab', 'gap_ms_ba'].filter((m) =>
    res.cases.some((c) => c.runs.some((r) => r.metrics[m] !== undefined && r.status !== 'skip')),
  );
  const seconds = ((Date.parse(res.finishedAt) - Date.parse(res.startedAt)) / 1000).toFixed(0);
  const cases = res.cases
    .map(
      (c, ci) =>
        `<section class="case" id="case-${htmlEscape(c.id)}"><h3>${htmlEscape(c.id)} <span class="muted">${c.status}</span></h3><p>${htmlEscape(c.title)}. <span class="muted">${htmlEscape(c.description)}</span></p><p class="muted">members ${htmlEscape(c.ports.join(', ') || '-')} · ${htmlEscape(c.file)}</p>${c.runs.map((r, ri) => runSection(c, ci, r, ri, res.repeat)).join('\n')}</section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>laggkit e2e: ${res.totals.pass} passed, ${res.totals.fail} failed, ${res.totals.skip} skipped</title>
<style>${STYLE}</style></head>
<body>
<header><h1>laggkit e2e</h1>
<p>${htmlEscape(res.target)} · ${htmlEscape(res.startedAt)} · ${seconds} s · ${res.compare === 'stock' ? 'compared with the stock driver (Linux bonding)' : 'laggkit only'}${res.repeat > 1 ? ` · ${res.repeat} runs each` : ''}</p>
<p class="totals"><span class="t-pass">${res.totals.pass} passed</span><span class="t-fail">${res.totals.fail} failed</span><span class="t-skip">${res.totals.skip} skipped</span></p></header>
<section id="summary"><h2>Summary</h2>${summaryTable(res)}</section>
${metrics.length ? `<section id="figures"><h2>Figures: laggkit${res.compare === 'stock' ? ' vs stock' : ''}</h2><div class="charts">${metrics.map((m) => `<div class="chart-box"><canvas data-chart="figure:${htmlEscape(m)}"></canvas></div>`).join('')}</div></section>` : ''}
${distMetrics.length ? `<section id="distributions"><h2>Distributions over runs</h2><div class="charts">${distMetrics.map((m) => `<div class="chart-box"><canvas data-chart="dist:${m}"></canvas></div>`).join('')}</div></section>` : ''}
<section id="cases"><h2>Cases</h2>${cases}</section>
<script type="application/json" id="e2e-data">${scriptJson(res)}</script>
<script>${chartJsSource()}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}
