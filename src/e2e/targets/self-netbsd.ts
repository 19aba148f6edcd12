/**
 * The `self` target's NetBSD flavour. NetBSD has no vnet jails or network namespaces; its own
 * way to a second network stack on one machine is a rump kernel, which is how NetBSD's tests
 * of lagg(4) and agr(4) run (tests/net/if_lagg/t_lagg.sh). So:
 *
 * - side A is the machine's own kernel: laggkit.kmod (kmod/netbsd, loaded by `laggkit deploy`
 *   or modload) and the kernel's lagg(4), or agr(4) with --stock agr;
 * - side B is a rump kernel, a rump_server(1) with the network components it needs
 *   (librumpnet, _net, _netinet, _virtif, librumpdev) and rump's build of the stock driver
 *   (librumpnet_lagg, or librumpnet_agr);
 * - each data link is a tap(4) interface on the machine whose other end is a virtif in the
 *   rump kernel: rump's `ifconfig virtN create` opens /dev/tapN, the host's tapN, and shovels
 *   frames between the two. The management link (`mgmt`) is one more such pair, with
 *   192.0.2.1/24 on the machine and 192.0.2.2/24 in the rump kernel.
 *
 *   machine (A): tap20 <==/dev/tap20==> virt20 :rump_server (B)    ... tap23, and mgmt tap24
 *
 * A link's two ends have different names (tapN here, virtN there; NetBSD cannot rename an
 * interface), while a data link has one name on both sides: side B's scripts see `tapN` too.
 * Its PATH starts with a folder of small wrappers: ifconfig (rump.ifconfig), netstat and
 * dmesg (under librumphijack, as NetBSD's own tests run them), arp, ping and sysctl (their
 * rump.* builds) take tapN for virtN and print virtN as tapN; seqstream runs under
 * librumphijack(3) (RUMP_SERVER, RUMPHIJACK=path=/rump,socket=all:nolocal,sysctl=yes, as
 * tests/net/net_common.sh sets it), so the machine's own binary opens its sockets in the rump
 * kernel while its files and its clock stay the machine's. A copy of it named seqstream-b is
 * what runs there, so `pgrep -x seqstream` on side A finds side A's streams only (both sides'
 * processes are the machine's). modstat, modload and modunload are refused on side B: they
 * would act on the machine's kernel.
 *
 * What side B runs, and what that means for the comparison: a rump kernel cannot load
 * laggkit.kmod, so side B always runs the stock driver, rump's build of it (the same
 * sys/net/lagg or sys/net/agr sources as the machine's kernel). The laggkit run is laggkit on
 * A against that stock driver on B, the stock run the stock driver on both; both runs have the
 * same partner, so they are compared on what side A's driver does. A case the stock driver
 * cannot run (lagg(4) has no roundrobin or broadcast) is skipped for laggkit too, and a case
 * that wants laggkit on B (`peer: other` on the stock run) is skipped with that reason.
 *
 * What this flavour cannot do is said, not faked:
 * - cable pulls: a tap(4) keeps its link state (its driver sets IFEF_NO_LINK_STATE_CHANGE and
 *   tap(4) documents no way to change it) and rump's virtif has none at all, so no end of a
 *   link can lose carrier while staying administratively up;
 * - frame drops on a link: the tap's frames go straight to the rump kernel's file descriptor,
 *   with no wire in the middle to drop them on;
 * - unloading a module (the unload-in-use scenario): side A is the machine's own kernel, which
 *   the run shares with everything else on it; a module is not unloaded there while in use.
 *   The refusal is checked on lab guests and `--target host` machines (and vm/ci/bsd-e2e.sh
 *   checks laggkit.kmod's own on its laggkit0);
 * - side B's kernel-log events: the rump kernel stamps its log with its own clock, whose base
 *   against the machine's uptime is not known here, so B's driver events are kept as text in
 *   the captures and not placed on the timeline.
 *
 * Side A's addresses are the machine's: the data links' 10.99.N.1/24, the aggregate's
 * 10.77.0.1 and mgmt's 192.0.2.1/24 sit on the run's own taps and aggregate (routes to those
 * subnets while it runs), and nothing else of the machine's network is touched. The taps are
 * tap20..tap24: up() refuses to start when one exists (another run, or the machine's own), and
 * makes /dev/tapN where the machine has no such node (removed again by down()).
 */
import { shQuote } from '../../ssh/index.js';
import type { Driver, DriverName } from '../drivers.js';
import { installNetbsdSeqstream, probeNetbsd } from './netbsd-tools.js';
import type { SelfFlavour, SelfPlan } from './self.js';
import { placeBsdSeqstream } from './tools.js';
import type { Side } from './types.js';

