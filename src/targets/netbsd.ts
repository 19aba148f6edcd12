/**
 * The NetBSD target: laggkit.kmod loaded with modload(8), configured with NetBSD's stock
 * ifconfig lagg words (laggproto, laggport IF pri N, lagglacp, laggfailover), options those
 * words do not cover through sysctl net.laggkit.<if>.<key>, persisted in /etc/modules.conf and
 * /etc/ifconfig.laggkitN (one ifconfig argument list per line, the file's existence making
 * rc.d/network create the interface); what has no word persists as the module's load
 * properties on its /etc/modules.conf line, the defaults of every new laggkitN.
 *
 * The module is built on the host against its /usr/src/sys with the system's make
 * (bsd.kmodule.mk), or here with --build local --sysroot DIR through kmod/netbsd/cross-build.sh
 * (clang-19, NetBSD 10's kernel flags, ld.lld -r). NetBSD's ifconfig prints the lagg block
 * only for interfaces named lagg<digits>; the module gives it as sysctl
 * net.laggkit.<if>.status, which status splices into the ifconfig text for the one parser.
 * Everything else is shared with FreeBSD (freebsd.ts).
 */
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { EnvironmentError, UsageError } from '../cli/errors.js';
import type { AggregateSpec } from '../deploy/spec.js';
import { parseIfconfig } from '../ifconfig/index.js';
import { repoRoot } from '../lab/paths.js';
import { quoteArgv } from '../ssh/index.js';
import { sectionsOf } from './common.js';
import { bsdTarget } from './freebsd.js';
import { buildError } from './linux.js';
import type { Artifact, BuildOptions, HostFacts, PersistEdit, RunningAggregate, TargetAdapter } from './types.js';

/**
 * Where modload(8) looks for laggkit on the running kernel: /stand/MACHINE/X.Y/modules, X.Y the
 * major and minor of __NetBSD_Version__ (kern.osrevision) on a release kernel (10.1 for every
 * 10.1 patch level), the whole osrelease (10.99.12) on -current, as kern_module.c builds it.
 */
export function netbsdModulePath(f: Pick<HostFacts, 'osreldate' | 'uname'>): string {
  const [, release = '', machine = 'amd64'] = f.uname.trim().split(/\s+/);
  const rev = f.osreldate;
  const minor = rev === undefined ? undefined : Math.floor(rev / 1_000_000) % 100;
  const dir = rev === undefined || minor === 99 ? release : `${Math.floor(rev / 100_000_000)}.${minor}`;
  return `/stand/${machine}/${dir}/modules/laggkit/laggkit.kmod`;
}

/** netbsdModulePath as the host's shell computes it. */
export const NETBSD_MODULE_PATH_SH =
  '/stand/$(uname -m)/$(r=$(sysctl -n kern.osrevision); if [ $((r / 1000000 % 100)) -eq 99 ]; then uname -r; else echo $((r / 100000000)).$((r / 1000000 % 100)); fi)/modules/laggkit/laggkit.kmod';
const MODULE_FILE = 'laggkit.kmod';
const SYSCTL = 'net.laggkit';
/** The protocols NetBSD's ifconfig can name; the others are set through the proto sysctl. */
const IFCONFIG_PROTOCOLS = new Set(['none', 'lacp', 'failover', 'loadbalance']);
const HASH_BITS: Record<string, number> = { l2: 1, l3: 2, l4: 4 };

/**
 * /etc/ifconfig.laggkitN: NetBSD's words only (a protocol ifconfig cannot name is a module
 * default instead, see netbsdModuleArgs), one argument list per line.
 */
