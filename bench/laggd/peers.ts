/**
 * The aggregates the laggd benchmark compares, all built in one pair of namespaces: a laggd
 * on both sides, Open vSwitch on both sides, or laggd facing Open vSwitch. Each setup puts
 * 10.77.0.1 on host a and 10.77.0.2 on host b, answers "is every member distributing on both
 * sides?", names the processes doing the forwarding (for memory and CPU), and tears itself
 * down so the next setup starts from bare veth pairs.
 */
import { lacpBondDistributing, startOvs, type Ovs } from '../../test/laggd/support/ovs.js';
import { run, type Host, type Laggd, type Topology } from '../../test/laggd/support/netns.js';

export const ADDR_A = '10.77.0.1';
export const ADDR_B = '10.77.0.2';

/** One side of a pair: an aggregate in one host (or, for the ceiling, none). */
export interface Side {
  kind: 'laggd' | 'ovs' | 'none';
  host: Host;
  /** The interface carrying the side's address: laggd's TAP, OVS's internal port, or the veth end. */
  dev: string;
  /** Every member selected, collecting and distributing, as this side reports it. */
  distributing(): Promise<boolean>;
  /** The forwarding process; none for the no-forwarder pair. */
  pid(): Promise<number | undefined>;
  /** laggd: which of its frame paths the kernel carries now (its counters say, per port). */
  paths?(): Promise<{ rx: 'kernel' | 'laggd'; tx: 'kernel' | 'laggd' }>;
  stop(): Promise<void>;
}

export interface Pair {
  name: string;
  a: Side;
  b: Side;
  stop(): Promise<void>;
}

const members = (topo: Topology) => topo.links.map((l) => l.a.ifname);

/** laggd in `host` with laggkit0 over every link, protocol `proto`, address `addr`. */
export async function laggdSide(topo: Topology, host: Host, proto: string, addr: string, extra: string[] = []): Promise<Side> {
  const d: Laggd = await host.startLaggd();
  await d.ctlOk('laggkit0', 'create', 'laggproto', proto, ...members(topo).flatMap((m) => ['laggport', m]), ...extra);
  await host.execOk(['ip', 'link', 'set', 'laggkit0', 'up']);
  await host.execOk(['ip', 'addr', 'add', `${addr}/24`, 'dev', 'laggkit0']);
  return {
    kind: 'laggd',
    host,
    dev: 'laggkit0',
    distributing: async () => {
      const st = await d.status('laggkit0', true);
      if (st.ports.length !== topo.links.length || !st.ports.every((p) => p.link)) return false;
      // LACP says DISTRIBUTING; failover has one ACTIVE port and the rest standing by;
      // the other protocols mark every usable port ACTIVE.
      if (proto === 'lacp') return st.ports.every((p) => p.flags.includes('DISTRIBUTING'));
      if (proto === 'failover') return st.ports.some((p) => p.flags.includes('ACTIVE'));
      return st.ports.every((p) => p.flags.includes('ACTIVE'));
    },
    pid: async () => d.pid,
    paths: async () => {
      const ports = Object.values(await d.counters());
      const all = (on: (p: (typeof ports)[number]) => boolean | undefined) => (ports.length > 0 && ports.every(on) ? 'kernel' : 'laggd');
      return { rx: all((p) => p.host_rx_kernel), tx: all((p) => p.host_tx_kernel) };
    },
    stop: async () => {
      await d.stop();
      // laggd removes its TAP on exit; make sure, so the next setup can reuse the address.
      await run(['ip', 'netns', 'exec', host.ns, 'ip', 'link', 'del', 'laggkit0']);
    },
  };
}

/**
 * Open vSwitch in `host`, address on the bridge: by default a balance-tcp LACP bond (fast) of
 * every link; with `activeBackup` a static active-backup bond, the peer of laggproto failover.
 */
export async function ovsSide(topo: Topology, host: Host, addr: string, activeBackup = false): Promise<Side & { ovs: Ovs }> {
  const ovs = await startOvs(host, {
    members: members(topo),
    address: `${addr}/24`,
    tag: `${topo.prefix}-ovs${host.label}`,
    // active-backup prefers the first member, as laggproto failover prefers the first port:
    // both ends then start on the same link (each drops what arrives on its backup)
    ...(activeBackup ? { lacp: 'off' as const, bondMode: 'active-backup' as const, primary: members(topo)[0]! } : {}),
  });
  return {
    kind: 'ovs',
    host,
    dev: ovs.bridge,
    ovs,
    distributing: async () => {
      if (!activeBackup) return lacpBondDistributing(ovs);
      // active-backup: every member usable, one of them active
      const bond = await ovs.bondShow();
      return bond.members.every((m) => m.enabled) && bond.members.some((m) => m.active);
    },
    pid: () => ovs.vswitchdPid(),
    stop: () => ovs.stop(),
  };
}

/**
 * No forwarder at all: the side's address straight on the first link's veth end. The same
 * generator, receiver and veth pair with nothing in between: what the machine carries when
 * forwarding costs nothing, the ceiling every forwarder's rate is read against.
 */
export async function directSide(topo: Topology, host: Host, addr: string): Promise<Side> {
  const link = topo.links[0]!;
  const dev = (link.a.host === host ? link.a : link.b).ifname;
  await host.execOk(['ip', 'addr', 'add', `${addr}/24`, 'dev', dev]);
  return {
    kind: 'none',
    host,
    dev,
    distributing: async () => true,
    pid: async () => undefined,
    stop: async () => void (await run(['ip', 'netns', 'exec', host.ns, 'ip', 'addr', 'flush', 'dev', dev])),
  };
}

export function makePair(name: string, a: Side, b: Side): Pair {
  return {
    name,
    a,
    b,
    stop: async () => {
      await a.stop().catch(() => undefined);
      await b.stop().catch(() => undefined);
    },
  };
}
