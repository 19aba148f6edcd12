/**
 * What a deploy asks for: one or more aggregates described with ifconfig's own words, from
 * flags (`--laggproto lacp --laggport vtnet1 ...`) or from a YAML spec file. Both end in the same
 * validated DeploySpec, so a bad value is refused with the same message whichever way it came,
 * before any host is contacted.
 *
 * Spec file (every field but name/laggproto/laggports optional; unknown fields are errors):
 *
 *   aggregates:
 *     - name: laggkit0
 *       laggproto: lacp                 # failover loadbalance (fec) lacp roundrobin broadcast none
 *       laggports: [vtnet1, {name: em1, pri: 2}]
 *       lagghash: [l2, l3, l4]
 *       inet: [192.0.2.10/24]
 *       inet6: [2001:db8::10/64]
 *       mtu: 9000
 *       lacp_fast_timeout: true
 *       lacp_strict: false
 *       opts: {lacp_sys_prio: 100, failover_rx_all: 1}
 */
import { z } from 'zod';
import { UsageError } from '../cli/errors.js';
import { showValue, validateIfName } from '../validate/index.js';
import { describeProblems, parseYamlText } from '../validate/data-file.js';

export const PROTOCOLS = ['failover', 'loadbalance', 'lacp', 'roundrobin', 'broadcast', 'none'] as const;
export type Protocol = (typeof PROTOCOLS)[number];
export const HASH_LAYERS = ['l2', 'l3', 'l4'] as const;

/**
 * The options a kernel exposes only as sysctls (net.link.laggkit.<unit>.<key>) and laggd as
 * words: `--opt key=value`. Integer ranges follow the core's checks.
 */
export const OPTIONS: Record<string, { min: number; max: number; help: string }> = {
  use_flowid: { min: 0, max: 1, help: 'use the NIC flow id when present' },
  flowid_shift: { min: 0, max: 31, help: 'shift applied to the flow id' },
  rr_limit: { min: 0, max: 1_000_000, help: 'roundrobin: frames per port before rotating' },
  failover_rx_all: { min: 0, max: 1, help: 'failover: accept input on every port' },
  failover_preempt: { min: 0, max: 1, help: 'failover: return to the primary when it comes back' },
  lacp_passive: { min: 0, max: 1, help: 'LACP: passive, only answer an active partner' },
  lacp_sys_prio: { min: 0, max: 65535, help: 'LACP: system priority' },
  lacp_key: { min: 0, max: 65535, help: 'LACP: administrative key (0: from speed)' },
  lacp_maxports: { min: 0, max: 64, help: 'LACP: most ports distributing, the rest STANDBY (0: no limit)' },
  lacp_multi_speed: { min: 0, max: 1, help: 'LACP: aggregate ports of mixed speed' },
  lacp_full_wait: {
    min: 0,
    max: 1,
    help: "LACP: keep 802.1AX timing: the whole 2 s Aggregate_Wait_Time, no early resend of a new link's PDU (0: end the wait once every port is selected)",
  },
  announce_count: { min: 0, max: 100, help: 'gratuitous ARP / unsolicited NA after a failover' },
  announce_interval_ms: { min: 1, max: 60_000, help: 'interval between announcements' },
};

export interface PortSpec {
  name: string;
  /** Port priority (failover order, lower first; LACP port priority). */
  pri?: number;
}

export interface AggregateSpec {
  name: string;
  laggproto: Protocol;
  ports: PortSpec[];
  lagghash?: string[];
  inet: string[];
  inet6: string[];
  mtu?: number;
  lacpFastTimeout?: boolean;
  lacpStrict?: boolean;
  opts: Record<string, number>;
}

export interface DeploySpec {
  aggregates: AggregateSpec[];
}

const ifName = z.string().superRefine((v, ctx) => {
  try {
    validateIfName(v);
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
  }
});

function cidr4(v: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(v);
  if (m === null) return false;
  return m.slice(1, 5).every((o) => Number(o) <= 255 && String(Number(o)) === o) && Number(m[5]) <= 32;
}

function cidr6(v: string): boolean {
  const m = /^([0-9a-fA-F:]+)\/(\d{1,3})$/.exec(v);
  if (!m || Number(m[2]) > 128) return false;
  const addr = m[1] as string;
  const halves = addr.split('::');
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => (h === '' ? [] : h.split(':')));
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  return halves.length === 2 ? groups.length < 8 : groups.length === 8;
}

const portSchema = z.union([ifName, z.object({ name: ifName, pri: z.number().int().min(0).max(65535).optional() }).strict()]);

const aggregateSchema = z
  .object({
    name: ifName.refine((v) => /^laggkit\d{1,3}$/.test(v), 'an aggregate is named laggkitN (laggkit0, laggkit1, ...)'),
    laggproto: z.enum([...PROTOCOLS, 'fec']),
    laggports: z.array(portSchema).min(1, 'at least one laggport'),
    lagghash: z.array(z.enum(HASH_LAYERS)).min(1).optional(),
    inet: z.array(z.string().refine(cidr4, 'an IPv4 address with its prefix length, e.g. 192.0.2.10/24')).default([]),
    inet6: z.array(z.string().refine(cidr6, 'an IPv6 address with its prefix length, e.g. 2001:db8::10/64')).default([]),
    mtu: z.number().int().min(576).max(65535).optional(),
    lacp_fast_timeout: z.boolean().optional(),
    lacp_strict: z.boolean().optional(),
    opts: z.record(z.string(), z.number().int()).default({}),
  })
  .strict()
  .superRefine((a, ctx) => {
    for (const [k, v] of Object.entries(a.opts)) {
      const o = OPTIONS[k];
      if (!o) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['opts', k], message: `unknown option; known: ${Object.keys(OPTIONS).join(', ')}` });
      else if (v < o.min || v > o.max) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['opts', k], message: `must be ${o.min}-${o.max}` });
    }
    const names = a.laggports.map((p) => (typeof p === 'string' ? p : p.name));
    names.forEach((n, i) => {
      if (names.indexOf(n) !== i) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['laggports', i], message: `${n} is listed twice` });
    });
  });

