/**
 * Where a failover gap's milliseconds go: one member failure and return under the 1 ms tick
 * stream of bench:laggd, recorded with the kernel's own timestamps in a private ftrace instance
 * (every frame queued and received on each interface, frames freed with their drop reason, the
 * scheduler, the forwarders' system calls, and a marker at each link command). Investigation
 * only; root, tracefs (mounted at /sys/kernel/tracing if it is not).
 *
 *   node --import=tsx bench/laggd/trace-gap.ts [proto [laggctl words...]]   laggd pair (failover)
 *   TRACE_PEER=ovs-ab node --import=tsx bench/laggd/trace-gap.ts          OVS active-backup pair
 *   TRACE_PEER=ovs node --import=tsx bench/laggd/trace-gap.ts             OVS balance-tcp pair
 *   TRACE_LINK=1 ...                                                      fail veth1, not veth0
 *
 * It prints the receiver's view, then the stream's silences (over 3 ms) at each stage: sent by
 * udpblast, sent by forwarder a on a member, received from the member on b, delivered by b to
 * its stack; the worst per-hop delays; the member a used over time; and every stream frame the
 * kernel dropped, with its reason. A silence that starts at the sender is the sender's own
 * (it waited for a CPU); one that starts at a later stage is the forwarders'. The whole trace
 * is kept in /tmp for reading around a moment.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { createTopology, sleep } from '../../test/laggd/support/netns.js';
import { waitPing } from '../../test/laggd/support/traffic.js';
import { buildBlaster, waitDistributing } from './measure.js';
import { ADDR_A, ADDR_B, laggdSide, makePair, ovsSide } from './peers.js';

const T = '/sys/kernel/tracing';
const INST = path.join(T, 'instances', `lkgap${process.pid}`);
const w = (f: string, v: string) => writeFileSync(path.join(INST, f), v);

const proto = process.argv[2] ?? 'failover';
const extra = process.argv.slice(3);
const peer = process.env.TRACE_PEER ?? 'laggd';
const link = Number(process.env.TRACE_LINK ?? 0);
const teardowns: Array<() => unknown> = [];
const fakeT = { teardown: (fn: () => unknown) => teardowns.push(fn) } as unknown as ExecutionContext;

function traceStart(pids: number[]): void {
  if (!existsSync(path.join(T, 'events'))) execFileSync('mount', ['-t', 'tracefs', 'nodev', T]);
  mkdirSync(INST);
  w('buffer_size_kb', '16384');
  w('trace_clock', 'mono');
  for (const ev of ['net/net_dev_queue', 'net/netif_receive_skb', 'net/netif_rx']) {
    w(`events/${ev}/filter`, 'name != "lo"');
    w(`events/${ev}/enable`, '1');
  }
  w('events/skb/kfree_skb/filter', 'protocol == 0x0800');
  w('events/skb/kfree_skb/enable', '1');
  w('events/sched/sched_switch/enable', '1');
  w('events/sched/sched_wakeup/enable', '1');
  const sc = pids.map((p) => `common_pid == ${p}`).join(' || ');
  for (const s of ['sendmmsg', 'sendto', 'epoll_wait', 'recvfrom', 'ioctl', 'nanosleep', 'io_uring_enter', 'read', 'openat']) {
    for (const d of ['enter', 'exit']) {
      const f = `events/syscalls/sys_${d}_${s}`;
      if (!existsSync(path.join(INST, f))) continue;
      w(`${f}/filter`, sc);
      w(`${f}/enable`, '1');
    }
  }
  w('tracing_on', '1');
}

function mark(msg: string): void {
  writeFileSync(path.join(INST, 'trace_marker'), msg);
}

function traceStop(): string {
  w('tracing_on', '0');
  const out = readFileSync(path.join(INST, 'trace'), 'utf8');
  w('events/enable', '0');
  rmSync(INST, { recursive: true, force: true });
  return out;
}

/** The stages of the stream in a trace, and what happened around them. */
function analyse(trace: string): string {
  const line = /^\s*(.+?)-(\d+)\s+\[(\d+)\]\s+\S+\s+([\d.]+): (\w+): (.*)$/;
  const sent: number[] = [];
  const out: Array<[number, string]> = [];
  const veth: number[] = [];
  const delivered: number[] = [];
  const lines: string[] = [];
  for (const l of trace.split('\n')) {
    const m = line.exec(l);
    if (!m) continue;
    const [, comm, , , ts, ev, rest] = m as unknown as [string, string, string, string, string, string, string];
    const t = Number(ts);
    const dev = /dev=(\S+)/.exec(rest)?.[1] ?? '';
    if (ev === 'tracing_mark_write') lines.push(`${ts}  ${rest}`);
    // The tick datagrams: 64 bytes of payload, 106 bytes on a member, 92 above the MAC header.
    // Sent by udpblast into the aggregate; out of forwarder a when the veth hands the frame to
    // its far end (netif_rx): a send past the qdisc (PACKET_QDISC_BYPASS) has no net_dev_queue.
    if (ev === 'net_dev_queue' && rest.includes('len=106') && !dev.startsWith('veth') && comm.trim() === 'udpblast') sent.push(t);
    if (ev === 'netif_rx' && rest.includes('len=92') && dev.startsWith('veth')) out.push([t, dev]);
    if (ev === 'netif_receive_skb' && rest.includes('len=92')) (dev.startsWith('veth') ? veth : delivered).push(t);
    if (ev === 'kfree_skb' && !/reason: (TC_INGRESS|NOT_SPECIFIED|PKT_TOO_SMALL|OTHERHOST)/.test(rest)) lines.push(`${ts}  dropped: ${rest}`);
  }
  const silences = (ts: number[]) =>
    ts
      .slice(1)
      .map((t, i) => [ts[i]!, t - ts[i]!] as const)
      .filter(([, d]) => d > 0.003)
      .map(([at, d]) => `${at.toFixed(4)}+${(d * 1000).toFixed(1)}`)
      .join(' ');
  const hop = (from: number[], to: number[]) =>
    from
      .slice(0, to.length)
      .map((t, i) => [to[i]! - t, t] as const)
      .sort((x, y) => y[0] - x[0])
      .slice(0, 5)
      .map(([d, t]) => `${(d * 1000).toFixed(2)} ms at ${t.toFixed(4)}`)
      .join(', ');
  const outT = out.map(([t]) => t);
  const r = [
    ...lines,
    `frames: sent ${sent.length}, out on a member ${out.length}, in on b ${veth.length}, delivered by b ${delivered.length}`,
    'silences over 3 ms (start+ms):',
    `  sent by udpblast     ${silences(sent)}`,
    `  out of forwarder a   ${silences(outT)}`,
    `  into b from a member ${silences(veth)}`,
    `  delivered by b       ${silences(delivered)}`,
    'worst delays per hop (matched in order, so only while nothing is lost):',
    `  udpblast -> member of a  ${hop(sent, outT)}`,
    `  member of b -> b's stack ${hop(veth, delivered)}`,
  ];
  let cur = '';
  for (const [t, d] of out)
    if (d !== cur) {
      r.push(`a sends on ${d} from ${t.toFixed(6)}`);
      cur = d;
    }
  return r.join('\n');
}

