/**
 * The e2e engine: cases × drivers × repeats on one target, each run judged against its
 * scenario's bounds, folded into one result object that every report format renders (TAP,
 * JUnit, JSON, HTML all read the same E2eResult, so they cannot disagree).
 *
 * A run that throws (SSH lost, a command refused) is an error, reported like a failure with the
 * message as evidence; the engine then cleans the target and goes on with the next run.
 */
import type { Driver, DriverName } from './drivers.js';
import { RunSkipped, runAction, resetSide, type ActionOutcome, type Gap, type PortSeries, type RunContext, type TimelineEvent } from './actions.js';
import { LOWER_IS_BETTER, stockOverride, type Bound, type Capability, type Protocol, type Scenario, type ScenarioCase, type StockKey } from './scenario.js';
import { pickMembers, type E2eTarget } from './targets/index.js';
import type { NicModel } from '../lab/machines.js';

export type Status = 'pass' | 'fail' | 'skip';

export interface RunResult {
  driver: DriverName;
  /** the driver's name for the protocol (bonding mode) */
  mode: string;
  repeat: number;
  status: Status;
  /** why it was skipped, or the error that ended it */
  reason?: string;
  metrics: Record<string, number>;
  /** expectation misses, one sentence each */
  failures: string[];
  captures: Record<string, string>;
  parsed: Record<string, unknown>;
  events: TimelineEvent[];
  gaps: Gap[];
  portSeries: PortSeries[];
  durationMs: number;
}

export interface Figure {
  metric: string;
  /** median over the passing and failing runs of each driver */
  laggkit?: number;
  stock?: number;
  /** laggkit / stock */
  ratio?: number;
  lowerIsBetter: boolean;
}

export interface CaseResult {
  id: string;
  scenario: string;
  title: string;
  description: string;
  file: string;
  proto: Protocol;
  members: NicModel[];
  ports: string[];
  status: Status;
  reason?: string;
  runs: RunResult[];
  figures: Figure[];
}

export interface E2eResult {
  version: 1;
  startedAt: string;
  finishedAt: string;
  target: string;
  compare: 'stock' | 'none';
  repeat: number;
  cases: CaseResult[];
  totals: Record<Status, number>;
}

export interface EngineOptions {
  compare: 'stock' | 'none';
  repeat: number;
  /** Called when a case starts and when it ends (live lines, TAP). */
  onCaseStart?: (c: ScenarioCase, index: number, total: number) => void;
  onCaseEnd?: (c: CaseResult, index: number, total: number) => void;
  onRunEnd?: (c: ScenarioCase, r: RunResult) => void;
}

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Judge a run's metrics against the scenario's bounds; one sentence per miss. */
export function judge(metrics: Record<string, number>, bounds: Record<string, Bound>, members: number): string[] {
  const misses: string[] = [];
  for (const [metric, b] of Object.entries(bounds)) {
    const v = metrics[metric];
    if (v === undefined) {
      misses.push(`${metric} was not measured (the action did not get that far)`);
      continue;
    }
    const eq = b.equals === 'members' ? members : b.equals;
    if (eq !== undefined && v !== eq) misses.push(`${metric} is ${v}, expected ${eq}${b.equals === 'members' ? ' (the member count)' : ''}`);
    if (b.min !== undefined && v < b.min) misses.push(`${metric} is ${v}, expected at least ${b.min}`);
    if (b.max !== undefined && v > b.max) misses.push(`${metric} is ${v}, expected at most ${b.max}`);
  }
  return misses;
}

export function figuresOf(c: ScenarioCase, runs: RunResult[]): Figure[] {
  return c.scenario.measure.map((metric) => {
    const of = (d: DriverName): number | undefined =>
      median(runs.filter((r) => r.driver === d && r.status !== 'skip' && r.metrics[metric] !== undefined).map((r) => r.metrics[metric]!));
    const laggkit = of('laggkit');
    const stock = of('stock');
    const ratio = laggkit !== undefined && stock !== undefined && stock !== 0 ? Math.round((laggkit / stock) * 100) / 100 : undefined;
    return { metric, laggkit, stock, ratio, lowerIsBetter: LOWER_IS_BETTER.has(metric) };
  });
}

