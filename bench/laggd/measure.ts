/**
 * The measurements of the laggd benchmark, each applied identically to every pair:
 * throughput with udpblast (packets/s and Gbit/s, judged at the receiver), the longest gap in
 * a 1 ms stream when a member's link goes down, the time from link up to every member
 * distributing, and the forwarding processes' resident memory and CPU time from /proc, with the
 * whole machine's CPU time beside it.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, type Topology } from '../../test/laggd/support/netns.js';
import { ADDR_A, ADDR_B, type Pair } from './peers.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Compile udpblast.c into a temporary directory; returns the binary's path. */
export function buildBlaster(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lk-bench-'));
  const bin = path.join(dir, 'udpblast');
  const args = ['-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', '-o', bin, path.join(here, 'udpblast.c')];
  // cc where a default compiler is set up, else clang (which scripts/setup.sh installs).
  for (const cc of [process.env.CC, 'cc', 'clang'].filter((c): c is string => !!c)) {
    try {
      execFileSync(cc, args, { stdio: 'inherit' });
      return bin;
    } catch {
      /* try the next compiler */
    }
  }
  throw new Error('cannot compile bench/laggd/udpblast.c: no working cc or clang');
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU seconds (user + system) a process has used so far; 0 for no process (the no-forwarder pair). */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
}

/**
 * The whole machine's busy CPU time so far, in core-seconds: user, nice, system, irq and
 * softirq of every CPU (/proc/stat's first line). A forwarder's own CPU time misses the work
 * it causes elsewhere (the receiving stack runs in softirq, often in another process's time),
 * so each throughput run also records what the whole machine spent.
 */
export function machineBusySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = f;
  return (user + nice + system + irq + softirq) / CLK_TCK;
}

