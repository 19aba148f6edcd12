/**
 * The two drivers an e2e case runs on, per guest OS, as the shell each needs:
 *
 *   Linux    laggkit  laggd + laggctl (kmod/posix), words as ifconfig(8) lagg takes them
 *            stock    Linux bonding from the guest's own kernel, through its sysfs interface
 *                     (bonding.ko is in the lab image, loaded on demand)
 *   FreeBSD  laggkit  if_laggkit.ko (kmod/freebsd), put there by `laggkit deploy`:
 *                     `ifconfig laggkit0 create laggproto P laggport vtnet1 ...`
 *            stock    base lagg(4), if_lagg.ko: `ifconfig lagg0 create laggproto P ...`
 *   NetBSD   laggkit  laggkit.kmod (kmod/netbsd), put there by `laggkit deploy`: NetBSD's lagg
 *                     words on laggkit0, its status block from sysctl net.laggkit.laggkit0.status
 *            stock    lagg(4) (if_lagg, in GENERIC), or with --stock agr agr(4) (if_agr): LACP
 *                     only, `ifconfig agr0 agrport vioif1`, nothing about it configurable
 *
 * Both answer the same questions in the same shape, so the actions never know which one runs:
 * `portStates` prints one "PORT active|standby|none" line per member, `capture` the driver's
 * own status text for the evidence. Protocols map to bonding modes as an operator would map
 * them: lacp 802.3ad, failover active-backup (the first member primary), loadbalance
 * balance-xor with the layer3+4 hash (laggd's default l2,l3,l4 covers it), roundrobin
 * balance-rr, broadcast broadcast. On FreeBSD both drivers take the same words (laggkit
 * implements lagg's ioctls), so the mapping is the identity; options lagg keeps in sysctls
 * (lacp multi-speed for laggkit) are set between create and the first laggport.
 *
 * Events: laggd stamps its event ring with the wall clock, if_laggkit.ko its ring (sysctl
 * net.link.laggkit.N.events) with seconds since boot; bonding and lagg(4) write to the kernel
 * log, read with its seconds-since-boot stamps (FreeBSD's only when kern.msgbuf_show_timestamp
 * is on, which prepare() turns on: whole seconds there, and lagg logs only link state changes).
 */
import { UsageError } from '../cli/errors.js';
import type { GuestOs } from '../lab/machines.js';
import type { Protocol, Scenario, StockKey } from './scenario.js';

/** A run's two drivers: laggkit's, and the OS's own it is compared with (--compare stock). */
export type DriverName = 'laggkit' | 'stock';

/** The stock drivers a user can name (--stock), per OS; the first is the default. */
export const STOCK_CHOICES = { linux: ['bonding'], freebsd: ['lagg'], netbsd: ['lagg', 'agr'] } as const satisfies Record<GuestOs, readonly string[]>;
export type StockChoice = (typeof STOCK_CHOICES)[GuestOs][number];
export const STOCK_NAMES: StockChoice[] = ['bonding', 'lagg', 'agr'];

export interface AggregateSetup {
  proto: Protocol;
  ports: string[];
  /** Address with prefix length, put on the aggregate. */
  addr: string;
  lacpFastTimeout: boolean;
  lacpMultiSpeed: boolean;
}

