#!/usr/bin/env node
/**
 * npm run bench:report: turn the benchmarks' JSON (bench/results/*.json) into pictures and
 * prose, never by hand.
 *
 *   bench/results/index.html  one chart per figure, Chart.js inlined: opens offline, from disk
 *   README.md                 the section between <!-- bench:begin --> and <!-- bench:end -->,
 *                             tables of the same figures with the peer and the same-run ratio
 *
 * Every figure is a ratio against a peer measured in the same run (the classic lagg baseline
 * and the physical floor for bench:core, Open vSwitch for bench:laggd); the load average at
 * the start and the end of each run is printed beside it, since the machine is shared.
 * A benchmark whose JSON is missing is named as missing, not left out silently.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const results = path.join(root, 'bench', 'results');
const readme = path.join(root, 'README.md');
const BEGIN = '<!-- bench:begin -->';
const END = '<!-- bench:end -->';

const load = (name) => {
  const file = path.join(results, `${name}.json`);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
};
const core = load('core');
const laggd = load('laggd');
const deploy = load('deploy');
const cli = load('cli');
const lab = load('lab');

const fmt = (v, digits = 1) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const ratio = (x, y, digits = 2) => (typeof x === 'number' && typeof y === 'number' && y !== 0 ? (x / y).toFixed(digits) : 'n/a');
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};
const loadLine = (host, date) =>
  host
    ? `run ${date ?? '?'}; ${host.cpus ?? '?'} CPUs; load average ${host.loadavg_start?.[0] ?? '?'} at start, ${host.loadavg_end?.[0] ?? '?'} at end`
    : 'load not recorded';

/** A figure: a title, a caption, a chart (Chart.js config) and a markdown table. */
const figures = [];

/** A markdown table; a "|" inside a cell (the "laggd pair | OVS pair" labels) is escaped. */
function table(header, rows) {
  const line = (cells) => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), `|${header.map((_, i) => (i ? '---:' : '---')).join('|')}|`, ...rows.map(line)].join('\n');
}

function bar(labels, datasets, yTitle) {
  return {
    type: 'bar',
    data: { labels, datasets },
    options: { responsive: true, animation: false, scales: { y: { beginAtZero: true, title: { display: true, text: yTitle } } } },
  };
}

// ---- bench:core ----------------------------------------------------------------------------