/**
 * The bounds a run is judged by: the driver's (stock may have its own, under its key: the
 * guest OS, or agr), then its protocol's.
 */
export function boundsFor(s: Scenario, driver: DriverName, proto: Protocol, key: StockKey): Record<string, Bound> {
  const stock = driver === 'stock' ? stockOverride(s, key) : undefined;
  const base = stock?.expect ?? s.expect;
  const byProto = stock?.expect_by_proto?.[proto] ?? s.expect_by_proto[proto] ?? {};
  return { ...base, ...byProto };
}

const CANNOT: Record<Capability, string> = {
  cable: 'pull a cable',
  stock: 'run the stock driver',
  impair: 'drop frames on a link',
  capture: 'capture frames on a link',
};

function skipped(driver: Driver, c: ScenarioCase, repeat: number, reason: string): RunResult {
  return {
    driver: driver.name,
    mode: driver.mode(c.proto),
    repeat,
    status: 'skip',
    reason,
    metrics: {},
    failures: [],
    captures: {},
    parsed: {},
    events: [],
    gaps: [],
    portSeries: [],
    durationMs: 0,
  };
}

/**
 * The driver side B runs in a run of `driver`: the same, or for `peer: other` the other of the
 * pair; on a target whose side B has a driver of its own (`sideB`), always that one.
 */
export function peerOf(target: E2eTarget, driver: Driver, c: ScenarioCase): Driver | undefined {
  if (target.sideB) return target.sideB.driver;
  if (c.scenario.setup.peer !== 'other') return undefined;
  return driver.name === 'laggkit' ? target.drivers.stock : target.drivers.laggkit;
}

/** The stock override's key for the target's stock driver (its own, or the target's OS). */
const keyOf = (target: E2eTarget, d: Driver): StockKey => d.stockKey ?? target.platform.os;

/**
 * Why a run of `d` is skipped before it starts: the scenario's override for the stock driver,
 * the target lacking it, a side B that cannot run the driver the case puts there, or a driver
 * of the run (side A's or B's) without the case's protocol or option. Undefined when it runs.
 */
export function runSkipReason(target: E2eTarget, d: Driver, c: ScenarioCase): string | undefined {
  const stock = target.drivers.stock;
  // A side B of its own runs the stock driver in every run.
  const usesStock = d.name === 'stock' || c.scenario.setup.peer === 'other' || target.sideB !== undefined;
  const peer = peerOf(target, d, c);
  return (
    (target.sideB && c.scenario.setup.peer === 'other' && d.name === 'stock' ? target.sideB.why : undefined) ??
    (usesStock ? (stockOverride(c.scenario, keyOf(target, stock))?.skip ?? target.lacks('stock')) : undefined) ??
    d.skipReason?.(c.proto, c.scenario.setup) ??
    peer?.skipReason?.(c.proto, c.scenario.setup)
  );
}

