/**
 * The actions a scenario can name, each a function from a run context to metrics, evidence and
 * timeline events. Every action starts from a clean target (no aggregate, data links with their
 * lab addresses) and builds its own aggregate on both sides; the engine cleans up after it.
 *
 * Timing is taken where it happens: converge time by a loop inside each guest (its clock since
 * boot, 10 ms steps), outages by seqstream's receivers (arrival gaps of a numbered stream, both
 * directions). Host-side times (cable pulled, plugged back) are placed on the same timeline
 * relative to the stream's start; they carry the SSH round trip as their uncertainty.
 *
 * Everything OS-specific in the guests' shell comes from the target's platform (platform.ts),
 * everything driver-specific from the driver (drivers.ts).
 */
import type { ExecResult } from '../ssh/index.js';
import { parseIfconfig } from '../ifconfig/index.js';
import type { Driver } from './drivers.js';
import { steadyTest } from './drivers.js';
import type { Action, ActionKind, Protocol } from './scenario.js';
import type { DataLink, E2eTarget, Side } from './targets/index.js';
import { frameKind, isUdpTo, type Impairment, type WireFrame } from './wire.js';

export interface TimelineEvent {
  /** ms from the start of the run (or of the stream, for stream actions) */
  t_ms: number;
  side?: Side;
  kind: 'action' | 'link' | 'gap' | 'state';
  what: string;
}

export interface Gap {
  direction: 'ab' | 'ba';
  /** when the gap ended, ms from the stream's start */
  end_ms: number;
  len_ms: number;
  missing: number;
  /** how much of the silence the sender made itself, not scheduled in time (a busy or emulated CPU) */
  sender_stall_ms?: number;
}

export interface PortSeries {
  port: string;
  /** ms from the stream's start, and frames sent per second on side A over the step before */
  t_ms: number[];
  tx_pps: number[];
}

export interface ActionOutcome {
  metrics: Record<string, number>;
  captures: Record<string, string>;
  /** when each capture was taken: host time and the guest's uptime then */
  captureClock: Record<string, { hostMs: number; uptimeS: number }>;
  /** host time of the timeline's zero (the create step, until a stream starts) */
  zeroHostMs?: number;
  parsed: Record<string, unknown>;
  events: TimelineEvent[];
  gaps: Gap[];
  portSeries: PortSeries[];
}

export interface RunContext {
  target: E2eTarget;
  /** The run's driver, on side A (and on B unless `peer` is set). */
  driver: Driver;
  /** Side B's driver when it differs from side A's (a scenario with `peer: other`: interoperation). */
  peer?: Driver;
  proto: Protocol;
  members: DataLink[];
  lacpFastTimeout: boolean;
  lacpMultiSpeed: boolean;
  /** Set by the engine: a cable this run pulled, to plug back whatever happens. */
  pulled: Set<string>;
  /** Set by the engine: impairments this run put on, to lift whatever happens. */
  impaired: Map<string, { nic: string; what: Impairment }>;
}

/** Thrown by an action that cannot run on this driver: the run is reported skipped with the message. */
export class RunSkipped extends Error {}

export const AGG_ADDR = { A: '10.77.0.1', B: '10.77.0.2' } as const;
/**
 * Where a side keeps a stream's files: its TMPDIR. The self target's FreeBSD sides are jails
 * on one file system and get one folder each; everywhere else /tmp is the side's own.
 */
const SCRATCH = '${TMPDIR:-/tmp}';
const STREAM_PORT = 47001;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sides: Side[] = ['A', 'B'];
const other = (s: Side): Side => (s === 'A' ? 'B' : 'A');

async function must(target: E2eTarget, side: Side, script: string, what: string, timeoutMs?: number): Promise<ExecResult> {
  const r = await target.sh(side, script, timeoutMs);
  if (r.code !== 0) throw new Error(`${side}: ${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-600)}`);
  return r;
}

/** Remove every aggregate of either driver and give the data links back their lab addresses. */
export async function resetSide(target: E2eTarget, side: Side, drivers: Driver[]): Promise<void> {
  const links = target.links.map((l) => target.platform.resetLink(l.nic, side === 'A' ? l.addrA : l.addrB));
  await must(target, side, [...drivers.map((d) => d.destroy()), ...links].join('\n'), 'reset');
}

/** The driver on a side: the run's, or on B its peer when the scenario pairs two. */
export function on(ctx: Pick<RunContext, 'driver' | 'peer'>, side: Side): Driver {
  return side === 'B' && ctx.peer ? ctx.peer : ctx.driver;
}

function portsOf(ctx: RunContext): string[] {
  return ctx.members.map((m) => m.nic);
}

/** Create the aggregate on both sides at once; each side times its own way to steady state. */
async function createBoth(ctx: RunContext, timeoutMs: number): Promise<Record<Side, number | undefined>> {
  const ports = portsOf(ctx);
  const out = await Promise.all(
    sides.map((side) =>
      must(
        ctx.target,
        side,
        [
          ctx.target.platform.clock,
          on(ctx, side).prepare(),
          't0=$(upms)',
          on(ctx, side).create({
            proto: ctx.proto,
            ports,
            addr: `${AGG_ADDR[side]}/24`,
            lacpFastTimeout: ctx.lacpFastTimeout,
            lacpMultiSpeed: ctx.lacpMultiSpeed,
          }),
          `while ! ${steadyTest(on(ctx, side), ctx.proto, ports)}; do [ $(( $(upms) - t0 )) -gt ${timeoutMs} ] && { echo converge_ms=-1; exit 0; }; sleep 0.05; done`,
          'echo converge_ms=$(( $(upms) - t0 ))',
        ].join('\n'),
        `create ${on(ctx, side).ifname}`,
        timeoutMs + 60_000,
      ),
    ),
  );
  const ms = (r: ExecResult): number | undefined => {
    const v = Number(/converge_ms=(-?\d+)/.exec(r.stdout)?.[1] ?? -1);
    return v >= 0 ? v : undefined;
  };
  return { A: ms(out[0]!), B: ms(out[1]!) };
}