if (core) {
  const src = `bench:core, ${loadLine(core.host, core.date)}`;
  const out = core.output ?? [];
  const cell = (proto, ports, flows, input = 'headers') =>
    out.find((o) => o.proto === proto && o.ports === ports && o.flows === flows && (o.input ?? 'headers') === input);
  const protos = ['none', 'roundrobin', 'failover', 'loadbalance', 'lacp', 'broadcast'];
  const ports = [2, 4, 8];
  const FLOWS = 10000;

  // Selection cost at 10,000 flows: every protocol, the floor beside it, classic for hashed.
  const labels = protos.flatMap((p) => ports.map((n) => `${p} ${n}`));
  figures.push({
    title: `Frame selection cost, ns/frame (64-byte frames, ${FLOWS} flows, headers hashed)`,
    caption: `lk_output per protocol and port count, the classic lagg baseline (frozen header hash modulo the active ports) for the hashed protocols, and the physical floor (a loop that only reads the header words). ${src}.`,
    chart: bar(
      labels,
      [
        { label: 'laggkit', data: labels.map((l) => cell(l.split(' ')[0], Number(l.split(' ')[1]), FLOWS)?.ns_per_frame ?? null) },
        { label: 'classic lagg', data: labels.map((l) => cell(l.split(' ')[0], Number(l.split(' ')[1]), FLOWS)?.classic_ns_per_frame ?? null) },
        { label: 'physical floor', data: labels.map((l) => cell(l.split(' ')[0], Number(l.split(' ')[1]), FLOWS)?.floor_ns_per_frame ?? null) },
      ],
      'ns per frame',
    ),
    table: table(
      ['protocol', 'ports', 'ns/frame', 'classic ns', 'ratio', 'floor ns', 'above floor ns'],
      protos.flatMap((p) =>
        ports.map((n) => {
          const c = cell(p, n, FLOWS);
          const hashed = c?.classic_ns_per_frame !== undefined;
          return [
            p,
            String(n),
            fmt(c?.ns_per_frame, 2),
            hashed ? fmt(c.classic_ns_per_frame, 2) : '-',
            hashed ? ratio(c.ns_per_frame, c.classic_ns_per_frame) : '-',
            fmt(c?.floor_ns_per_frame, 2),
            fmt(c ? c.ns_per_frame - c.floor_ns_per_frame : undefined, 2),
          ];
        }),
      ),
    ),
  });

  // The physical floor, said plainly, and each protocol's distance from it.
  const sum = core.summary ?? {};
  const times = sum.times_floor ?? {};
  if (sum.floor_ns_median !== undefined) {
    figures.push({
      title: `Physical floor: ${fmt(sum.floor_ns_median, 2)} ns/frame on this machine, and each protocol as a multiple of it`,
      caption: `The floor is a loop that only reads the header words a flow hash reads (both MACs, both IPv4 addresses, both ports) and names a port: no table, no counters. Nothing that picks a port by the headers can be cheaper. Each protocol's cost is the median over its cells (2, 4, 8 ports; 1 to 1,000,000 flows; headers) of its ns/frame divided by the floor timed in the same cell, so the multiple holds across the machine's load. ${src}.`,
      chart: bar(protos, [{ label: 'x floor', data: protos.map((p) => times[p] ?? null) }], 'multiple of the floor'),
      table: table(
        ['protocol', 'x floor (median)', 'ns/frame at 4 ports, 10,000 flows', 'ns above the floor'],
        protos.map((p) => {
          const c = cell(p, 4, FLOWS);
          return [p, `${fmt(times[p], 1)}x`, fmt(c?.ns_per_frame, 2), fmt(c ? c.ns_per_frame - c.floor_ns_per_frame : undefined, 2)];
        }),
      ),
    });
  }
  const rrfo = sum.roundrobin_over_failover;
  if (rrfo) {
    figures.push({
      title: 'roundrobin / failover ns per frame, timed side by side in the same rounds (1 = as cheap)',
      caption: `two aggregates, one per protocol, each round timing one run of each; the median of the per-round ratios${core.output_passes ? `, and the median of that over ${core.output_passes} passes` : ''}. Both take the port sequence: the n-th frame a CPU sends goes to its n-th entry (a rotation for roundrobin, one port for failover), the cursor being the CPU's own. ${src}.`,
      chart: bar(
        ports.map((n) => `${n} ports`),
        [{ label: 'roundrobin / failover', data: ports.map((n) => rrfo[String(n)] ?? null) }],
        'ratio',
      ),
      table: table(
        ['ports', 'roundrobin / failover'],
        ports.map((n) => [String(n), fmt(rrfo[String(n)], 2)]),
      ),
    });
  }

  // Ratio vs classic for the hashed protocols, every flow count, headers and NIC flow id.
  const hashedRows = out.filter((o) => o.ratio_vs_classic !== undefined);
  const hl = hashedRows.map((o) => `${o.proto} ${o.ports}p ${o.flows}f ${o.input ?? 'headers'}`);
  figures.push({
    title: 'Hashed selection, laggkit / classic lagg ns per frame (same run; lower is better)',
    caption: `loadbalance and lacp against the classic baseline, 1 to 1,000,000 flows, headers hashed or the NIC flow id used (classic then reduces the flow id modulo the ports, as lagg_lb_start does). ${core.output_passes ? `Each cell's ratio is the median of ${core.output_passes} whole sweeps taken seconds apart, each the median of its interleaved rounds: on this shared machine a cell sometimes reads 0.6-0.7 for one sweep and 0.35-0.45 in the next (every sweep's figure is in the JSON, ratio_passes). ` : ''}${src}.`,
    chart: bar(hl, [{ label: 'laggkit / classic', data: hashedRows.map((o) => o.ratio_vs_classic) }], 'ratio'),
    table: table(
      ['protocol', 'ports', 'input', 'median ratio', 'worst ratio'],
      ['loadbalance', 'lacp'].flatMap((p) =>
        ports.flatMap((n) =>
          ['headers', 'flowid'].map((input) => {
            const rs = hashedRows.filter((o) => o.proto === p && o.ports === n && (o.input ?? 'headers') === input).map((o) => o.ratio_vs_classic);
            return [p, String(n), input, fmt(median(rs), 2), fmt(rs.length ? Math.max(...rs) : undefined, 2)];
          }),
        ),
      ),
    ),
  });

  const dist = core.distribution ?? [];
  const sets = core.distribution_flow_sets;
  const setsText = sets ? `${sets} flow sets of 10,000 (${sets - 1} random, one of consecutive hosts and ports)` : '10,000 random flows';
  const paired = core.distribution_paired_sets;
  const pairedText = paired
    ? `Which of the two has the worse worst set is the luck of the draw, so each setting is also compared set by set over ${paired} more random sets: the mean of laggkit's max/min minus classic's, with two standard errors; "worse" or "better" only when that mean is further than two standard errors from zero. `
    : '';
  figures.push({
    title: `Hash spread: max/min port share, ${setsText} (loadbalance; lower is better)`,
    caption: `laggkit's flow buckets against the classic modulo on the same flow sets, per hash-layer setting and port count: the worst set and the mean over the sets, and the max/min of the ports' bucket counts (the share any flow set sees on average; the modulo of a 32-bit hash is even to 1 part in 2^32). A modulo of a good hash already spreads random flows as evenly as sampling allows, so equal bucket shares are what lets laggkit match it; on any one set either may come out ahead by chance. ${pairedText}${src}.`,
    chart: bar(
      dist.map((d) => `${d.layers} ${d.ports}p`),
      [
        { label: 'laggkit, worst set', data: dist.map((d) => d.max_min_ours) },
        { label: 'classic lagg, worst set', data: dist.map((d) => d.max_min_classic) },
        { label: 'laggkit, mean', data: dist.map((d) => d.mean_ours ?? null) },
        { label: 'classic lagg, mean', data: dist.map((d) => d.mean_classic ?? null) },
      ],
      'max/min',
    ),
    table: table(
      [
        'layers',
        'ports',
        'laggkit worst',
        'classic worst',
        'laggkit mean',
        'classic mean',
        'laggkit buckets',
        ...(paired ? [`paired, ${paired} sets`, 'verdict'] : []),
      ],
      dist.map((d) => [
        d.layers,
        String(d.ports),
        fmt(d.max_min_ours, 3),
        fmt(d.max_min_classic, 3),
        fmt(d.mean_ours, 3),
        fmt(d.mean_classic, 3),
        fmt(d.bucket_max_min, 4),
        ...(paired ? [`${d.paired_diff >= 0 ? '+' : ''}${fmt(d.paired_diff, 4)} ± ${fmt(2 * d.paired_diff_se, 4)}`, d.paired_verdict ?? ''] : []),
      ]),
    ),
  });

  const moved = core.moved_when_one_port_leaves ?? [];
  figures.push({
    title: "Flows moved when one port goes down (share of all flows; ideal = that port's share)",
    caption: `loadbalance, port 0 goes down; the most over ${sets ? `the ${sets} flow sets` : '10,000 random flows'}. ${src}.`,
    chart: bar(
      moved.map((m) => `${m.ports} ports`),
      [
        { label: 'ideal', data: moved.map((m) => m.ideal * 100) },
        { label: 'laggkit', data: moved.map((m) => m.ours * 100) },
        { label: 'classic lagg', data: moved.map((m) => m.classic * 100) },
      ],
      '% of flows',
    ),
    table: table(
      ['ports', 'ideal', 'laggkit', 'classic'],
      moved.map((m) => [String(m.ports), `${fmt(m.ideal * 100)}%`, `${fmt(m.ours * 100)}%`, `${fmt(m.classic * 100)}%`]),
    ),
  });
}

