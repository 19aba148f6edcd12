/**
 * The e2e catalogue: one YAML file per scenario (e2e/scenarios/NAME.yaml), validated on load.
 * A scenario says what to set up (protocol, member NIC models, options), what to do (one of
 * the engine's actions with its parameters), what must hold afterwards (bounds on the metrics
 * the action measures) and which metrics are its headline figures. Lists in `setup` are a
 * matrix: `proto: [lacp, failover]` with `members: [[virtio, virtio], [e1000, e1000]]` is four
 * cases, each named like `steady-state[lacp,virtio+virtio]`.
 *
 * A broken file is refused with its path and the field at fault, never half-loaded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from '../cli/errors.js';
import { repoRoot } from '../lab/paths.js';
import { NIC_MODELS, type NicModel } from '../lab/machines.js';
import { describeProblems, parseYamlText } from '../validate/data-file.js';

export const PROTOCOLS = ['lacp', 'failover', 'loadbalance', 'roundrobin', 'broadcast'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** What a target must offer for an action to run there (a target says what it lacks). */
export const CAPABILITIES = ['cable', 'stock', 'impair', 'capture'] as const;
export type Capability = (typeof CAPABILITIES)[number];

/**
 * The metrics each action measures. Expectations and figures may name only these, so a typo in
 * a scenario file is an error at load time, not a silently absent figure.
 */
export const ACTION_METRICS = {
  'create-destroy': ['created', 'members_after_create', 'destroyed', 'ports_restored'],
  'steady-state': ['steady', 'converge_ms', 'active_members', 'ping_ok'],
  spread: ['steady', 'converge_ms', 'ports_used', 'max_port_share', 'received', 'lost', 'reordered'],
  'cable-pull': ['steady', 'converge_ms', 'gap_ms_ab', 'gap_ms_ba', 'lost_ab', 'lost_ba', 'active_during', 'delivered_after_restore', 'restored', 'restore_ms'],
  'failover-return': ['steady', 'converge_ms', 'gap_ms_ab', 'gap_ms_ba', 'lost_ab', 'lost_ba', 'active_before', 'active_during', 'active_after'],
  mtu: ['steady', 'converge_ms', 'members_mtu_ok', 'ping_big_ok'],
  'mgmt-untouched': ['steady', 'converge_ms', 'mgmt_unchanged', 'ssh_ok', 'active_members'],
  'partner-silent': [
    'steady',
    'converge_ms',
    'expire_ms',
    'active_during',
    'gap_ms_ab',
    'gap_ms_ba',
    'lost_ab',
    'lost_ba',
    'restored',
    'reconverge_ms',
    'delivered_after_restore',
  ],
  'one-way-loss': [
    'steady',
    'converge_ms',
    'removed',
    'removed_ms',
    'active_during',
    'lost_ab',
    'lost_ba',
    'loss_ba_pct',
    'restored',
    'restore_ms',
    'delivered_after_restore',
  ],
  'flap-soak': ['steady', 'converge_ms', 'flaps', 'restored', 'restore_ms', 'active_after', 'lost_ab', 'lost_ba', 'delivered_after_restore', 'driver_alive'],
  'failover-announce': [
    'steady',
    'converge_ms',
    'switch_ms',
    'announce_count',
    'garp_count',
    'announce_delay_ms',
    'announce_on_active',
    'return_switch_ms',
    'return_announce_count',
    'return_announce_delay_ms',
  ],
  'ether-change': [
    'steady',
    'converge_ms',
    'mac_applied',
    'members_following',
    'peer_learned',
    'learn_ms',
    'ping_ok',
    'gap_ms_ab',
    'gap_ms_ba',
    'lost_ab',
    'lost_ba',
  ],
  'unload-in-use': ['steady', 'converge_ms', 'unload_refused', 'driver_alive', 'aggregate_kept', 'steady_after', 'ping_after'],
} as const;
export type ActionKind = keyof typeof ACTION_METRICS;

