/**
 * The `self` target's Linux flavour: sides A and B are network namespaces on one machine, so
 * the machine's own interfaces (its management link) are never touched. Each side also gets a
 * private /tmp, /run and PID namespace (a small holder process keeps them), so the two laggd
 * daemons, their control sockets and the e2e scratch files never meet, as on two machines.
 *
 * Every data link runs through a third "wire" namespace:
 *
 *   A: vethN ==veth== aN  [wire: tc mirred aN <-> bN]  bN ==veth== B: vethN
 *
 * Pulling the cable sets aN and bN down: vethN on both sides loses carrier while staying
 * administratively up, as with a real cable. mgmt0 joins A and B directly (a veth pair) and
 * stands for the management link the mgmt-untouched scenario watches.
 *
 * Impairments sit on the wire too: a filter of higher priority than the mirred one sends what
 * it matches (everything, or only slow-protocol frames: LACPDUs) to a device that is kept down,
 * which drops it; on aN's ingress that is one direction A→B, on bN's B→A. Only u32 and mirred
 * are needed, no netem or gact.
 *
 * Everything here is shell, run through the target's Shell, so the same flavour works on this
 * machine and on one reached over SSH.
 */
import fs from 'node:fs';
import { shQuote } from '../../ssh/index.js';
import type { SelfFlavour, SelfPlan } from './self.js';
import { localTools, placeTools } from './tools.js';
import type { Side } from './types.js';

const ns = (p: SelfPlan, which: 'a' | 'b' | 'w'): string => `lk-${p.name}-${which}`;
const sideNs = (p: SelfPlan, side: Side): string => ns(p, side === 'A' ? 'a' : 'b');

/** The holder: PID 1 of the side's PID namespace, reaping orphans as an init does. */
const HOLDER = 'mount -t tmpfs tmpfs /tmp && mount -t tmpfs tmpfs /run && exec sh -c "while :; do sleep 1; done"';