/** Ping across the aggregate until it answers (ARP settles first); 1 when it did. */
async function pingAcross(ctx: RunContext, tries = 10, size?: number): Promise<number> {
  const r = await ctx.target.sh(
    'A',
    `i=0; while [ $i -lt ${tries} ]; do ${ctx.target.platform.ping(AGG_ADDR.B, size)} >/dev/null 2>&1 && { echo ok; exit 0; }; i=$((i+1)); done; echo no`,
  );
  return r.stdout.includes('ok') ? 1 : 0;
}

async function portStates(ctx: RunContext, side: Side): Promise<Array<{ port: string; state: string }>> {
  const r = await ctx.target.sh(side, on(ctx, side).portStates(ctx.proto, portsOf(ctx)));
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [port, state] = l.split(/\s+/);
      return { port: port ?? '', state: state ?? '' };
    });
}

const activeCount = (states: Array<{ state: string }>): number => states.filter((s) => s.state === 'active').length;
/** Index in the member list of the one active port (failover), -1 when none or several. */
function activeIndex(ctx: RunContext, states: Array<{ port: string; state: string }>): number {
  const act = states.filter((s) => s.state === 'active');
  return act.length === 1 ? portsOf(ctx).indexOf(act[0]!.port) : -1;
}

async function isSteady(ctx: RunContext, side: Side): Promise<boolean> {
  return (await ctx.target.sh(side, steadyTest(on(ctx, side), ctx.proto, portsOf(ctx)))).code === 0;
}

/** The driver's status text on both sides, kept as evidence (and parsed where laggctl wrote it). */
async function captureBoth(ctx: RunContext, out: ActionOutcome, label: string): Promise<void> {
  for (const side of sides) {
    // The guest's uptime rides along, to place kernel-log events (seconds since boot) in time.
    const r = await ctx.target.sh(side, `${ctx.target.platform.clock}\necho "uptime $(ups)"; ${on(ctx, side).capture()}`);
    const [first, ...rest] = r.stdout.split('\n');
    const text = rest.join('\n');
    out.captures[`${label} ${side}`] = text;
    out.captureClock[`${label} ${side}`] = { hostMs: Date.now(), uptimeS: Number(/^uptime ([\d.]+)/.exec(first ?? '')?.[1] ?? NaN) };
    // laggctl prints FreeBSD's status block; on the BSDs the lagg-shaped drivers print their
    // OS's (agr's agrport lines are kept as text).
    const os = ctx.target.platform.os;
    const d = on(ctx, side);
    if ((d.name === 'laggkit' || os !== 'linux') && d.stockKey !== 'agr') {
      try {
        out.parsed[`${label} ${side}`] = parseIfconfig(text.split('--- events')[0] ?? '', { os: os === 'netbsd' ? 'netbsd' : 'freebsd' });
      } catch {
        /* the raw text stays in captures */
      }
    }
  }
}

/**
 * The driver's own events (LACP and link state changes, failovers) from the last capture of
 * each side, placed on the run's timeline (ms from `t0`, host clock). laggd stamps events with
 * the guest's wall clock, bonding with seconds since boot; either way they are as good as the
 * guest clock and the SSH round trip of the capture.
 */
function addDriverEvents(ctx: RunContext, out: ActionOutcome, label: string, t0: number, fromMs: number): void {
  for (const side of sides) {
    const key = `${label} ${side}`;
    const clock = out.captureClock[key];
    if (!clock) continue;
    for (const e of on(ctx, side).events(out.captures[key] ?? '')) {
      const at = 'wallMs' in e.at ? e.at.wallMs : clock.hostMs - (clock.uptimeS - e.at.uptimeS) * 1000;
      const t = Math.round(at - t0);
      if (Number.isFinite(t) && t >= fromMs) out.events.push({ t_ms: t, side, kind: 'state', what: `${on(ctx, side).ifname}: ${e.what}` });
    }
  }
}

function emptyOutcome(): ActionOutcome {
  return { metrics: {}, captures: {}, captureClock: {}, parsed: {}, events: [], gaps: [], portSeries: [] };
}

async function steadyCreate(ctx: RunContext, out: ActionOutcome, timeoutMs = 60_000): Promise<boolean> {
  out.zeroHostMs = Date.now();
  const conv = await createBoth(ctx, timeoutMs);
  out.events.push({
    t_ms: 0,
    kind: 'action',
    what: ctx.peer
      ? `create ${ctx.driver.ifname} (${ctx.driver.mode(ctx.proto)}) on A, ${ctx.peer.ifname} (${ctx.peer.mode(ctx.proto)}) on B`
      : `create ${ctx.driver.ifname} (${ctx.driver.mode(ctx.proto)}) on A and B`,
  });
  for (const side of sides) if (conv[side] !== undefined) out.events.push({ t_ms: conv[side]!, side, kind: 'state', what: 'steady state' });
  if (conv.A === undefined || conv.B === undefined) {
    out.metrics.steady = 0;
    await captureBoth(ctx, out, 'not steady');
    return false;
  }
  out.metrics.steady = 1;
  out.metrics.converge_ms = Math.max(conv.A, conv.B);
  return true;
}

interface StreamPlan {
  durationMs: number;
  intervalUs: number;
  gapMs: number;
  flows?: number;
  /** both directions (A→B and B→A), or only A→B */
  both: boolean;
  /** sample side A's member tx counters every 250 ms */
  sample: boolean;
}

interface RunningStream {
  plan: StreamPlan;
  /** host time the senders were started; the stream timeline's zero */
  t0: number;
  /** how long before t0 the receivers started (ms), to shift their times onto the timeline */
  recvLeadMs: number;
}