export interface Driver {
  name: DriverName;
  /** What it is, for reports. */
  label: string;
  ifname: string;
  /** The driver's own name for a protocol (bonding's mode), for reports. */
  mode(proto: Protocol): string;
  /**
   * For a stock driver: which `stock:` entry of a scenario file applies to it (its OS's, or
   * agr). Unset: the target's OS.
   */
  stockKey?: StockKey;
  /**
   * Why this driver cannot run a case at all (a protocol or option it lacks), so the run is
   * reported skipped with that reason; undefined when it can.
   */
  skipReason?(proto: Protocol, setup: Scenario['setup']): string | undefined;
  /** Start the daemon or load the module, so create() times the aggregate alone. */
  prepare(): string;
  create(s: AggregateSetup): string;
  /** Remove the aggregate if there is one; never fails. */
  destroy(): string;
  portStates(proto: Protocol, ports: string[]): string;
  /** Give the aggregate another MAC address, as ifconfig's `ether` word does. */
  setEther(mac: string): string;
  /**
   * Unload the driver while an aggregate exists: a shell snippet whose exit status is the
   * driver's answer (kldunload on a BSD, rmmod of bonding here). A driver with nothing to
   * unload says why instead, and the case is reported skipped with that reason.
   */
  unload(): { script: string } | { unsupported: string };
  /** A shell test, true while the driver is there (daemon running, module loaded). */
  alive(): string;
  /** Status text for the evidence; after a "--- events" line, the driver's event log. */
  capture(): string;
  /**
   * The driver's events in a capture, with the guest time each happened: laggd's event ring
   * has wall-clock stamps, bonding's kernel log seconds since boot (the capture prints the
   * guest's uptime so the engine can place them).
   */
  events(capture: string): Array<{ at: { wallMs: number } | { uptimeS: number }; what: string }>;
}

const BONDING_MODES: Record<Protocol, string> = {
  lacp: '802.3ad',
  failover: 'active-backup',
  loadbalance: 'balance-xor',
  roundrobin: 'balance-rr',
  broadcast: 'broadcast',
};

/**
 * Port states from a FreeBSD-style status block (ifconfig, or laggctl which prints the same):
 * LACP members carry traffic when DISTRIBUTING; the other protocols mark them ACTIVE.
 */
function laggportStates(status: string, proto: Protocol): string {
  return `${status} 2>/dev/null | awk -v want=${proto === 'lacp' ? 'DISTRIBUTING' : 'ACTIVE'} '$1 == "laggport:" { f = $3; print $2, ((index(f, "<" want) || index(f, "," want)) ? "active" : "standby") }'`;
}

/** Kernel-log lines "[SECONDS] IF: what" (bonding's, and FreeBSD's with timestamps on) for one interface. */
function kernelLogEvents(capture: string, ifname: string): ReturnType<Driver['events']> {
  const re = new RegExp(`^\\[\\s*(\\d+(?:\\.\\d+)?)\\] ${ifname}: (.*)$`);
  return (capture.split('--- events\n')[1] ?? '')
    .split('\n')
    .map((l) => re.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ at: { uptimeS: Number(m[1]) }, what: m[2]! }));
}

const laggdUp = [
  'pidof laggd >/dev/null || { laggd -f >/tmp/laggd.log 2>&1 & }',
  'i=0; while [ ! -S /run/laggd.sock ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done',
].join('\n');

export const laggkitDriver: Driver = {
  name: 'laggkit',
  label: 'laggkit (laggd)',
  ifname: 'laggkit0',
  mode: (proto) => proto,
  prepare: () => laggdUp,
  create: (s) =>
    [
      ...s.ports.map((p) => `ip addr flush dev ${p}`),
      [
        'laggctl laggkit0 create laggproto',
        s.proto,
        ...s.ports.flatMap((p) => ['laggport', p]),
        ...(s.proto === 'lacp' && s.lacpFastTimeout ? ['lacp_fast_timeout'] : []),
        ...(s.proto === 'lacp' && s.lacpMultiSpeed ? ['lagglacp', 'multi-speed'] : []),
      ].join(' '),
      'ip link set laggkit0 up',
      `ip addr add ${s.addr} dev laggkit0`,
    ].join('\n'),
  destroy: () => 'laggctl laggkit0 destroy >/dev/null 2>&1; true',
  setEther: (mac) => `laggctl laggkit0 ether ${mac}`,
  // laggd is a daemon, not a module: stopping it (SIGTERM) destroys every aggregate and hands
  // the members back by design (laggd(8)), so a service stop never leaves ports half-configured.
  unload: () => ({
    unsupported:
      'laggd has no module to unload: stopping the daemon destroys every aggregate and restores its members by design; the refusal applies to if_laggkit.ko (kldunload) on FreeBSD',
  }),
  alive: () => 'pidof laggd >/dev/null',
  portStates: (proto) => laggportStates('laggctl laggkit0', proto),
  capture: () => 'laggctl -v laggkit0 2>&1; echo "--- events"; laggctl laggkit0 events 2>&1 | tail -40',
  events: (capture) =>
    (capture.split('--- events\n')[1] ?? '')
      .split('\n')
      .map((l) => /^(\d{4}-\d\d-\d\dT[\d:.]+Z)\s+(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ at: { wallMs: Date.parse(m[1]!) }, what: m[2]! })),
};

