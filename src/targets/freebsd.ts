/**
 * The FreeBSD target: if_laggkit.ko in /boot/modules, driven by the stock ifconfig(8) lagg
 * words (the module implements the SIOCSLAGG family), options the words do not cover through
 * net.link.laggkit.<unit>.*, persistence in loader.conf (or loader.conf.d, when the host uses
 * it) and rc.conf (cloned_interfaces, ifconfig_laggkitN, the ports' `up`).
 *
 * The NetBSD target (netbsd.ts) is this adapter with NetBSD's names, files and module commands.
 */
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { EnvironmentError, LaggkitError } from '../cli/errors.js';
import type { AggregateSpec } from '../deploy/spec.js';
import { parseIfconfig } from '../ifconfig/index.js';
import { repoRoot } from '../lab/paths.js';
import { quoteArgv, shQuote } from '../ssh/index.js';
import { differences, filesUnder, portReady, sectionsOf, sessionAddress } from './common.js';
import { buildError } from './linux.js';
import type { RemoteHost } from './host.js';
import type { Artifact, BuildOptions, HostFacts, IfaceState, PersistEdit, RunningAggregate, TargetAdapter } from './types.js';

const MODULE = '/boot/modules/if_laggkit.ko';
const unitOf = (name: string) => name.replace(/^laggkit/, '');

/** Interfaces from `ifconfig -a` (FreeBSD or NetBSD layout) as IfaceStates. */
export function ifaceStates(text: string, os: 'freebsd' | 'netbsd'): Record<string, IfaceState> {
  const out: Record<string, IfaceState> = {};
  for (const i of parseIfconfig(text, { os }).interfaces) {
    out[i.name] = {
      name: i.name,
      up: i.flags.names.includes('UP'),
      mtu: i.mtu ?? 0,
      mac: i.ether ?? i.hwaddr ?? '',
      inet: i.inet.map((a) => `${a.address}/${a.prefixLength ?? 32}`),
      inet6: i.inet6.filter((a) => !a.address.toLowerCase().startsWith('fe80:')).map((a) => `${a.address}/${a.prefixLength ?? 128}`),
      ...(i.lagg?.laggdev ? { memberOf: `lagg ${i.lagg.laggdev}` } : {}),
    };
  }
  return out;
}

/** `sysctl net.link.laggkit.0` → { lacp_sys_prio: 32768, ... } (integer leaves only). */
export function parseUnitSysctl(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^net\.link\.laggkit\.\d+\.([a-z_]+): (-?\d+)$/.exec(line.trim());
    if (m) out[m[1] as string] = Number(m[2]);
  }
  return out;
}

/** ifconfig words FreeBSD's own ifconfig knows; the rest are sysctls of the unit. */
const IFCONFIG_OPTION_WORDS: Record<string, (v: number) => string[]> = {
  use_flowid: (v) => [v ? 'use_flowid' : '-use_flowid'],
  flowid_shift: (v) => ['flowid_shift', String(v)],
  rr_limit: (v) => ['rr_limit', String(v)],
};

export function ifconfigWords(spec: AggregateSpec): string[] {
  const w = ['laggproto', spec.laggproto];
  if (spec.lagghash) w.push('lagghash', spec.lagghash.join(','));
  for (const p of spec.ports) w.push('laggport', p.name);
  if (spec.lacpFastTimeout !== undefined) w.push(spec.lacpFastTimeout ? 'lacp_fast_timeout' : '-lacp_fast_timeout');
  if (spec.lacpStrict !== undefined) w.push(spec.lacpStrict ? 'lacp_strict' : '-lacp_strict');
  for (const [k, v] of Object.entries(spec.opts)) {
    const f = IFCONFIG_OPTION_WORDS[k];
    if (f) w.push(...f(v));
  }
  if (spec.mtu !== undefined) w.push('mtu', String(spec.mtu));
  return w;
}