/** From here on the timeline counts from the stream's start: earlier events move back. */
function rezero(out: ActionOutcome, zeroHostMs: number): void {
  const shift = (out.zeroHostMs ?? zeroHostMs) - zeroHostMs;
  for (const e of out.events) e.t_ms += shift;
  out.zeroHostMs = zeroHostMs;
}

/** A one-way stream runs A→B; a two-way one both ways. */
const sendersOf = (plan: StreamPlan): Side[] => (plan.both ? ['A', 'B'] : ['A']);
const receiversOf = (plan: StreamPlan): Side[] => (plan.both ? ['A', 'B'] : ['B']);

// Background jobs take no stdin and write only to files: OpenSSH (FreeBSD's sshd) keeps a
// channel open while any process still holds its stdout or stderr.
async function startStream(ctx: RunContext, out: ActionOutcome, plan: StreamPlan): Promise<RunningStream> {
  // The receivers stop at the sender's end marks; the window only bounds a stream that never ends.
  const recvMs = plan.durationMs + 60_000;
  const receivers = receiversOf(plan);
  const tRecv = Date.now();
  await Promise.all(
    receivers.map((side) =>
      must(
        ctx.target,
        side,
        `rm -f ${SCRATCH}/e2e-rx.json; seqstream recv ${STREAM_PORT} ${recvMs} ${plan.gapMs} </dev/null >${SCRATCH}/e2e-rx.json 2>&1 &`,
        'start receiver',
      ),
    ),
  );
  const sample = plan.sample
    ? `${ctx.target.platform.clock}\n(n=0; while [ $n -lt ${Math.ceil(plan.durationMs / 250) + 4} ] && kill -0 $(cat ${SCRATCH}/e2e-tx.pid) 2>/dev/null; do echo "$(ups) ${portsOf(
        ctx,
      )
        .map((p) => `$(${ctx.target.platform.txPackets(p)})`)
        .join(' ')}"; sleep 0.25; n=$((n+1)); done) </dev/null >${SCRATCH}/e2e-ports.txt 2>/dev/null &`
    : '';
  await Promise.all(
    sendersOf(plan).map((side) =>
      must(
        ctx.target,
        side,
        `seqstream send ${AGG_ADDR[other(side)]} ${STREAM_PORT} ${plan.intervalUs} ${plan.durationMs} ${plan.flows ?? 1} </dev/null >${SCRATCH}/e2e-tx.json 2>&1 &\necho $! >${SCRATCH}/e2e-tx.pid\n${side === 'A' ? sample : ''}`,
        'start sender',
      ),
    ),
  );
  const t0 = Date.now();
  rezero(out, t0);
  await streamHeard(ctx, out, receivers);
  return { plan, t0, recvLeadMs: t0 - tRecv };
}

/** How long a started stream may take to get through (ARP, a slow guest) before the run fails. */
const HEARD_WITHIN_MS = 20_000;

/**
 * Wait until every receiver has heard the stream. Whatever comes after (a cable pull, a count
 * of frames per port) measures a stream that flows: a stream still held up by ARP when the
 * cable is pulled would measure the hold-up, and a loss before the first datagram heard is
 * invisible to the receiver.
 */
async function streamHeard(ctx: RunContext, out: ActionOutcome, receivers: Side[]): Promise<void> {
  const steps = HEARD_WITHIN_MS / 100;
  const t = Date.now();
  const heard = await Promise.all(
    receivers.map((side) =>
      ctx.target.sh(
        side,
        `n=0; while [ $n -lt ${steps} ]; do grep -q '"heard"' ${SCRATCH}/e2e-rx.json 2>/dev/null && exit 0; sleep 0.1; n=$((n+1)); done; cat ${SCRATCH}/e2e-rx.json; exit 1`,
        HEARD_WITHIN_MS + 30_000,
      ),
    ),
  );
  const which = receivers.flatMap((side, i) =>
    heard[i]!.code === 0 ? [] : [`${side === 'B' ? 'A→B' : 'B→A'} (${side}'s receiver: ${heard[i]!.stdout.trim() || 'nothing'})`],
  );
  if (which.length) {
    throw new Error(
      `the stream did not get through within ${HEARD_WITHIN_MS / 1000} s of its start: ${which.join('; ')}; a seqstream older than this laggkit prints no "heard" line`,
    );
  }
  out.events.push({ t_ms: Date.now() - (out.zeroHostMs ?? t), kind: 'state', what: 'stream heard both ways' });
}

interface RxResult {
  received: number;
  lost: number;
  reordered: number;
  max_gap_ms: number;
  last_ms: number;
  gaps: Array<{ end_ms: number; len_ms: number; missing: number; sender_stall_ms?: number }>;
}

/** End a stream before its planned duration: the senders send their end marks and stop. */
async function stopSenders(ctx: RunContext, s: RunningStream): Promise<void> {
  await Promise.all(sendersOf(s.plan).map((side) => ctx.target.sh(side, `kill -TERM $(cat ${SCRATCH}/e2e-tx.pid) 2>/dev/null; true`)));
}

