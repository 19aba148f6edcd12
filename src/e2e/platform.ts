/**
 * What the e2e actions need from a guest's shell besides the aggregate itself: a clock, a
 * member's counters, MTU and identity, links reset between runs, a ping, the management link's
 * snapshot. Linux answers from /proc and /sys and with ip(8); FreeBSD from ifconfig(8),
 * netstat(1) and seqstream's own clock (it has no /proc/uptime); NetBSD 10 from its own
 * ifconfig(8) (whose layout differs: `address:` for the MAC, counters under -v), netstat -r
 * and seqstream. The actions only ever see these shell snippets, so a scenario means the same
 * on every OS.
 */
import type { GuestOs } from '../lab/machines.js';

export interface Platform {
  os: GuestOs;
  /** Shell functions `upms` (integer ms since boot) and `ups` (seconds since boot, decimals). */
  clock: string;
  /** Prints a member's transmitted frame count. */
  txPackets(port: string): string;
  /** Prints a member's MTU. */
  mtuOf(port: string): string;
  /** One "PORT MAC MTU STATE" line per port: what an aggregate must hand back as it found it. */
  portIdent(ports: string[]): string;
  /** True (exit 0) when the interface exists. */
  exists(ifname: string): string;
  setMtu(ifname: string, mtu: number): string;
  /** A data link back to its lab state: MTU 1500, up, its lab address (if the lab gives one). */
  resetLink(nic: string, addr: string | undefined): string;
  /** One echo request, waiting at most a second, with `size` bytes of payload. */
  ping(addr: string, size?: number): string;
  /** The management link's usual name, where the target names none (the one e2e reaches the guest through). */
  mgmt: string;
  /** A management link's configuration, text that must not change while e2e runs. */
  mgmtSnapshot(ifname: string): string;
  /** Prints an interface's MAC address. */
  macOf(ifname: string): string;
  /** Make the interface announce its next MAC change (gratuitous ARP), where that is not the default. */
  announceLladdr(ifname: string): string;
  /** True when the neighbour entry for `addr` shows `mac`. */
  neighbourIs(addr: string, mac: string): string;
  /** True while a process of this name runs. */
  running(prog: string): string;
}

export const linuxPlatform: Platform = {
  os: 'linux',
  // The hundredths are prefixed with 1 and the 100 taken off again: "08" alone is bad octal.
  clock: ['upms() { read u _ < /proc/uptime; echo $(( ${u%.*} * 1000 + 10 * (1${u#*.} - 100) )); }', 'ups() { read u _ < /proc/uptime; echo $u; }'].join('\n'),
  txPackets: (p) => `cat /sys/class/net/${p}/statistics/tx_packets`,
  mtuOf: (p) => `cat /sys/class/net/${p}/mtu`,
  portIdent: (ports) =>
    `for p in ${ports.join(' ')}; do echo "$p $(cat /sys/class/net/$p/address) $(cat /sys/class/net/$p/mtu) $(cat /sys/class/net/$p/operstate)"; done`,
  exists: (i) => `[ -e /sys/class/net/${i} ]`,
  setMtu: (i, mtu) => `ip link set ${i} mtu ${mtu}`,
  resetLink: (nic, addr) =>
    [`ip link set ${nic} mtu 1500 2>/dev/null`, `ip addr flush dev ${nic}`, `ip link set ${nic} up`, ...(addr ? [`ip addr add ${addr} dev ${nic}`] : [])].join(
      '\n',
    ),
  ping: (addr, size) => `ping -c 1 -W 1 ${size ? `-s ${size} ` : ''}${addr}`,
  mgmt: 'mgmt0',
  mgmtSnapshot: (m) =>
    `ip -o link show dev ${m} | sed 's/ qlen.*//'; ip -o addr show dev ${m} | grep -v _lft; ip route show dev ${m}; cat /sys/class/net/${m}/address /sys/class/net/${m}/mtu`,
  macOf: (i) => `cat /sys/class/net/${i}/address`,
  // Without arp_notify neither laggd nor bonding announces a new MAC (the peer waits for its entry to age out).
  announceLladdr: (i) => `echo 1 > /proc/sys/net/ipv4/conf/${i}/arp_notify`,
  neighbourIs: (addr, mac) => `ip neigh show ${addr} | grep -qi '${mac}'`,
  running: (prog) => `pidof ${prog} >/dev/null`,
};

/** The first line of `ifconfig IF` carries flags and MTU; `ether` its MAC. */
const fbsdIfconfigFields = (p: string): string =>
  `ifconfig ${p} | awk 'NR == 1 { for (i = 1; i < NF; i++) if ($i == "mtu") mtu = $(i + 1); up = ($2 ~ /<UP[,>]/) ? "up" : "down" } $1 == "ether" { mac = $2 } END { print mac, mtu, up }'`;

