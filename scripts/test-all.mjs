#!/usr/bin/env node
/**
 * Runs laggkit's test suites and sums them into the one closing line CI reads:
 * "N passed, N failed". Each suite is a list of steps; a step either reports counts (ava's TAP
 * summary, or a "N passed, N failed" line from the C test runners) or is a build/check step that
 * counts as one test. A step that exits non-zero without reporting any failure counts as one
 * failure, so a crash can never pass silently.
 *
 *   node scripts/test-all.mjs            every suite
 *   node scripts/test-all.mjs core lab   only those suites
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const ava = path.join(root, 'node_modules', '.bin', 'ava');
const tsc = path.join(root, 'node_modules', '.bin', 'tsc');

/** Test files of a folder (recursive), so a suite with no files yet is visible as such. */
function testFiles(dir) {
  const abs = path.join(root, dir);
  if (!existsSync(abs)) return [];
  const out = [];
  for (const name of readdirSync(abs)) {
    const p = path.join(abs, name);
    if (statSync(p).isDirectory()) out.push(...testFiles(path.join(dir, name)));
    else if (name.endsWith('.test.ts')) out.push(path.join(dir, name));
  }
  return out.sort();
}

const avaStep = (dir) => ({ title: `ava ${dir}`, cmd: ava, args: ['--tap', ...testFiles(dir)], needsFiles: testFiles(dir).length });

const SUITES = {
  core: [{ title: 'kmod/core unit tests (ASan+UBSan), fuzz campaign', cmd: 'make', args: ['-s', '-C', 'kmod/core', 'test'] }],
  toolkit: [
    { title: 'TypeScript strict type check (src and test)', cmd: tsc, args: ['-p', 'tsconfig.test.json'] },
    { title: 'house style: Biome (TypeScript lint + format), clang-format (C), check mode', cmd: 'node', args: ['scripts/lint.mjs'] },
    avaStep('test/toolkit'),
  ],
  laggd: [{ title: 'kmod/posix build (laggd, laggctl)', cmd: 'make', args: ['-s', '-C', 'kmod/posix'] }, avaStep('test/laggd')],
  lab: [avaStep('test/lab')],
  // NetBSD kernel module: its ioctl translation runs here against the real core; the module
  // itself is compiled with NetBSD 10's kernel flags when a NetBSD source tree is present.
  netbsd: [
    { title: 'kmod/netbsd lagg_req translation unit tests (ASan+UBSan)', cmd: 'make', args: ['-s', '-C', 'kmod/netbsd', 'test'] },
    { title: 'kmod/netbsd compile check (NetBSD 10 kernel flags, -Werror)', cmd: 'sh', args: ['kmod/netbsd/tests/compile-check.sh'] },
  ],
  // FreeBSD kernel module: built with FreeBSD's own clang 19 and bsd.kmod.mk from a FreeBSD
  // source tree, then run in a FreeBSD guest; each step says why it is skipped without one.
  kmod: [
    { title: 'kmod/freebsd cross-build (clang 19, bsd.kmod.mk, -Werror)', cmd: 'sh', args: ['kmod/freebsd/tests/cross-build-check.sh'] },
    { title: 'kmod/freebsd ATF suite in a FreeBSD guest (QEMU)', cmd: 'sh', args: ['kmod/freebsd/tests/vm-check.sh'] },
  ],
};

/**
 * Parse counts out of a step's output: ava TAP, or a plain "N passed, N failed[, N skipped]"
 * line. Skipped tests are those that need what no one can download here (a FreeBSD image or
 * source tree); each says why in its own output, and the total is in the closing line.
 */
function countsOf(text) {
  const tapPass = [...text.matchAll(/^# pass (\d+)$/gm)].pop();
  const tapFail = [...text.matchAll(/^# fail (\d+)$/gm)].pop();
  const tapSkip = [...text.matchAll(/^# skip (\d+)$/gm)].pop();
  if (tapPass || tapFail) return { passed: Number(tapPass?.[1] ?? 0), failed: Number(tapFail?.[1] ?? 0), skipped: Number(tapSkip?.[1] ?? 0) };
  const plain = [...text.matchAll(/^(?:\w+: )?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?/gm)].pop();
  if (plain) return { passed: Number(plain[1]), failed: Number(plain[2]), skipped: Number(plain[3] ?? 0) };
  return undefined;
}

function run(step) {
  return new Promise((resolve) => {
    const child = spawn(step.cmd, step.args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.on('error', (err) => resolve({ code: 127, out: `${out}\n${err.message}` }));
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

const wanted = process.argv.slice(2);
for (const w of wanted)
  if (!(w in SUITES)) {
    console.error(`unknown suite '${w}'; known: ${Object.keys(SUITES).join(', ')}`);
    process.exit(2);
  }
const names = wanted.length ? wanted : Object.keys(SUITES);

let passed = 0;
let failed = 0;
let skipped = 0;
const summary = [];
for (const name of names) {
  for (const step of SUITES[name]) {
    if (step.needsFiles === 0) {
      summary.push(`${name}: ${step.title}: no test files`);
      continue;
    }
    console.log(`\n=== ${name}: ${step.title}`);
    const { code, out } = await run(step);
    let c = countsOf(out);
    if (!c) c = code === 0 ? { passed: 1, failed: 0, skipped: 0 } : { passed: 0, failed: 1, skipped: 0 };
    else if (code !== 0 && c.failed === 0) c = { ...c, failed: 1 };
    passed += c.passed;
    failed += c.failed;
    skipped += c.skipped;
    summary.push(`${name}: ${step.title}: ${c.passed} passed, ${c.failed} failed${c.skipped ? `, ${c.skipped} skipped` : ''}${code ? ` (exit ${code})` : ''}`);
  }
}
console.log('\n=== summary');
for (const line of summary) console.log(`  ${line}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 ? 0 : 1);