/** Which end of a metric is good, for reports (ratios and colours), not for pass/fail. */
export const LOWER_IS_BETTER = new Set([
  'converge_ms',
  'gap_ms_ab',
  'gap_ms_ba',
  'lost_ab',
  'lost_ba',
  'restore_ms',
  'max_port_share',
  'lost',
  'expire_ms',
  'reconverge_ms',
  'removed_ms',
  'loss_ba_pct',
  'switch_ms',
  'announce_delay_ms',
  'return_switch_ms',
  'return_announce_delay_ms',
  'learn_ms',
]);

const nicModel = z.enum(NIC_MODELS as [NicModel, ...NicModel[]]);
const protocol = z.enum(PROTOCOLS);
/** A scalar or a list, always a list afterwards; errors point into the list (proto[1]). */
const oneOrMany = <T extends z.ZodTypeAny>(t: T) => z.preprocess((v) => (Array.isArray(v) ? v : [v]), z.array(t).min(1));

const setupSchema = z
  .object({
    proto: oneOrMany(protocol),
    /** Member NIC models; a list of lists is a matrix (one case per member set). */
    members: z.preprocess((v) => (Array.isArray(v) && !v.some(Array.isArray) ? [v] : v), z.array(z.array(nicModel).min(1).max(4)).min(1)),
    /**
     * 802.1AX's short timeout (1 s PDUs, 3 s to expire). Off by default, as in the standard and
     * in bonding (lacp_rate slow): on a starved TCG host the short one expires partners that
     * are merely descheduled. Members still leave at once on carrier loss either way.
     */
    lacp_fast_timeout: z.boolean().default(false),
    /** laggd's multi-speed LACP (members of different speeds in one aggregator). */
    lacp_multi_speed: z.boolean().default(false),
    /**
     * What side B runs: `same` driver as side A (the default), or the `other` one of the run's
     * pair, so laggkit meets the stock driver on the wire (and, in the comparison run, the
     * stock driver meets laggkit): interoperation. Needs the stock driver on the target.
     */
    peer: z.enum(['same', 'other']).default('same'),
  })
  .strict();

const streamSchema = z
  .object({
    interval_us: z.number().int().min(500).max(100_000).default(2000),
    /** A silence longer than this is a gap worth listing (ms). */
    gap_ms: z.number().int().min(1).max(10_000).default(100),
  })
  .strict()
  .default({});

const ms = (min: number, max: number, dflt: number) => z.number().int().min(min).max(max).default(dflt);
/** Index into setup.members of the member an action works on (checked against every member list). */
const member = z.number().int().min(0).max(3).default(0);
/** A stream of several flows (distinct source ports), so a hash spreads it over the members. */
const flowStreamSchema = z
  .object({
    interval_us: z.number().int().min(500).max(100_000).default(2000),
    gap_ms: z.number().int().min(1).max(10_000).default(100),
    flows: z.number().int().min(1).max(64).default(1),
  })
  .strict()
  .default({});

const actionSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('create-destroy') }).strict(),
  z.object({ kind: z.literal('steady-state'), timeout_ms: ms(1000, 300_000, 60_000) }).strict(),
  z
    .object({ kind: z.literal('spread'), flows: z.number().int().min(1).max(64).default(16), duration_ms: ms(500, 60_000, 3000), stream: streamSchema })
    .strict(),
  z
    .object({
      kind: z.literal('cable-pull'),
      /** Index into setup.members of the member whose cable is pulled. */
      member: z.number().int().min(0).max(3).default(0),
      lead_ms: ms(200, 60_000, 1500),
      hold_ms: ms(200, 60_000, 4000),
      settle_ms: ms(200, 120_000, 5000),
      stream: streamSchema,
    })
    .strict(),
  z
    .object({
      kind: z.literal('failover-return'),
      lead_ms: ms(200, 60_000, 1500),
      hold_ms: ms(200, 60_000, 4000),
      settle_ms: ms(200, 120_000, 5000),
      stream: streamSchema,
    })
    .strict(),
  z.object({ kind: z.literal('mtu'), mtu: z.number().int().min(576).max(9000).default(1400) }).strict(),
  z.object({ kind: z.literal('mgmt-untouched') }).strict(),
  z
    .object({
      kind: z.literal('partner-silent'),
      member,
      lead_ms: ms(200, 60_000, 1500),
      /** How long B's LACPDUs on the member do not reach A. */
      silent_ms: ms(500, 120_000, 8000),
      settle_ms: ms(200, 120_000, 5000),
      stream: streamSchema,
    })
    .strict(),
  z
    .object({
      kind: z.literal('one-way-loss'),
      member,
      lead_ms: ms(200, 60_000, 1500),
      /** How long every frame B sends on the member is lost. */
      hold_ms: ms(500, 120_000, 8000),
      settle_ms: ms(200, 120_000, 5000),
      stream: flowStreamSchema,
    })
    .strict(),
  z
    .object({
      kind: z.literal('flap-soak'),
      member,
      flaps: z.number().int().min(1).max(500).default(20),
      down_ms: ms(50, 60_000, 300),
      up_ms: ms(50, 60_000, 300),
      settle_ms: ms(200, 120_000, 5000),
      stream: streamSchema,
    })
    .strict(),
  z
    .object({
      kind: z.literal('failover-announce'),
      lead_ms: ms(200, 60_000, 1500),
      hold_ms: ms(200, 60_000, 4000),
      settle_ms: ms(200, 120_000, 4000),
      stream: streamSchema,
    })
    .strict(),
  z
    .object({
      kind: z.literal('ether-change'),
      /** The new MAC: unicast and locally administered, so it can clash with no real NIC. */
      mac: z
        .string()
        .regex(/^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/, 'a unicast, locally administered MAC in lower case, e.g. 02:6c:6b:00:e2:01')
        .default('02:6c:6b:00:e2:01'),
      /**
       * Set arp_notify on the aggregate first, so the kernel announces the new MAC (a gratuitous
       * ARP on the change), as an operator who changes MACs does; without it the peer keeps the
       * old MAC until its ARP entry ages out.
       */
      arp_notify: z.boolean().default(true),
      lead_ms: ms(200, 60_000, 1000),
      learn_timeout_ms: ms(500, 120_000, 10_000),
      settle_ms: ms(200, 60_000, 1000),
      stream: streamSchema,
    })
    .strict(),
  z.object({ kind: z.literal('unload-in-use') }).strict(),
]);

/** `{min, max, equals}` on a metric; `equals: members` is the case's member count. */
const boundSchema = z
  .object({
    min: z.number().optional(),
    max: z.number().optional(),
    equals: z.union([z.number(), z.literal('members')]).optional(),
  })
  .strict()
  .refine((b) => b.min !== undefined || b.max !== undefined || b.equals !== undefined, { message: 'give at least one of min, max, equals' });
export type Bound = z.output<typeof boundSchema>;

const expectSchema = z.record(z.string(), boundSchema);
/** More bounds for one protocol's cases, over the scenario's own (a protocol behaves its way). */
const expectByProtoSchema = z.record(protocol, expectSchema);

/** Actions that watch traffic move from one member to another. */
const TWO_MEMBERS = new Set<ActionKind>(['failover-return', 'failover-announce', 'partner-silent', 'one-way-loss']);
/** Actions that mean something for some protocols only. */
const PROTO_ONLY: Partial<Record<ActionKind, Protocol[]>> = { 'partner-silent': ['lacp'], 'failover-announce': ['failover'] };

const stockSchema = z.object({ skip: z.string().min(1).optional(), expect: expectSchema.optional(), expect_by_proto: expectByProtoSchema.optional() }).strict();
export type StockOverride = z.output<typeof stockSchema>;

