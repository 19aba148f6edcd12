#!/usr/bin/env node
/**
 * npm run bench: every benchmark in turn (bench:core, bench:laggd, which needs root,
 * bench:deploy, which boots a lab, bench:lab, which boots lab guests and needs root, and
 * bench:cli),
 * each writing its JSON under bench/results/, then bench:report draws one chart per figure
 * (bench/results/index.html) and regenerates the README's performance section. A benchmark
 * that fails is reported and the others still run; the exit status is non-zero then.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const steps = [
  ['bench:core', 'make', ['-s', '-C', 'kmod/core', 'bench']],
  ['bench:laggd', process.execPath, [path.join('scripts', 'bench-laggd.mjs')]],
  ['bench:deploy', process.execPath, ['--import=tsx', path.join('bench', 'deploy', 'bench.ts')]],
  ['bench:lab', process.execPath, ['--import=tsx', path.join('bench', 'lab', 'bench.ts')]],
  ['bench:cli', process.execPath, [path.join('scripts', 'bench-cli.mjs')]],
  ['bench:report', process.execPath, [path.join('scripts', 'bench-report.mjs')]],
];
const failed = [];
for (const [name, cmd, args] of steps) {
  process.stderr.write(`\n== ${name}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) failed.push(`${name} (exit ${r.status ?? r.signal})`);
}
if (failed.length) process.stderr.write(`\nnpm run bench: failed: ${failed.join(', ')}\n`);
process.exit(failed.length ? 1 : 0);