async function finishStream(ctx: RunContext, s: RunningStream, out: ActionOutcome): Promise<Partial<Record<Side, RxResult>>> {
  const receivers = receiversOf(s.plan);
  const result: Partial<Record<Side, RxResult>> = {};
  // What a side's seqstream printed, once every seqstream there has ended; kept as evidence.
  const collect = async (side: Side, what: 'tx' | 'rx'): Promise<string> => {
    const r = await must(
      ctx.target,
      side,
      `while ${ctx.target.platform.running('seqstream')}; do sleep 0.1; done; cat ${SCRATCH}/e2e-${what}.json`,
      `collect seqstream ${what}`,
      s.plan.durationMs + 90_000,
    );
    out.captures[`seqstream ${what} ${side}`] = r.stdout;
    return r.stdout;
  };
  // The senders' counts: sent, sends the stack refused (no ARP entry, a full queue, no port), stalls.
  for (const side of sendersOf(s.plan)) await collect(side, 'tx');
  for (const side of receivers) {
    const rx = JSON.parse((await collect(side, 'rx')).trim().split('\n').pop() ?? '{}') as RxResult;
    result[side] = rx;
    const direction = side === 'B' ? 'ab' : 'ba';
    for (const g of rx.gaps ?? []) {
      const end = Math.round(g.end_ms - s.recvLeadMs);
      const stall = g.sender_stall_ms ?? 0;
      out.gaps.push({ direction, end_ms: end, len_ms: g.len_ms, missing: g.missing, ...(stall ? { sender_stall_ms: stall } : {}) });
      out.events.push({
        t_ms: Math.round(end - g.len_ms),
        side,
        kind: 'gap',
        what: `${direction === 'ab' ? 'A→B' : 'B→A'} silent ${g.len_ms.toFixed(0)} ms (${g.missing} lost${stall ? `; the sender itself stalled ${stall.toFixed(0)} ms` : ''})`,
      });
    }
  }
  if (s.plan.sample) {
    const text = (await ctx.target.sh('A', `cat ${SCRATCH}/e2e-ports.txt`)).stdout;
    out.captures['port tx samples A'] = text;
    const rows = text
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/).map(Number))
      .filter((r) => r.length === ctx.members.length + 1 && r.every(Number.isFinite));
    if (rows.length > 1) {
      const base = rows[0]![0]!;
      // The sampler started with the senders (same SSH command on A): its first row is t≈0.
      out.portSeries = portsOf(ctx).map((port, i) => ({
        port,
        t_ms: rows.slice(1).map((r) => Math.round((r[0]! - base) * 1000)),
        tx_pps: rows.slice(1).map((r, k) => Math.round(((r[i + 1]! - rows[k]![i + 1]!) / Math.max(0.01, r[0]! - rows[k]![0]!)) * 10) / 10),
      }));
    }
  }
  return result;
}

const round1 = (v: number): number => Math.round(v * 10) / 10;

/** Poll both sides until steady again; ms from `since`, or undefined at the deadline. */
async function waitSteady(ctx: RunContext, since: number, deadlineMs: number): Promise<number | undefined> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if ((await isSteady(ctx, 'A')) && (await isSteady(ctx, 'B'))) return Date.now() - since;
    await sleep(200);
  }
  return undefined;
}

type ActionImpl<K extends ActionKind> = (ctx: RunContext, action: Extract<Action, { kind: K }>) => Promise<ActionOutcome>;

const createDestroy: ActionImpl<'create-destroy'> = async (ctx) => {
  const out = emptyOutcome();
  const ports = portsOf(ctx);
  const ident = ctx.target.platform.portIdent(ports);
  const before = await Promise.all(sides.map((s) => must(ctx.target, s, ident, 'read ports')));
  await createBoth(ctx, 30_000);
  const exists = `${ctx.target.platform.exists(ctx.driver.ifname)} && echo yes || echo no`;
  out.metrics.created = (await ctx.target.sh('A', exists)).stdout.includes('yes') ? 1 : 0;
  out.metrics.members_after_create = (await portStates(ctx, 'A')).filter((p) => p.state !== 'none').length;
  await captureBoth(ctx, out, 'created');
  await Promise.all(sides.map((s) => must(ctx.target, s, on(ctx, s).destroy(), 'destroy')));
  out.events.push({ t_ms: 0, kind: 'action', what: `destroy ${ctx.driver.ifname}` });
  out.metrics.destroyed = (await ctx.target.sh('A', exists)).stdout.includes('no') ? 1 : 0;
  // A destroyed aggregate hands its members back as it found them: same MAC, MTU and link state.
  const after = await Promise.all(sides.map((s) => ctx.target.sh(s, ident)));
  out.captures['ports before'] = before.map((r) => r.stdout).join('');
  out.captures['ports after'] = after.map((r) => r.stdout).join('');
  out.metrics.ports_restored = before.every((b, i) => b.stdout === after[i]!.stdout) ? 1 : 0;
  return out;
};

const steadyState: ActionImpl<'steady-state'> = async (ctx, a) => {
  const out = emptyOutcome();
  await steadyCreate(ctx, out, a.timeout_ms);
  out.metrics.active_members = activeCount(await portStates(ctx, 'A'));
  out.metrics.ping_ok = await pingAcross(ctx);
  await captureBoth(ctx, out, 'steady');
  return out;
};

const spread: ActionImpl<'spread'> = async (ctx, a) => {
  const { out, ready } = await readyAggregate(ctx);
  if (!ready) return out;
  const counters = portsOf(ctx)
    .map((p) => ctx.target.platform.txPackets(p))
    .join('\n');
  const c0 = (await must(ctx.target, 'A', counters, 'read counters')).stdout.trim().split('\n').map(Number);
  const s = await startStream(ctx, out, {
    durationMs: a.duration_ms,
    intervalUs: a.stream.interval_us,
    gapMs: a.stream.gap_ms,
    flows: a.flows,
    both: false,
    sample: true,
  });
  await sleep(a.duration_ms);
  const rx = await finishStream(ctx, s, out);
  const c1 = (await must(ctx.target, 'A', counters, 'read counters')).stdout.trim().split('\n').map(Number);
  const deltas = c1.map((v, i) => v - (c0[i] ?? 0));
  const total = deltas.reduce((x, y) => x + y, 0) || 1;
  out.captures['tx per port A'] = portsOf(ctx)
    .map((p, i) => `${p} ${deltas[i]}`)
    .join('\n');
  // A port "carries" the stream when it sent at least a tenth of its fair share.
  out.metrics.ports_used = deltas.filter((d) => d >= total / ctx.members.length / 10).length;
  out.metrics.max_port_share = Math.round((Math.max(...deltas) / total) * 1000) / 1000;
  out.metrics.received = rx.B?.received ?? 0;
  out.metrics.lost = rx.B?.lost ?? 0;
  out.metrics.reordered = rx.B?.reordered ?? 0;
  await captureBoth(ctx, out, 'after traffic');
  return out;
};