const specSchema = z
  .object({ aggregates: z.array(aggregateSchema).min(1, 'at least one aggregate') })
  .strict()
  .superRefine((s, ctx) => {
    const seen = new Map<string, string>();
    s.aggregates.forEach((a, i) => {
      if (s.aggregates.findIndex((b) => b.name === a.name) !== i)
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['aggregates', i, 'name'], message: `${a.name} is defined twice` });
      a.laggports.forEach((p, j) => {
        const n = typeof p === 'string' ? p : p.name;
        const other = seen.get(n);
        if (other !== undefined && other !== a.name)
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['aggregates', i, 'laggports', j], message: `${n} is already a port of ${other}` });
        seen.set(n, a.name);
      });
    });
  });

type RawSpec = z.input<typeof specSchema>;

function toSpec(raw: z.output<typeof specSchema>): DeploySpec {
  return {
    aggregates: raw.aggregates.map((a) => ({
      name: a.name,
      laggproto: a.laggproto === 'fec' ? 'loadbalance' : a.laggproto,
      ports: a.laggports.map((p) => (typeof p === 'string' ? { name: p } : p.pri === undefined ? { name: p.name } : { name: p.name, pri: p.pri })),
      ...(a.lagghash ? { lagghash: [...new Set(a.lagghash)].sort() } : {}),
      inet: a.inet,
      inet6: a.inet6.map((v) => v.toLowerCase()),
      ...(a.mtu !== undefined ? { mtu: a.mtu } : {}),
      ...(a.lacp_fast_timeout !== undefined ? { lacpFastTimeout: a.lacp_fast_timeout } : {}),
      ...(a.lacp_strict !== undefined ? { lacpStrict: a.lacp_strict } : {}),
      opts: a.opts,
    })),
  };
}

/** Validate a spec object (from YAML or flags); every bad field is named by its path. */
export function validateSpec(raw: unknown, source: string): DeploySpec {
  const r = specSchema.safeParse(raw);
  if (r.success) return toSpec(r.data);
  throw new UsageError('E_SPEC', `${source}: ${describeProblems(r.error.issues)}`, 'Fix the fields named; see laggkit deploy --help for the spec format.');
}

export function parseSpecFile(text: string, path: string): DeploySpec {
  return validateSpec(parseYamlText(text, path, 'E_SPEC_YAML'), path);
}

export interface SpecFlags {
  name: string;
  laggproto?: string | undefined;
  laggport?: string[] | undefined;
  lagghash?: string | undefined;
  inet?: string[] | undefined;
  inet6?: string[] | undefined;
  mtu?: number | undefined;
  'lacp-fast-timeout'?: boolean | undefined;
  'lacp-strict'?: boolean | undefined;
  opt?: string[] | undefined;
}

/** `--laggport em1:2` is em1 with priority 2 (ifconfig's `laggport em1 pri 2`, NetBSD style). */
function portOfFlag(v: string): RawSpec['aggregates'][number]['laggports'][number] {
  const m = /^(.*):(\d+)$/.exec(v);
  return m ? { name: m[1] as string, pri: Number(m[2]) } : v;
}

export function specFromFlags(f: SpecFlags): DeploySpec {
  if (f.laggproto === undefined)
    throw new UsageError(
      'E_USAGE',
      'Give --laggproto (and --laggport ...), or --spec FILE',
      'Example: laggkit deploy --host fbsd1 --laggproto lacp --laggport vtnet1 --laggport em1',
    );
  const opts: Record<string, number> = {};
  for (const o of f.opt ?? []) {
    const m = /^([a-z_]+)=(-?\d+)$/.exec(o);
    if (!m) throw new UsageError('E_BAD_VALUE', `--opt ${showValue(o)} is not key=integer`, `Known keys: ${Object.keys(OPTIONS).join(', ')}`);
    opts[m[1] as string] = Number(m[2]);
  }
  const raw: RawSpec = {
    aggregates: [
      {
        name: f.name,
        laggproto: f.laggproto as Protocol,
        laggports: (f.laggport ?? []).map(portOfFlag),
        ...(f.lagghash !== undefined ? { lagghash: f.lagghash.split(',') as ('l2' | 'l3' | 'l4')[] } : {}),
        inet: f.inet ?? [],
        inet6: f.inet6 ?? [],
        ...(f.mtu !== undefined ? { mtu: f.mtu } : {}),
        ...(f['lacp-fast-timeout'] !== undefined ? { lacp_fast_timeout: f['lacp-fast-timeout'] } : {}),
        ...(f['lacp-strict'] !== undefined ? { lacp_strict: f['lacp-strict'] } : {}),
        opts,
      },
    ],
  };
  return validateSpec(raw, 'flags');
}