async function main(): Promise<void> {
  const blaster = buildBlaster();
  const topo = await createTopology(fakeT, { links: 2, tag: 'lktg' });
  const pair =
    peer === 'ovs-ab'
      ? makePair('ovs', await ovsSide(topo, topo.a, ADDR_A, true), await ovsSide(topo, topo.b, ADDR_B, true))
      : peer === 'ovs'
        ? makePair('ovs', await ovsSide(topo, topo.a, ADDR_A), await ovsSide(topo, topo.b, ADDR_B))
        : makePair('laggd', await laggdSide(topo, topo.a, proto, ADDR_A, extra), await laggdSide(topo, topo.b, proto, ADDR_B, extra));
  teardowns.push(() => pair.stop());
  if (Number.isNaN(await waitDistributing(pair, 30_000))) throw new Error('never distributing');
  if (!(await waitPing(pair.a.host, ADDR_B, 15_000))) throw new Error('no ping');
  const pids = [await pair.a.pid(), await pair.b.pid()].filter((p): p is number => p !== undefined);
  const ifname = topo.links[link]!.a.ifname;
  traceStart(pids);
  await sleep(300);
  const rx = pair.b.host.spawn([blaster, 'gaps', '7777', '5']);
  let got = '';
  rx.stdout?.on('data', (d: Buffer) => (got += d.toString()));
  const done = new Promise<void>((r) => rx.on('close', () => r()));
  await sleep(300);
  const tx = pair.a.host.exec([blaster, 'tick', ADDR_B, '7777', '1000', '4']);
  await sleep(1000);
  mark(`${ifname} down: command`);
  await topo.a.setLink(ifname, 'down');
  mark(`${ifname} down: returned`);
  await sleep(1500);
  mark(`${ifname} up: command`);
  await topo.a.setLink(ifname, 'up');
  mark(`${ifname} up: returned`);
  await sleep(300);
  const trace = traceStop();
  await tx;
  await done;
  const file = `/tmp/lkgap-${peer}-${proto}-${process.pid}.trace`;
  writeFileSync(file, trace);
  const j = JSON.parse(got.trim().split('\n').pop() ?? '{}') as { received?: number; lost?: number; max_gap_ms?: number; max_wait_ms?: number };
  console.log(`${peer} ${peer === 'laggd' ? [proto, ...extra].join(' ') : ''}: pids a=${pids[0]} b=${pids[1]}`);
  console.log(`receiver: ${j.received} received, ${j.lost} lost, longest silence ${j.max_gap_ms} ms, longest hold ${j.max_wait_ms} ms`);
  console.log(analyse(trace));
  console.log(`trace: ${file}`);
}

try {
  await main();
} finally {
  for (const fn of teardowns.reverse()) await Promise.resolve(fn()).catch(() => undefined);
  if (existsSync(INST)) rmSync(INST, { recursive: true, force: true });
}
process.exit(0);