interface DisturbTiming {
  lead_ms: number;
  hold_ms: number;
  settle_ms: number;
  stream: { interval_us: number; gap_ms: number; flows?: number };
}

/** Something done to a link and undone again; `mark` puts a step on the timeline and returns its time. */
interface Disturbance {
  begin(mark: (what: string) => number): Promise<void>;
  end(mark: (what: string) => number): Promise<void>;
}

interface Disturbed {
  /** ms from the stream's start: when begin() was called and returned, when end() was called and returned */
  beginCalledAt: number;
  beginAt: number;
  endCalledAt: number;
  endAt: number;
  rx: Partial<Record<Side, RxResult>>;
  restoreMs: number | undefined;
  recvLeadMs: number;
  t0: number;
}

/**
 * The streams run both ways; after lead_ms the disturbance begins, `during` looks at the
 * aggregate at once (it may wait for something itself), the disturbance ends hold_ms after it
 * began, and both sides are polled until steady again, then settle_ms more of stream.
 */
async function disturb(
  ctx: RunContext,
  out: ActionOutcome,
  a: DisturbTiming,
  d: Disturbance,
  during: (beganHostMs: number) => Promise<void>,
): Promise<Disturbed> {
  // The senders run until stopped, settle_ms after the end however late that came; the
  // planned length plus a margin only bounds a run whose stop never arrives.
  const durationMs = a.lead_ms + a.hold_ms + a.settle_ms + 120_000;
  const s = await startStream(ctx, out, {
    durationMs,
    intervalUs: a.stream.interval_us,
    gapMs: a.stream.gap_ms,
    flows: a.stream.flows,
    both: true,
    sample: true,
  });
  const mark = (what: string): number => {
    const t = Date.now() - s.t0;
    out.events.push({ t_ms: t, kind: 'link', what });
    return t;
  };
  await sleep(a.lead_ms);
  const beginCalledAt = Date.now() - s.t0;
  await d.begin(mark);
  const beginAt = Date.now() - s.t0;
  await during(s.t0 + beginAt);
  await sleep(Math.max(0, a.hold_ms - (Date.now() - s.t0 - beginAt)));
  const endCalledAt = Date.now() - s.t0;
  await d.end(mark);
  const endAt = Date.now() - s.t0;
  // Polled over SSH from here: restore_ms carries a round trip or two of uncertainty.
  const restoreMs = await waitSteady(ctx, s.t0 + endAt, a.settle_ms + 15_000);
  if (restoreMs !== undefined) out.events.push({ t_ms: endAt + restoreMs, kind: 'state', what: 'steady again on A and B' });
  const left = endAt + a.settle_ms - (Date.now() - s.t0);
  if (left > 0) await sleep(left);
  await stopSenders(ctx, s);
  out.events.push({ t_ms: Date.now() - s.t0, kind: 'action', what: 'stream stopped' });
  const rx = await finishStream(ctx, s, out);
  out.metrics.gap_ms_ab = round1(rx.B?.max_gap_ms ?? -1);
  out.metrics.gap_ms_ba = round1(rx.A?.max_gap_ms ?? -1);
  out.metrics.lost_ab = rx.B?.lost ?? -1;
  out.metrics.lost_ba = rx.A?.lost ?? -1;
  return { beginCalledAt, beginAt, endCalledAt, endAt, rx, restoreMs, recvLeadMs: s.recvLeadMs, t0: s.t0 };
}

/** A member's cable pulled (both ends lose carrier) and plugged back; the engine plugs it back if a run dies. */
function cableOf(ctx: RunContext, nic: string): Disturbance {
  return {
    begin: async (mark) => {
      ctx.pulled.add(nic);
      await ctx.target.cable(nic, false);
      mark(`${nic} cable pulled`);
    },
    end: async (mark) => {
      await ctx.target.cable(nic, true);
      ctx.pulled.delete(nic);
      mark(`${nic} plugged back`);
    },
  };
}

/** One direction of a member's link impaired; the engine lifts it if a run dies. */
function impairmentOf(ctx: RunContext, nic: string, what: Impairment): Disturbance {
  const key = `${nic} ${what.direction} ${what.what}`;
  const label = `${nic} ${what.direction === 'b-to-a' ? 'B→A' : 'A→B'} ${what.what === 'lacp' ? 'LACPDUs' : 'frames'}`;
  return {
    begin: async (mark) => {
      ctx.impaired.set(key, { nic, what });
      await ctx.target.impair(nic, what, true);
      mark(`${label} dropped`);
    },
    end: async (mark) => {
      await ctx.target.impair(nic, what, false);
      ctx.impaired.delete(key);
      mark(`${label} delivered again`);
    },
  };
}

/** Each receiver heard the stream after the disturbance ended: no direction stuck. */
function deliveredAfter(r: Disturbed): number {
  const after = (side: Side): boolean => (r.rx[side]?.last_ms ?? -1) - r.recvLeadMs > r.endAt + 200;
  return after('A') && after('B') ? 1 : 0;
}

/** A fresh outcome and the aggregate steady on both sides with ARP settled; false when it never got steady. */
async function readyAggregate(ctx: RunContext): Promise<{ out: ActionOutcome; ready: boolean }> {
  const out = emptyOutcome();
  if (!(await steadyCreate(ctx, out))) return { out, ready: false };
  await pingAcross(ctx);
  return { out, ready: true };
}

/** The drivers' status after a disturbance as evidence, and their own events on the timeline. */
async function evidenceAfter(ctx: RunContext, out: ActionOutcome, r: Disturbed, label: string, fromMs: number): Promise<ActionOutcome> {
  await captureBoth(ctx, out, label);
  addDriverEvents(ctx, out, label, r.t0, fromMs);
  return out;
}

