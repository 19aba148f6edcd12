/**
 * Plain-text renderings of an e2e result: TAP 14 (streamed one test point per run as runs
 * finish, so a CI log shows progress) and the figures table (laggkit, stock, ratio).
 */
import type { CaseResult, E2eResult, Figure, RunResult } from '../engine.js';

/** Numbers as people read them: integers stay integers, the rest one decimal. */
export function fmt(v: number | undefined): string {
  if (v === undefined) return '-';
  return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) < 10 ? 2 : 1);
}

export function runName(caseId: string, r: Pick<RunResult, 'driver' | 'repeat'>, repeats: number): string {
  return `${caseId} ${r.driver}${repeats > 1 ? ` #${r.repeat}` : ''}`;
}

export function tapPlan(points: number): string {
  return `TAP version 14\n1..${points}\n`;
}

/** YAML-ish diagnostic values, quoted when they could be misread. */
function yamlValue(v: string): string {
  return /^[\w .,:/+=()\-→]*$/.test(v) && !/^\s|\s$|: /.test(v) ? v : JSON.stringify(v);
}

export function tapPoint(n: number, caseId: string, r: RunResult, repeats: number): string {
  const name = runName(caseId, r, repeats).replace(/#/g, '\\#');
  if (r.status === 'skip') return `ok ${n} - ${name} # SKIP ${r.reason ?? ''}\n`;
  const figures = Object.entries(r.metrics)
    .map(([k, v]) => `${k}=${fmt(v)}`)
    .join(' ');
  if (r.status === 'pass') return `ok ${n} - ${name}${figures ? ` (${figures})` : ''}\n`;
  const lines = [
    `not ok ${n} - ${name}`,
    '  ---',
    `  message: ${yamlValue(r.failures[0] ?? 'failed')}`,
    '  failures:',
    ...r.failures.map((f) => `    - ${yamlValue(f)}`),
    '  metrics:',
    ...Object.entries(r.metrics).map(([k, v]) => `    ${k}: ${fmt(v)}`),
    '  ...',
  ];
  return lines.join('\n') + '\n';
}

export function figureLine(caseId: string, f: Figure): string {
  return `${caseId} ${f.metric}: laggkit ${fmt(f.laggkit)}, stock ${fmt(f.stock)}, ratio ${fmt(f.ratio)}`;
}

export function tapFooter(res: E2eResult): string {
  const figs = res.cases.flatMap((c) => c.figures.map((f) => `# ${figureLine(c.id, f)}`));
  return [...figs, `# ${res.totals.pass} passed, ${res.totals.fail} failed, ${res.totals.skip} skipped`].join('\n') + '\n';
}

/** The whole TAP document at once (the report folder's copy). */
export function renderTap(res: E2eResult): string {
  const points = res.cases.flatMap((c) => c.runs.map((r) => ({ c, r })));
  return tapPlan(points.length) + points.map(({ c, r }, i) => tapPoint(i + 1, c.id, r, res.repeat)).join('') + tapFooter(res);
}

/** One line per case for a human: status, and each figure as laggkit / stock / ratio. */
export function caseLine(c: CaseResult): string {
  const mark = c.status === 'pass' ? 'ok  ' : c.status === 'fail' ? 'FAIL' : 'skip';
  const figs = c.figures
    .filter((f) => f.laggkit !== undefined || f.stock !== undefined)
    .map((f) => `${f.metric} ${fmt(f.laggkit)}/${fmt(f.stock)}${f.ratio !== undefined ? ` (×${fmt(f.ratio)})` : ''}`);
  const why =
    c.status === 'fail'
      ? c.runs
          .filter((r) => r.status === 'fail')
          .map((r) => `${r.driver}: ${r.failures.join('; ')}`)
          .join(' | ')
      : c.status === 'skip'
        ? (c.reason ?? c.runs[0]?.reason ?? '')
        : '';
  return `${mark} ${c.id}${figs.length ? `  ${figs.join('  ')}` : ''}${why ? `  — ${why}` : ''}`;
}
