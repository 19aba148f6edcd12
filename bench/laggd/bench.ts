/**
 * laggd benchmark (npm run bench:laggd): laggd against Open vSwitch's userspace LACP bond,
 * measured side by side in one run, in the same two namespaces joined by two veth pairs,
 * with the same traffic generator (udpblast.c).
 *
 *   throughput   2-port loadbalance laggd pair vs OVS balance-tcp LACP bond pair:
 *                packets/s with 64-byte frames, Gbit/s with 1500-byte packets, 64 UDP flows;
 *                and TCP Gbit/s with iperf3
 *   forwarding   the same 64-byte datagrams as whole frames written to the aggregate's
 *                interface and counted at the far side's UDP layer, one generator per CPU:
 *                the forwarders' rate without two sockets' cost on top
 *   failover     longest the path held a 1 ms stream when a member's link goes down, and
 *                when it returns (and the receiver's silences beside it): laggd lacp vs the
 *                OVS LACP pair; laggd failover (default, rx-all) and failover -rx-all vs an
 *                OVS active-backup pair
 *   convergence  link up to every member distributing: laggd↔laggd, laggd↔OVS (laggd on the
 *                side whose links are switched, then on the far side), OVS↔OVS
 *   resources    resident memory of the forwarding process, CPU cores per Mpps
 *   ceiling      the same generator and receiver over one veth pair with no forwarder: what
 *                the machine carries when forwarding costs nothing, and what it spends
 *
 * Prints a table and writes bench/results/laggd.json. A phase that cannot run (laggd not
 * built, a peer that never converges) is recorded with its error; the run still finishes
 * and exits non-zero. Bounded: about three minutes.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { createTopology, repoRoot, type Topology } from '../../test/laggd/support/netns.js';
import { waitPing } from '../../test/laggd/support/traffic.js';
import {
  buildBlaster,
  convergence,
  failoverGap,
  rssKiB,
  tcpThroughput,
  frameRate,
  medianRun,
  throughput,
  waitDistributing,
  type GapResult,
  type TcpThroughput,
  type Throughput,
} from './measure.js';
import { ADDR_A, ADDR_B, directSide, laggdSide, makePair, ovsSide, type Pair } from './peers.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const FAILOVER_ROUNDS = Number(process.env.BENCH_FAILOVER_ROUNDS ?? 2);
const FLOWS = 64;
const CONVERGENCE_RUNS = Number(process.env.BENCH_CONVERGENCE_RUNS ?? 5);
const PAYLOAD_64 = 18; // 14 Ethernet + 20 IPv4 + 8 UDP + 18 = 60 bytes, 64 on a wire with FCS
const PAYLOAD_1500 = 1472; // a 1500-byte IP packet
/** BENCH_PHASES=name,name runs only those phases (names as printed), for investigating one. */
const ONLY = process.env.BENCH_PHASES?.split(',')
  .map((s) => s.trim())
  .filter(Boolean);

interface Results {
  date: string;
  host: { cpus: number; kernel: string; loadavg_start: number[]; loadavg_end?: number[] };
  seconds_per_run: number;
  runs: number;
  failover_rounds: number;
  flows: number;
  throughput: Record<
    string,
    {
      small?: Throughput;
      large?: Throughput;
      /** 64-byte frames written to the aggregate's interface, counted at the far UDP layer */
      frames?: Throughput;
      tcp?: TcpThroughput;
      rss_kib_a?: number;
      rss_kib_b?: number;
      /** both forwarding processes' CPU cores per Mpps delivered, at 64 bytes */
      cpu_per_mpps?: number;
      /** the whole machine's CPU cores per Mpps delivered, at 64 bytes (generator and receiver included) */
      machine_cpu_per_mpps?: number;
      /** the same two figures for the forwarding-rate run (frames) */
      frames_cpu_per_mpps?: number;
      frames_machine_cpu_per_mpps?: number;
      /** laggd pairs: which frame paths the kernel carried on each side */
      laggd_paths?: { a: { rx: string; tx: string }; b?: { rx: string; tx: string } };
    }
  >;
  failover: Record<string, GapResult>;
  convergence: Record<string, Awaited<ReturnType<typeof convergence>>>;
  errors: Record<string, string>;
}