/** Every laggkitN with its ifconfig -v text and its sysctl node: "=== if-NAME", "=== sysctl-NAME". */
const AGGREGATES_SCRIPT = `for i in $(ifconfig -l); do case $i in laggkit[0-9]*) echo "=== if-$i"; ifconfig -v $i; echo "=== sysctl-$i"; sysctl net.link.laggkit.\${i#laggkit} 2>/dev/null;; esac; done; true`;

function parseAggregates(s: Record<string, string>, os: 'freebsd' | 'netbsd'): RunningAggregate[] {
  const out: RunningAggregate[] = [];
  for (const key of Object.keys(s)) {
    if (!key.startsWith('if-')) continue;
    const name = key.slice(3);
    const i = parseIfconfig(s[key] as string, { os }).interfaces.find((x) => x.name === name);
    if (!i) continue;
    out.push({
      name,
      laggproto: i.lagg?.proto ?? 'none',
      lagghash: i.lagg?.hash ?? [],
      ports: (i.lagg?.ports ?? []).map((p) => ({ name: p.name, flags: p.flags.names, ...(p.priority !== undefined ? { prio: p.priority } : {}) })),
      inet: i.inet.map((a) => `${a.address}/${a.prefixLength ?? 32}`),
      inet6: i.inet6.map((a) => `${a.address}/${a.prefixLength ?? 128}`),
      mtu: i.mtu ?? 0,
      options: parseUnitSysctl(s[`sysctl-${name}`] ?? ''),
      status: i.status ?? 'unknown',
      text: s[key] as string,
    });
  }
  return out;
}

export interface BsdNames {
  os: 'freebsd' | 'netbsd';
  stateDir: string;
  /** Where the module is installed on this host (NetBSD's depends on the running kernel). */
  modulePath(facts: Pick<HostFacts, 'osreldate' | 'uname'>): string;
  /** The same, as a shell word evaluated on the host (the probe runs before the facts exist). */
  modulePathSh: string;
  moduleName: string;
  loadCmd: string;
  unloadCmd: string;
  loadedTest: string;
  /** The module's build id and version sysctls, in that order (NetBSD's has no version). */
  idSysctls: string;
}

