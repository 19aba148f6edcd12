/**
 * A fleet deploy: one canary first; if it fails, nothing else is touched. Then the rest with
 * bounded parallelism. Every host's outcome lands in one summary (table or JSON), and the exit
 * code is the worst outcome's (a rollback, 8, outranks other failures).
 */
import { toLaggkitError, type LaggkitError } from '../cli/errors.js';
import type { HostOptions } from '../targets/index.js';
import { deployTo } from './connect.js';
import type { DeployOptions, DeployResult } from './deploy.js';
import type { InventoryHost } from './inventory.js';

export interface FleetOutcome {
  host: string;
  target: string;
  outcome: 'deployed' | 'unchanged' | 'planned' | 'failed' | 'rolled back' | 'not run';
  ms: number;
  detail: string;
  exitCode: number;
  result?: DeployResult;
  error?: ReturnType<LaggkitError['toJSON']>;
}

export interface FleetResult {
  canary: string;
  hosts: FleetOutcome[];
  exitCode: number;
}

async function one(h: InventoryHost, base: Omit<DeployOptions, 'reconnect'>, ssh: Omit<HostOptions, 'host'>): Promise<FleetOutcome> {
  const t0 = Date.now();
  const ho: HostOptions = { ...ssh, host: h.target, ...(h.identity ? { identity: h.identity } : {}), ...(h.become ? { become: h.become } : {}) };
  try {
    const r = await deployTo(ho, h.spec, base);
    return {
      host: h.name,
      target: h.target,
      outcome: r.dryRun ? 'planned' : r.changed ? 'deployed' : 'unchanged',
      ms: Date.now() - t0,
      detail: r.plan.aggregates.map((a) => `${a.name}: ${a.action}`).join(', '),
      exitCode: 0,
      result: r,
    };
  } catch (err) {
    const e = toLaggkitError(err);
    return {
      host: h.name,
      target: h.target,
      outcome: e.exitClass === 'rolledBack' ? 'rolled back' : 'failed',
      ms: Date.now() - t0,
      detail: e.message.split('\n')[0] ?? '',
      exitCode: e.exitCode,
      error: e.toJSON(),
    };
  }
}

export async function deployFleet(
  hosts: InventoryHost[],
  parallel: number,
  base: Omit<DeployOptions, 'reconnect'>,
  ssh: Omit<HostOptions, 'host'>,
): Promise<FleetResult> {
  const [canary, ...rest] = hosts;
  if (!canary) throw new Error('no hosts');
  const prefixed = (name: string) => ({
    ...base,
    progress: (l: string) => base.progress(`${name}: ${l}`),
    onStep: (s: Parameters<DeployOptions['onStep']>[0]) => base.onStep({ ...s, detail: `${name}: ${s.detail}` }),
  });
  const outcomes: FleetOutcome[] = [await one(canary, prefixed(canary.name), ssh)];
  if (outcomes[0]?.exitCode !== 0) {
    for (const h of rest) outcomes.push({ host: h.name, target: h.target, outcome: 'not run', ms: 0, detail: `canary ${canary.name} failed`, exitCode: 0 });
  } else {
    const queue = [...rest];
    const results = new Map<string, FleetOutcome>();
    const worker = async () => {
      for (let h = queue.shift(); h; h = queue.shift()) results.set(h.name, await one(h, prefixed(h.name), ssh));
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, rest.length)) }, worker));
    for (const h of rest) outcomes.push(results.get(h.name) as FleetOutcome);
  }
  const codes = outcomes.map((o) => o.exitCode).filter((c) => c !== 0);
  return { canary: canary.name, hosts: outcomes, exitCode: codes.includes(8) ? 8 : (codes[0] ?? 0) };
}

export function fleetTable(r: FleetResult): string {
  const rows = [
    ['HOST', 'TARGET', 'OUTCOME', 'TIME', 'DETAIL'],
    ...r.hosts.map((o) => [o.host + (o.host === r.canary ? ' (canary)' : ''), o.target, o.outcome, `${(o.ms / 1000).toFixed(1)} s`, o.detail]),
  ];
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(w[i]!))).join('  ')).join('\n');
}
