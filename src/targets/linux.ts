/**
 * The Linux target: laggd + laggctl (kmod/posix) stand where FreeBSD has if_laggkit.ko and
 * ifconfig. "Loading the module" is starting laggd through whatever init the host runs
 * (systemd, OpenRC, or a plain rc script for minimal systems such as the lab's guests); the lagg
 * words are laggctl's, which are ifconfig's; persistence is one laggctl line per aggregate in
 * /etc/laggd.conf (edited by the lossless word-line editor) and the service enabled at boot.
 */
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { LaggkitError, UsageError } from '../cli/errors.js';
import type { AggregateSpec } from '../deploy/spec.js';
import { cacheRoot, repoRoot } from '../lab/paths.js';
import { shQuote, quoteArgv } from '../ssh/index.js';
import { differences, filesUnder, portReady, sectionsOf, sessionAddress } from './common.js';
import type { RemoteHost } from './host.js';
import type { Artifact, BuildOptions, HostFacts, IfaceState, PersistEdit, RunningAggregate, TargetAdapter } from './types.js';

const SBIN = '/usr/local/sbin';
const LAGGD = `${SBIN}/laggd`;
const LAGGCTL = `${SBIN}/laggctl`;
const CONF = '/etc/laggd.conf';
const SOCKET = '/run/laggd.sock';

/** Parse `ip addr` (iproute2 and busybox print the same layout). */
export function parseIpAddr(text: string): Record<string, IfaceState> {
  const out: Record<string, IfaceState> = {};
  let cur: IfaceState | undefined;
  for (const line of text.split('\n')) {
    const h = /^\d+:\s+([^:@\s]+)(?:@\S+)?:\s+<([^>]*)>(.*)$/.exec(line);
    if (h) {
      const flags = (h[2] as string).split(',');
      const rest = h[3] as string;
      cur = { name: h[1] as string, up: flags.includes('UP'), mtu: Number(/\bmtu (\d+)/.exec(rest)?.[1] ?? 0), mac: '', inet: [], inet6: [] };
      const master = /\bmaster (\S+)/.exec(rest)?.[1];
      if (master) cur.memberOf = `master ${master}`;
      out[cur.name] = cur;
      continue;
    }
    if (!cur) continue;
    const l = line.trim();
    let m: RegExpExecArray | null;
    if ((m = /^link\/\S+ ([0-9a-f:]{17})/.exec(l))) cur.mac = m[1] as string;
    else if ((m = /^inet (\d+\.\d+\.\d+\.\d+\/\d+)/.exec(l))) cur.inet.push(m[1] as string);
    // Link-local and autoconfigured (dynamic) addresses are the kernel's: never saved or restored.
    else if ((m = /^inet6 ([0-9a-f:]+\/\d+) scope (\w+)/.exec(l)) && m[2] !== 'link' && !/\bdynamic\b/.test(l)) cur.inet6.push(m[1] as string);
  }
  return out;
}

/** `ip route show default`: "default via 10.0.2.2 dev mgmt0 ..." (v6 lines prefixed "v6 " by the probe). */
function parseRoutes(text: string): HostFacts['defaultRoutes'] {
  const out: HostFacts['defaultRoutes'] = [];
  for (const line of text.split('\n')) {
    const m = /^(v6 )?default via (\S+)(?: dev (\S+))?/.exec(line.trim());
    if (m) out.push({ gateway: m[2] as string, ...(m[3] ? { iface: m[3] } : {}), family: m[1] ? 6 : 4 });
  }
  return out;
}