// ---- bench:laggd ---------------------------------------------------------------------------

if (laggd) {
  const src = `bench:laggd, ${loadLine(laggd.host, laggd.date)}`;
  const tl = laggd.throughput?.['laggd loadbalance'];
  const to = laggd.throughput?.['ovs balance-tcp'];
  const rows = [
    ['64-byte packets/s', tl?.small?.pps, to?.small?.pps, 0],
    ['1500-byte Gbit/s', tl?.large?.gbps, to?.large?.gbps, 3],
    ['TCP Gbit/s (iperf3)', tl?.tcp?.gbps, to?.tcp?.gbps, 3],
    ['CPU cores per Mpps', tl?.cpu_per_mpps, to?.cpu_per_mpps, 2],
    ['resident memory KiB', tl?.rss_kib_a, to?.rss_kib_a, 0],
  ];
  figures.push({
    title: 'laggd / Open vSwitch userspace bond: throughput and cost (ratio; above 1 = laggd higher)',
    caption: `2-port loadbalance laggd pair against an OVS balance-tcp LACP bond pair over the same veth pairs. CPU per Mpps is the two forwarding processes' own time. laggd's data frames no longer pass through laggd: the sending side's kernel redirects them from the TAP to a member, the receiving side's from the member to the TAP (kmod/posix/laggd_txpath.c, laggd_rxpath.c), in time charged to the sending process and to whoever runs the softirq. So laggd's own figure is near zero, and the whole machine's figure in the next table is the one to compare. ${src}.`,
    chart: bar(
      rows.map((r) => r[0]),
      [{ label: 'laggd / OVS', data: rows.map((r) => (r[1] && r[2] ? r[1] / r[2] : null)) }],
      'ratio',
    ),
    table: table(
      ['figure', 'laggd', 'OVS', 'laggd/OVS'],
      rows.map((r) => [r[0], fmt(r[1], r[3]), fmt(r[2], r[3]), ratio(r[1], r[2])]),
    ),
  });
  // Each rate against no forwarder at all, the same generator over a bare veth pair: what the
  // machine carries when forwarding costs nothing, and what the whole machine spends per packet
  // (generator, receiver and every kernel path included), so each forwarder's own addition shows.
  // `small`: 64-byte UDP between two sockets; `frames`: the same datagrams as whole frames
  // written to the aggregate's interface and counted at the far UDP layer, no socket on either end.
  const nf = laggd.throughput?.['no forwarder'];
  const againstCeiling = (key, machineKey, ownKey, title, caption) => {
    if (!nf?.[key]) return;
    const nfMpps = nf[machineKey];
    const share = (t) => (t?.[key]?.pps ? (100 * t[key].pps) / nf[key].pps : undefined);
    const added = (t) => (t?.[machineKey] !== undefined && nfMpps !== undefined ? t[machineKey] - nfMpps : undefined);
    const crows = [
      ['64-byte packets/s', nf[key].pps, tl?.[key]?.pps, to?.[key]?.pps, 0],
      ['% of the no-forwarder rate', 100, share(tl), share(to), 1],
      ['machine CPU cores per Mpps', nfMpps, tl?.[machineKey], to?.[machineKey], 2],
      ['machine CPU cores per Mpps added by the forwarder', 0, added(tl), added(to), 2],
      ...(ownKey ? [["forwarding processes' own CPU cores per Mpps", undefined, tl?.[ownKey], to?.[ownKey], 2]] : []),
      ['loss %', nf[key].loss_pct, tl?.[key]?.loss_pct, to?.[key]?.loss_pct, 1],
    ];
    figures.push({
      title,
      caption: `${caption} ${src}.`,
      chart: bar(
        crows.slice(0, 4).map((r) => r[0]),
        [{ label: 'laggd / OVS', data: crows.slice(0, 4).map((r) => (r[2] && r[3] ? r[2] / r[3] : null)) }],
        'ratio',
      ),
      table: table(
        ['figure', 'no forwarder', 'laggd', 'OVS', 'laggd/OVS'],
        crows.map((r) => [r[0], fmt(r[1], r[4]), fmt(r[2], r[4]), fmt(r[3], r[4]), r[0] === 'loss %' ? '' : ratio(r[2], r[3])]),
      ),
    });
  };
  againstCeiling(
    'small',
    'machine_cpu_per_mpps',
    undefined,
    'laggd and Open vSwitch against no forwarder at all (64-byte UDP, whole machine)',
    "the same generator, receiver and veth pair with the addresses straight on the veth ends: the rate when forwarding costs nothing, and the CPU the whole machine spends per packet (generator, receiver, forwarders, every kernel path, softirq included). A forwarder's own CPU time misses the work it makes the kernel do in other processes' time; the whole machine's does not. Here two UDP sockets, one per end, cost the machine more per packet than laggd does, so laggd's rate is held near the no-forwarder ceiling and its ratio to OVS by the ceiling's: the next table takes the sockets out.",
  );
  againstCeiling(
    'frames',
    'frames_machine_cpu_per_mpps',
    'frames_cpu_per_mpps',
    'Forwarding rate: 64-byte frames from one aggregate interface to the far one, no sockets (whole machine)',
    "the same 64-byte UDP datagrams as whole Ethernet frames, written to side a's aggregate interface with AF_PACKET (through the device's qdisc and tc egress, as the stack's own frames go) and counted where they reach side b's UDP layer (its NoPorts counter; nothing listens): the forwarders' rate without a sending and a receiving socket on top. One generator per CPU, each with its share of the 64 flows, niced and flat out, as a host's traffic comes from all its CPUs: laggd's in-kernel paths (and the kernel with no forwarder) work in the sender's own context, on every CPU; OVS's userspace datapath forwards on its own threads. Loss is what the generators offered and the path did not deliver.",
  );
  const f = laggd.failover ?? {};
  const gaps = [
    ['failover gap, lacp | OVS balance-tcp', f['laggd lacp']?.max_gap_ms, f['ovs balance-tcp']?.max_gap_ms],
    ['failover gap, laggproto failover | OVS active-backup', f['laggd failover']?.max_gap_ms, f['ovs active-backup']?.max_gap_ms],
    ['failover gap, failover -rx-all | OVS active-backup', f['laggd failover -rx-all']?.max_gap_ms, f['ovs active-backup']?.max_gap_ms],
    ['failback gap, lacp | OVS balance-tcp', f['laggd lacp']?.max_failback_gap_ms, f['ovs balance-tcp']?.max_failback_gap_ms],
    ['failback gap, failover preempt | OVS active-backup', f['laggd failover']?.max_failback_gap_ms, f['ovs active-backup']?.max_failback_gap_ms],
  ];
  const lost = [
    ['lacp | OVS balance-tcp', f['laggd lacp']?.lost, f['ovs balance-tcp']?.lost],
    ['laggproto failover | OVS active-backup', f['laggd failover']?.lost, f['ovs active-backup']?.lost],
    ['failover -rx-all | OVS active-backup', f['laggd failover -rx-all']?.lost, f['ovs active-backup']?.lost],
  ];
  figures.push({
    title: 'Datagrams of a 1 ms stream lost over all member failures and returns (lower is better)',
    caption: `the same runs as the silences below: a forwarder that holds frames while it switches shows a silence and loses nothing; one that sends into the dead link loses them. ${src}.`,
    chart: bar(
      lost.map((g) => g[0]),
      [
        { label: 'laggd', data: lost.map((g) => g[1] ?? null) },
        { label: 'Open vSwitch', data: lost.map((g) => g[2] ?? null) },
      ],
      'datagrams',
    ),
    table: table(
      ['pair', 'laggd lost', 'OVS lost'],
      lost.map((g) => [g[0], fmt(g[1], 0), fmt(g[2], 0)]),
    ),
  });
  // Results written before the gaps were measured as the path's hold of the stream carry only
  // the receiver's silences, in max_gap_ms; they are shown under their old title.
  const held = Object.values(f).some((g) => g?.max_silence_ms !== undefined);
  figures.push({
    title: held
      ? 'Longest a 1 ms stream was held when a member fails and returns, ms (lower is better)'
      : 'Longest silence in a 1 ms stream when a member fails and returns, ms (lower is better)',
    caption: held
      ? `every member failed twice; each datagram carries its send time and the receiver takes the kernel's receive timestamp, so this is the time the forwarders and links held the stream (a lost datagram until the next one got through), without the sender's and receiver's own scheduling stalls; below 3 ms it reads 3. ${src}.`
      : `every member failed twice; below 3 ms the stream reads 3. ${src}.`,
    chart: bar(
      gaps.map((g) => g[0]),
      [
        { label: 'laggd', data: gaps.map((g) => g[1] ?? null) },
        { label: 'Open vSwitch', data: gaps.map((g) => g[2] ?? null) },
      ],
      'ms',
    ),
    table: table(
      ['figure', 'laggd ms', 'OVS ms', 'laggd/OVS'],
      gaps.map((g) => [g[0], fmt(g[1]), fmt(g[2]), ratio(g[1], g[2])]),
    ),
  });
  if (held) {
    const silences = [
      ['failover, lacp | OVS balance-tcp', f['laggd lacp']?.max_silence_ms, f['ovs balance-tcp']?.max_silence_ms],
      ['failover, laggproto failover | OVS active-backup', f['laggd failover']?.max_silence_ms, f['ovs active-backup']?.max_silence_ms],
      ['failback, lacp | OVS balance-tcp', f['laggd lacp']?.max_failback_silence_ms, f['ovs balance-tcp']?.max_failback_silence_ms],
      ['failback, failover preempt | OVS active-backup', f['laggd failover']?.max_failback_silence_ms, f['ovs active-backup']?.max_failback_silence_ms],
    ];
    figures.push({
      title: 'Longest silence at the receiving process in the same runs, ms (the earlier figure; lower is better)',
      caption: `time between arrivals as the receiver saw them: it adds the sender's and the receiver's own scheduling stalls to the path's hold, and on a busy machine those stalls are most of it. ${src}.`,
      chart: bar(
        silences.map((g) => g[0]),
        [
          { label: 'laggd', data: silences.map((g) => g[1] ?? null) },
          { label: 'Open vSwitch', data: silences.map((g) => g[2] ?? null) },
        ],
        'ms',
      ),
      table: table(
        ['figure', 'laggd ms', 'OVS ms', 'laggd/OVS'],
        silences.map((g) => [g[0], fmt(g[1]), fmt(g[2]), ratio(g[1], g[2])]),
      ),
    });
  }
  const c = laggd.convergence ?? {};
  const conv = [
    ['laggd ↔ laggd', c['laggd-laggd']?.median_ms],
    ['laggd ↔ OVS', c['laggd-ovs']?.median_ms],
    ['OVS ↔ laggd (laggd on the far side)', c['ovs-laggd']?.median_ms],
    ['OVS ↔ OVS', c['ovs-ovs']?.median_ms],
  ];
  figures.push({
    title: 'LACP convergence, link up to every member distributing, ms (median; lower is better)',
    caption: `fast LACP timeout on both ends; laggd ends 802.1AX's aggregate wait once every port that can join is selected (lacp_full_wait restores the whole 2 s). ${src}.`,
    chart: bar(
      conv.map((x) => x[0]),
      [{ label: 'median ms', data: conv.map((x) => x[1] ?? null) }],
      'ms',
    ),
    table: table(
      ['pairing', 'median ms', 'vs OVS ↔ OVS'],
      conv.map((x) => [x[0], fmt(x[1], 0), ratio(x[1], c['ovs-ovs']?.median_ms)]),
    ),
  });
  const errs = Object.entries(laggd.errors ?? {});
  if (errs.length) figures.push({ title: 'bench:laggd phases not measured', caption: src, table: errs.map(([k, v]) => `- ${k}: ${v}`).join('\n') });
}