export function netbsdIfconfigLines(spec: AggregateSpec): PersistEdit[] {
  const file = `ifconfig.${spec.name}`;
  const edits: PersistEdit[] = IFCONFIG_PROTOCOLS.has(spec.laggproto) ? [{ kind: file, key: 'laggproto', value: spec.laggproto }] : [];
  for (const p of spec.ports) edits.push({ kind: file, key: 'laggport', value: p.pri !== undefined ? `${p.name} pri ${p.pri}` : p.name, list: 'add' });
  const words = netbsdIfconfigWords(spec);
  for (const key of ['lagglacp', 'laggfailover']) {
    for (let i = words.indexOf(key); i >= 0; i = words.indexOf(key, i + 1)) {
      const rest: string[] = [];
      for (let j = i + 1; j < words.length && !['lagglacp', 'laggfailover', 'laggport'].includes(words[j] as string); j++) rest.push(words[j] as string);
      edits.push({ kind: file, key, value: rest.join(' '), list: 'add' });
    }
  }
  if (spec.mtu !== undefined) edits.push({ kind: file, key: 'mtu', value: String(spec.mtu) });
  for (const a of spec.inet) edits.push({ kind: file, key: 'inet', value: a, list: 'add' });
  for (const a of spec.inet6) edits.push({ kind: file, key: 'inet6', value: a, list: 'add' });
  edits.push({ kind: file, key: 'up', value: '' });
  return edits;
}

/**
 * NetBSD's own ifconfig words for a spec: the protocol (when ifconfig can name it), ports with
 * their priority, and the lagglacp / laggfailover words for the options that have one.
 */
export function netbsdIfconfigWords(spec: AggregateSpec): string[] {
  const w: string[] = [];
  if (IFCONFIG_PROTOCOLS.has(spec.laggproto)) w.push('laggproto', spec.laggproto);
  for (const p of spec.ports) w.push('laggport', p.name, ...(p.pri !== undefined ? ['pri', String(p.pri)] : []));
  if (spec.laggproto === 'lacp') {
    if (spec.lacpStrict === false) w.push('lagglacp', 'optimistic');
    const maxports = spec.opts.lacp_maxports;
    if (maxports !== undefined && maxports > 0) w.push('lagglacp', 'maxports', String(maxports));
    if (spec.opts.lacp_multi_speed === 1) w.push('lagglacp', 'multi-linkspeed');
  }
  if (spec.laggproto === 'failover' && spec.opts.failover_rx_all === 1) w.push('laggfailover', 'rx-all');
  return w;
}

/**
 * /etc/modules.conf's laggkit line: what ifconfig has no word for, as modload properties
 * every new laggkitN starts with (rc.d/modules runs `modload ARGS laggkit`). Host-wide, as
 * FreeBSD's loader tunables are: deploy refuses two aggregates that want different values.
 */
export function netbsdModuleArgs(spec: AggregateSpec): string {
  const node = `${SYSCTL}.${spec.name}.`;
  return netbsdSysctlSettings(spec)
    .map((s) => s.slice(node.length))
    .map((kv) => (kv.startsWith('proto=') ? `-s ${kv}` : `-i ${kv}`))
    .join(' ');
}

/** The settings ifconfig has no word for, as sysctl net.laggkit.<if>.<key>=<value>. */
export function netbsdSysctlSettings(spec: AggregateSpec): string[] {
  const node = `${SYSCTL}.${spec.name}`;
  const out: string[] = [];
  if (!IFCONFIG_PROTOCOLS.has(spec.laggproto)) out.push(`${node}.proto=${spec.laggproto}`);
  if (spec.lagghash) out.push(`${node}.hash_layers=${spec.lagghash.reduce((m, l) => m | (HASH_BITS[l] ?? 0), 0)}`);
  if (spec.lacpFastTimeout !== undefined) out.push(`${node}.lacp_fast_timeout=${spec.lacpFastTimeout ? 1 : 0}`);
  // lacp_strict 1 is the default and "optimistic" is the word for 0: only other protocols need it
  if (spec.lacpStrict !== undefined && spec.laggproto !== 'lacp') out.push(`${node}.lacp_strict=${spec.lacpStrict ? 1 : 0}`);
  const words = netbsdIfconfigWords(spec).join(' ');
  for (const [k, v] of Object.entries(spec.opts)) {
    const said =
      (k === 'lacp_maxports' && words.includes('maxports')) ||
      (k === 'lacp_multi_speed' && words.includes('multi-linkspeed')) ||
      (k === 'failover_rx_all' && words.includes('rx-all'));
    if (!said) out.push(`${node}.${k}=${v}`);
  }
  return out;
}

