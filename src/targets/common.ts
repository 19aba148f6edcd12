/**
 * What every adapter shares: comparing a running aggregate with its spec, deciding when a port
 * carries traffic, hashing the sources that name a build, and reading the SSH session's own
 * address out of $SSH_CONNECTION.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../lab/paths.js';
import type { AggregateSpec } from '../deploy/spec.js';
import type { RunningAggregate } from './types.js';

const sameSet = (a: string[], b: string[]) => a.length === b.length && [...a].sort().join(' ') === [...b].sort().join(' ');

/** The defaults the core starts an aggregate with: a spec that omits a field means these. */
const DEFAULT_HASH = ['l2', 'l3', 'l4'];

export function differences(spec: AggregateSpec, r: RunningAggregate): string[] {
  const d: string[] = [];
  if (r.laggproto !== spec.laggproto) d.push(`laggproto ${r.laggproto} -> ${spec.laggproto}`);
  const want = spec.ports.map((p) => p.name);
  const have = r.ports.map((p) => p.name);
  if (!sameSet(want, have)) d.push(`laggports ${have.join(',') || '(none)'} -> ${want.join(',')}`);
  for (const p of spec.ports) {
    const rp = r.ports.find((x) => x.name === p.name);
    if (p.pri !== undefined && rp?.prio !== undefined && rp.prio !== p.pri) d.push(`${p.name} pri ${rp.prio} -> ${p.pri}`);
  }
  const hash = spec.lagghash ?? DEFAULT_HASH;
  if (r.lagghash.length > 0 && !sameSet(hash, r.lagghash)) d.push(`lagghash ${r.lagghash.join(',')} -> ${hash.join(',')}`);
  if (!sameSet(spec.inet, r.inet)) d.push(`inet ${r.inet.join(',') || '(none)'} -> ${spec.inet.join(',') || '(none)'}`);
  const global6 = r.inet6.filter((a) => !a.toLowerCase().startsWith('fe80:'));
  if (!sameSet(spec.inet6, global6)) d.push(`inet6 ${global6.join(',') || '(none)'} -> ${spec.inet6.join(',') || '(none)'}`);
  if (spec.mtu !== undefined && r.mtu !== spec.mtu) d.push(`mtu ${r.mtu} -> ${spec.mtu}`);
  const opts: Record<string, number> = { ...spec.opts };
  if (spec.lacpFastTimeout !== undefined) opts.lacp_fast_timeout = spec.lacpFastTimeout ? 1 : 0;
  if (spec.lacpStrict !== undefined) opts.lacp_strict = spec.lacpStrict ? 1 : 0;
  for (const [k, v] of Object.entries(opts)) if (r.options[k] !== undefined && r.options[k] !== v) d.push(`${k} ${r.options[k]} -> ${v}`);
  return d;
}

/** A port carries traffic: LACP needs it distributing; failover needs one ACTIVE port overall. */
export function portReady(spec: AggregateSpec, p: RunningAggregate['ports'][number]): boolean {
  if (spec.laggproto === 'lacp') return ['ACTIVE', 'COLLECTING', 'DISTRIBUTING'].every((f) => p.flags.includes(f));
  if (spec.laggproto === 'failover' || spec.laggproto === 'none') return true;
  return p.flags.includes('ACTIVE');
}

/** sha256 over the named files (relative to the repository), first 12 hex digits. */
export function sourceHash(files: string[]): string {
  const h = createHash('sha256');
  for (const rel of [...files].sort()) {
    h.update(rel);
    h.update('\0');
    h.update(fs.readFileSync(path.join(repoRoot(), rel)));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 12);
}

/** Every regular file under a repository folder, relative paths, build outputs excluded. */
export function filesUnder(rel: string, exclude: RegExp = /(^|\/)(build|obj)(\/|$)/): string[] {
  const out: string[] = [];
  const walk = (r: string) => {
    for (const e of fs.readdirSync(path.join(repoRoot(), r), { withFileTypes: true })) {
      const p = `${r}/${e.name}`;
      if (exclude.test(p)) continue;
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  walk(rel);
  return out;
}

/** "client-ip client-port server-ip server-port" → the server's address this session came in on. */
export function sessionAddress(sshConnection: string): string | null {
  const w = sshConnection.trim().split(/\s+/);
  return w.length >= 4 ? (w[2] as string) : null;
}

/** Split a probe script's output at its "=== name" markers. */
export function sectionsOf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let cur = '';
  for (const line of text.split('\n')) {
    const m = /^=== (\S+)$/.exec(line);
    if (m) {
      cur = m[1] as string;
      out[cur] = '';
    } else if (cur) out[cur] += `${line}\n`;
  }
  return out;
}