// ---- bench:lab ------------------------------------------------------------------------------

if (lab) {
  const src = `bench:lab, median of ${lab.runs} rounds, ${loadLine(lab.host, lab.date)}`;
  const peer = lab.ovs_ovs?.median_ms;
  const rows = lab.guests.flatMap((g) =>
    g.skipped ? [] : Object.values(g.drivers).map((d) => [`${d.label} in a ${g.guest} guest (${g.accel ?? '?'}) ↔ OVS`, d.median_ms, d.runs_ms]),
  );
  rows.push(['OVS ↔ OVS (veths)', peer, lab.ovs_ovs?.runs_ms ?? []]);
  const skipped = lab.guests.filter((g) => g.skipped).map((g) => `${g.guest} guest skipped: ${g.skipped}. `);
  const errors = lab.guests.filter((g) => g.error).map((g) => `${g.guest} guest: ${g.error}. `);
  figures.push({
    title: "LACP convergence of the lab's guests against an Open vSwitch bond, ms (median; lower is better)",
    caption: `a guest with two virtio links to TAPs in a namespace, an OVS balance-tcp bond (LACP fast) on the TAPs; both cables out, then in at once, to OVS seeing every member in sync and enabled and the guest collecting and distributing on each. The peer is OVS ↔ OVS over veths in the same run. ${skipped.join('')}${errors.join('')}${src}.`,
    chart: bar(
      rows.map((r) => r[0]),
      [{ label: 'median ms', data: rows.map((r) => (Number.isFinite(r[1]) ? r[1] : null)) }],
      'ms',
    ),
    table: table(
      ['pairing', 'median ms', 'vs OVS ↔ OVS', 'rounds (ms)'],
      rows.map((r) => [r[0], fmt(r[1], 0), ratio(r[1], peer), r[2].join(', ')]),
    ),
  });
}