/** Resident memory in KiB (VmRSS). */
export function rssKiB(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/**
 * Wait for a background udpblast listener's "ready" line. Its final JSON comes in `done`,
 * wrapped in an object: an async function returning a bare promise would wait for it.
 */
async function listener(child: ChildProcess): Promise<{ done: Promise<Record<string, number>>; readyAt: number }> {
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<Record<string, number>>((resolve, reject) => {
    child.on('close', () => {
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as Record<string, number>);
      } catch {
        reject(new Error(`udpblast listener said: ${out} ${err}`));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`udpblast listener not ready: ${err}`)), 10_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"ready"')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return { done, readyAt: Date.now() };
}

export interface Throughput {
  /** packets/s of every run; the other figures are those of the median run */
  runs_pps?: number[];
  payload: number;
  flows: number;
  /** sending processes (the forwarding rate runs one per CPU; the UDP blast one) */
  generators?: number;
  offered_pps: number;
  pps: number;
  /** IP-layer Gbit/s delivered (UDP payload + 28 bytes of headers per packet). */
  gbps: number;
  loss_pct: number;
  /** CPU cores the forwarding process of each side used during the run. */
  cpu_a: number;
  cpu_b: number;
  /** CPU cores the whole machine used during the run: generator, receiver, forwarders, kernel. */
  cpu_machine: number;
}

let portSeq = 0;

/**
 * The generator and the receiver run niced: they would otherwise take every CPU of a small
 * machine and starve the forwarders being measured; niced, they get what the forwarders leave.
 */
const NICE = ['nice', '-n', '15'];

type CpuFigures = Pick<Throughput, 'cpu_a' | 'cpu_b' | 'cpu_machine'>;

/** Starts counting CPU time; the function returned gives the cores each forwarder and the whole machine used since. */
async function cpuMeter(pair: Pair): Promise<() => CpuFigures> {
  const [pidA, pidB] = [await pair.a.pid(), await pair.b.pid()];
  const read = () => [cpuSeconds(pidA), cpuSeconds(pidB), machineBusySeconds()];
  const c0 = read();
  const t0 = Date.now();
  return () => {
    const c1 = read();
    const wall = (Date.now() - t0) / 1000;
    const cores = (i: number) => Number(((c1[i]! - c0[i]!) / wall).toFixed(3));
    return { cpu_a: cores(0), cpu_b: cores(1), cpu_machine: cores(2) };
  };
}

/** A run's figures from what was sent (over the senders' time) and delivered (over the receiver's window). */
function runFigures(payload: number, flows: number, sent: number, sendSeconds: number, delivered: number, window: number, cpu: CpuFigures): Throughput {
  const pps = delivered / window;
  return {
    payload,
    flows,
    offered_pps: Math.round(sent / sendSeconds),
    pps: Math.round(pps),
    gbps: Number(((pps * (payload + 28) * 8) / 1e9).toFixed(3)),
    loss_pct: sent ? Number((100 * (1 - delivered / sent)).toFixed(2)) : 100,
    ...cpu,
  };
}

/** Blast UDP from a to b for `seconds` with `flows` source ports and `payload` bytes each. */
export async function throughput(pair: Pair, blaster: string, payload: number, seconds: number, flows: number): Promise<Throughput> {
  const port = String(7100 + (portSeq++ % 200));
  const rx = await listener(pair.b.host.spawn([...NICE, blaster, 'recv', port, String(seconds + 2)]));
  const cpu = await cpuMeter(pair);
  const sent = JSON.parse(
    await pair.a.host.execOk([...NICE, blaster, 'send', ADDR_B, port, String(payload), String(seconds), String(flows)], { timeoutMs: (seconds + 10) * 1000 }),
  ) as { sent: number; seconds: number };
  const used = cpu();
  const got = await rx.done;
  const window = got.window && got.window > 0 ? got.window : seconds;
  return runFigures(payload, flows, sent.sent, sent.seconds, got.packets ?? 0, window, used);
}

/** `Udp: NoPorts` of a host's namespace: datagrams that reached its UDP layer with no socket on their port. */
async function udpNoPorts(host: Pair['b']['host']): Promise<number> {
  const snmp = (await host.execOk(['cat', '/proc/net/snmp'])).split('\n').filter((l) => l.startsWith('Udp:'));
  const [names, values] = snmp.map((l) => l.trim().split(/\s+/));
  const i = names?.indexOf('NoPorts') ?? -1;
  if (!values || i < 0) throw new Error('no Udp NoPorts counter in /proc/net/snmp');
  return Number(values[i]);
}

/**
 * The forwarding rate: whole 64-byte frames written to side a's aggregate interface
 * (udpblast `frames`, AF_PACKET through the device's own transmit path) and counted where
 * they reach side b's UDP layer (its NoPorts counter: no socket listens on the port, so no
 * receiving process paces the figure). The UDP figure above goes through a socket on both
 * ends, and at 64 bytes those two sockets cost this machine more than any forwarder: the
 * rate with no forwarder at all was its ceiling. Here the ceiling is the kernel's own path.
 *
 * One generator per CPU, each with its share of the flows (its own source ports), as a host's
 * traffic comes from all its CPUs: a forwarder that works in the sender's own context (the
 * kernel, laggd's in-kernel paths) is then measured on every CPU, one that forwards on its own
 * threads (OVS's userspace datapath) on those. Same niceness, same CPU accounting, same frames
 * for every pair.
 */
export async function frameRate(pair: Pair, blaster: string, payload: number, seconds: number, flows: number): Promise<Throughput> {
  const port = String(9 + (portSeq++ % 2)); // discard (9) and 10: nothing listens there
  const link = JSON.parse(await pair.b.host.execOk(['ip', '-j', 'link', 'show', 'dev', pair.b.dev])) as Array<{ address: string }>;
  const mac = link[0]?.address;
  if (!mac) throw new Error(`no MAC for ${pair.b.dev} on side b`);
  const gens = Math.max(1, Math.min(os.cpus().length, flows));
  const before = await udpNoPorts(pair.b.host);
  const cpu = await cpuMeter(pair);
  const share = Math.floor(flows / gens);
  const outs = await Promise.all(
    Array.from({ length: gens }, (_, g) =>
      pair.a.host.execOk(
        [
          ...NICE,
          blaster,
          'frames',
          pair.a.dev,
          mac,
          ADDR_A,
          ADDR_B,
          port,
          String(payload),
          String(seconds),
          String(g === gens - 1 ? flows - share * g : share),
          String(20000 + share * g),
        ],
        { timeoutMs: (seconds + 10) * 1000 },
      ),
    ),
  );
  const used = cpu();
  await sleep(200); // what is still queued on the way lands
  const got = (await udpNoPorts(pair.b.host)) - before;
  const sent = outs.map((o) => JSON.parse(o) as { sent: number; seconds: number });
  const window = Math.max(...sent.map((g) => g.seconds));
  const total = sent.reduce((n, g) => n + g.sent, 0);
  return { ...runFigures(payload, flows, total, window, got, window, used), generators: gens };
}

export interface TcpThroughput {
  gbps: number;
  streams: number;
  retransmits: number;
  cpu_a: number;
  cpu_b: number;
}

/**
 * TCP with iperf3 (4 streams), the load real hosts put on an aggregate: the kernel segments
 * and checksums as it would for a NIC, so this also shows what the aggregate's interface
 * offers the stack (offloads), which the UDP blaster does not.
 */
export async function tcpThroughput(pair: Pair, seconds: number, streams = 4): Promise<TcpThroughput> {
  const port = String(5300 + (portSeq++ % 200));
  const server = pair.b.host.spawn([...NICE, 'iperf3', '-s', '-1', '-p', port]);
  const closed = new Promise<void>((resolve) => server.on('close', () => resolve()));
  const [pidA, pidB] = [await pair.a.pid(), await pair.b.pid()];
  let out = '';
  for (let attempt = 0; attempt < 20; attempt++) {
    await sleep(100);
    const cpu0 = [cpuSeconds(pidA), cpuSeconds(pidB)];
    const t0 = Date.now();
    const r = await pair.a.host.exec([...NICE, 'iperf3', '-c', ADDR_B, '-p', port, '-t', String(seconds), '-P', String(streams), '-J'], {
      timeoutMs: (seconds + 20) * 1000,
    });
    if (r.code !== 0) continue; // the server was not listening yet
    const wall = (Date.now() - t0) / 1000;
    const cpu1 = [cpuSeconds(pidA), cpuSeconds(pidB)];
    out = r.stdout;
    const j = JSON.parse(out) as { end: { sum_received: { bits_per_second: number }; sum_sent: { retransmits?: number } } };
    await Promise.race([closed, sleep(2000)]);
    if (server.exitCode === null) server.kill('SIGKILL');
    return {
      gbps: Number((j.end.sum_received.bits_per_second / 1e9).toFixed(3)),
      streams,
      retransmits: j.end.sum_sent.retransmits ?? 0,
      cpu_a: Number(((cpu1[0]! - cpu0[0]!) / wall).toFixed(3)),
      cpu_b: Number(((cpu1[1]! - cpu0[1]!) / wall).toFixed(3)),
    };
  }
  if (server.exitCode === null) server.kill('SIGKILL');
  throw new Error(`iperf3 did not run: ${out}`);
}

/**
 * `runs` runs of a throughput measurement (`throughput`, `frameRate`); the median one (by
 * packets/s) is reported, with every run's rate.
 */
export async function medianRun(
  measure: typeof throughput,
  pair: Pair,
  blaster: string,
  payload: number,
  seconds: number,
  flows: number,
  runs: number,
): Promise<Throughput> {
  const all: Throughput[] = [];
  for (let i = 0; i < runs; i++) all.push(await measure(pair, blaster, payload, seconds, flows));
  const sorted = [...all].sort((x, y) => x.pps - y.pps);
  return { ...sorted[Math.floor(sorted.length / 2)]!, runs_pps: all.map((r) => r.pps) };
}

/** Poll `ready` every 5 ms (a throw counts as not yet) until it holds; the ms since `since`, or NaN. */
async function pollUntil(ready: () => Promise<boolean>, timeoutMs: number, since = Date.now()): Promise<number> {
  while (Date.now() - since < timeoutMs) {
    if (await ready().catch(() => false)) return Date.now() - since;
    await sleep(5);
  }
  return NaN;
}

/** Both sides report every member distributing. */
async function bothDistributing(pair: Pair): Promise<boolean> {
  const [a, b] = await Promise.all([pair.a.distributing().catch(() => false), pair.b.distributing().catch(() => false)]);
  return a && b;
}

/** Poll until both sides report every member distributing; returns the ms it took, or NaN. */
export function waitDistributing(pair: Pair, timeoutMs: number, since = Date.now()): Promise<number> {
  return pollUntil(() => bothDistributing(pair), timeoutMs, since);
}

async function setLinks(topo: Topology, state: 'up' | 'down'): Promise<void> {
  await Promise.all(topo.links.map((l) => topo.a.setLink(l.a.ifname, state)));
}

export interface ConvergenceRig {
  /** Every member's cable out (false) or in (true), as close to at once as the rig can. */
  cables(up: boolean): Promise<void>;
  /** Does either side still report every member distributing (the pull not seen yet)? */
  stillUp(): Promise<boolean>;
  /** Does each side report every member distributing? */
  allDistributing(): Promise<boolean>;
  /** After a round converged: throws if an end's own view disagrees (a guest read over SSH). */
  check?(): Promise<void>;
}

/**
 * LACP convergence: every member's cable out until neither side still reports them all, 300 ms, then all
 * back at once; the figure is the time from the plug to every member distributing on both
 * sides (polled every 5 ms). Median and all runs; a run that does not converge in 30 s is NaN.
 */
export async function convergenceRuns(rig: ConvergenceRig, runs: number): Promise<{ median_ms: number; runs_ms: number[] }> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    await rig.cables(false);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (await rig.stillUp().catch(() => true))) await sleep(20);
    await sleep(300);
    const t0 = Date.now();
    await rig.cables(true);
    const ms = await pollUntil(() => rig.allDistributing(), 30_000, t0);
    if (!Number.isNaN(ms)) await rig.check?.();
    out.push(ms);
  }
  const sorted = [...out].sort((x, y) => x - y);
  return { median_ms: sorted[Math.floor(sorted.length / 2)] ?? NaN, runs_ms: out };
}