const bondSys = '/sys/class/net/bond0/bonding';

export const stockDriver: Driver = {
  name: 'stock',
  label: 'Linux bonding',
  ifname: 'bond0',
  mode: (proto) => BONDING_MODES[proto],
  // max_bonds=0: no bond0 appears until we ask, as with `ip link add type bond`.
  prepare: () =>
    '[ -d /sys/module/bonding ] || while read -r m; do case "$m" in */bonding.ko) insmod "/lib/modules/$m" max_bonds=0 ;; *) insmod "/lib/modules/$m" 2>/dev/null ;; esac; done < /lib/modules/load-order.bonding',
  create: (s) =>
    [
      'echo +bond0 > /sys/class/net/bonding_masters',
      `echo ${BONDING_MODES[s.proto]} > ${bondSys}/mode`,
      `echo 100 > ${bondSys}/miimon`,
      ...(s.proto === 'lacp' ? [`echo ${s.lacpFastTimeout ? 'fast' : 'slow'} > ${bondSys}/lacp_rate`] : []),
      ...(s.proto === 'lacp' || s.proto === 'loadbalance' ? [`echo layer3+4 > ${bondSys}/xmit_hash_policy`] : []),
      ...s.ports.flatMap((p) => [`ip addr flush dev ${p}`, `ip link set ${p} down`, `echo +${p} > ${bondSys}/slaves`]),
      ...(s.proto === 'failover' ? [`echo ${s.ports[0]} > ${bondSys}/primary`] : []),
      'ip link set bond0 up',
      `ip addr add ${s.addr} dev bond0`,
    ].join('\n'),
  destroy: () => `[ -e /sys/class/net/bond0 ] && { ip link set bond0 down; echo -bond0 > /sys/class/net/bonding_masters; }; true`,
  setEther: (mac) => `ip link set bond0 address ${mac}`,
  unload: () => ({ script: 'rmmod bonding' }),
  alive: () => '[ -d /sys/module/bonding ]',
  portStates: (proto, ports) =>
    `for p in ${ports.join(' ')}; do s=/sys/class/net/$p/bonding_slave; [ -d $s ] || { echo $p none; continue; }; ` +
    (proto === 'lacp'
      ? `st=$(cat $s/ad_actor_oper_port_state); [ "$(cat $s/ad_aggregator_id)" = "$(cat ${bondSys}/ad_aggregator)" ] && [ $((st & 48)) -eq 48 ]`
      : proto === 'failover'
        ? `[ "$(cat $s/state)" = active ] && [ "$(cat $s/mii_status)" = up ]`
        : `[ "$(cat $s/mii_status)" = up ]`) +
    ' && echo $p active || echo $p standby; done',
  capture: () => 'cat /proc/net/bonding/bond0 2>&1; echo "--- events"; dmesg | grep " bond0: " | tail -40',
  events: (capture) => kernelLogEvents(capture, 'bond0'),
};

/**
 * Shell that prints the name of this side's if_laggkit sysctl node for a unit:
 * net.link.laggkit.UNIT, or UNIT_n when a vnet jail made a laggkit of that unit too (the self
 * target's sides). A jailed reader gets nothing from any node but its own VNET's (sysctl(8)
 * prints nothing and still exits 0), so the first node of the unit that answers is this side's.
 */