export function bsdTarget(n: BsdNames, extra: Partial<TargetAdapter>): TargetAdapter {
  const ownAggregates = extra.aggregates !== undefined;
  const base: TargetAdapter = {
    os: n.os,
    stateDir: n.stateDir,

    async probe(host: RemoteHost): Promise<HostFacts> {
      const r = await host.script(
        [
          'echo "=== uname"; uname -srm',
          `echo "=== osreldate"; ${n.os === 'freebsd' ? 'sysctl -n kern.osreldate' : 'sysctl -n kern.osrevision'}`,
          'echo "=== id"; id -u',
          'echo "=== ssh"; echo "$SSH_CONNECTION"',
          'echo "=== ifconfig"; ifconfig -a',
          `echo "=== module"; ${n.loadedTest} && { echo loaded; sysctl -n ${n.idSysctls} 2>/dev/null; }`,
          // The build id is a string in the module's data (LAGGKIT_BUILD_ID): source hash - osreldate.
          `echo "=== installed"; m=${n.modulePathSh}; [ -f "$m" ] && grep -aoE '[0-9a-f]{12}-[0-9]{6,9}' "$m" | head -n 1`,
          'echo "=== routes"; netstat -rn -f inet 2>/dev/null | awk \'$1 == "default" { print $2, $NF }\'; netstat -rn -f inet6 2>/dev/null | awk \'$1 == "default" { print "v6", $2, $NF }\'',
          'echo "=== bridges"; for b in $(ifconfig -l); do case $b in bridge*) ifconfig $b | sed -n "s/^[[:space:]]*member: \\([^ ]*\\).*/\\1 $b/p";; esac; done',
          `echo "=== src"; ${n.os === 'freebsd' ? "[ -f /usr/src/sys/sys/param.h ] && sed -n 's/^#define[[:space:]]*__FreeBSD_version[[:space:]]*\\([0-9]*\\).*/\\1/p' /usr/src/sys/sys/param.h" : "[ -f /usr/src/sys/sys/param.h ] && sed -n 's/^#define[[:space:]]*__NetBSD_Version__[[:space:]]*\\([0-9]*\\).*/\\1/p' /usr/src/sys/sys/param.h"}`,
          // The aggregates in the same round trip, unless the OS reads them its own way.
          ...(ownAggregates ? [] : [AGGREGATES_SCRIPT]),
          'echo "=== end"',
        ].join('\n'),
        { check: true },
      );
      const s = sectionsOf(r.stdout);
      const uname = (s.uname ?? '').trim();
      const interfaces = ifaceStates(s.ifconfig ?? '', n.os);
      for (const line of (s.bridges ?? '').split('\n')) {
        const [m, b] = line.trim().split(/\s+/);
        if (m && b && interfaces[m]) (interfaces[m] as IfaceState).memberOf = `bridge ${b}`;
      }
      const address = sessionAddress(s.ssh ?? '');
      const mgmtIface = address
        ? (Object.values(interfaces).find((i) => [...i.inet, ...i.inet6].some((a) => a.split('/')[0] === address))?.name ?? null)
        : null;
      const mod = (s.module ?? '').trim().split('\n');
      const osreldate = Number((s.osreldate ?? '').trim()) || undefined;
      const srcVersion = Number((s.src ?? '').trim()) || undefined;
      const routes: HostFacts['defaultRoutes'] = [];
      for (const line of (s.routes ?? '').split('\n')) {
        const w = line.trim().split(/\s+/);
        if (w[0] === 'v6' && w[1]) routes.push({ gateway: w[1], ...(w[2] ? { iface: w[2] } : {}), family: 6 });
        else if (w[0] && w[0] !== 'v6') routes.push({ gateway: w[0], ...(w[1] ? { iface: w[1] } : {}), family: 4 });
      }
      const installed = /^([0-9a-f]{12}-\d+)$/m.exec(s.installed ?? '')?.[1];
      const facts: HostFacts = {
        os: n.os,
        uname,
        release: uname.split(/\s+/)[1] ?? '',
        ...(osreldate ? { osreldate } : {}),
        srcTree: {
          present: srcVersion !== undefined,
          ...(srcVersion ? { version: srcVersion, matches: osreldate === undefined || srcVersion === osreldate } : {}),
          path: '/usr/src',
        },
        module: {
          loaded: mod[0] === 'loaded',
          ...(mod[1] && mod[1] !== 'unknown' ? { buildId: mod[1] } : {}),
          ...(mod[2] ? { version: mod[2] } : {}),
          installedPath: n.modulePath({ uname, ...(osreldate ? { osreldate } : {}) }),
          ...(installed ? { installedBuildId: installed } : {}),
        },
        interfaces,
        aggregates: [],
        mgmt: { iface: mgmtIface, address },
        defaultRoutes: routes,
        init: 'rc',
      };
      if ((s.id ?? '').trim() !== '0')
        throw new LaggkitError('remote', 'E_NOT_ROOT', `commands on ${host.name} do not run as root`, 'Log in as root, or pass --become sudo|doas.');
      if (facts.module.loaded) {
        facts.aggregates = ownAggregates ? await this.aggregates(host) : parseAggregates(s, n.os);
        for (const a of facts.aggregates) for (const p of a.ports) if (interfaces[p.name]) (interfaces[p.name] as IfaceState).memberOf = `laggkit ${a.name}`;
      }
      return facts;
    },

    sourceFiles: () => [
      ...filesUnder('kmod/core').filter((f) => /\.(c|h|mk)$/.test(f)),
      ...filesUnder(`kmod/${n.os}`).filter((f) => /\.(c|h)$|Makefile$/.test(f)),
    ],

    async build(host, facts, opts: BuildOptions): Promise<Artifact[]> {
      const dir = path.join(repoRoot(), 'kmod', n.os);
      if (!fs.existsSync(dir))
        throw new EnvironmentError('E_NO_MODULE_SOURCE', `kmod/${n.os} does not exist in this laggkit yet`, 'Deploy to FreeBSD or Linux hosts for now.');
      if (opts.mode === 'local') {
        const script = path.join(dir, 'cross-build.sh');
        const args = [
          '--sysroot',
          opts.sysroot ?? '',
          ...(opts.kernbuild ? ['--kernbuild', opts.kernbuild] : []),
          '--out',
          opts.workDir,
          '--build-id',
          opts.buildId,
        ];
        opts.progress(`${path.relative(repoRoot(), script)} ${args.join(' ')}`);
        const r = await execa('bash', [script, ...args], { reject: false, all: true });
        if (r.exitCode !== 0) throw buildError(r.all ?? '', 'local');
        return [{ path: n.modulePath(facts), mode: 0o555, localPath: path.join(opts.workDir, path.basename(n.modulePath(facts))) }];
      }
      const rdir = `/tmp/laggkit-build-${opts.buildId}`;
      opts.progress(`upload kmod/ to ${host.name}:${rdir} and make there against /usr/src`);
      await host.run(['rm', '-rf', rdir], { check: true });
      await host.run(['mkdir', '-p', rdir], { check: true });
      await host.uploadTree(path.join(repoRoot(), 'kmod'), `${rdir}/kmod`);
      const r = await host.run(['make', '-C', `${rdir}/kmod/${n.os}`, `MAKEOBJDIR=${rdir}/kmod/${n.os}`, `LAGGKIT_BUILD_ID=${opts.buildId}`], {
        timeoutMs: 900_000,
      });
      if (r.code !== 0) throw buildError(r.stdout + r.stderr, 'remote');
      return [{ path: n.modulePath(facts), mode: 0o555, remotePath: `${rdir}/kmod/${n.os}/${path.basename(n.modulePath(facts))}` }];
    },

    afterInstall: () => (n.os === 'freebsd' ? 'kldxref /boot/modules' : 'true'),
    afterUninstall: () => (n.os === 'freebsd' ? 'kldxref /boot/modules 2>/dev/null; true' : 'true'),

    loadScript(): string {
      return `${n.loadedTest} || ${n.loadCmd}`;
    },

    configureScript(spec: AggregateSpec): string {
      const name = spec.name;
      const lines = [quoteArgv(['ifconfig', name, 'create']), quoteArgv(['ifconfig', name, ...ifconfigWords(spec)])];
      for (const [k, v] of Object.entries(spec.opts))
        if (!IFCONFIG_OPTION_WORDS[k]) lines.push(quoteArgv(['sysctl', `net.link.laggkit.${unitOf(name)}.${k}=${v}`]));
      for (const p of spec.ports) if (p.pri !== undefined) lines.push(quoteArgv(['sysctl', `net.link.laggkit.${unitOf(name)}.port_prio=${p.name}:${p.pri}`]));
      // An address family word only right after the name (ifconfig's grammar).
      spec.inet.forEach((a, i) => lines.push(quoteArgv(['ifconfig', name, 'inet', a, ...(i ? ['alias'] : [])])));
      for (const a of spec.inet6) lines.push(quoteArgv(['ifconfig', name, 'inet6', a, 'alias']));
      for (const p of spec.ports) lines.push(quoteArgv(['ifconfig', p.name, 'up']));
      lines.push(quoteArgv(['ifconfig', name, 'up']));
      return lines.join('\n');
    },

    destroyScript: (name) => `ifconfig ${shQuote(name)} destroy 2>/dev/null || true`,

    restoreIfaceScript(saved: IfaceState): string {
      const dev = shQuote(saved.name);
      const lines = [`ifconfig ${dev} mtu ${saved.mtu} 2>/dev/null`];
      if (saved.mac) lines.push(`ifconfig ${dev} ${n.os === 'freebsd' ? 'ether' : 'link'} ${shQuote(saved.mac)} 2>/dev/null`);
      for (const a of saved.inet) lines.push(`ifconfig ${dev} | grep -q ${shQuote(`inet ${a.split('/')[0]} `)} || ifconfig ${dev} inet ${shQuote(a)} alias`);
      for (const a of saved.inet6) lines.push(`ifconfig ${dev} | grep -q ${shQuote(`inet6 ${a.split('/')[0]} `)} || ifconfig ${dev} inet6 ${shQuote(a)} alias`);
      lines.push(`ifconfig ${dev} ${saved.up ? 'up' : 'down'}`);
      return lines.join('\n');
    },

    restoreRoutesScript(routes): string {
      return routes
        .map(
          (r) =>
            `netstat -rn -f ${r.family === 6 ? 'inet6' : 'inet'} | awk '$1 == "default"' | grep -q . || route add ${r.family === 6 ? '-inet6 ' : ''}default ${shQuote(r.gateway)}`,
        )
        .join('\n');
    },

    unloadScript: () => `${n.unloadCmd} 2>/dev/null || true`,

    async aggregates(host): Promise<RunningAggregate[]> {
      return parseAggregates(sectionsOf((await host.script(AGGREGATES_SCRIPT)).stdout), n.os);
    },

    async persistEdits(spec, facts, host): Promise<PersistEdit[]> {
      // Follow what the host already uses: loader.conf.d when it holds drop-ins, else loader.conf.
      const dropins = (await host.script('ls /boot/loader.conf.d/*.conf 2>/dev/null | grep -v "/laggkit.conf$"; true')).stdout.trim();
      const loader: PersistEdit = { kind: 'loader', key: 'if_laggkit_load', value: 'YES', ...(dropins ? { file: '/boot/loader.conf.d/laggkit.conf' } : {}) };
      const words = [...ifconfigWords(spec)];
      // A bare address after the lagg words is fine in rc.conf; "inet" there is not.
      if (spec.inet[0]) words.push(spec.inet[0]);
      const edits: PersistEdit[] = [
        loader,
        { kind: 'rc', key: 'cloned_interfaces', value: spec.name, list: 'add' },
        { kind: 'rc', key: `ifconfig_${spec.name}`, value: `${words.join(' ')} up` },
      ];
      spec.inet.slice(1).forEach((a, i) => edits.push({ kind: 'rc', key: `ifconfig_${spec.name}_alias${i}`, value: `inet ${a}` }));
      if (spec.inet6.length) edits.push({ kind: 'rc', key: `ifconfig_${spec.name}_ipv6`, value: `inet6 ${spec.inet6[0]}` });
      spec.inet6.slice(1).forEach((a, i) => edits.push({ kind: 'rc', key: `ifconfig_${spec.name}_alias${spec.inet.length - 1 + i}`, value: `inet6 ${a}` }));
      for (const p of spec.ports)
        edits.push({ kind: 'rc', key: `ifconfig_${p.name}`, value: facts.interfaces[p.name]?.mtu && spec.mtu ? `mtu ${spec.mtu} up` : 'up' });
      // Options ifconfig has no word for persist as the module's loader tunables for a new
      // interface's defaults (net.link.laggkit.default_*), which laggkitN starts with at boot.
      for (const [k, v] of Object.entries(spec.opts)) {
        if (!IFCONFIG_OPTION_WORDS[k])
          edits.push({ kind: 'loader', key: `net.link.laggkit.default_${k}`, value: String(v), ...(loader.file ? { file: loader.file } : {}) });
      }
      return edits;
    },

    differences,
    portReady,
  };
  return { ...base, ...extra };
}

export const freebsdTarget: TargetAdapter = bsdTarget(
  {
    os: 'freebsd',
    stateDir: '/var/db/laggkit',
    modulePath: () => MODULE,
    modulePathSh: MODULE,
    moduleName: 'if_laggkit',
    loadCmd: `kldload ${MODULE}`,
    unloadCmd: 'kldunload if_laggkit',
    loadedTest: 'kldstat -q -m if_laggkit',
    idSysctls: 'net.link.laggkit.build_id net.link.laggkit.version',
  },
  {},
);