const results: Results = {
  date: new Date().toISOString(),
  host: { cpus: os.cpus().length, kernel: os.release(), loadavg_start: os.loadavg().map((l) => Number(l.toFixed(2))) },
  seconds_per_run: SECONDS,
  runs: RUNS,
  failover_rounds: FAILOVER_ROUNDS,
  flows: FLOWS,
  throughput: {},
  failover: {},
  convergence: {},
  errors: {},
};

const teardowns: Array<() => unknown> = [];
const fakeT = { teardown: (fn: () => unknown) => teardowns.push(fn) } as unknown as ExecutionContext;

function log(msg: string): void {
  process.stderr.write(`bench:laggd: ${msg}\n`);
}

/** Run one phase; a failure is recorded and the pair torn down, the run goes on. */
async function phase(name: string, setup: () => Promise<Pair>, body: (pair: Pair) => Promise<void>): Promise<void> {
  if (ONLY && !ONLY.includes(name)) return;
  log(`${name}...`);
  let pair: Pair | undefined;
  try {
    pair = await setup();
    if (Number.isNaN(await waitDistributing(pair, 30_000))) throw new Error('members never all distributing');
    if (!(await waitPing(pair.a.host, ADDR_B, 15_000))) {
      const neigh = (await pair.a.host.exec(['ip', 'neigh'])).stdout.trim().replace(/\n/g, '; ');
      throw new Error(`${ADDR_B} does not answer ping (a's neighbours: ${neigh})`);
    }
    await body(pair);
  } catch (err) {
    results.errors[name] = (err as Error).message.split('\n').slice(0, 4).join(' ');
    log(`${name} failed: ${results.errors[name]}`);
  } finally {
    await pair?.stop();
  }
}

async function measureThroughput(key: string, pair: Pair, blaster: string): Promise<void> {
  const small = await medianRun(throughput, pair, blaster, PAYLOAD_64, SECONDS, FLOWS, RUNS);
  const large = await medianRun(throughput, pair, blaster, PAYLOAD_1500, SECONDS, FLOWS, RUNS);
  const frames = await medianRun(frameRate, pair, blaster, PAYLOAD_64, SECONDS, FLOWS, RUNS);
  const tcp = await tcpThroughput(pair, SECONDS);
  const [pa, pb] = [await pair.a.pid(), await pair.b.pid()];
  // laggd's frame paths as they were for the runs: a silent fall back to laggd's own path
  // (no eBPF, a protocol the kernel path does not serve) would otherwise read as laggd's figure.
  const paths = pair.a.paths ? { a: await pair.a.paths(), b: await pair.b.paths?.() } : undefined;
  if (paths) log(`  ${key}: frame paths a ${JSON.stringify(paths.a)}, b ${JSON.stringify(paths.b)}`);
  results.throughput[key] = {
    ...(paths ? { laggd_paths: paths } : {}),
    small,
    large,
    frames,
    tcp,
    rss_kib_a: rssKiB(pa),
    rss_kib_b: rssKiB(pb),
    // Both sides' forwarding CPU per million packets per second delivered, at 64 bytes.
    cpu_per_mpps: perMpps(small.cpu_a + small.cpu_b, small.pps),
    machine_cpu_per_mpps: perMpps(small.cpu_machine, small.pps),
    frames_cpu_per_mpps: perMpps(frames.cpu_a + frames.cpu_b, frames.pps),
    frames_machine_cpu_per_mpps: perMpps(frames.cpu_machine, frames.pps),
  };
}

/** CPU cores per million packets per second delivered (the same number as µs of CPU per packet). */
const perMpps = (cores: number, pps: number): number => (pps > 0 ? Number((cores / (pps / 1e6)).toFixed(3)) : NaN);