export function laggkitSysctlNode(unit: string): string {
  return `$(for n in $(sysctl -N net.link.laggkit 2>/dev/null | sed -n 's/^net\\.link\\.laggkit\\.\\(${unit}\\(_[0-9]*\\)\\{0,1\\}\\)\\.proto$/\\1/p'); do [ -n "$(sysctl -n net.link.laggkit.$n.proto 2>/dev/null)" ] && { echo $n; break; }; done)`;
}

/**
 * A FreeBSD lagg-family driver: laggkit0 from if_laggkit.ko or lagg0 from if_lagg.ko. Both
 * take the same ifconfig words and print the same laggport lines.
 */
function freebsdLagg(name: DriverName, label: string, ifname: string, kld: string): Driver {
  const unit = ifname.replace(/^\D+/, '');
  const node = laggkitSysctlNode(unit);
  return {
    name,
    label,
    ifname,
    mode: (proto) => proto,
    // The clone is created with the protocol first, options next, ports last: laggkit reads
    // multi-speed when it selects an aggregator, as a port joins.
    // laggkit's module is deploy's to load (and undeploy's to unload); lagg's is the system's.
    // The kernel log's timestamps: a jail may not switch them on (the self target does, outside).
    prepare: () =>
      `${name === 'laggkit' ? `kldstat -q -m ${kld} || { echo '${kld}.ko is not loaded (laggkit deploy loads it)' >&2; exit 1; }` : `kldstat -q -m ${kld} || kldload ${kld}`}\nsysctl kern.msgbuf_show_timestamp=1 >/dev/null 2>&1 || true`,
    create: (s) =>
      [
        `ifconfig ${ifname} create laggproto ${s.proto}${s.proto === 'lacp' && s.lacpFastTimeout ? ' lacp_fast_timeout' : ''}`,
        ...(s.proto === 'lacp' && s.lacpMultiSpeed ? [`sysctl net.link.laggkit.${node}.lacp_multi_speed=1 >/dev/null`] : []),
        // lagg(4) gives a port the short timeout only when the option is set with the port there
        // (a port joining later advertises the long one), so it is set again once they joined.
        `ifconfig ${ifname} ${s.ports.map((p) => `laggport ${p}`).join(' ')}${name === 'stock' && s.proto === 'lacp' && s.lacpFastTimeout ? ' lacp_fast_timeout' : ''} up`,
        `ifconfig ${ifname} inet ${s.addr}`,
      ].join('\n'),
    destroy: () => `ifconfig ${ifname} destroy 2>/dev/null; true`,
    setEther: (mac) => `ifconfig ${ifname} ether ${mac}`,
    // if_laggkit.ko refuses to unload (EBUSY) while an aggregate exists; what lagg(4) does is
    // the comparison's to record.
    unload: () => ({ script: `kldunload ${kld}` }),
    alive: () => `kldstat -q -m ${kld}`,
    portStates: (proto) => laggportStates(`ifconfig ${ifname}`, proto),
    // laggkit keeps its own event ring (sysctl events: "N UPTIME what", ms resolution); lagg
    // only logs link state changes to the kernel log.
    capture: () =>
      name === 'laggkit'
        ? `ifconfig -v ${ifname} 2>&1; n=${node}; sysctl net.link.laggkit.$n 2>&1 | grep -v '\\.events:'; echo "--- events"; sysctl -n net.link.laggkit.$n.events 2>&1 | tail -40`
        : `ifconfig -v ${ifname} 2>&1; echo "--- events"; dmesg | grep -E '^\\[[0-9]+\\] ${ifname}: ' | tail -40`,
    events: (capture) =>
      name === 'laggkit'
        ? (capture.split('--- events\n')[1] ?? '')
            .split('\n')
            .map((l) => /^\d+ (\d+\.\d+) (.*)$/.exec(l))
            .filter((m): m is RegExpExecArray => m !== null)
            .map((m) => ({ at: { uptimeS: Number(m[1]) }, what: m[2]! }))
        : kernelLogEvents(capture, ifname),
  };
}

