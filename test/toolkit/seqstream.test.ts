/**
 * seqstream, the numbered stream e2e measures outages with, run here on loopback:
 *
 * - the receiver says when it first hears the stream, before its summary;
 * - a sender that is not scheduled for a while (SIGSTOP) sends no burst afterwards, marks the
 *   silence it made, and the receiver keeps that out of max_gap_ms (max_silence_ms keeps it);
 * - a receiver that is not scheduled loses nothing and sees no gap: arrivals are the kernel's
 *   stamps and its socket buffer holds the stream meanwhile;
 * - sends the stack refuses are counted.
 *
 * And `seqstream now`, the clock e2e times BSD guests with, on each OS's clock: Linux keeps
 * CLOCK_BOOTTIME (/proc/uptime's), FreeBSD CLOCK_UPTIME, and NetBSD, which has neither, its
 * CLOCK_MONOTONIC (nanouptime(), what its kernel log stamps). No NetBSD here: the NetBSD choice
 * is built here by naming its clock, and the source is checked to name the two non-POSIX clocks
 * only behind their own #if defined(), so a libc without them still compiles it.
 */
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
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

interface Rx {
  received: number;
  lost: number;
  max_gap_ms: number;
  max_silence_ms: number;
  sender_stalls: number;
  gaps: Array<{ len_ms: number; sender_stall_ms: number; missing: number }>;
}
interface Tx {
  sent: number;
  refused: number;
  last_refusal: string;
  stalls: number;
  longest_stall_ms: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A UDP port nothing listens on now (the kernel's pick, released again). */
async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Run a seqstream and collect its stdout lines; `stop(ms)` pauses it with SIGSTOP for that long. */
function run(bin: string, args: string[]): { lines: Promise<string[]>; stop(ms: number): Promise<void> } {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return {
    lines: new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(out.trim().split('\n')) : reject(new Error(`seqstream ${args[0]} exited ${code}: ${out}`))));
    }),
    async stop(ms) {
      child.kill('SIGSTOP');
      await sleep(ms);
      child.kill('SIGCONT');
    },
  };
}

/** A 1.5 s stream, one datagram a millisecond; `during` disturbs the receiver or the sender 0.5 s in. */
async function stream(
  bin: string,
  during?: (rx: ReturnType<typeof run>, tx: ReturnType<typeof run>) => Promise<void>,
): Promise<{ heard: string; rx: Rx; tx: Tx }> {
  const port = String(await freePort());
  const rx = run(bin, ['recv', port, '5000', '50']);
  await sleep(200);
  const tx = run(bin, ['send', '127.0.0.1', port, '1000', '1500']);
  await sleep(500);
  await during?.(rx, tx);
  const [rxLines, txLines] = await Promise.all([rx.lines, tx.lines]);
  return { heard: rxLines[0]!, rx: JSON.parse(rxLines.at(-1)!) as Rx, tx: JSON.parse(txLines.at(-1)!) as Tx };
}

testNeeding(test, 'seqstream recv says when it first hears the stream, then sums it up: nothing lost on loopback', { tools: ['cc'] }, async (t) => {
  const { heard, rx, tx } = await stream(build(t, []));
  t.regex(heard, /^\{"heard":0,"at_ms":[\d.]+\}$/);
  t.is(rx.lost, 0);
  t.is(rx.received, tx.sent);
  t.is(tx.refused, 0);
  t.is(rx.sender_stalls, 0);
});

testNeeding(
  test,
  'a sender stopped for 300 ms sends no burst after it, marks the silence as its own, and max_gap_ms leaves it out',
  { tools: ['cc'] },
  async (t) => {
    const { rx, tx } = await stream(build(t, []), (_rx, sender) => sender.stop(300));
    t.true(tx.stalls >= 1 && tx.longest_stall_ms >= 250, JSON.stringify(tx));
    t.is(rx.lost, 0);
    // No burst: the 300 slots it slept through were not sent at all.
    t.true(tx.sent <= 1500 - 250, `sent ${tx.sent}`);
    const stalled = rx.gaps.find((g) => g.sender_stall_ms >= 250);
    t.truthy(stalled, JSON.stringify(rx.gaps));
    t.is(stalled!.missing, 0);
    t.true(rx.max_silence_ms >= stalled!.len_ms);
    t.true(rx.max_gap_ms < rx.max_silence_ms - 200, JSON.stringify(rx));
  },
);

testNeeding(test, "a receiver stopped for 300 ms loses nothing and hears no gap: arrival is the kernel's stamp", { tools: ['cc'] }, async (t) => {
  const { rx, tx } = await stream(build(t, []), (receiver) => receiver.stop(300));
  t.is(rx.lost, 0);
  t.is(rx.received, tx.sent);
  // Read 300 ms late, stamped on arrival: no silence near the 300 ms it slept.
  t.true(rx.max_silence_ms < 200, JSON.stringify(rx));
});

testNeeding(test, 'seqstream send counts the sends the stack refused and says why', { tools: ['cc'] }, async (t) => {
  // Nobody listens: loopback answers with port unreachable, and the connected socket's next send fails.
  const tx = JSON.parse(execFileSync(build(t, []), ['send', '127.0.0.1', String(await freePort()), '1000', '200'], { encoding: 'utf8' }).trim()) as Tx;
  t.true(tx.refused > 0 && tx.refused < tx.sent, JSON.stringify(tx));
  t.regex(tx.last_refusal, /refused/i);
});