export function netbsdConfigureScript(spec: AggregateSpec): string {
  const name = spec.name;
  const lines = [quoteArgv(['ifconfig', name, 'create'])];
  // the protocol first when only a sysctl can set it, so that ports join under it
  const settings = netbsdSysctlSettings(spec);
  const proto = settings.filter((s) => s.includes('.proto='));
  for (const s of proto) lines.push(quoteArgv(['sysctl', '-w', s]));
  const words = netbsdIfconfigWords(spec);
  if (words.length) lines.push(quoteArgv(['ifconfig', name, ...words]));
  for (const s of settings.filter((x) => !proto.includes(x))) lines.push(quoteArgv(['sysctl', '-w', s]));
  if (spec.mtu !== undefined) lines.push(quoteArgv(['ifconfig', name, 'mtu', String(spec.mtu)]));
  spec.inet.forEach((a, i) => lines.push(quoteArgv(['ifconfig', name, 'inet', a, ...(i ? ['alias'] : [])])));
  for (const a of spec.inet6) lines.push(quoteArgv(['ifconfig', name, 'inet6', a, 'alias']));
  for (const p of spec.ports) lines.push(quoteArgv(['ifconfig', p.name, 'up']));
  lines.push(quoteArgv(['ifconfig', name, 'up']));
  return lines.join('\n');
}

/** --build local: the command that builds laggkit.kmod here (kmod/netbsd/cross-build.sh). */
export function netbsdLocalBuildArgv(opts: Pick<BuildOptions, 'sysroot' | 'kernbuild' | 'workDir' | 'buildId'>): string[] {
  if (!opts.sysroot)
    throw new UsageError(
      'E_NO_SYSROOT',
      '--build local for NetBSD needs --sysroot DIR, a NetBSD source tree (netbsd-10) with sys/',
      'Check out NetBSD/src at netbsd-10 (sys/ is enough) and pass --sysroot, or use --build remote on a host with /usr/src.',
    );
  if (opts.kernbuild)
    throw new UsageError('E_KERNBUILD', '--kernbuild is for FreeBSD; a NetBSD module needs no kernel build directory', 'Leave --kernbuild out.');
  return ['sh', path.join(repoRoot(), 'kmod', 'netbsd', 'cross-build.sh'), '--sysroot', opts.sysroot, '--out', opts.workDir, '--build-id', opts.buildId];
}

/** --build remote: what runs on the host, in the uploaded kmod/netbsd, with the system's make. */
export function netbsdRemoteBuildArgv(dir: string, buildId: string): string[] {
  return ['make', '-C', `${dir}/kmod/netbsd`, `MAKEOBJDIR=${dir}/kmod/netbsd`, 'S=/usr/src/sys', `LAGGKIT_BUILD_ID=${buildId}`];
}

/** The lagg block from sysctl net.laggkit.<if>.status, put where ifconfig would print it. */
export function spliceLaggStatus(ifconfigText: string, status: string): string {
  const lines = ifconfigText.replace(/\n+$/, '').split('\n');
  const block = status.replace(/\n+$/, '');
  if (!block || lines.length === 0) return ifconfigText;
  // after the header and the capability lines NetBSD prints before its own lagg block
  let at = 1;
  while (at < lines.length && /^\t(ec_capabilities|ec_enabled|capabilities|enabled)=/.test(lines[at] as string)) at++;
  return [...lines.slice(0, at), block, ...lines.slice(at)].join('\n') + '\n';
}

/** `sysctl net.laggkit.laggkit0` → { rr_limit: 0, ... } (integer leaves only). */
export function parseNetbsdSysctl(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  const prefix = `${SYSCTL}.${name}.`;
  for (const line of text.split('\n')) {
    const m = /^(\S+) = (-?\d+)$/.exec(line.trim());
    if (m && (m[1] as string).startsWith(prefix)) out[(m[1] as string).slice(prefix.length)] = Number(m[2]);
  }
  return out;
}

const shared = bsdTarget(
  {
    os: 'netbsd',
    stateDir: '/var/db/laggkit',
    modulePath: netbsdModulePath,
    modulePathSh: `"${NETBSD_MODULE_PATH_SH}"`,
    moduleName: 'laggkit',
    loadCmd: 'modload laggkit',
    unloadCmd: 'modunload laggkit',
    loadedTest: 'modstat laggkit 2>/dev/null | grep -q "^laggkit"',
    idSysctls: `${SYSCTL}.build_id`,
  },
  {},
);