/**
 * Port states from NetBSD 10's lagg block (ifconfig lagg0, or laggkit's status sysctl, which
 * prints it byte for byte): after "\tlaggport:" one "\t\tPORT pri=N flags=0xN<NAMES>" line
 * per port (the LACP detail lines under it have more tabs and no pri=). The flag names are
 * those of FreeBSD's block: DISTRIBUTING for LACP, ACTIVE for the others.
 */
export function netbsdLaggportStates(status: string, proto: Protocol): string {
  return `${status} 2>/dev/null | awk -v want=${proto === 'lacp' ? 'DISTRIBUTING' : 'ACTIVE'} '$2 ~ /^pri=/ && $3 ~ /^flags=/ { f = $3; print $1, ((index(f, "<" want) || index(f, "," want)) ? "active" : "standby") }'`;
}

/** Kernel-log lines about one interface, as NetBSD stamps them ("[ 123.4567890] IF: what"). */
const netbsdKernelLog = (ifname: string): string => `dmesg | grep -E '^\\[ *[0-9.]+\\] ${ifname}: ' | tail -40`;

/** NetBSD's module test (modstat prints a header, then a line starting with the name). */
const modLoaded = (mod: string): string => `modstat ${mod} 2>/dev/null | grep -q '^${mod} '`;

/** The ifconfig words NetBSD 10's lagg(4) knows a protocol by; the rest only laggkit has (its proto sysctl). */
const NETBSD_LAGG_PROTOS: readonly Protocol[] = ['lacp', 'failover', 'loadbalance'];

/**
 * Failover takes its primary by priority on NetBSD (the smallest `pri` wins), not by the
 * order the ports joined: the first member is given the smallest, so it is the primary on
 * both drivers, as on FreeBSD and Linux.
 */
const netbsdPorts = (s: AggregateSetup): string => s.ports.map((p, i) => `laggport ${p}${s.proto === 'failover' ? ` pri ${(i + 1) * 1000}` : ''}`).join(' ');

/**
 * NetBSD lagg-family drivers: laggkit0 from laggkit.kmod or lagg0 from if_lagg. Both take
 * NetBSD's words (laggproto, laggport IF pri N, lagglacp multi-linkspeed); what lagg(4) has no
 * word for laggkit takes as sysctls under net.laggkit.laggkit0: roundrobin and broadcast
 * (proto), the short LACP timeout (lacp_fast_timeout), set before the ports join. lagg(4) has
 * neither: no roundrobin or broadcast, and always the long LACP timeout (its actor never sets
 * the timeout bit), which the cases that use the short one run with.
 */