// ---- bench:deploy ---------------------------------------------------------------------------

if (deploy) {
  const src = `bench:deploy, median of ${deploy.runs} runs on a lab guest (${deploy.accel}), ${loadLine(deploy.host, deploy.date)}`;
  const floor = deploy.peer?.ms;
  const rows = [
    ...Object.entries(deploy.first?.steps_ms ?? {})
      .filter(([n]) => n !== 'build')
      .map(([n, ms]) => [`first deploy: ${n}`, ms]),
    ['first deploy, probe to persist (no build)', deploy.first?.total_ms_without_build],
    ['no-op deploy (probe + plan)', deploy.noop?.total_ms],
    ['undeploy', deploy.undeploy?.total_ms],
  ];
  figures.push({
    title: 'laggkit deploy to a lab guest, ms, against one OpenSSH login (lower is better)',
    caption: `the peer is one \`ssh host true\` to the same guest in the same run (${fmt(floor, 0)} ms); the compile is left out. ${src}.`,
    chart: bar(
      rows.map((r) => r[0]),
      [{ label: 'ms', data: rows.map((r) => r[1] ?? null) }],
      'ms',
    ),
    table: table(
      ['figure', 'ms', 'x one ssh login'],
      rows.map((r) => [r[0], fmt(r[1], 0), ratio(r[1], floor, 1)]),
    ),
  });
}