/** tap and virt unit numbers: data links 20..23, the management link 24. */
const UNIT_BASE = 20;
export const NETBSD_SELF_LINKS = 4;
const unit = (i: number): number => UNIT_BASE + i;
const MGMT_UNIT = unit(NETBSD_SELF_LINKS);
const UNITS = Array.from({ length: NETBSD_SELF_LINKS + 1 }, (_, i) => unit(i));

/** The hijack setting of NetBSD's own network tests (tests/net/net_common.sh's HIJACKING). */
export const RUMPHIJACK = 'path=/rump,socket=all:nolocal,sysctl=yes';
const HIJACK = `env LD_PRELOAD=/usr/lib/librumphijack.so RUMPHIJACK=${RUMPHIJACK}`;

/** The rump kernel's components (NetBSD's tests start theirs with the same, shmif aside). */
export const RUMP_LIBS = ['rumpnet', 'rumpnet_net', 'rumpnet_netinet', 'rumpnet_virtif', 'rumpdev'];

const sideTmp = (p: SelfPlan, side: Side): string => `${p.stateDir}/${side}`;
const binB = (p: SelfPlan): string => `${p.stateDir}/bin-B`;
const socket = (p: SelfPlan): string => `unix://${p.stateDir}/rump.sock`;

/** The stock driver's clonable interface, its rump component and the machine's module. */
function stockParts(p: SelfPlan): { cloner: string; lib: string; kmod: string } {
  const cloner = p.stock === 'agr' ? 'agr' : 'lagg';
  return { cloner, lib: `rumpnet_${cloner}`, kmod: `if_${cloner}` };
}

/** An extended regular expression matching one of the run's units after `prefix`, alone. */
const unitRe = (prefix: string): string => `${prefix}(${UNITS.join('|')})([^0-9]|$)`;

/**
 * Side B's wrappers, by name: shell scripts that run the rump kernel's tool for the machine's,
 * taking tapN for virtN and printing virtN as tapN. `real` is the command that does the work.
 */
export function sideBWrappers(p: SelfPlan): Record<string, string> {
  const mapIn = `for a in "$@"; do shift; case $a in ${UNITS.map((u) => `tap${u}`).join('|')}) a=virt\${a#tap} ;; esac; set -- "$@" "$a"; done`;
  const mapped = (real: string): string =>
    [
      '#!/bin/sh',
      mapIn,
      'o=$(mktemp "${TMPDIR:-/tmp}/lk-out.XXXXXX") || exit 1',
      `${real} "$@" >"$o"`,
      's=$?',
      `sed -E 's/${unitRe('virt')}/tap\\1\\2/g' "$o"`,
      'rm -f "$o"',
      'exit $s',
      '',
    ].join('\n');
  const refused = (tool: string): string =>
    ['#!/bin/sh', `echo "${tool}: side B is a rump kernel, which has no modules; ${tool} would act on the machine's kernel" >&2`, 'exit 1', ''].join('\n');
  return {
    ifconfig: mapped('rump.ifconfig'),
    netstat: mapped(`${HIJACK} rump.netstat`),
    dmesg: mapped(`${HIJACK} dmesg`),
    arp: mapped('rump.arp'),
    ping: ['#!/bin/sh', 'exec rump.ping "$@"', ''].join('\n'),
    sysctl: ['#!/bin/sh', 'exec rump.sysctl "$@"', ''].join('\n'),
    seqstream: ['#!/bin/sh', `exec ${HIJACK} ${shQuote(`${binB(p)}/seqstream-b`)} "$@"`, ''].join('\n'),
    pgrep: ['#!/bin/sh', 'for a in "$@"; do shift; [ "$a" = seqstream ] && a=seqstream-b; set -- "$@" "$a"; done', 'exec /usr/bin/pgrep "$@"', ''].join('\n'),
    modstat: refused('modstat'),
    modload: refused('modload'),
    modunload: refused('modunload'),
  };
}

/** A stock driver as side B runs it: rump's build, there from rump_server's start, nothing to load or unload. */
function inRump(d: Driver): Driver {
  const cloner = d.ifname.replace(/\d+$/, '');
  const present = `ifconfig -C | tr ' ' '\\n' | grep -qx ${cloner}`;
  return {
    ...d,
    label: `${d.label} (rump kernel, side B)`,
    prepare: () => `${present} || { echo 'the rump kernel has no ${cloner}(4): rump_server runs without librumpnet_${cloner}' >&2; exit 1; }`,
    alive: () => present,
    unload: () => ({ unsupported: `side B's ${cloner}(4) is linked into rump_server (librumpnet_${cloner}): there is no module to unload` }),
    // The rump kernel stamps its log with its own clock (see the header): kept as text only.
    events: () => [],
  };
}

