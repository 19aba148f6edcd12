#!/usr/bin/env node
/**
 * Line coverage of the TypeScript (c8, over the toolkit suite: in-process tests and the built
 * CLI they run, mapped back to src/ through the source maps) and of the C core (clang source
 * coverage, llvm-cov, over the C unit tests of test/core). Reports go to coverage/; the last
 * two lines are the figures README.md quotes.
 *
 *   npm run coverage            both
 *   npm run coverage -- c       only the C core (seconds)
 *   npm run coverage -- ts      only the TypeScript (the toolkit suite's minutes)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'coverage');
const which = process.argv.slice(2).filter((a) => a === 'ts' || a === 'c');
const want = (k) => which.length === 0 || which.includes(k);
const figures = [];

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return r.status ?? 1;
}

if (want('ts')) {
  const dir = path.join(out, 'ts');
  rmSync(dir, { recursive: true, force: true });
  // package.test.ts runs an installed copy outside src/, which c8 cannot attribute: left out.
  const tests = readdirSync(path.join(root, 'test', 'toolkit'))
    .filter((f) => f.endsWith('.test.ts') && f !== 'package.test.ts')
    .map((f) => path.join('test', 'toolkit', f));
  const c8 = path.join(root, 'node_modules', '.bin', 'c8');
  const ava = path.join(root, 'node_modules', '.bin', 'ava');
  const status = run(c8, [
    '--reports-dir',
    dir,
    '--reporter=text-summary',
    '--reporter=json-summary',
    '--reporter=html',
    '--all',
    '--src',
    'src',
    '--include',
    'src/**',
    '--exclude-after-remap',
    ava,
    '--timeout=10m',
    ...tests,
  ]);
  const total = JSON.parse(readFileSync(path.join(dir, 'coverage-summary.json'), 'utf8')).total;
  figures.push(
    `TypeScript (c8, toolkit suite${status === 0 ? '' : `, which failed: exit ${status}`}): lines ${total.lines.pct}% (${total.lines.covered}/${total.lines.total})`,
  );
}

if (want('c')) {
  const dir = path.join(out, 'c');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const core = path.join(root, 'kmod', 'core');
  const testDir = path.join(root, 'test', 'core');
  const srcs = /CORE_SRCS=([\s\S]*?)(?:\n\S|\n?$)/
    .exec(readFileSync(path.join(core, 'sources.mk'), 'utf8').replace(/\\\n/g, ' '))[1]
    .trim()
    .split(/\s+/)
    .map((f) => path.join(core, f));
  const flags = ['-std=c11', '-O0', '-g', '-fprofile-instr-generate', '-fcoverage-mapping', `-I${core}`, `-I${testDir}`];
  const bins = [];
  for (const t of readdirSync(testDir)
    .filter((f) => /^test_.*\.c$/.test(f))
    .sort()) {
    const bin = path.join(dir, t.replace(/\.c$/, ''));
    execFileSync('clang', [...flags, path.join(testDir, t), path.join(testDir, 'harness.c'), ...srcs, '-pthread', '-o', bin], { stdio: 'inherit' });
    bins.push(bin);
  }
  let failed = 0;
  for (const bin of bins)
    if (run(bin, [], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, LLVM_PROFILE_FILE: path.join(dir, '%p.profraw') } }) !== 0) failed++;
  const raws = readdirSync(dir)
    .filter((f) => f.endsWith('.profraw'))
    .map((f) => path.join(dir, f));
  execFileSync('llvm-profdata', ['merge', '-sparse', ...raws, '-o', path.join(dir, 'core.profdata')]);
  const objects = bins.flatMap((b, i) => (i === 0 ? [b] : ['-object', b]));
  const common = [`-instr-profile=${path.join(dir, 'core.profdata')}`, ...objects, ...srcs];
  execFileSync('llvm-cov', ['show', '-format=html', `-output-dir=${path.join(dir, 'html')}`, ...common]);
  const report = JSON.parse(execFileSync('llvm-cov', ['export', '-summary-only', ...common], { maxBuffer: 64 << 20, encoding: 'utf8' }));
  const lines = report.data[0].totals.lines;
  execFileSync('llvm-cov', ['report', ...common], { stdio: 'inherit' });
  figures.push(
    `C core (llvm-cov, ${bins.length} test programs${failed ? `, ${failed} failed` : ''}): lines ${lines.percent.toFixed(1)}% (${lines.covered}/${lines.count})`,
  );
}

console.log('');
for (const f of figures) console.log(f);