const fmt = (v: number | undefined, digits = 0) => (v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(digits));
/** x/y; 0 when laggd's figure is 0 (its CPU, its losses), n/a when either is missing or y is 0. */
const ratio = (x: number | undefined, y: number | undefined) => (x !== undefined && !Number.isNaN(x) && y ? (x / y).toFixed(2) : 'n/a');
/** One table row: a figure for laggd, the same for its peer, and their ratio. */
const versus = (label: string, ours: number | undefined, peer: number | undefined, digits = 0): string[] => [
  label,
  fmt(ours, digits),
  fmt(peer, digits),
  ratio(ours, peer),
];

function table(): string {
  const lg = results.throughput['laggd loadbalance'];
  const ov = results.throughput['ovs balance-tcp'];
  const rows: string[][] = [['figure', 'laggd', 'OVS', 'laggd/OVS']];
  rows.push(versus('64-byte packets/s', lg?.small?.pps, ov?.small?.pps));
  rows.push(versus('1500-byte Gbit/s', lg?.large?.gbps, ov?.large?.gbps, 3));
  rows.push(versus('TCP Gbit/s (iperf3, 4 streams)', lg?.tcp?.gbps, ov?.tcp?.gbps, 3));
  rows.push(['64-byte loss %', fmt(lg?.small?.loss_pct, 1), fmt(ov?.small?.loss_pct, 1), '']);
  rows.push(versus('CPU cores per Mpps (both sides)', lg?.cpu_per_mpps, ov?.cpu_per_mpps, 2));
  // Against the ceiling: the same generator and receiver with no forwarder in between.
  const nf = results.throughput['no forwarder'];
  const share = (t: Throughput | undefined) => (t && nf?.small?.pps ? (100 * t.pps) / nf.small.pps : undefined);
  const added = (v: number | undefined) => (v !== undefined && nf?.machine_cpu_per_mpps !== undefined ? v - nf.machine_cpu_per_mpps : undefined);
  rows.push(versus(`64-byte packets/s, % of no forwarder (${fmt(nf?.small?.pps)})`, share(lg?.small), share(ov?.small), 1));
  rows.push(versus(`machine CPU cores per Mpps (no forwarder: ${fmt(nf?.machine_cpu_per_mpps, 2)})`, lg?.machine_cpu_per_mpps, ov?.machine_cpu_per_mpps, 2));
  rows.push(versus('machine CPU cores per Mpps added by the forwarder', added(lg?.machine_cpu_per_mpps), added(ov?.machine_cpu_per_mpps), 2));
  // The forwarding rate: the same datagrams as frames, no socket on either end.
  const pct = (t: Throughput | undefined) => (t && nf?.frames?.pps ? (100 * t.pps) / nf.frames.pps : undefined);
  rows.push(versus('64-byte frames/s forwarded (no sockets)', lg?.frames?.pps, ov?.frames?.pps));
  rows.push(['64-byte frames loss %', fmt(lg?.frames?.loss_pct, 1), fmt(ov?.frames?.loss_pct, 1), '']);
  rows.push(versus(`64-byte frames/s, % of no forwarder (${fmt(nf?.frames?.pps)})`, pct(lg?.frames), pct(ov?.frames), 1));
  rows.push(versus('frames: CPU cores per Mpps (both sides)', lg?.frames_cpu_per_mpps, ov?.frames_cpu_per_mpps, 2));
  rows.push(
    versus(
      `frames: machine CPU cores per Mpps (no forwarder: ${fmt(nf?.frames_machine_cpu_per_mpps, 2)})`,
      lg?.frames_machine_cpu_per_mpps,
      ov?.frames_machine_cpu_per_mpps,
      2,
    ),
  );
  rows.push(versus('resident memory KiB (side a)', lg?.rss_kib_a, ov?.rss_kib_a));
  const fl = results.failover['laggd lacp'];
  const ff = results.failover['laggd failover'];
  const fo = results.failover['ovs balance-tcp'];
  const fab = results.failover['ovs active-backup'];
  const fs = results.failover['laggd failover -rx-all'];
  rows.push(versus('failover gap ms (lacp | OVS balance-tcp)', fl?.max_gap_ms, fo?.max_gap_ms, 1));
  rows.push(versus('failover gap ms (laggproto failover | OVS active-backup)', ff?.max_gap_ms, fab?.max_gap_ms, 1));
  rows.push(versus('failover gap ms (failover -rx-all | OVS active-backup)', fs?.max_gap_ms, fab?.max_gap_ms, 1));
  // Silence and loss differ: a forwarder that holds frames while it switches (laggd's TAP
  // queue) shows a gap and loses nothing; one that sends into the dead link loses frames.
  rows.push(versus('datagrams lost in failovers (laggproto failover | OVS active-backup)', ff?.lost, fab?.lost));
  rows.push(versus('datagrams lost in failovers (lacp | OVS balance-tcp)', fl?.lost, fo?.lost));
  rows.push(versus('failback gap ms (lacp | OVS balance-tcp)', fl?.max_failback_gap_ms, fo?.max_failback_gap_ms, 1));
  rows.push(versus('failback gap ms (failover preempt | OVS active-backup)', ff?.max_failback_gap_ms, fab?.max_failback_gap_ms, 1));
  // The receiver's silences, the figure before the path's hold was measured: they add the
  // sender's and receiver's own scheduling stalls (see measure.ts failoverGap).
  rows.push(versus('receiver silence ms, failover (lacp | OVS balance-tcp)', fl?.max_silence_ms, fo?.max_silence_ms, 1));
  rows.push(versus('receiver silence ms, failover (laggproto failover | OVS a-b)', ff?.max_silence_ms, fab?.max_silence_ms, 1));
  rows.push(versus('receiver silence ms, failback (lacp | OVS balance-tcp)', fl?.max_failback_silence_ms, fo?.max_failback_silence_ms, 1));
  rows.push(versus('receiver silence ms, failback (failover preempt | OVS a-b)', ff?.max_failback_silence_ms, fab?.max_failback_silence_ms, 1));
  const cll = results.convergence['laggd-laggd'];
  const clo = results.convergence['laggd-ovs'];
  const coo = results.convergence['ovs-ovs'];
  rows.push(versus('LACP convergence ms laggd↔laggd', cll?.median_ms, coo?.median_ms));
  rows.push(versus('LACP convergence ms laggd↔OVS', clo?.median_ms, coo?.median_ms));
  rows.push(versus('LACP convergence ms OVS↔laggd (laggd on the far side)', results.convergence['ovs-laggd']?.median_ms, coo?.median_ms));
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

async function main(): Promise<number> {
  const blaster = buildBlaster();
  teardowns.push(() => rmSync(path.dirname(blaster), { recursive: true, force: true }));
  const topo: Topology = await createTopology(fakeT, { links: 2, tag: 'lkbn' });
  const laggd =
    (proto: string, extra: string[] = []) =>
    async () =>
      makePair(`laggd ${proto}`, await laggdSide(topo, topo.a, proto, ADDR_A, extra), await laggdSide(topo, topo.b, proto, ADDR_B, extra));
  const ovsPair = async () => makePair('ovs', await ovsSide(topo, topo.a, ADDR_A), await ovsSide(topo, topo.b, ADDR_B));
  const lacpFast = ['lacp_fast_timeout'];

  // The ceiling first, on bare veths: no forwarder, nothing to tear down in between.
  await phase(
    'no forwarder',
    async () => makePair('no forwarder', await directSide(topo, topo.a, ADDR_A), await directSide(topo, topo.b, ADDR_B)),
    async (p) => {
      const small = await medianRun(throughput, p, blaster, PAYLOAD_64, SECONDS, FLOWS, RUNS);
      const large = await medianRun(throughput, p, blaster, PAYLOAD_1500, SECONDS, FLOWS, RUNS);
      const frames = await medianRun(frameRate, p, blaster, PAYLOAD_64, SECONDS, FLOWS, RUNS);
      results.throughput['no forwarder'] = {
        small,
        large,
        frames,
        machine_cpu_per_mpps: perMpps(small.cpu_machine, small.pps),
        frames_machine_cpu_per_mpps: perMpps(frames.cpu_machine, frames.pps),
      };
    },
  );
  await phase('laggd loadbalance', laggd('loadbalance'), (p) => measureThroughput('laggd loadbalance', p, blaster));
  await phase('ovs balance-tcp', ovsPair, async (p) => {
    await measureThroughput('ovs balance-tcp', p, blaster);
    results.convergence['ovs-ovs'] = await convergence(p, topo, CONVERGENCE_RUNS);
    results.failover['ovs balance-tcp'] = await failoverGap(p, topo, blaster, FAILOVER_ROUNDS);
  });
  await phase('laggd lacp', laggd('lacp', lacpFast), async (p) => {
    results.convergence['laggd-laggd'] = await convergence(p, topo, CONVERGENCE_RUNS);
    results.failover['laggd lacp'] = await failoverGap(p, topo, blaster, FAILOVER_ROUNDS);
  });
  await phase(
    'ovs active-backup',
    async () => makePair('ovs active-backup', await ovsSide(topo, topo.a, ADDR_A, true), await ovsSide(topo, topo.b, ADDR_B, true)),
    async (p) => {
      results.failover['ovs active-backup'] = await failoverGap(p, topo, blaster, FAILOVER_ROUNDS);
    },
  );
  await phase('laggd failover', laggd('failover'), async (p) => {
    results.failover['laggd failover'] = await failoverGap(p, topo, blaster, FAILOVER_ROUNDS);
  });
  // Without rx-all the receiving side of a failover pair accepts only on its active port until
  // it learns of the carrier loss itself (lagg(4)'s default): what the default saves.
  await phase('laggd failover -rx-all', laggd('failover', ['laggfailover', '-rx-all']), async (p) => {
    results.failover['laggd failover -rx-all'] = await failoverGap(p, topo, blaster, FAILOVER_ROUNDS);
  });
  await phase(
    'laggd-ovs',
    async () => makePair('laggd-ovs', await laggdSide(topo, topo.a, 'lacp', ADDR_A, lacpFast), await ovsSide(topo, topo.b, ADDR_B)),
    async (p) => {
      results.convergence['laggd-ovs'] = await convergence(p, topo, CONVERGENCE_RUNS);
    },
  );
  // The same pairing the other way round: here OVS's links are the ones switched, and laggd
  // answers from the far side (bench/laggd/README.md says why OVS is slow to start either way).
  await phase(
    'ovs-laggd',
    async () => makePair('ovs-laggd', await ovsSide(topo, topo.a, ADDR_A), await laggdSide(topo, topo.b, 'lacp', ADDR_B, lacpFast)),
    async (p) => {
      results.convergence['ovs-laggd'] = await convergence(p, topo, CONVERGENCE_RUNS);
    },
  );

  results.host.loadavg_end = os.loadavg().map((l) => Number(l.toFixed(2)));
  const out = path.join(repoRoot, 'bench', 'results', 'laggd.json');
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
  process.stdout.write(
    `${table()}\n\nhost: ${results.host.cpus} CPUs, Linux ${results.host.kernel}; throughput: median of ${RUNS} runs of ${SECONDS} s, ${FLOWS} UDP flows; worst of ${FAILOVER_ROUNDS} failures per member; gap = longest the path held the stream (send time to kernel receive timestamp), silence = between arrivals at the receiving process; below 3 ms either reads as 3\n` +
      `load average at start ${results.host.loadavg_start[0]}, at end ${results.host.loadavg_end[0]} (other work on the machine skews every figure)\n`,
  );
  for (const [k, v] of Object.entries(results.errors)) process.stdout.write(`not measured: ${k}: ${v}\n`);
  process.stdout.write(`written: ${path.relative(process.cwd(), out)}\n`);
  return Object.keys(results.errors).length ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} finally {
  for (const fn of teardowns.reverse()) await Promise.resolve(fn()).catch(() => undefined);
}
process.exit(code);