/** The machine's kernel is side A: no module is unloaded there while in use. */
const ON_HOST_UNLOAD =
  "side A of the self target on NetBSD is the machine's own kernel, shared with everything else on it: a module is not unloaded there while in use (lab guests and --target host check the refusal)";

export const netbsdFlavour: SelfFlavour = {
  os: 'NetBSD',
  guest: 'netbsd',
  how: "side A the machine's kernel, side B a rump kernel (rump_server), tap(4)-virtif links",
  linkKind: 'tap-virtif',
  nic: (i) => `tap${unit(i)}`,
  mgmt: `tap${MGMT_UNIT}`,
  stockName: 'the stock driver (lagg(4), or agr(4) with --stock agr)',
  setupHint:
    "Run it as root on NetBSD 10 with laggkit.kmod loaded (laggkit deploy, or modload), tap(4) in the kernel (GENERIC has it), and the base set's rump_server, rump.* tools and rump libraries (/usr/lib/librumpnet_*.so, librumphijack.so).",
  lacksCable:
    "a tap(4) keeps its link state (its driver sets IFEF_NO_LINK_STATE_CHANGE) and the rump kernel's virtif has none, so the self target on NetBSD cannot pull a cable (the lab and a host with a switch can)",
  lacksImpair:
    "the self target on NetBSD has no wire between a link's two ends to drop frames on: the machine's tap(4) is read and written by the rump kernel directly",
  drivers: (d) => {
    const onHost = (x: Driver): Driver => ({ ...x, unload: () => ({ unsupported: ON_HOST_UNLOAD }) });
    return { laggkit: onHost(d.laggkit), stock: onHost(d.stock) } satisfies Record<DriverName, Driver>;
  },
  sideB: (d) => ({
    driver: inRump(d.stock),
    why: "side B of the self target on NetBSD is a rump kernel, which cannot load laggkit.kmod: laggkit runs on side A only, against the stock driver's rump build on B",
  }),
  up: (p) => {
    const S = shQuote(p.stateDir);
    const B = shQuote(binB(p));
    const { cloner, lib, kmod } = stockParts(p);
    const rumpEnv = `RUMP_SERVER=${shQuote(socket(p))}`;
    const wrappers = sideBWrappers(p);
    return [
      ...(p.binDir ? [`PATH=${shQuote(p.binDir)}:$PATH; export PATH`] : []),
      'set -e',
      'for t in rump_server rump.ifconfig rump.ping rump.arp rump.netstat rump.sysctl rump.halt mknod stat; do command -v $t >/dev/null || { echo "the $t command is missing (NetBSD\'s base set has it)" >&2; exit 127; }; done',
      `for l in rumphijack ${RUMP_LIBS.join(' ')}; do [ -f /usr/lib/lib$l.so ] || { echo "/usr/lib/lib$l.so is missing (NetBSD's base set has it)" >&2; exit 127; }; done`,
      "modstat laggkit 2>/dev/null | grep -q '^laggkit ' || { echo 'laggkit.kmod is not loaded: load it first (laggkit deploy, or modload laggkit)' >&2; exit 3; }",
      `for u in ${UNITS.join(' ')}; do if ifconfig tap$u >/dev/null 2>&1; then echo "tap$u exists already (another self run, or the machine's own): the self target on NetBSD uses tap${UNITS[0]}..tap${MGMT_UNIT}" >&2; exit 1; fi; done`,
      `mkdir -p ${shQuote(sideTmp(p, 'A'))} ${shQuote(sideTmp(p, 'B'))} ${B}`,
      // Side B's seqstream: the same binary under another name (see the header).
      `seq=$(command -v seqstream) || { echo 'seqstream is not on the PATH' >&2; exit 1; }`,
      `cp "$seq" ${B}/seqstream-b`,
      ...Object.entries(wrappers).flatMap(([name, text]) => [
        `cat >${B}/${name} <<'LK_WRAPPER'`,
        text.replace(/\n$/, ''),
        'LK_WRAPPER',
        `chmod 755 ${B}/${name}`,
      ]),
      // Side A's ends: taps of a known speed and full duplex (LACP takes no other port).
      'tapmajor=$(stat -f %Hr /dev/tap)',
      ...UNITS.map((u) =>
        [
          `[ -c /dev/tap${u} ] || { mknod /dev/tap${u} c $tapmajor ${u}; echo /dev/tap${u} >>${S}/devnodes; }`,
          `ifconfig tap${u} create`,
          `echo tap${u} >>${S}/taps`,
          `ifconfig tap${u} media 1000baseT mediaopt full-duplex`,
          `ifconfig tap${u} up`,
        ].join('\n'),
      ),
      // Side B: the rump kernel, with the stock driver's component where the machine has it.
      'stocklib=',
      `[ ! -f /usr/lib/lib${lib}.so ] || stocklib=-l${lib}`,
      `touch ${S}/rump`,
      `rump_server ${RUMP_LIBS.map((l) => `-l${l}`).join(' ')} $stocklib ${shQuote(socket(p))}`,
      // Each virtN opens /dev/tapN: the machine's tapN is the other end.
      ...UNITS.map((u) => `env ${rumpEnv} rump.ifconfig virt${u} create\nenv ${rumpEnv} rump.ifconfig virt${u} up`),
      `ifconfig tap${MGMT_UNIT} inet 192.0.2.1/24`,
      `env ${rumpEnv} rump.ifconfig virt${MGMT_UNIT} inet 192.0.2.2/24`,
      // The stock driver must be there on both sides: the machine's (loaded here when it is a
      // module; down() unloads it again) and the rump kernel's.
      'set +e',
      'why=',
      `[ -n "$stocklib" ] || why="the rump kernel has no ${cloner}(4): /usr/lib/lib${lib}.so is missing"`,
      `[ -n "$why" ] || env ${rumpEnv} rump.ifconfig -C | tr ' ' '\\n' | grep -qx ${cloner} || why="rump_server did not attach ${cloner}(4) from lib${lib}"`,
      `if [ -z "$why" ] && ! ifconfig -C | tr ' ' '\\n' | grep -qx ${cloner}; then if m=$(modload ${kmod} 2>&1); then echo ${kmod} >${S}/modloaded; else why="modload ${kmod}: \${m:-failed}"; fi; fi`,
      'if [ -z "$why" ]; then echo stock=yes; else echo "stock=no $why"; fi',
    ].join('\n');
  },
  side: (p, side, script) => {
    const path = [...(side === 'B' ? [binB(p)] : []), ...(p.binDir ? [p.binDir] : [])].map(shQuote).join(':');
    const env = [`TMPDIR=${shQuote(sideTmp(p, side))}`, ...(side === 'B' ? [`RUMP_SERVER=${shQuote(socket(p))}`] : [])].join(' ');
    return `exec env ${env} sh -c ${shQuote(`${path ? `PATH=${path}:$PATH; export PATH; ` : ''}cd /\n${script}`)}`;
  },
  // Side A's aggregates are the machine's: only one holding a tap this run made is this run's.
  down: (p) => {
    const S = shQuote(p.stateDir);
    return [
      `if [ -s ${S}/taps ]; then`,
      `  ours="($(tr '\\n' '|' <${S}/taps | sed 's/|$//'))([^0-9]|$)"`,
      ...['laggkit0', 'lagg0', 'agr0'].map((x) =>
        [
          `  if { ifconfig ${x} 2>/dev/null; sysctl -n net.laggkit.${x}.status 2>/dev/null; } | grep -Eq "$ours"; then`,
          `    for q in $(ifconfig ${x} 2>/dev/null | awk '$1 == "agrport:" { sub(",", "", $2); print $2 }'); do ifconfig ${x} -agrport $q 2>/dev/null; done`,
          `    ifconfig ${x} destroy 2>/dev/null`,
          '  fi',
        ].join('\n'),
      ),
      'fi',
      `[ -f ${S}/rump ] && env RUMP_SERVER=${shQuote(socket(p))} rump.halt 2>/dev/null`,
      `[ -f ${S}/taps ] && for t in $(cat ${S}/taps); do ifconfig $t destroy 2>/dev/null; done`,
      `[ -f ${S}/devnodes ] && rm -f $(cat ${S}/devnodes)`,
      `[ -f ${S}/modloaded ] && modunload $(cat ${S}/modloaded) 2>/dev/null`,
      `rm -rf ${S}`,
      'true',
    ].join('\n');
  },
  placeTools: (shell, scratch, say) =>
    placeBsdSeqstream(shell, scratch, say, async (m, binDir, s) => installNetbsdSeqstream([m], await probeNetbsd(m), binDir, s)),
};