export const freebsdPlatform: Platform = {
  os: 'freebsd',
  // seqstream prints CLOCK_UPTIME to the millisecond: FreeBSD's sh and date have nothing finer than seconds.
  clock: ['ups() { seqstream now; }', 'upms() { u=$(seqstream now); echo $(( ${u%.*} * 1000 + 1${u#*.} - 1000 )); }'].join('\n'),
  // The link-level row of netstat -I holds the interface's own counters (Opkts is column 8).
  txPackets: (p) => `netstat -nI ${p} | awk '$3 ~ /^<Link/ { print $8; exit }'`,
  mtuOf: (p) => `ifconfig ${p} | awk 'NR == 1 { for (i = 1; i < NF; i++) if ($i == "mtu") print $(i + 1) }'`,
  portIdent: (ports) => `for p in ${ports.join(' ')}; do echo "$p $(${fbsdIfconfigFields('$p')})"; done`,
  exists: (i) => `ifconfig ${i} >/dev/null 2>&1`,
  setMtu: (i, mtu) => `ifconfig ${i} mtu ${mtu}`,
  // Data links carry no address of their own on the FreeBSD lab (lagg takes ports with
  // addresses, but they would answer ARP beside the aggregate's): every inet address goes.
  resetLink: (nic, addr) =>
    [
      `ifconfig ${nic} mtu 1500 2>/dev/null`,
      `for a in $(ifconfig ${nic} | awk '$1 == "inet" { print $2 }'); do ifconfig ${nic} inet $a -alias; done`,
      `ifconfig ${nic} ${addr ? `inet ${addr} ` : ''}up`,
    ].join('\n'),
  // -D: the don't-fragment bit, so a payload too big for the path is lost rather than split.
  ping: (addr, size) => `ping -c 1 -t 1 -D ${size ? `-s ${size} ` : ''}${addr}`,
  mgmt: 'vtnet0',
  mgmtSnapshot: (m) => `ifconfig ${m} | grep -Ev 'media:|status:'; netstat -rn -f inet | awk '$4 == "${m}" { print $1, $2, $3 }'`,
  macOf: (i) => `ifconfig ${i} | awk '$1 == "ether" { print $2 }'`,
  // The kernel announces every address of an interface whose MAC changes (iflladdr_event's ARP handler).
  announceLladdr: () => 'true',
  neighbourIs: (addr, mac) => `arp -n ${addr} | grep -qi '${mac}'`,
  running: (prog) => `pgrep -x ${prog} >/dev/null`,
};

/**
 * NetBSD 10's ifconfig: flags and MTU on the first line as FreeBSD's, the MAC on an
 * `address:` line, and with -v the counters as `output: N packets, ...`.
 */
const nbsdIfconfigFields = (p: string): string =>
  `ifconfig ${p} | awk 'NR == 1 { for (i = 1; i < NF; i++) if ($i == "mtu") mtu = $(i + 1); up = ($2 ~ /<UP[,>]/) ? "up" : "down" } $1 == "address:" { mac = $2 } END { print mac, mtu, up }'`;

export const netbsdPlatform: Platform = {
  os: 'netbsd',
  // seqstream reads CLOCK_MONOTONIC there (nanouptime, the kernel log's stamps); sh has no finer clock.
  clock: freebsdPlatform.clock,
  txPackets: (p) => `ifconfig -v ${p} | awk '$1 == "output:" { print $2; exit }'`,
  mtuOf: freebsdPlatform.mtuOf,
  portIdent: (ports) => `for p in ${ports.join(' ')}; do echo "$p $(${nbsdIfconfigFields('$p')})"; done`,
  exists: freebsdPlatform.exists,
  setMtu: freebsdPlatform.setMtu,
  // As on FreeBSD the data links carry no inet address of their own ("inet A/LEN broadcast ..."
  // on NetBSD: the prefix length is cut off before `delete`).
  resetLink: (nic, addr) =>
    [
      `ifconfig ${nic} mtu 1500 2>/dev/null`,
      `for a in $(ifconfig ${nic} | awk '$1 == "inet" { sub("/.*", "", $2); print $2 }'); do ifconfig ${nic} inet $a delete; done`,
      `ifconfig ${nic} ${addr ? `inet ${addr} ` : ''}up`,
    ].join('\n'),
  // -w 1: give up on the reply after a second; -D: don't fragment, as on FreeBSD.
  ping: (addr, size) => `ping -n -c 1 -w 1 -D ${size ? `-s ${size} ` : ''}${addr}`,
  mgmt: 'vioif0',
  // netstat -rn's last column is the interface; Refs and Use change with traffic, so only
  // destination, gateway and flags are kept.
  mgmtSnapshot: (m) => `ifconfig ${m} | grep -Ev 'media:|status:'; netstat -rn -f inet | awk '$NF == "${m}" { print $1, $2, $3 }'`,
  macOf: (i) => `ifconfig ${i} | awk '$1 == "address:" { print $2 }'`,
  // A new link address is announced by the kernel (RTM_LLINFO_UPD sends an ARP announcement
  // for each of the interface's addresses): nothing to switch on.
  announceLladdr: () => 'true',
  neighbourIs: freebsdPlatform.neighbourIs,
  running: freebsdPlatform.running,
};

export function platformFor(os: GuestOs): Platform {
  if (os === 'freebsd') return freebsdPlatform;
  if (os === 'netbsd') return netbsdPlatform;
  return linuxPlatform;
}