/** The laggctl words for an option (laggd speaks ifconfig's vocabulary plus laggkit's own). */
function optionWords(key: string, v: number, all: Record<string, number>): string[] {
  const flag = (word: string) => [v ? word : `-${word}`];
  switch (key) {
    case 'use_flowid':
    case 'lacp_passive':
    case 'failover_preempt':
    case 'lacp_fast_timeout':
    case 'lacp_strict':
    case 'lacp_full_wait':
      return flag(key);
    case 'flowid_shift':
    case 'rr_limit':
    case 'lacp_sys_prio':
    case 'lacp_key':
      return [key, String(v)];
    case 'failover_rx_all':
      return ['laggfailover', v ? 'rx-all' : '-rx-all'];
    case 'lacp_maxports':
      return v ? ['lagglacp', 'maxports', String(v)] : ['lagglacp', '-maxports'];
    case 'lacp_multi_speed':
      return ['lagglacp', v ? 'multi-speed' : '-multi-speed'];
    case 'announce_count':
      if (all.announce_interval_ms === undefined)
        throw new UsageError(
          'E_SPEC',
          'laggd sets announcements as a pair: give announce_interval_ms with announce_count',
          'Example: --opt announce_count=3 --opt announce_interval_ms=200',
        );
      return ['announce', String(v), String(all.announce_interval_ms)];
    case 'announce_interval_ms':
      if (all.announce_count === undefined)
        throw new UsageError(
          'E_SPEC',
          'laggd sets announcements as a pair: give announce_count with announce_interval_ms',
          'Example: --opt announce_count=3 --opt announce_interval_ms=200',
        );
      return [];
    default:
      throw new UsageError('E_SPEC', `laggd has no word for option ${key}`, 'Leave it out on Linux targets.');
  }
}

/** The laggctl words that build an aggregate, as one line (also the persisted line). */
export function laggctlWords(spec: AggregateSpec): string[] {
  const w = ['create', 'laggproto', spec.laggproto];
  for (const p of spec.ports) w.push('laggport', p.name, ...(p.pri !== undefined ? ['pri', String(p.pri)] : []));
  if (spec.lagghash) w.push('lagghash', spec.lagghash.join(','));
  if (spec.lacpFastTimeout !== undefined) w.push(...optionWords('lacp_fast_timeout', spec.lacpFastTimeout ? 1 : 0, {}));
  if (spec.lacpStrict !== undefined) w.push(...optionWords('lacp_strict', spec.lacpStrict ? 1 : 0, {}));
  for (const [k, v] of Object.entries(spec.opts)) w.push(...optionWords(k, v, spec.opts));
  if (spec.mtu !== undefined) w.push('mtu', String(spec.mtu));
  for (const a of spec.inet) w.push('inet', a);
  for (const a of spec.inet6) w.push('inet6', a);
  w.push('up');
  return w;
}

function serviceFile(init: string): { path: string; content: string; mode: number } {
  if (init === 'systemd') {
    return { path: '/etc/systemd/system/laggd.service', content: readRepo('kmod/posix/laggd.service'), mode: 0o644 };
  }
  if (init === 'openrc') {
    return {
      path: '/etc/init.d/laggd',
      mode: 0o755,
      content: `#!/sbin/openrc-run
# laggd, the laggkit link aggregation daemon (installed by laggkit deploy).
description="laggkit link aggregation daemon"
command=${LAGGD}
command_args="-f -c ${CONF} -s ${SOCKET}"
command_background=true
pidfile=/run/laggd.pid
extra_started_commands="reload"
depend() { before net; }
reload() { ebegin "Re-applying ${CONF}"; start-stop-daemon --signal HUP --pidfile "$pidfile"; eend $?; }
`,
    };
  }
  return {
    path: init === 'sysv' ? '/etc/init.d/laggd' : '/etc/rc.d/laggd',
    mode: 0o755,
    content: `#!/bin/sh
# laggd, the laggkit link aggregation daemon (installed by laggkit deploy).
# start|stop|restart|reload|status; stop gives every member its MAC, MTU and up/down back.
PATH=/sbin:/bin:/usr/sbin:/usr/bin:${SBIN}
# By executable, not by name: this script is called laggd too.
pids() { for p in /proc/[0-9]*; do [ "$(readlink "$p/exe" 2>/dev/null)" = ${LAGGD} ] && echo "\${p#/proc/}"; done; }
case "$1" in
start)
  [ -n "$(pids)" ] && exit 0
  if [ -f ${CONF} ]; then exec ${LAGGD} -c ${CONF} -s ${SOCKET}; else exec ${LAGGD} -s ${SOCKET}; fi ;;
stop)
  p=$(pids); [ -n "$p" ] || exit 0
  kill $p
  n=0; while [ -n "$(pids)" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done ;;
restart) "$0" stop; "$0" start ;;
reload) p=$(pids); [ -n "$p" ] && kill -HUP $p ;;
status) [ -n "$(pids)" ] && echo "laggd is running" || { echo "laggd is not running"; exit 1; } ;;
*) echo "usage: $0 start|stop|restart|reload|status" >&2; exit 2 ;;
esac
`,
  };
}

