/**
 * `seqstream now`, the clock e2e times BSD guests with, on each OS's clock: Linux keeps
 * CLOCK_BOOTTIME (/proc/uptime's), FreeBSD CLOCK_UPTIME, and NetBSD, which has neither, its
 * CLOCK_MONOTONIC (nanouptime(), what its kernel log stamps). No NetBSD here: the NetBSD choice
 * is built here by naming its clock, and the source is checked to name the two non-POSIX clocks
 * only behind their own #if defined(), so a libc without them still compiles it.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { testNeeding } from '../support/require.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const src = path.join(root, 'kmod', 'posix', 'seqstream.c');

function build(t: { teardown(fn: () => void): void }, extra: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-seqclock-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'seqstream');
  execFileSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-O2', ...extra, '-o', out, src], { stdio: 'pipe' });
  return out;
}

const uptime = (): number => Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);

testNeeding(test, "seqstream now on Linux reads /proc/uptime's clock, to the millisecond", { tools: ['cc'] }, (t) => {
  const bin = build(t, []);
  const before = uptime();
  const now = execFileSync(bin, ['now'], { encoding: 'utf8' }).trim();
  const after = uptime();
  t.regex(now, /^\d+\.\d{3}$/);
  // /proc/uptime has hundredths: the reading lies between the two, give or take one.
  t.true(Number(now) >= before - 0.01 && Number(now) <= after + 0.01, `${before} <= ${now} <= ${after}`);
});

testNeeding(test, "seqstream built with NetBSD's clock (CLOCK_MONOTONIC) compiles with -Werror and prints seconds since boot", { tools: ['cc'] }, (t) => {
  const bin = build(t, ['-DSEQSTREAM_UPTIME_CLOCK=CLOCK_MONOTONIC']);
  const now = execFileSync(bin, ['now'], { encoding: 'utf8' }).trim();
  t.regex(now, /^\d+\.\d{3}$/);
  // Monotonic time leaves out suspended time, uptime counts it: never ahead of /proc/uptime.
  t.true(Number(now) <= uptime() + 0.01, now);
  t.true(Number(now) > 0);
});

test('seqstream names CLOCK_UPTIME and CLOCK_BOOTTIME only where it checked they exist', (t) => {
  const lines = fs.readFileSync(src, 'utf8').split('\n');
  for (const clock of ['CLOCK_UPTIME', 'CLOCK_BOOTTIME']) {
    const uses = lines.map((l, i) => [l, i] as const).filter(([l]) => l.includes(clock) && !l.trimStart().startsWith('*'));
    t.true(uses.length > 0, clock);
    for (const [l, i] of uses) {
      if (/^#(el)?if defined\(/.test(l)) continue;
      // Any other use sits right under its own test.
      t.regex(lines[i - 1] ?? '', new RegExp(`^#(el)?if defined\\(${clock}\\)`), `line ${i + 1}: ${l}`);
    }
  }
});
