/**
 * Ansible inventories as they are, so a fleet Ansible already manages needs no second host list.
 *
 *   YAML   all: {hosts: {h: {vars}}, vars: {...}, children: {group: {hosts, vars, children}}}
 *   INI    `h ansible_host=192.0.2.1`, `[group]`, `[group:vars]`, `[group:children]`
 *
 * Connection variables: ansible_host, ansible_user, ansible_port, ansible_become (+ _method),
 * ansible_ssh_private_key_file. Aggregate settings come from variables too, at any level, the
 * way Ansible layers them (all < parent group < child group < host):
 *
 *   laggkit_spec: {aggregates: [...]}                 the spec file's content, or flat:
 *   laggkit_name, laggkit_laggproto, laggkit_laggports (list or "em0,em1"), laggkit_lagghash,
 *   laggkit_inet, laggkit_inet6, laggkit_mtu, laggkit_lacp_fast_timeout, laggkit_lacp_strict,
 *   laggkit_opts ({key: value})
 *
 * `--limit` takes Ansible's patterns: names and globs of hosts or groups separated by `,` or `:`,
 * `&pattern` to intersect, `!pattern` to exclude.
 */
import { parse as parseYaml } from 'yaml';
import { ParseError, UsageError } from '../cli/errors.js';
import { validateSpec, type DeploySpec } from './spec.js';

type Vars = Record<string, unknown>;

interface Group {
  name: string;
  hosts: Set<string>;
  children: Set<string>;
  vars: Vars;
}

export interface Inventory {
  groups: Map<string, Group>;
  hostVars: Map<string, Vars>;
  /** Hosts in the order the inventory names them. */
  order: string[];
}

export interface InventoryHost {
  name: string;
  /** user@host:port for the SSH layer (the name itself when nothing overrides it). */
  target: string;
  identity?: string;
  become?: 'sudo' | 'doas';
  spec: DeploySpec;
  vars: Vars;
}

function group(inv: Inventory, name: string): Group {
  let g = inv.groups.get(name);
  if (!g) {
    g = { name, hosts: new Set(), children: new Set(), vars: {} };
    inv.groups.set(name, g);
  }
  return g;
}

function addHost(inv: Inventory, g: Group, host: string, vars: Vars): void {
  g.hosts.add(host);
  if (!inv.order.includes(host)) inv.order.push(host);
  inv.hostVars.set(host, { ...(inv.hostVars.get(host) ?? {}), ...vars });
}

