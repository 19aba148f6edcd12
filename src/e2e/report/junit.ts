/**
 * JUnit XML, the format CI systems read: one <testsuite> per scenario, one <testcase> per run
 * (case × driver × repeat). A failing run carries its misses in <failure> and the captured
 * evidence (laggctl or /proc/net/bonding status, seqstream results) in its body; a skipped run
 * says why.
 */
import type { E2eResult } from '../engine.js';
import { fmt, runName } from './text.js';

export function xmlEscape(s: string): string {
  // XML 1.0 has no place for most control characters, even escaped: drop them.
  // eslint-disable-next-line no-control-regex
  return s
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

export function renderJunit(res: E2eResult): string {
  const byScenario = new Map<string, E2eResult['cases']>();
  for (const c of res.cases) byScenario.set(c.scenario, [...(byScenario.get(c.scenario) ?? []), c]);
  const all = res.cases.flatMap((c) => c.runs);
  const count = (s: string): number => all.filter((r) => r.status === s).length;
  const out: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="laggkit e2e" tests="${all.length}" failures="${count('fail')}" skipped="${count('skip')}" time="${((Date.parse(res.finishedAt) - Date.parse(res.startedAt)) / 1000).toFixed(1)}">`,
  ];
  for (const [scenario, cases] of byScenario) {
    const runs = cases.flatMap((c) => c.runs);
    out.push(
      `  <testsuite name="${xmlEscape(scenario)}" tests="${runs.length}" failures="${runs.filter((r) => r.status === 'fail').length}" skipped="${runs.filter((r) => r.status === 'skip').length}" timestamp="${res.startedAt}">`,
    );
    for (const c of cases) {
      for (const r of c.runs) {
        out.push(
          `    <testcase classname="e2e.${xmlEscape(scenario)}" name="${xmlEscape(runName(c.id, r, res.repeat))}" time="${(r.durationMs / 1000).toFixed(1)}">`,
        );
        if (r.status === 'skip') out.push(`      <skipped message="${xmlEscape(r.reason ?? '')}"/>`);
        if (r.status === 'fail') {
          const evidence = [
            `scenario file: ${c.file}`,
            `driver: ${r.driver} (${r.mode}), ports ${c.ports.join(', ')}`,
            ...r.failures.map((f) => `miss: ${f}`),
            `metrics: ${Object.entries(r.metrics)
              .map(([k, v]) => `${k}=${fmt(v)}`)
              .join(' ')}`,
            ...Object.entries(r.captures).map(([k, v]) => `--- ${k}\n${v.trimEnd()}`),
          ].join('\n');
          out.push(
            `      <failure message="${xmlEscape(r.failures.join('; '))}" type="${r.reason ? 'error' : 'expectation'}">${xmlEscape(evidence)}</failure>`,
          );
        }
        if (r.status !== 'skip')
          out.push(
            `      <system-out>${xmlEscape(
              Object.entries(r.metrics)
                .map(([k, v]) => `${k}=${fmt(v)}`)
                .join('\n'),
            )}</system-out>`,
          );
        out.push('    </testcase>');
      }
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}
