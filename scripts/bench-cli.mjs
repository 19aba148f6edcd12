#!/usr/bin/env node
/**
 * CLI start time: `laggkit --version`, `laggkit parse` of a FreeBSD `ifconfig -v` fixture and
 * `laggkit --help`, against a bare `node -e 0` measured in the same run, interleaved round by
 * round so that load on the machine weighs on all of them alike. Prints medians, the ratio to
 * bare node, and writes bench/results/cli.json.
 *
 *   npm run bench:cli [-- ROUNDS]     (default 15 rounds)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rounds = Number(process.argv[2] ?? 15);
const bin = path.join(root, 'bin', 'run.js');
const fixture = readFileSync(path.join(root, 'test', 'fixtures', 'ifconfig', 'freebsd14-vtnet-lacp-v.txt'));

const cases = [
  { name: 'node -e 0', args: ['-e', '0'] },
  { name: 'laggkit --version', args: [bin, '--version'] },
  { name: 'laggkit parse', args: [bin, 'parse'], input: fixture },
  { name: 'laggkit --help', args: [bin, '--help'] },
];

function once(c) {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, c.args, { input: c.input ?? '', stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${c.name} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

const round2 = (xs) => xs.map((l) => Number(l.toFixed(2)));
const loadStart = round2(os.loadavg());
for (const c of cases) once(c); // warm the file cache
const times = new Map(cases.map((c) => [c.name, []]));
for (let i = 0; i < rounds; i++) for (const c of cases) times.get(c.name).push(once(c));

const base = median(times.get('node -e 0'));
const results = cases.map((c) => ({
  name: c.name,
  medianMs: Number(median(times.get(c.name)).toFixed(1)),
  ratio: Number((median(times.get(c.name)) / base).toFixed(2)),
}));
console.log(`CLI start time, median of ${rounds} interleaved rounds (node ${process.version})`);
for (const r of results) console.log(`  ${r.name.padEnd(20)} ${String(r.medianMs).padStart(8)} ms   ${r.ratio.toFixed(2)}x bare node`);
mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
writeFileSync(
  path.join(root, 'bench', 'results', 'cli.json'),
  `${JSON.stringify({ date: new Date().toISOString(), host: { cpus: os.cpus().length, kernel: os.release(), loadavg_start: loadStart, loadavg_end: round2(os.loadavg()) }, rounds, node: process.version, results }, null, 2)}\n`,
);