/** INI values: Ansible reads them as Python literals where it can; numbers, booleans and lists here. */
function iniValue(v: string): unknown {
  const s = v.replace(/^(['"])(.*)\1$/, '$2');
  if (/^-?\d+$/.test(s)) return Number(s);
  if (/^(true|yes)$/i.test(s)) return true;
  if (/^(false|no)$/i.test(s)) return false;
  if (/^\[.*\]$/.test(s) || /^\{.*\}$/.test(s)) {
    try {
      return parseYaml(s);
    } catch {
      return s;
    }
  }
  return s;
}

function iniVars(words: string[], path: string, line: number): Vars {
  const vars: Vars = {};
  for (const w of words) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(w);
    if (!m) throw new ParseError('E_INVENTORY', `${path}:${line}: ${JSON.stringify(w)} is not name=value`, line, 'Host lines are: NAME [var=value ...]');
    vars[m[1] as string] = iniValue(m[2] as string);
  }
  return vars;
}

/** Split an INI line into words, keeping quoted values and [..]/{..} literals whole. */
function iniWords(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let depth = 0;
  let quote = '';
  for (const ch of line) {
    if (quote) {
      cur += ch;
      if (ch === quote) quote = '';
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      cur += ch;
    } else if (ch === '[' || ch === '{') {
      depth++;
      cur += ch;
    } else if (ch === ']' || ch === '}') {
      depth--;
      cur += ch;
    } else if (/\s/.test(ch) && depth === 0) {
      if (cur) out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

export function parseIniInventory(text: string, path: string): Inventory {
  const inv: Inventory = { groups: new Map(), hostVars: new Map(), order: [] };
  const all = group(inv, 'all');
  let section: { group: Group; kind: 'hosts' | 'vars' | 'children' } = { group: group(inv, 'ungrouped'), kind: 'hosts' };
  all.children.add('ungrouped');
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/^\s*[#;].*$/, '').trim();
    if (!line) return;
    const h = /^\[([^\]:]+)(?::(vars|children))?\]$/.exec(line);
    if (h) {
      const g = group(inv, h[1] as string);
      if (g.name !== 'all') all.children.add(g.name);
      section = { group: g, kind: (h[2] as 'vars' | 'children' | undefined) ?? 'hosts' };
      return;
    }
    const words = iniWords(line);
    if (section.kind === 'vars') Object.assign(section.group.vars, iniVars(words, path, i + 1));
    else if (section.kind === 'children') section.group.children.add(words[0] as string);
    else addHost(inv, section.group, words[0] as string, iniVars(words.slice(1), path, i + 1));
  });
  return inv;
}

export function parseYamlInventory(text: string, path: string): Inventory {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ParseError('E_INVENTORY', `${path}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!doc || typeof doc !== 'object') throw new ParseError('E_INVENTORY', `${path}: an inventory is a mapping of groups (all: {hosts: ..., children: ...})`);
  const inv: Inventory = { groups: new Map(), hostVars: new Map(), order: [] };
  const walk = (name: string, body: unknown, at: string) => {
    const g = group(inv, name);
    if (body === null || body === undefined) return;
    if (typeof body !== 'object') throw new ParseError('E_INVENTORY', `${path}: ${at} must be a mapping with hosts, vars or children`);
    const b = body as { hosts?: Record<string, Vars | null>; vars?: Vars; children?: Record<string, unknown> };
    for (const k of Object.keys(b))
      if (!['hosts', 'vars', 'children'].includes(k)) throw new ParseError('E_INVENTORY', `${path}: ${at}.${k}: a group has hosts, vars and children only`);
    for (const [h, v] of Object.entries(b.hosts ?? {})) addHost(inv, g, h, v ?? {});
    Object.assign(g.vars, b.vars ?? {});
    for (const [c, cb] of Object.entries(b.children ?? {})) {
      g.children.add(c);
      walk(c, cb, `${at}.children.${c}`);
    }
  };
  for (const [name, body] of Object.entries(doc as Record<string, unknown>)) {
    walk(name, body, name);
    if (name !== 'all') group(inv, 'all').children.add(name);
  }
  return inv;
}

export function parseInventory(text: string, path: string): Inventory {
  // YAML inventories start with a mapping key; INI ones with a host or a [section].
  const first = text.split(/\r?\n/).find((l) => l.trim() && !/^\s*[#;]/.test(l)) ?? '';
  return /^\s*\[/.test(first) || !/:\s*(#.*)?$|:\s+\S/.test(first) ? parseIniInventory(text, path) : parseYamlInventory(text, path);
}

/** Every host of a group, its children's included. */
function hostsOf(inv: Inventory, name: string, seen = new Set<string>()): Set<string> {
  const out = new Set<string>();
  const g = inv.groups.get(name);
  if (!g || seen.has(name)) return out;
  seen.add(name);
  if (name === 'all') for (const h of inv.order) out.add(h);
  for (const h of g.hosts) out.add(h);
  for (const c of g.children) for (const h of hostsOf(inv, c, seen)) out.add(h);
  return out;
}

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(name);
}

function matchPattern(inv: Inventory, pattern: string): Set<string> {
  const out = new Set<string>();
  for (const g of inv.groups.keys()) if (globMatch(pattern, g)) for (const h of hostsOf(inv, g)) out.add(h);
  for (const h of inv.order) if (globMatch(pattern, h)) out.add(h);
  return out;
}

/** Ansible's --limit: a,b or a:b (union), &c (intersection), !d (exclusion). */
export function limitHosts(inv: Inventory, limit: string | undefined): string[] {
  if (limit === undefined || limit.trim() === '') return [...inv.order];
  const parts = limit
    .split(/[,:]/)
    .map((p) => p.trim())
    .filter(Boolean);
  let sel = new Set<string>();
  const positives = parts.filter((p) => !p.startsWith('&') && !p.startsWith('!'));
  for (const p of positives) for (const h of matchPattern(inv, p)) sel.add(h);
  if (positives.length === 0) sel = new Set(inv.order);
  for (const p of parts.filter((x) => x.startsWith('&'))) {
    const m = matchPattern(inv, p.slice(1));
    sel = new Set([...sel].filter((h) => m.has(h)));
  }
  for (const p of parts.filter((x) => x.startsWith('!'))) for (const h of matchPattern(inv, p.slice(1))) sel.delete(h);
  const out = inv.order.filter((h) => sel.has(h));
  if (out.length === 0)
    throw new UsageError(
      'E_INVENTORY_LIMIT',
      `--limit ${JSON.stringify(limit)} selects no host`,
      `Hosts: ${inv.order.join(', ')}; groups: ${[...inv.groups.keys()].join(', ')}`,
    );
  return out;
}

/** A host's variables as Ansible layers them: all, then groups by depth (parents first), then the host. */
export function hostVars(inv: Inventory, host: string): Vars {
  const depth = new Map<string, number>();
  const visit = (name: string, d: number) => {
    if ((depth.get(name) ?? -1) >= d) return;
    depth.set(name, d);
    for (const c of inv.groups.get(name)?.children ?? []) visit(c, d + 1);
  };
  visit('all', 0);
  const groups = [...inv.groups.values()].filter((g) => g.name === 'all' || hostsOf(inv, g.name).has(host));
  groups.sort((a, b) => (depth.get(a.name) ?? 0) - (depth.get(b.name) ?? 0) || a.name.localeCompare(b.name));
  const vars: Vars = {};
  for (const g of groups) Object.assign(vars, g.vars);
  return { ...vars, ...(inv.hostVars.get(host) ?? {}) };
}

const list = (v: unknown): unknown[] | undefined =>
  v === undefined
    ? undefined
    : Array.isArray(v)
      ? v
      : String(v)
          .split(/[,\s]+/)
          .filter(Boolean);

/** The aggregates a host's variables describe. */
export function specOfVars(vars: Vars, host: string): DeploySpec {
  if (vars.laggkit_spec !== undefined) return validateSpec(vars.laggkit_spec, `inventory host ${host}: laggkit_spec`);
  if (vars.laggkit_laggproto === undefined)
    throw new UsageError('E_SPEC', `inventory host ${host} has no laggkit_spec or laggkit_laggproto variable`, 'Set them for the host or one of its groups.');
  const agg: Record<string, unknown> = {
    name: vars.laggkit_name ?? 'laggkit0',
    laggproto: vars.laggkit_laggproto,
    laggports: list(vars.laggkit_laggports) ?? [],
  };
  const opt: [string, string][] = [
    ['laggkit_lagghash', 'lagghash'],
    ['laggkit_inet', 'inet'],
    ['laggkit_inet6', 'inet6'],
  ];
  for (const [k, f] of opt) if (vars[k] !== undefined) agg[f] = list(vars[k]);
  if (vars.laggkit_mtu !== undefined) agg.mtu = vars.laggkit_mtu;
  if (vars.laggkit_lacp_fast_timeout !== undefined) agg.lacp_fast_timeout = vars.laggkit_lacp_fast_timeout;
  if (vars.laggkit_lacp_strict !== undefined) agg.lacp_strict = vars.laggkit_lacp_strict;
  if (vars.laggkit_opts !== undefined) agg.opts = vars.laggkit_opts;
  return validateSpec({ aggregates: [agg] }, `inventory host ${host}`);
}

export function inventoryHosts(inv: Inventory, limit: string | undefined): InventoryHost[] {
  return limitHosts(inv, limit).map((name) => {
    const v = hostVars(inv, name);
    const user = v.ansible_user ?? v.ansible_ssh_user;
    const addr = String(v.ansible_host ?? v.ansible_ssh_host ?? name);
    const port = v.ansible_port ?? v.ansible_ssh_port;
    const target = `${user !== undefined ? `${String(user)}@` : ''}${addr.includes(':') && port !== undefined ? `[${addr}]` : addr}${port !== undefined ? `:${String(port)}` : ''}`;
    const become = v.ansible_become === true || v.ansible_become === 'true' ? (v.ansible_become_method === 'doas' ? 'doas' : 'sudo') : undefined;
    const key = v.ansible_ssh_private_key_file ?? v.ansible_private_key_file;
    return { name, target, ...(key !== undefined ? { identity: String(key) } : {}), ...(become ? { become } : {}), spec: specOfVars(v, name), vars: v };
  });
}