/** convergenceRuns over a bench pair: host a's links are the ones switched. */
export function convergence(pair: Pair, topo: Topology, runs: number): Promise<{ median_ms: number; runs_ms: number[] }> {
  return convergenceRuns(
    {
      cables: (up) => setLinks(topo, up ? 'up' : 'down'),
      stillUp: async () => (await pair.a.distributing().catch(() => false)) || (await pair.b.distributing().catch(() => false)),
      allDistributing: () => bothDistributing(pair),
    },
    runs,
  );
}

export interface GapResult {
  /**
   * Failover gap: the longest the path held the stream (a datagram's wait from its send to the
   * kernel's receive timestamp, a lost one's until the next delivery) among datagrams sent
   * while a member was down, over all members; see udpblast's `gaps`.
   */
  max_gap_ms: number;
  /** the same for datagrams sent after the member came back (failback) */
  max_failback_gap_ms: number;
  /**
   * The longest silence between arrivals at the receiving process while a member was down /
   * after it returned: the figure before the waits were measured. It also counts the
   * sender's and the receiver's own scheduling stalls, which on a busy machine are most of it.
   */
  max_silence_ms: number;
  max_failback_silence_ms: number;
  lost: number;
  per_link: Array<{
    link: string;
    down_gap_ms: number;
    up_gap_ms: number;
    down_silence_ms: number;
    up_silence_ms: number;
    lost: number;
    /** of those, sent while the member was down / after it returned */
    lost_down: number;
    lost_up: number;
  }>;
}