// ---- bench:cli ------------------------------------------------------------------------------

if (cli) {
  const bare = cli.results.find((r) => r.name === 'node -e 0');
  const rows = cli.results.filter((r) => r !== bare);
  figures.push({
    title: 'laggkit start-up, ms, against a bare node start (lower is better)',
    caption: `the peer is \`node -e 0\` (${fmt(bare?.medianMs, 1)} ms), interleaved with laggkit round by round; parse reads a FreeBSD \`ifconfig -v\` fixture. bench:cli, median of ${cli.rounds} rounds, node ${cli.node}, ${loadLine(cli.host, cli.date)}.`,
    chart: bar(
      rows.map((r) => r.name),
      [
        { label: 'laggkit ms', data: rows.map((r) => r.medianMs) },
        { label: 'node -e 0 ms', data: rows.map(() => bare?.medianMs ?? null) },
      ],
      'ms',
    ),
    table: table(
      ['command', 'ms', 'x bare node'],
      rows.map((r) => [`\`${r.name}\``, fmt(r.medianMs, 1), ratio(r.medianMs, bare?.medianMs)]),
    ),
  });
}

const missing = [
  core ? undefined : 'bench/results/core.json (npm run bench:core)',
  laggd ? undefined : 'bench/results/laggd.json (npm run bench:laggd, as root)',
  deploy ? undefined : 'bench/results/deploy.json (npm run bench:deploy)',
  lab ? undefined : 'bench/results/lab.json (npm run bench:lab, as root)',
  cli ? undefined : 'bench/results/cli.json (npm run bench:cli)',
].filter(Boolean);
if (!figures.length) {
  console.error(`bench:report: no results to report; missing ${missing.join(', ')}`);
  process.exit(1);
}