export const scenarioSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,47}$/, 'lower-case letters, digits and "-"'),
    title: z.string().min(1),
    description: z.string().default(''),
    setup: setupSchema,
    action: actionSchema,
    expect: expectSchema.default({}),
    expect_by_proto: expectByProtoSchema.default({}),
    /** Headline figures: printed laggkit vs stock, charted in the HTML report. */
    measure: z.array(z.string()).default([]),
    needs: z.array(z.enum(CAPABILITIES)).default([]),
    /**
     * The comparison run on the OS's own driver, per stock driver (Linux bonding, FreeBSD
     * lagg, NetBSD lagg, NetBSD agr differ in what they do): skipped with a reason, or other
     * bounds. The keys are STOCK_KEYS.
     */
    stock: z
      .object({ linux: stockSchema.optional(), freebsd: stockSchema.optional(), netbsd: stockSchema.optional(), agr: stockSchema.optional() })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((s, ctx) => {
    const known: readonly string[] = ACTION_METRICS[s.action.kind];
    const check = (metric: string, where: (string | number)[]): void => {
      if (!known.includes(metric))
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: where,
          message: `'${metric}' is not measured by action '${s.action.kind}' (it measures: ${known.join(', ')})`,
        });
    };
    for (const m of Object.keys(s.expect)) check(m, ['expect', m]);
    for (const [os, o] of Object.entries(s.stock)) for (const m of Object.keys(o?.expect ?? {})) check(m, ['stock', os, 'expect', m]);
    for (const [where, byProto] of [
      [['expect_by_proto'], s.expect_by_proto] as const,
      ...Object.entries(s.stock).map(([os, o]) => [['stock', os, 'expect_by_proto'], o?.expect_by_proto ?? {}] as const),
    ]) {
      for (const [proto, bounds] of Object.entries(byProto)) {
        if (!s.setup.proto.includes(proto as Protocol))
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: [...where, proto], message: `'${proto}' is not in setup.proto (${s.setup.proto.join(', ')})` });
        for (const m of Object.keys(bounds ?? {})) check(m, [...where, proto, m]);
      }
    }
    s.measure.forEach((m, i) => check(m, ['measure', i]));
    const index = 'member' in s.action ? s.action.member : undefined;
    if (index !== undefined && s.setup.members.some((m) => index >= m.length)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['action', 'member'],
        message: `member ${index} is past the end of a member list in setup.members`,
      });
    }
    if (TWO_MEMBERS.has(s.action.kind) && s.setup.members.some((m) => m.length < 2)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['setup', 'members'], message: `${s.action.kind} needs at least two members` });
    }
    if (s.setup.peer === 'other' && !s.needs.includes('stock'))
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['setup', 'peer'], message: "peer: other runs the stock driver on side B: add 'stock' to needs" });
    const only = PROTO_ONLY[s.action.kind];
    if (only)
      s.setup.proto.forEach((p, i) => {
        if (!only.includes(p))
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['setup', 'proto', i], message: `${s.action.kind} runs on ${only.join(', ')} only` });
      });
  });

export type Scenario = z.output<typeof scenarioSchema>;

/**
 * Which `stock:` entry of a scenario a stock driver reads: its OS's (linux: bonding, freebsd:
 * lagg(4), netbsd: lagg(4)), or agr for NetBSD's agr(4), the second stock driver there.
 */
export const STOCK_KEYS = ['linux', 'freebsd', 'netbsd', 'agr'] as const;
export type StockKey = (typeof STOCK_KEYS)[number];

/** The scenario's stock override for a stock driver (by its key; a guest OS names its default one). */
export function stockOverride(s: Scenario, key: StockKey): StockOverride | undefined {
  return s.stock[key];
}
export type Action = Scenario['action'];

/** One runnable case: a scenario at one point of its setup matrix. */
export interface ScenarioCase {
  id: string;
  scenario: Scenario;
  file: string;
  proto: Protocol;
  members: NicModel[];
}