function readRepo(rel: string): string {
  return fs.readFileSync(path.join(repoRoot(), rel), 'utf8');
}

function serviceCommand(init: string, verb: 'start' | 'stop'): string {
  if (init === 'systemd') return `systemctl ${verb} laggd`;
  if (init === 'openrc') return `rc-service laggd ${verb}`;
  return `${serviceFile(init).path} ${verb}`;
}

export const linuxTarget: TargetAdapter = {
  os: 'linux',
  stateDir: '/var/lib/laggkit',

  async probe(host: RemoteHost): Promise<HostFacts> {
    const r = await host.script(
      [
        'echo "=== uname"; uname -srm',
        'echo "=== id"; id -u',
        'echo "=== ssh"; echo "$SSH_CONNECTION"',
        'echo "=== ipaddr"; ip addr',
        'echo "=== routes"; ip route show default 2>/dev/null; ip -6 route show default 2>/dev/null | sed "s/^/v6 /"',
        `echo "=== installed"; [ -x ${LAGGD} ] && ${LAGGD} -V 2>/dev/null`,
        'echo "=== running"; pid=$(pidof laggd 2>/dev/null) && { exe=$(readlink /proc/${pid%% *}/exe); echo "$exe"; "$exe" -V 2>/dev/null; }',
        'echo "=== init"; if [ -d /run/systemd/system ]; then echo systemd; elif command -v openrc-run >/dev/null 2>&1; then echo openrc; elif [ -d /etc/init.d ]; then echo sysv; else echo plain; fi',
        'echo "=== toolchain"; command -v cc >/dev/null 2>&1 && command -v make >/dev/null 2>&1 && echo yes',
        // The aggregates too, in the same round trip (nothing when laggd is not running).
        AGGREGATES_SCRIPT,
        'echo "=== end"',
      ].join('\n'),
      { check: true },
    );
    const s = sectionsOf(r.stdout);
    const uname = (s.uname ?? '').trim();
    if (!uname.startsWith('Linux'))
      throw new LaggkitError('remote', 'E_TARGET_OS', `${host.name} is not Linux (${uname})`, 'Pick the adapter by the host OS (laggkit does this itself).');
    const interfaces = parseIpAddr(s.ipaddr ?? '');
    const address = sessionAddress(s.ssh ?? '');
    const mgmtIface = address
      ? (Object.values(interfaces).find((i) => i.inet.some((a) => a.split('/')[0] === address) || i.inet6.some((a) => a.split('/')[0] === address))?.name ??
        null)
      : null;
    const installed = /build (\S+)/.exec(s.installed ?? '')?.[1];
    const running = (s.running ?? '').trim();
    const runningId = /build (\S+)/.exec(running)?.[1];
    const facts: HostFacts = {
      os: 'linux',
      uname,
      release: uname.split(/\s+/)[1] ?? '',
      // --build remote compiles laggd on the host: what it needs is a C compiler and make.
      srcTree: { present: (s.toolchain ?? '').trim() === 'yes', path: 'cc and make' },
      module: {
        loaded: running !== '',
        ...(runningId ? { buildId: runningId } : {}),
        ...(/^laggd (\S+)/m.exec(running)?.[1] ? { version: /^laggd (\S+)/m.exec(running)?.[1] as string } : {}),
        installedPath: LAGGD,
        ...(installed ? { installedBuildId: installed } : {}),
      },
      interfaces,
      aggregates: [],
      mgmt: { iface: mgmtIface, address },
      defaultRoutes: parseRoutes(s.routes ?? ''),
      init: (s.init ?? 'plain').trim(),
    };
    if ((s.id ?? '').trim() !== '0')
      throw new LaggkitError(
        'remote',
        'E_NOT_ROOT',
        `commands on ${host.name} do not run as root (uid ${(s.id ?? '').trim()})`,
        'Log in as root, or pass --become sudo|doas.',
      );
    if (facts.module.loaded) {
      facts.aggregates = parseAggregates(s);
      for (const a of facts.aggregates) for (const p of a.ports) if (interfaces[p.name]) (interfaces[p.name] as IfaceState).memberOf = `laggkit ${a.name}`;
    }
    return facts;
  },

  sourceFiles: () => [
    ...filesUnder('kmod/core').filter((f) => /\.(c|h|mk)$|Makefile$/.test(f)),
    ...filesUnder('kmod/posix').filter((f) => /\.(c|h)$|Makefile$/.test(f)),
  ],

  async build(host, facts, opts: BuildOptions): Promise<Artifact[]> {
    const svc = serviceFile(facts.init);
    const common: Artifact[] = [{ path: svc.path, mode: svc.mode, content: svc.content }];
    if (opts.mode === 'local') {
      // Built into the user's cache, not the package folder (which an installed CLI may not own);
      // one folder per build id, so a second deploy of the same sources builds nothing.
      const dir = path.join(cacheRoot(), 'builds', `laggd-${opts.buildId}`);
      fs.mkdirSync(path.dirname(dir), { recursive: true });
      const have = (d: string) => fs.existsSync(path.join(d, 'laggd')) && fs.existsSync(path.join(d, 'laggctl'));
      if (!have(dir)) {
        // A private folder renamed into place: several deploys may build the same id at once.
        const tmp = `${dir}.tmp-${process.pid}`;
        opts.progress(`make -C kmod/posix release BUILD_ID=${opts.buildId} (static)`);
        const r = await execa('make', ['-s', '-C', path.join(repoRoot(), 'kmod', 'posix'), 'release', `BUILD_ID=${opts.buildId}`, `RELEASE_DIR=${tmp}`], {
          reject: false,
          all: true,
        });
        if (r.exitCode !== 0) {
          fs.rmSync(tmp, { recursive: true, force: true });
          throw buildError(r.all ?? '', 'local');
        }
        try {
          fs.renameSync(tmp, dir);
        } catch {
          fs.rmSync(tmp, { recursive: true, force: true }); // another deploy got there first
        }
      }
      return [
        { path: LAGGD, mode: 0o755, localPath: path.join(dir, 'laggd') },
        { path: LAGGCTL, mode: 0o755, localPath: path.join(dir, 'laggctl') },
        ...common,
      ];
    }
    // remote: the sources go to the host and its own compiler builds them.
    const dir = `/tmp/laggkit-build-${opts.buildId}`;
    opts.progress(`upload kmod/ to ${host.name}:${dir} and make there`);
    await host.run(['mkdir', '-p', dir], { check: true });
    await host.uploadTree(path.join(repoRoot(), 'kmod'), `${dir}/kmod`);
    const r = await host.run(
      ['make', '-s', '-C', `${dir}/kmod/posix`, 'SUB=1', `BUILD=build/release-${opts.buildId}`, `EXTRA_CFLAGS=-DLAGGKIT_BUILD_ID="${opts.buildId}"`, 'all'],
      { timeoutMs: 600_000 },
    );
    if (r.code !== 0) throw buildError(r.stdout + r.stderr, 'remote');
    const out = `${dir}/kmod/posix/build/release-${opts.buildId}`;
    return [{ path: LAGGD, mode: 0o755, remotePath: `${out}/laggd` }, { path: LAGGCTL, mode: 0o755, remotePath: `${out}/laggctl` }, ...common];
  },

  afterInstall(): string {
    return 'if [ -d /run/systemd/system ]; then systemctl daemon-reload; systemctl enable laggd >/dev/null 2>&1; elif command -v rc-update >/dev/null 2>&1; then rc-update add laggd default >/dev/null; fi; true';
  },

  afterUninstall(): string {
    return '[ -d /run/systemd/system ] && systemctl daemon-reload; true';
  },

  loadScript(facts): string {
    return `${LAGGCTL} -s ${SOCKET} list >/dev/null 2>&1 || ${serviceCommand(facts.init, 'start')}\nn=0; until ${LAGGCTL} -s ${SOCKET} list >/dev/null 2>&1; do n=$((n + 1)); [ $n -gt 50 ] && { echo "laggd did not start" >&2; exit 1; }; sleep 0.1; done`;
  },

  configureScript(spec: AggregateSpec): string {
    return quoteArgv([LAGGCTL, '-s', SOCKET, spec.name, ...laggctlWords(spec)]);
  },

  destroyScript(name: string): string {
    return `${quoteArgv([LAGGCTL, '-s', SOCKET, name, 'destroy'])} 2>/dev/null || true`;
  },

  restoreIfaceScript(saved: IfaceState): string {
    const dev = shQuote(saved.name);
    const lines = [`ip link set dev ${dev} mtu ${saved.mtu} 2>/dev/null`];
    if (saved.mac) lines.push(`ip link set dev ${dev} address ${shQuote(saved.mac)} 2>/dev/null`);
    for (const a of saved.inet) lines.push(`ip addr show dev ${dev} | grep -q ${shQuote(` ${a} `)} || ip addr add ${shQuote(a)} dev ${dev}`);
    for (const a of saved.inet6) lines.push(`ip addr show dev ${dev} | grep -q ${shQuote(` ${a} `)} || ip -6 addr add ${shQuote(a)} dev ${dev}`);
    lines.push(`ip link set dev ${dev} ${saved.up ? 'up' : 'down'}`);
    return lines.join('\n');
  },

  restoreRoutesScript(routes): string {
    return routes
      .map(
        (r) =>
          `ip ${r.family === 6 ? '-6 ' : ''}route show default | grep -q . || ip ${r.family === 6 ? '-6 ' : ''}route add default via ${shQuote(r.gateway)}${r.iface ? ` dev ${shQuote(r.iface)}` : ''}`,
      )
      .join('\n');
  },

  unloadScript(): string {
    return `for p in /proc/[0-9]*; do [ "$(readlink "$p/exe" 2>/dev/null)" = ${LAGGD} ] && kill "\${p#/proc/}"; done; n=0; while ${LAGGCTL} -s ${SOCKET} list >/dev/null 2>&1 && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done; true`;
  },

  async aggregates(host): Promise<RunningAggregate[]> {
    return parseAggregates(sectionsOf((await host.script(AGGREGATES_SCRIPT)).stdout));
  },

  async persistEdits(spec): Promise<PersistEdit[]> {
    const [first, ...rest] = laggctlWords(spec);
    return [{ kind: 'laggd', key: spec.name, value: [first, ...rest].join(' ') }];
  },

  differences,
  portReady,
};