function restoredMetrics(out: ActionOutcome, r: Disturbed, name: 'restore_ms' | 'reconverge_ms'): void {
  out.metrics.restored = r.restoreMs === undefined ? 0 : 1;
  if (r.restoreMs !== undefined) out.metrics[name] = r.restoreMs;
  out.metrics.delivered_after_restore = deliveredAfter(r);
}

/**
 * Poll a shell test inside the guest every 50 ms until it holds; the host time (ms) it was seen,
 * or undefined at the deadline. The guest ends the command the moment the test holds, so the
 * time is that of the command's return: one poll step and the output's way back late, not a
 * whole SSH round trip (most of which is the connection, before the loop starts). If the test
 * already held when the loop started, the time is an upper bound.
 */
async function guestWaitFor(ctx: RunContext, side: Side, test: string, deadlineMs: number, what: string): Promise<number | undefined> {
  const r = await must(
    ctx.target,
    side,
    [
      ctx.target.platform.clock,
      't0=$(upms)',
      `until ${test}; do [ $(( $(upms) - t0 )) -gt ${deadlineMs} ] && { echo timeout; exit 0; }; sleep 0.05; done`,
      'echo seen',
    ].join('\n'),
    what,
    deadlineMs + 60_000,
  );
  return r.stdout.includes('seen') ? Date.now() : undefined;
}

/** Wait until `port` stops carrying traffic on that side (no longer distributing, or no longer the active port). */
function waitPortLeaves(ctx: RunContext, side: Side, port: string, deadlineMs: number): Promise<number | undefined> {
  return guestWaitFor(ctx, side, `! { ${on(ctx, side).portStates(ctx.proto, portsOf(ctx))}; } | grep -q '^${port} active$'`, deadlineMs, `watch ${port}`);
}

const cablePull: ActionImpl<'cable-pull'> = async (ctx, a) => {
  const { out, ready } = await readyAggregate(ctx);
  if (!ready) return out;
  const r = await disturb(ctx, out, a, cableOf(ctx, ctx.members[a.member]!.nic), async () => {
    // Look at the aggregate halfway through the hold.
    await sleep(a.hold_ms / 2);
    out.metrics.active_during = activeCount(await portStates(ctx, 'A'));
    await captureBoth(ctx, out, 'cable pulled');
  });
  restoredMetrics(out, r, 'restore_ms');
  return evidenceAfter(ctx, out, r, 'plugged back', -a.lead_ms);
};

const failoverReturn: ActionImpl<'failover-return'> = async (ctx, a) => {
  const { out, ready } = await readyAggregate(ctx);
  if (!ready) return out;
  out.metrics.active_before = activeIndex(ctx, await portStates(ctx, 'A'));
  const r = await disturb(ctx, out, a, cableOf(ctx, ctx.members[0]!.nic), async () => {
    await sleep(a.hold_ms / 2);
    out.metrics.active_during = activeIndex(ctx, await portStates(ctx, 'A'));
    await captureBoth(ctx, out, 'primary pulled');
  });
  out.metrics.active_after = activeIndex(ctx, await portStates(ctx, 'A'));
  return evidenceAfter(ctx, out, r, 'primary back', -a.lead_ms);
};

const mtu: ActionImpl<'mtu'> = async (ctx, a) => {
  const out = emptyOutcome();
  if (!(await steadyCreate(ctx, out))) return out;
  const ports = portsOf(ctx);
  const mtus = ports.map((p) => ctx.target.platform.mtuOf(p)).join('\n');
  await Promise.all(sides.map((s) => must(ctx.target, s, ctx.target.platform.setMtu(on(ctx, s).ifname, a.mtu), 'set mtu')));
  out.events.push({ t_ms: 0, kind: 'action', what: `mtu ${a.mtu} on ${ctx.driver.ifname}` });
  const seen = await Promise.all(sides.map((s) => must(ctx.target, s, mtus, 'read mtu')));
  out.captures['member mtu'] = seen.map((r, i) => `${sides[i]}: ${r.stdout.trim().split('\n').join(' ')}`).join('\n');
  out.metrics.members_mtu_ok = seen.every((r) =>
    r.stdout
      .trim()
      .split('\n')
      .every((v) => Number(v) === a.mtu),
  )
    ? 1
    : 0;
  // The largest ICMP echo that fits the new MTU unfragmented: 20 bytes IPv4 + 8 bytes ICMP.
  out.metrics.ping_big_ok = await pingAcross(ctx, 10, a.mtu - 28);
  await captureBoth(ctx, out, 'mtu changed');
  return out;
};

const mgmtUntouched: ActionImpl<'mgmt-untouched'> = async (ctx) => {
  const out = emptyOutcome();
  // Each side's management interface: the platform's usual one in the lab and on self, the SSH session's on a host.
  const mgmt = (s: Side): string => ctx.target.mgmt?.[s] ?? ctx.target.platform.mgmt;
  const snap = (s: Side): string => ctx.target.platform.mgmtSnapshot(mgmt(s));
  const before = await Promise.all(sides.map((s) => must(ctx.target, s, snap(s), `snapshot ${mgmt(s)}`)));
  const steady = await steadyCreate(ctx, out);
  if (steady) await pingAcross(ctx);
  out.metrics.active_members = activeCount(await portStates(ctx, 'A'));
  // A new SSH connection through the management link while the aggregate stands: it is alive.
  const during = await Promise.all(sides.map((s) => ctx.target.sh(s, snap(s), undefined, true)));
  out.metrics.ssh_ok = during.every((r) => r.code === 0) ? 1 : 0;
  await Promise.all(sides.map((s) => must(ctx.target, s, on(ctx, s).destroy(), 'destroy')));
  const after = await Promise.all(sides.map((s) => ctx.target.sh(s, snap(s))));
  out.captures['management link before'] = before.map((r) => r.stdout).join('');
  out.captures['management link during'] = during.map((r) => r.stdout).join('');
  out.captures['management link after'] = after.map((r) => r.stdout).join('');
  out.metrics.mgmt_unchanged = before.every((b, i) => b.stdout === during[i]!.stdout && b.stdout === after[i]!.stdout) ? 1 : 0;
  return out;
};