export const linuxFlavour: SelfFlavour = {
  os: 'Linux',
  guest: 'linux',
  how: 'network namespaces A and B, veth links through a wire namespace (tc mirred)',
  linkKind: 'veth',
  nic: (i) => `veth${i}`,
  mgmt: 'mgmt0',
  stockName: 'bonding',
  setupHint: 'Run as root on a machine with iproute2, tc and util-linux (unshare, nsenter).',
  placeTools: async (shell, scratch, say, local) => {
    if (!local) return placeTools(shell, scratch, say);
    // Copied beside the target's state, not run from the checkout: each side mounts its own
    // /tmp and /run, so a checkout under /tmp (a CI clone) would be out of the sides' sight.
    const binDir = `${scratch}/bin`;
    try {
      const tools = localTools(say);
      fs.mkdirSync(binDir, { recursive: true });
      for (const [tool, file] of Object.entries(tools)) fs.copyFileSync(file, `${binDir}/${tool}`);
    } catch (err) {
      fs.rmSync(scratch, { recursive: true, force: true });
      throw err;
    }
    return { binDir, remove: async () => fs.rmSync(scratch, { recursive: true, force: true }) };
  },
  up: (p) => {
    const A = ns(p, 'a');
    const B = ns(p, 'b');
    const W = ns(p, 'w');
    const S = shQuote(p.stateDir);
    return [
      'set -e',
      'for t in ip tc unshare nsenter pgrep; do command -v $t >/dev/null || { echo "the $t command is missing" >&2; exit 127; }; done',
      `mkdir -p ${S}`,
      `for n in ${A} ${B} ${W}; do ip netns add $n; ip -n $n link set lo up; done`,
      // The wire's own ends must send nothing (no IPv6 router solicitations onto the links).
      `ip netns exec ${W} sh -c 'echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6' 2>/dev/null || true`,
      ...Array.from({ length: p.links }, (_, i) => [
        `ip link add veth${i} netns ${A} type veth peer name a${i} netns ${W}`,
        `ip link add veth${i} netns ${B} type veth peer name b${i} netns ${W}`,
        // The wire never limits the MTU an action sets on the aggregate.
        `ip -n ${A} link set veth${i} up; ip -n ${B} link set veth${i} up`,
        `for e in a${i} b${i}; do ip -n ${W} link set $e mtu 9000 up; tc -n ${W} qdisc add dev $e ingress; done`,
        `tc -n ${W} filter add dev a${i} parent ffff: prio 10 protocol all u32 match u32 0 0 action mirred egress redirect dev b${i}`,
        `tc -n ${W} filter add dev b${i} parent ffff: prio 10 protocol all u32 match u32 0 0 action mirred egress redirect dev a${i}`,
      ]).flat(),
      // Never set up: what an impairment sends here is dropped.
      `ip -n ${W} link add sink type veth peer name sinkp`,
      `ip link add mgmt0 netns ${A} type veth peer name mgmt0 netns ${B}`,
      `ip -n ${A} addr add 192.0.2.1/24 dev mgmt0; ip -n ${A} link set mgmt0 up`,
      `ip -n ${B} addr add 192.0.2.2/24 dev mgmt0; ip -n ${B} link set mgmt0 up`,
      ...(['A', 'B'] as const).map((side) =>
        [
          `ip netns exec ${sideNs(p, side)} unshare --mount --pid --fork --mount-proc --propagation private sh -c ${shQuote(HOLDER)} </dev/null >/dev/null 2>&1 &`,
          'u=$!; i=0',
          'while ! h=$(pgrep -P $u); do i=$((i+1)); [ $i -lt 100 ] || { echo "the side holder did not start" >&2; exit 1; }; sleep 0.05; done',
          `echo $h > ${S}/${side}.pid`,
        ].join('\n'),
      ),
      // Linux bonding for --compare stock: no bond0 of its own (max_bonds=0), and only when it
      // loads on this kernel; what modprobe said is the reason otherwise.
      'set +e',
      'if [ -d /sys/module/bonding ] || m=$(modprobe bonding max_bonds=0 2>&1); then echo stock=yes; else echo "stock=no ${m:-modprobe bonding failed}"; fi',
    ].join('\n');
  },
  side: (p, side, script) =>
    `exec nsenter -t "$(cat ${shQuote(`${p.stateDir}/${side}.pid`)})" -n -m -p -- sh -c ${shQuote(`${p.binDir ? `PATH=${shQuote(p.binDir)}:$PATH; export PATH; ` : ''}cd /\n${script}`)}`,
  cable: (p, i, up) => `ip -n ${ns(p, 'w')} link set a${i} ${up ? 'up' : 'down'} && ip -n ${ns(p, 'w')} link set b${i} ${up ? 'up' : 'down'}`,
  impair: (p, i, imp, on) => {
    const ends = imp.direction === 'ab' ? [`a${i}`] : imp.direction === 'ba' ? [`b${i}`] : [`a${i}`, `b${i}`];
    const W = ns(p, 'w');
    // One filter per priority and protocol: whatever was there goes first.
    return [
      'set -e',
      ...ends.flatMap((e) => [
        `tc -n ${W} filter del dev ${e} parent ffff: prio 5 2>/dev/null || true`,
        ...(on
          ? [
              `tc -n ${W} filter add dev ${e} parent ffff: prio 5 protocol ${imp.only === 'lacp' ? '0x8809' : 'all'} u32 match u32 0 0 action mirred egress redirect dev sink`,
            ]
          : []),
      ]),
    ].join('\n');
  },
  // Killing a PID namespace's first process ends every process in it (laggd, seqstream).
  down: (p) =>
    [
      ...(['A', 'B'] as const).map(
        (s) => `[ -f ${shQuote(`${p.stateDir}/${s}.pid`)} ] && kill -KILL "$(cat ${shQuote(`${p.stateDir}/${s}.pid`)})" 2>/dev/null`,
      ),
      ...(['a', 'b', 'w'] as const).map((w) => `ip netns del ${ns(p, w)} 2>/dev/null`),
      `rm -rf ${shQuote(p.stateDir)}`,
      'true',
    ].join('\n'),
};