export const netbsdTarget: TargetAdapter = {
  ...shared,

  async build(host, facts: HostFacts, opts: BuildOptions): Promise<Artifact[]> {
    if (opts.mode === 'local') {
      const [cmd, ...args] = netbsdLocalBuildArgv(opts);
      opts.progress(`${path.relative(repoRoot(), args[0] as string)} ${args.slice(1).join(' ')}`);
      const r = await execa(cmd as string, args, { reject: false, all: true });
      if (r.exitCode !== 0) throw buildError(r.all ?? '', 'local');
      const out = path.join(opts.workDir, MODULE_FILE);
      if (!fs.existsSync(out)) throw buildError(`${out} was not written`, 'local');
      return [{ path: netbsdModulePath(facts), mode: 0o444, localPath: out }];
    }
    if (!facts.srcTree.present)
      throw new EnvironmentError(
        'E_NO_SRC',
        `${host.name} has no kernel sources in /usr/src/sys`,
        'Extract syssrc.tgz of the running release into /usr/src, or build here with --build local --sysroot DIR.',
      );
    const dir = `/tmp/laggkit-build-${opts.buildId}`;
    opts.progress(`upload kmod/ to ${host.name}:${dir} and make there against /usr/src/sys`);
    await host.run(['rm', '-rf', dir], { check: true });
    await host.run(['mkdir', '-p', dir], { check: true });
    await host.uploadTree(path.join(repoRoot(), 'kmod'), `${dir}/kmod`);
    const r = await host.run(netbsdRemoteBuildArgv(dir, opts.buildId), { timeoutMs: 900_000 });
    if (r.code !== 0) throw buildError(r.stdout + r.stderr, 'remote');
    return [{ path: netbsdModulePath(facts), mode: 0o444, remotePath: `${dir}/kmod/netbsd/${MODULE_FILE}` }];
  },

  configureScript: (spec) => netbsdConfigureScript(spec),

  async aggregates(host): Promise<RunningAggregate[]> {
    const r = await host.script(
      `for i in $(ifconfig -l); do case $i in laggkit[0-9]*) echo "=== if-$i"; ifconfig -v $i; echo "=== status-$i"; sysctl -n ${SYSCTL}.$i.status 2>/dev/null; echo "=== sysctl-$i"; sysctl ${SYSCTL}.$i 2>/dev/null;; esac; done; true`,
    );
    const s = sectionsOf(r.stdout);
    const out: RunningAggregate[] = [];
    for (const key of Object.keys(s)) {
      if (!key.startsWith('if-')) continue;
      const name = key.slice(3);
      const text = spliceLaggStatus(s[key] as string, s[`status-${name}`] ?? '');
      const i = parseIfconfig(text, { os: 'netbsd' }).interfaces.find((x) => x.name === name);
      if (!i) continue;
      const options = parseNetbsdSysctl(s[`sysctl-${name}`] ?? '', name);
      const proto = i.lagg?.proto && i.lagg.proto !== 'unknown' ? i.lagg.proto : (/proto = (\w+)/.exec(s[`sysctl-${name}`] ?? '')?.[1] ?? 'none');
      out.push({
        name,
        laggproto: proto,
        lagghash: Object.entries(HASH_BITS)
          .filter(([, b]) => ((options.hash_layers ?? 7) & b) !== 0)
          .map(([l]) => l),
        ports: (i.lagg?.ports ?? []).map((p) => ({ name: p.name, flags: p.flags.names, ...(p.priority !== undefined ? { prio: p.priority } : {}) })),
        inet: i.inet.map((a) => `${a.address}/${a.prefixLength ?? 32}`),
        inet6: i.inet6.map((a) => `${a.address}/${a.prefixLength ?? 128}`),
        mtu: i.mtu ?? 0,
        options,
        status: i.status ?? 'unknown',
        text,
      });
    }
    return out;
  },

  async persistEdits(spec): Promise<PersistEdit[]> {
    return [{ kind: 'modules', key: 'laggkit', value: netbsdModuleArgs(spec) }, ...netbsdIfconfigLines(spec)];
  },
};