function netbsdLagg(name: DriverName, label: string, ifname: string, mod: string): Driver {
  const node = `net.laggkit.${ifname}`;
  const laggkit = name === 'laggkit';
  return {
    name,
    label,
    ifname,
    ...(laggkit ? {} : { stockKey: 'netbsd' as const }),
    mode: (proto) => proto,
    ...(laggkit
      ? {}
      : {
          skipReason: (proto: Protocol) =>
            NETBSD_LAGG_PROTOS.includes(proto) ? undefined : `NetBSD lagg(4) has no ${proto} protocol (its protocols: none, lacp, failover, loadbalance)`,
        }),
    prepare: () =>
      laggkit ? `${modLoaded(mod)} || { echo '${mod}.kmod is not loaded (laggkit deploy loads it)' >&2; exit 1; }` : `${modLoaded(mod)} || modload ${mod}`,
    create: (s) =>
      [
        `ifconfig ${ifname} create`,
        NETBSD_LAGG_PROTOS.includes(s.proto) ? `ifconfig ${ifname} laggproto ${s.proto}` : `sysctl -w ${node}.proto=${s.proto} >/dev/null`,
        ...(laggkit && s.proto === 'lacp' && s.lacpFastTimeout ? [`sysctl -w ${node}.lacp_fast_timeout=1 >/dev/null`] : []),
        ...(s.proto === 'lacp' && s.lacpMultiSpeed ? [`ifconfig ${ifname} lagglacp multi-linkspeed`] : []),
        ...s.ports.map((p) => `ifconfig ${p} up`),
        `ifconfig ${ifname} ${netbsdPorts(s)}`,
        `ifconfig ${ifname} inet ${s.addr} up`,
      ].join('\n'),
    destroy: () => `ifconfig ${ifname} destroy 2>/dev/null; true`,
    // NetBSD sets a link address with `link ADDR active` (it has no `ether` word).
    setEther: (mac) => `ifconfig ${ifname} link ${mac} active`,
    // Both refuse (EBUSY) while an aggregate of theirs exists: laggkit's modcmd and lagg's laggdetach.
    unload: () => ({ script: `modunload ${mod}` }),
    alive: () => modLoaded(mod),
    portStates: (proto) => netbsdLaggportStates(laggkit ? `sysctl -n ${node}.status` : `ifconfig ${ifname}`, proto),
    // NetBSD's ifconfig prints the lagg block for lagg<N> only: laggkit's comes from its sysctl,
    // put right under the interface's first line, where the parser reads a lagg block.
    capture: () =>
      laggkit
        ? `ifconfig -v ${ifname} 2>&1 | { IFS= read -r h; printf '%s\\n' "$h"; sysctl -n ${node}.status 2>&1; cat; }; sysctl ${node} 2>&1 | grep -v '\\.status'; echo "--- events"; ${netbsdKernelLog(ifname)}`
        : `ifconfig -v ${ifname} 2>&1; echo "--- events"; ${netbsdKernelLog(ifname)}`,
    events: (capture) => kernelLogEvents(capture, ifname),
  };
}

/**
 * NetBSD's agr(4) (if_agr), the older aggregation driver: LACP and nothing else, always active,
 * system and port priority 0x8000, the long timeout, a key it composes from each port's media
 * type (so ports of different speeds never aggregate), and no word to change any of it. A port
 * must have no address but its link address (agrport fails with EBUSY otherwise, the IPv6
 * link-local included), and agr0 cannot be destroyed while it has ports. Its ifconfig status
 * is one "agrport: IF, flags=0xN<...>" line per port; the names in <> are not to be trusted
 * (its bit description gives COLLECTING and DISTRIBUTING the same bit), so the number is read:
 * 0x2 is DISTRIBUTING.
 */