async function runOne(target: E2eTarget, driver: Driver, c: ScenarioCase, repeat: number): Promise<RunResult> {
  const members = pickMembers(target.links, c.members);
  if (typeof members === 'string') return skipped(driver, c, repeat, members);
  const peer = peerOf(target, driver, c);
  const ctx: RunContext = {
    target,
    driver,
    ...(peer ? { peer } : {}),
    proto: c.proto,
    members,
    lacpFastTimeout: c.scenario.setup.lacp_fast_timeout,
    lacpMultiSpeed: c.scenario.setup.lacp_multi_speed,
    pulled: new Set(),
    impaired: new Map(),
  };
  const start = Date.now();
  const all = Object.values(target.drivers);
  let outcome: ActionOutcome | undefined;
  let error: string | undefined;
  let skip: string | undefined;
  try {
    await Promise.all((['A', 'B'] as const).map((s) => resetSide(target, s, all)));
    outcome = await runAction(ctx, c.scenario.action);
  } catch (err) {
    if (err instanceof RunSkipped) skip = err.message;
    else error = (err as Error).message;
  } finally {
    // Whatever happened, plug cables back, lift impairments and leave the target clean for the next run.
    for (const nic of ctx.pulled) await target.cable(nic, true).catch(() => {});
    for (const i of ctx.impaired.values()) await target.impair(i.nic, i.what, false).catch(() => {});
    await Promise.all((['A', 'B'] as const).map((s) => resetSide(target, s, all))).catch((err: Error) => {
      error = error ?? `clean-up failed: ${err.message}`;
    });
  }
  if (skip !== undefined && error === undefined) return skipped(driver, c, repeat, skip);
  const o = outcome ?? { metrics: {}, captures: {}, captureClock: {}, parsed: {}, events: [], gaps: [], portSeries: [] };
  const failures = error
    ? [`error: ${error}`]
    : judge(o.metrics, boundsFor(c.scenario, driver.name, c.proto, keyOf(target, target.drivers.stock)), c.members.length);
  return {
    driver: driver.name,
    mode: driver.mode(c.proto),
    repeat,
    status: failures.length ? 'fail' : 'pass',
    ...(error ? { reason: error } : {}),
    metrics: o.metrics,
    failures,
    captures: o.captures,
    parsed: o.parsed,
    events: o.events,
    gaps: o.gaps,
    portSeries: o.portSeries,
    durationMs: Date.now() - start,
  };
}

export async function runCases(target: E2eTarget, cases: ScenarioCase[], opts: EngineOptions): Promise<E2eResult> {
  const startedAt = new Date().toISOString();
  const results: CaseResult[] = [];
  for (const [i, c] of cases.entries()) {
    opts.onCaseStart?.(c, i, cases.length);
    const runs: RunResult[] = [];
    const lacking =
      c.scenario.needs
        .map((n) => target.lacks(n) ?? (target.capabilities.includes(n) ? undefined : `target '${target.kind}' cannot ${CANNOT[n]}`))
        .find(Boolean) ?? target.skipCase?.(c.proto, c.members);
    for (let r = 1; r <= opts.repeat; r++) {
      const drivers: Driver[] = opts.compare === 'stock' ? [target.drivers.laggkit, target.drivers.stock] : [target.drivers.laggkit];
      for (const d of drivers) {
        const why = lacking ?? runSkipReason(target, d, c);
        const run = why ? skipped(d, c, r, why) : await runOne(target, d, c, r);
        runs.push(run);
        opts.onRunEnd?.(c, run);
      }
    }
    const status: Status = runs.some((r) => r.status === 'fail') ? 'fail' : runs.every((r) => r.status === 'skip') ? 'skip' : 'pass';
    const result: CaseResult = {
      id: c.id,
      scenario: c.scenario.name,
      title: c.scenario.title,
      description: c.scenario.description,
      file: c.file,
      proto: c.proto,
      members: c.members,
      ports: (() => {
        const m = pickMembers(target.links, c.members);
        return typeof m === 'string' ? [] : m.map((x) => x.nic);
      })(),
      status,
      ...(lacking ? { reason: lacking } : {}),
      runs,
      figures: figuresOf(c, runs),
    };
    results.push(result);
    opts.onCaseEnd?.(result, i, cases.length);
  }
  const totals: Record<Status, number> = { pass: 0, fail: 0, skip: 0 };
  for (const r of results) totals[r.status]++;
  return {
    version: 1,
    startedAt,
    finishedAt: new Date().toISOString(),
    target: target.describe,
    compare: opts.compare,
    repeat: opts.repeat,
    cases: results,
    totals,
  };
}