// ---- the page ------------------------------------------------------------------------------

// The package's exports do not name its UMD build; find the package root from its main entry.
const require = createRequire(import.meta.url);
const chartDir = path.dirname(require.resolve('chart.js'));
const chartJs = readFileSync(path.join(chartDir, 'chart.umd.min.js'), 'utf8');
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const charted = figures.filter((x) => x.chart);
const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>laggkit benchmarks</title>
<style>body{font:14px/1.4 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}figure{margin:2em 0}figcaption{color:#555}</style>
<script>${chartJs.replace(/<\/script/gi, '<\\/script')}</script></head><body>
<h1>laggkit benchmarks</h1>
<p>Generated by <code>npm run bench:report</code> from bench/results/*.json. Every figure is measured against its peer in the same run.${missing.length ? ` Missing: ${esc(missing.join(', '))}.` : ''}</p>
${charted.map((x, i) => `<figure><h2>${esc(x.title)}</h2><canvas id="c${i}"></canvas><figcaption>${esc(x.caption)}</figcaption></figure>`).join('\n')}
<script>
const figures = ${JSON.stringify(charted.map((x) => x.chart)).replace(/</g, '\\u003c')};
figures.forEach((cfg, i) => new Chart(document.getElementById('c' + i), cfg));
</script>
</body></html>
`;
const page = path.join(results, 'index.html');
writeFileSync(page, html);

// ---- the README section --------------------------------------------------------------------

const section = [
  BEGIN,
  '<!-- generated by `npm run bench:report` from bench/results/*.json; edits here are overwritten -->',
  '',
  ...figures.flatMap((x) => [`**${x.title}**`, '', x.table, '', `<sub>${x.caption ?? ''}</sub>`, '']),
  ...(missing.length ? [`Not measured in this run: ${missing.join(', ')}.`, ''] : []),
  END,
].join('\n');
const text = readFileSync(readme, 'utf8');
const a = text.indexOf(BEGIN);
const b = text.indexOf(END);
if (a < 0 || b < a) {
  console.error(`bench:report: README.md has no ${BEGIN} ... ${END} section to regenerate`);
  process.exit(1);
}
writeFileSync(readme, text.slice(0, a) + section + text.slice(b + END.length));
console.log(
  `bench:report: ${charted.length} charts in ${path.relative(process.cwd(), page)}; README.md performance section regenerated${missing.length ? ` (missing: ${missing.join(', ')})` : ''}`,
);