const partnerSilent: ActionImpl<'partner-silent'> = async (ctx, a) => {
  const { out, ready } = await readyAggregate(ctx);
  if (!ready) return out;
  const nic = ctx.members[a.member]!.nic;
  const silence = impairmentOf(ctx, nic, { direction: 'b-to-a', what: 'lacp' });
  let began = 0;
  const r = await disturb(ctx, out, { ...a, hold_ms: a.silent_ms }, silence, async (at) => {
    began = at;
    // A notices only when its partner's information expires (3 s with the short timeout).
    // Bounded so the looks that follow (about an SSH round trip each) still fit in the silence.
    const left = await waitPortLeaves(ctx, 'A', nic, Math.max(500, a.silent_ms - 3000));
    if (left !== undefined) out.metrics.expire_ms = left - began;
    out.metrics.active_during = activeCount(await portStates(ctx, 'A'));
    await captureBoth(ctx, out, 'partner silent');
  });
  if (out.metrics.expire_ms !== undefined)
    out.events.push({ t_ms: r.beginAt + out.metrics.expire_ms, side: 'A', kind: 'state', what: `${nic} stops distributing` });
  restoredMetrics(out, r, 'reconverge_ms');
  return evidenceAfter(ctx, out, r, 'partner back', -a.lead_ms);
};

const oneWayLoss: ActionImpl<'one-way-loss'> = async (ctx, a) => {
  const { out, ready } = await readyAggregate(ctx);
  if (!ready) return out;
  const nic = ctx.members[a.member]!.nic;
  const loss = impairmentOf(ctx, nic, { direction: 'b-to-a', what: 'all' });
  const r = await disturb(ctx, out, a, loss, async (began) => {
    // Only a protocol that listens to its partner (LACP) can notice: carrier stays up.
    // Bounded so the looks that follow (about an SSH round trip each) still fit in the loss.
    const left = await waitPortLeaves(ctx, 'A', nic, Math.max(500, a.hold_ms - 3000));
    out.metrics.removed = left === undefined ? 0 : 1;
    if (left !== undefined) out.metrics.removed_ms = left - began;
    out.metrics.active_during = activeCount(await portStates(ctx, 'A'));
    await captureBoth(ctx, out, 'one way lost');
  });
  if (out.metrics.removed_ms !== undefined)
    out.events.push({ t_ms: r.beginAt + out.metrics.removed_ms, side: 'A', kind: 'state', what: `${nic} taken out of use` });
  // Lost B→A datagrams as a share of those sent while the loss lasted (as long as it really did).
  const sentDuring = ((r.endAt - r.beginAt) * 1000) / a.stream.interval_us;
  out.metrics.loss_ba_pct = round1((Math.max(0, out.metrics.lost_ba ?? 0) / sentDuring) * 100);
  restoredMetrics(out, r, 'restore_ms');
  return evidenceAfter(ctx, out, r, 'loss over', -a.lead_ms);
};

const flapSoak: ActionImpl<'flap-soak'> = async (ctx, a) => {
  const { out, ready } = await readyAggregate(ctx);
  if (!ready) return out;
  const cable = cableOf(ctx, ctx.members[a.member]!.nic);
  let flaps = 0;
  // Every flap but the last is a whole pull-hold-plug-hold; the last pull is held as the
  // disturbance, so the time to steady state counts from the last plug.
  const soak: Disturbance = {
    begin: async (mark) => {
      for (; flaps < a.flaps - 1; flaps++) {
        await cable.begin(mark);
        await sleep(a.down_ms);
        await cable.end(mark);
        await sleep(a.up_ms);
      }
      await cable.begin(mark);
    },
    end: async (mark) => {
      await cable.end(mark);
      flaps++;
    },
  };
  const r = await disturb(ctx, out, { ...a, lead_ms: 1000, hold_ms: a.down_ms }, soak, async () => {});
  out.metrics.flaps = flaps;
  restoredMetrics(out, r, 'restore_ms');
  out.metrics.active_after = activeCount(await portStates(ctx, 'A'));
  const alive = await Promise.all(sides.map((side) => ctx.target.sh(side, on(ctx, side).alive())));
  out.metrics.driver_alive = alive.every((x) => x.code === 0) ? 1 : 0;
  return evidenceAfter(ctx, out, r, 'after the soak', r.endAt - 2000);
};

/** Announcements (gratuitous ARP, unsolicited NA) and the stream's first frame among captured frames. */
function wireSummary(frames: WireFrame[], nic: string, fromMs: number, toMs: number): { announce: WireFrame[]; garp: number; firstData?: number } {
  const inWindow = frames.filter((f) => f.atMs >= fromMs && f.atMs < toMs);
  const announce = inWindow.filter((f) => {
    const k = frameKind(f.frame);
    return k === 'garp' || k === 'unsolicited-na';
  });
  const data = inWindow.find((f) => f.nic === nic && isUdpTo(f.frame, STREAM_PORT));
  return { announce, garp: announce.filter((f) => frameKind(f.frame) === 'garp').length, firstData: data?.atMs };
}