/** Every running aggregate, as laggctl reports it: a "=== json-NAME" and "=== text-NAME" section each. */
const AGGREGATES_SCRIPT = `for n in $(${LAGGCTL} -s ${SOCKET} list 2>/dev/null); do echo "=== json-$n"; ${LAGGCTL} -s ${SOCKET} --json "$n"; echo "=== text-$n"; ${LAGGCTL} -s ${SOCKET} -v "$n"; done`;

function parseAggregates(s: Record<string, string>): RunningAggregate[] {
  const out: RunningAggregate[] = [];
  for (const key of Object.keys(s)) {
    if (!key.startsWith('json-')) continue;
    const name = key.slice(5);
    let j: {
      laggproto: string;
      lagghash: string[];
      mtu: number;
      inet: string[];
      inet6: string[];
      status: string;
      options: Record<string, number | boolean>;
      ports: { name: string; flags: string[]; prio?: number }[];
    };
    try {
      j = JSON.parse(s[key] as string);
    } catch {
      continue; // vanished between list and status
    }
    out.push({
      name,
      laggproto: j.laggproto,
      lagghash: j.lagghash,
      ports: j.ports.map((p) => ({ name: p.name, flags: p.flags, ...(p.prio !== undefined ? { prio: p.prio } : {}) })),
      inet: j.inet,
      inet6: j.inet6,
      mtu: j.mtu,
      options: Object.fromEntries(Object.entries(j.options).map(([k, v]) => [k, typeof v === 'boolean' ? (v ? 1 : 0) : v])),
      status: j.status,
      text: s[`text-${name}`] ?? '',
    });
  }
  return out;
}

export function buildError(output: string, where: string): LaggkitError {
  const first = output
    .split('\n')
    .filter((l) => /error|Error|undefined reference/.test(l))
    .slice(0, 8);
  return new LaggkitError(
    'remote',
    'E_BUILD',
    `the ${where} build failed:\n${(first.length ? first : output.split('\n').slice(-8)).join('\n')}`,
    'Fix the first error shown; nothing was changed on the host.',
  );
}