export function defaultCatalogueDir(): string {
  return path.join(repoRoot(), 'e2e', 'scenarios');
}

/** Parse and validate one scenario file; every bad field is named with the file. */
export function parseScenario(text: string, file: string): Scenario {
  const r = scenarioSchema.safeParse(parseYamlText(text, file, 'E_E2E_SCENARIO_YAML'));
  if (!r.success)
    throw new UsageError(
      'E_E2E_SCENARIO',
      `${file}: ${describeProblems(r.error.issues)}`,
      'Fix the fields named; e2e/scenarios/README.md describes the format.',
    );
  const base = path.basename(file).replace(/\.ya?ml$/, '');
  if (r.data.name !== base)
    throw new UsageError(
      'E_E2E_SCENARIO',
      `${file}: name: '${r.data.name}' differs from the file name '${base}'`,
      'A scenario is named by its file: rename one of them.',
    );
  return r.data;
}

/** Every *.yaml in a folder, in name order; the first broken file stops the load. */
export function loadCatalogue(dir = defaultCatalogueDir()): Array<{ file: string; scenario: Scenario }> {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
    throw new UsageError('E_E2E_CATALOGUE', `scenario folder '${dir}' does not exist`, 'Give a folder of scenario YAML files with --scenarios.');
  const files = fs
    .readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  if (files.length === 0) throw new UsageError('E_E2E_CATALOGUE', `scenario folder '${dir}' holds no .yaml file`);
  return files.map((f) => {
    const file = path.join(dir, f);
    return { file, scenario: parseScenario(fs.readFileSync(file, 'utf8'), file) };
  });
}

export function caseId(name: string, proto: Protocol, members: NicModel[]): string {
  return `${name}[${proto},${members.join('+')}]`;
}

/** Expand the setup matrices into cases. */
export function expandCases(catalogue: Array<{ file: string; scenario: Scenario }>): ScenarioCase[] {
  return catalogue.flatMap(({ file, scenario }) =>
    scenario.setup.proto.flatMap((proto) =>
      scenario.setup.members.map((members) => ({ id: caseId(scenario.name, proto, members), scenario, file, proto, members })),
    ),
  );
}

/** A shell-style glob (* and ?) matched against a case id or its scenario name. */
export function globMatch(glob: string, text: string): boolean {
  const re = new RegExp(
    `^${glob
      .replace(/[.+^${}()|\\]/g, '\\$&')
      .replace(/\[/g, '\\[')
      .replace(/\]/g, '\\]')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(text);
}

export interface CaseFilter {
  only?: string[];
  protos?: Protocol[];
  nics?: NicModel[];
}

/** --only GLOB (scenario name or case id), --proto LIST, --nic LIST (every member's model listed). */
export function filterCases(cases: ScenarioCase[], f: CaseFilter): ScenarioCase[] {
  return cases.filter(
    (c) =>
      (!f.only?.length || f.only.some((g) => globMatch(g, c.scenario.name) || globMatch(g, c.id))) &&
      (!f.protos?.length || f.protos.includes(c.proto)) &&
      (!f.nics?.length || c.members.every((m) => f.nics!.includes(m))),
  );
}

export function parseProtoList(s: string): Protocol[] {
  const list = s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const p of list)
    if (!(PROTOCOLS as readonly string[]).includes(p))
      throw new UsageError('E_E2E_PROTO', `unknown protocol '${p}' in --proto`, `Use any of: ${PROTOCOLS.join(', ')}.`);
  return list as Protocol[];
}

export function parseNicFilter(s: string): NicModel[] {
  const list = s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const m of list)
    if (!(NIC_MODELS as string[]).includes(m)) throw new UsageError('E_E2E_NIC', `unknown NIC model '${m}' in --nic`, `Use ${NIC_MODELS.join(' or ')}.`);
  return list as NicModel[];
}