const failoverAnnounce: ActionImpl<'failover-announce'> = async (ctx, a) => {
  const { out, ready } = await readyAggregate(ctx);
  if (!ready) return out;
  const [primary, backup] = portsOf(ctx) as [string, string];
  // What B receives: every frame A sends on either member, timed on the host as the pull is.
  const cap = await ctx.target.capture(portsOf(ctx), 'a-to-b');
  let frames: WireFrame[] = [];
  let r: Disturbed;
  try {
    r = await disturb(ctx, out, a, cableOf(ctx, primary), async () => {});
  } finally {
    frames = await cap.stop();
  }
  // Windows and delays count from when the pull and the plug were asked for: a cable's two ends
  // change one after the other, and A may act on its own end before the far one has moved.
  const at = (ms: number): number => r.t0 + ms;
  const pulled = at(r.beginCalledAt);
  const plugged = at(r.endCalledAt);
  const fail = wireSummary(frames, backup, pulled, plugged);
  const back = wireSummary(frames, primary, plugged, Number.POSITIVE_INFINITY);
  out.captures['announcements A→B'] = [...fail.announce, ...back.announce]
    .map((f) => `${Math.round(f.atMs - r.t0)} ms ${f.nic} ${frameKind(f.frame)} ${f.frame.subarray(0, 60).toString('hex')}`)
    .join('\n');
  out.captures['frames A→B'] = `${frames.length} frames captured on ${portsOf(ctx).join(', ')}`;
  out.metrics.announce_count = fail.announce.length;
  out.metrics.garp_count = fail.garp;
  out.metrics.announce_on_active = fail.announce.length > 0 && fail.announce.every((f) => f.nic === backup) ? 1 : 0;
  if (fail.announce[0]) out.metrics.announce_delay_ms = round1(fail.announce[0].atMs - pulled);
  if (fail.firstData !== undefined) out.metrics.switch_ms = round1(fail.firstData - pulled);
  out.metrics.return_announce_count = back.announce.filter((f) => f.nic === primary).length;
  const firstBack = back.announce.find((f) => f.nic === primary);
  if (firstBack) out.metrics.return_announce_delay_ms = round1(firstBack.atMs - plugged);
  if (back.firstData !== undefined) out.metrics.return_switch_ms = round1(back.firstData - plugged);
  for (const f of [...fail.announce, ...back.announce])
    out.events.push({ t_ms: Math.round(f.atMs - r.t0), side: 'A', kind: 'state', what: `${frameKind(f.frame)} on ${f.nic} (seen on the wire)` });
  return evidenceAfter(ctx, out, r, 'after return', -a.lead_ms);
};

const etherChange: ActionImpl<'ether-change'> = async (ctx, a) => {
  const { out, ready } = await readyAggregate(ctx);
  if (!ready) return out;
  const ifname = ctx.driver.ifname;
  const ident = [ifname, ...portsOf(ctx)].map((i) => `echo "${i} $(${ctx.target.platform.macOf(i)})"`).join('\n');
  const before = await must(ctx.target, 'A', ident, 'read MACs');
  const change: Disturbance = {
    begin: async (mark) => {
      await must(ctx.target, 'A', [...(a.arp_notify ? [ctx.target.platform.announceLladdr(ifname)] : []), ctx.driver.setEther(a.mac)].join('\n'), 'set ether');
      mark(`${ifname} ether ${a.mac}`);
    },
    end: async () => {},
  };
  const r = await disturb(ctx, out, { ...a, hold_ms: 0 }, change, async (began) => {
    // B learns the new MAC when its neighbour entry for A shows it (the stream keeps it in use);
    // watched from the change on, while A's MACs are read.
    const [after, seen] = await Promise.all([
      must(ctx.target, 'A', ident, 'read MACs'),
      guestWaitFor(ctx, 'B', ctx.target.platform.neighbourIs(AGG_ADDR.A, a.mac), a.learn_timeout_ms, 'watch the neighbour entry'),
    ]);
    out.captures['MACs on A'] = `before:\n${before.stdout}after:\n${after.stdout}`;
    const macs = after.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[1]);
    out.metrics.mac_applied = macs[0] === a.mac ? 1 : 0;
    out.metrics.members_following = macs.slice(1).filter((m) => m === a.mac).length;
    out.metrics.peer_learned = seen === undefined ? 0 : 1;
    if (seen !== undefined) out.metrics.learn_ms = seen - began;
  });
  out.metrics.ping_ok = await pingAcross(ctx, 3);
  return evidenceAfter(ctx, out, r, 'ether changed', -a.lead_ms);
};

const unloadInUse: ActionImpl<'unload-in-use'> = async (ctx) => {
  const unload = ctx.driver.unload();
  if ('unsupported' in unload) throw new RunSkipped(unload.unsupported);
  const { out, ready } = await readyAggregate(ctx);
  if (!ready) return out;
  const r = await ctx.target.sh('A', `${unload.script} 2>&1`);
  out.events.push({ t_ms: Date.now() - (out.zeroHostMs ?? Date.now()), side: 'A', kind: 'action', what: `${unload.script}: exit ${r.code}` });
  out.captures['unload A'] = `$ ${unload.script}\n${r.stdout}${r.stderr}exit ${r.code}\n`;
  out.metrics.unload_refused = r.code === 0 ? 0 : 1;
  out.metrics.driver_alive = (await ctx.target.sh('A', ctx.driver.alive())).code === 0 ? 1 : 0;
  out.metrics.aggregate_kept = (await ctx.target.sh('A', ctx.target.platform.exists(ctx.driver.ifname))).code === 0 ? 1 : 0;
  out.metrics.steady_after = out.metrics.aggregate_kept && (await isSteady(ctx, 'A')) ? 1 : 0;
  out.metrics.ping_after = out.metrics.aggregate_kept ? await pingAcross(ctx, 3) : 0;
  await captureBoth(ctx, out, 'after unload');
  return out;
};

const ACTIONS: { [K in ActionKind]: ActionImpl<K> } = {
  'create-destroy': createDestroy,
  'steady-state': steadyState,
  spread,
  'cable-pull': cablePull,
  'failover-return': failoverReturn,
  mtu,
  'mgmt-untouched': mgmtUntouched,
  'partner-silent': partnerSilent,
  'one-way-loss': oneWayLoss,
  'flap-soak': flapSoak,
  'failover-announce': failoverAnnounce,
  'ether-change': etherChange,
  'unload-in-use': unloadInUse,
};

export function runAction(ctx: RunContext, action: Action): Promise<ActionOutcome> {
  return (ACTIONS[action.kind] as ActionImpl<typeof action.kind>)(ctx, action as never);
}