export const agrDriver: Driver = {
  name: 'stock',
  label: 'NetBSD agr(4)',
  ifname: 'agr0',
  stockKey: 'agr',
  mode: (proto) => (proto === 'lacp' ? 'agr LACP' : `(no ${proto})`),
  skipReason: (proto, setup) =>
    proto !== 'lacp'
      ? `agr(4) speaks LACP only: it has no ${proto} protocol (its link0 flag spreads frames round robin, still over LACP)`
      : setup.lacp_multi_speed
        ? "agr(4) composes each port's LACP key from its media type, so ports of different speeds never share an aggregator: it has no multi-speed mode"
        : undefined,
  prepare: () => `${modLoaded('if_agr')} || modload if_agr`,
  create: (s) =>
    [
      'ifconfig agr0 create',
      ...s.ports.flatMap((p) => [
        `ifconfig ${p} up`,
        `for a in $(ifconfig ${p} | awk '$1 == "inet" { sub("/.*", "", $2); print $2 }'); do ifconfig ${p} inet $a delete; done`,
        `for a in $(ifconfig ${p} | awk '$1 == "inet6" { sub("/.*", "", $2); print $2 }'); do ifconfig ${p} inet6 $a delete; done`,
        `ifconfig agr0 agrport ${p}`,
      ]),
      `ifconfig agr0 inet ${s.addr} up`,
    ].join('\n'),
  destroy: () =>
    `for p in $(ifconfig agr0 2>/dev/null | awk '$1 == "agrport:" { sub(",", "", $2); print $2 }'); do ifconfig agr0 -agrport $p; done; ifconfig agr0 destroy 2>/dev/null; true`,
  setEther: (mac) => `ifconfig agr0 link ${mac} active`,
  // agrdetach refuses (EBUSY) while an agr interface exists.
  unload: () => ({ script: 'modunload if_agr' }),
  alive: () => modLoaded('if_agr'),
  // agr has LACP only (skipReason keeps the other protocols away): a port carries traffic when distributing.
  portStates: () =>
    `ifconfig agr0 2>/dev/null | awk '$1 == "agrport:" { p = $2; sub(",", "", p); f = $3; sub("^flags=0x", "", f); sub("<.*", "", f); n = 0; for (i = 1; i <= length(f); i++) n = n * 16 + index("0123456789abcdef", tolower(substr(f, i, 1))) - 1; print p, (int(n / 2) % 2 == 1) ? "active" : "standby" }'`,
  capture: () => `ifconfig -v agr0 2>&1; echo "--- events"; ${netbsdKernelLog('agr0')}`,
  events: (capture) => kernelLogEvents(capture, 'agr0'),
};

const DRIVERS_BY_OS: Record<GuestOs, { laggkit: Driver; stock: Partial<Record<StockChoice, Driver>> }> = {
  linux: { laggkit: laggkitDriver, stock: { bonding: stockDriver } },
  freebsd: {
    laggkit: freebsdLagg('laggkit', 'laggkit (if_laggkit.ko)', 'laggkit0', 'if_laggkit'),
    stock: { lagg: freebsdLagg('stock', 'FreeBSD lagg(4)', 'lagg0', 'if_lagg') },
  },
  netbsd: {
    laggkit: netbsdLagg('laggkit', 'laggkit (laggkit.kmod)', 'laggkit0', 'laggkit'),
    stock: { lagg: netbsdLagg('stock', 'NetBSD lagg(4)', 'lagg0', 'if_lagg'), agr: agrDriver },
  },
};

/** The stock driver --stock names on an OS, or the OS's default; a name the OS lacks is a usage error. */
export function stockChoice(os: GuestOs, stock?: string): StockChoice {
  const choices: readonly string[] = STOCK_CHOICES[os];
  if (stock === undefined) return choices[0] as StockChoice;
  if (!choices.includes(stock))
    throw new UsageError(
      'E_E2E_STOCK',
      `--stock ${stock} is not a stock driver on ${os} (there: ${choices.join(', ')})`,
      os === 'netbsd' ? 'Use --stock lagg (the default) or --stock agr.' : `Leave --stock out: ${os}'s is ${choices[0]}.`,
    );
  return stock as StockChoice;
}

/** laggkit's driver and the stock one (--stock, or the OS's default) for an OS. */
export function driversFor(os: GuestOs, stock?: string): Record<DriverName, Driver> {
  const d = DRIVERS_BY_OS[os];
  return { laggkit: d.laggkit, stock: d.stock[stockChoice(os, stock)]! };
}

/** Every driver an OS has (resets destroy each one's aggregate, whichever ran before). */
export function allDriversFor(os: GuestOs): Driver[] {
  const d = DRIVERS_BY_OS[os];
  return [d.laggkit, ...Object.values(d.stock)];
}

/** A shell test that is true when the port states above show the protocol's steady state. */
export function steadyTest(driver: Driver, proto: Protocol, ports: string[]): string {
  const want = proto === 'failover' ? 1 : ports.length;
  return `[ "$( { ${driver.portStates(proto, ports)}; } | grep -c ' active$')" -eq ${want} ]`;
}