/** CLOCK_MONOTONIC in seconds (libuv's hrtime reads that clock), as udpblast stamps datagrams. */
const monoSeconds = () => Number(process.hrtime.bigint()) / 1e9;

/**
 * Failover gap: a 1 ms stream from a to b runs while one member's link goes down and, 1.5 s
 * later, up again. Each member is failed in turn, `rounds` times, so whichever one carries
 * the stream is hit, and a figure that varies from one event to the next shows its worst.
 *
 * The gap is the longest the path (both forwarders and the links between them) held the
 * stream: every datagram carries its send time, the receiver compares it with the kernel's
 * receive timestamp, and a lost datagram waits until the next one is delivered. A datagram
 * sent after the down command (and before the up) counts for the failover gap, one sent after
 * the up for the failback gap. The receiver's silences (the earlier figure) are kept beside
 * it: they also count the sender's and the receiver's own stalls, which are not the path's.
 * Below 3 ms either reads as 3: a 1 ms stream does not resolve less.
 */
export async function failoverGap(pair: Pair, topo: Topology, blaster: string, rounds: number): Promise<GapResult> {
  const per: GapResult['per_link'] = [];
  for (let round = 0; round < rounds; round++)
    for (const l of topo.links) {
      const port = String(7400 + (portSeq++ % 200));
      const total = 4;
      const rx = await listener(pair.b.host.spawn([blaster, 'gaps', port, String(total + 1)]));
      const tx = pair.a.host.exec([blaster, 'tick', ADDR_B, port, '1000', String(total)], { timeoutMs: 20_000 });
      await sleep(1000);
      const tDown = (Date.now() - rx.readyAt) / 1000;
      const mDown = monoSeconds();
      await topo.a.setLink(l.a.ifname, 'down');
      await sleep(1500);
      const tUp = (Date.now() - rx.readyAt) / 1000;
      const mUp = monoSeconds();
      await topo.a.setLink(l.a.ifname, 'up');
      await tx;
      const got = (await rx.done) as unknown as {
        gaps: Array<[number, number]>;
        waits: Array<[number, number]>;
        losses: Array<[number, number]>;
        lost: number;
      };
      // The receiver's clock starts a little before readyAt: allow 50 ms of slack either way.
      const silence = (from: number, to: number) => Math.max(3, ...got.gaps.filter(([at]) => at >= from - 0.05 && at < to - 0.05).map(([, ms]) => ms));
      // Send times are on the one monotonic clock: a datagram queued just before the command
      // (5 ms) is caught by the change too.
      const sentIn =
        (from: number, to: number) =>
        ([at]: [number, number]) =>
          at >= from - 0.005 && at < to - 0.005;
      const wait = (from: number, to: number) => Math.max(3, ...got.waits.filter(sentIn(from, to)).map(([, ms]) => ms));
      const lost = (from: number, to: number) => got.losses.filter(sentIn(from, to)).reduce((n, [, k]) => n + k, 0);
      per.push({
        link: l.a.ifname,
        down_gap_ms: wait(mDown, mUp),
        up_gap_ms: wait(mUp, Infinity),
        down_silence_ms: silence(tDown, tUp),
        up_silence_ms: silence(tUp, Infinity),
        lost: got.lost,
        lost_down: lost(mDown, mUp),
        lost_up: lost(mUp, Infinity),
      });
      await waitDistributing(pair, 20_000);
    }
  const max = (k: 'down_gap_ms' | 'up_gap_ms' | 'down_silence_ms' | 'up_silence_ms') => Math.max(...per.map((p) => p[k]));
  return {
    max_gap_ms: max('down_gap_ms'),
    max_failback_gap_ms: max('up_gap_ms'),
    max_silence_ms: max('down_silence_ms'),
    max_failback_silence_ms: max('up_silence_ms'),
    lost: per.reduce((s, p) => s + p.lost, 0),
    per_link: per,
  };
}
