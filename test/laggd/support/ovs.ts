/**
 * Open vSwitch as an independent 802.1AX peer, run privately inside one network namespace.
 *
 * Each instance gets its own ovsdb-server and ovs-vswitchd with their database, sockets, logs
 * and pid files in a fresh temporary directory, started with `ip netns exec NS` so the switch
 * sees only that namespace's interfaces. The system's openvswitch-switch service is never
 * touched, so several instances (one per test file) can run side by side.
 *
 * The bridge uses the userspace datapath (datapath_type=netdev), which needs no kernel module;
 * its internal port is a TAP device in the namespace that carries the host address. Members
 * are read through AF_PACKET, so the namespace kernel sees their frames as well: the caller's
 * namespace must set net.ipv4.conf.all.arp_ignore=1 (see prepareOvsNamespace()).
 *
 * Open vSwitch sends fast LACPDUs only when its partner asks for the short timeout, and
 * enables a member on the partner's Sync bit alone; the parsers below expose both sides'
 * state so tests can check what each side believes.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runOk, sleep, type Host } from './netns.js';

const SCHEMA_CANDIDATES = ['/usr/share/openvswitch/vswitch.ovsschema', '/usr/local/share/openvswitch/vswitch.ovsschema'];

export type OvsBondMode = 'balance-tcp' | 'balance-slb' | 'active-backup';

export interface OvsBondOptions {
  /** Member interfaces of the bond (two or more: ovs-vsctl add-bond), in the host's namespace. */
  members: string[];
  /** Address (CIDR) put on the bridge's internal port, e.g. 10.1.2.2/24. */
  address?: string;
  /** Bridge (and internal TAP) name; namespace-local, so a fixed default is safe. */
  bridge?: string;
  bond?: string;
  bondMode?: OvsBondMode;
  /** 'off' for a static bond (active-backup or balance-slb without LACP). */
  lacp?: 'active' | 'passive' | 'off';
  lacpTime?: 'fast' | 'slow';
  /** active-backup: the member preferred whenever it is up (other_config:bond-primary). */
  primary?: string;
  /** other_config:lacp-system-priority (OVS default 65534). */
  systemPriority?: number;
  /** Prefix of the temporary directory, so leftovers name their owner. */
  tag?: string;
}

export interface LacpParty {
  sysId: string;
  sysPriority: number;
  portId: number;
  portPriority: number;
  key: number;
  /** Words from OVS's state line: activity timeout aggregation synchronized collecting distributing defaulted expired. */
  state: string[];
}

export interface LacpMember {
  name: string;
  /** Words after the member name, e.g. ['current', 'attached'] or ['defaulted', 'detached']. */
  status: string[];
  portId: number;
  portPriority: number;
  mayEnable: boolean;
  actor: LacpParty;
  partner: LacpParty;
}

export interface LacpBond {
  name: string;
  /** e.g. ['active', 'negotiated'] */
  status: string[];
  sysId: string;
  sysPriority: number;
  key: number;
  lacpTime: string;
  members: LacpMember[];
}

export interface BondMember {
  name: string;
  enabled: boolean;
  active: boolean;
  mayEnable: boolean;
}

export interface BondShow {
  name: string;
  mode: string;
  lacpStatus: string;
  members: BondMember[];
  /** Every top-level "key: value" line as printed. */
  fields: Record<string, string>;
}

export interface LacpStats {
  member: string;
  txPdus: number;
  rxPdus: number;
  rxBadPdus: number;
  rxMarkerRequests: number;
  linkExpired: number;
  linkDefaulted: number;
  carrierChanged: number;
}

export interface Ovs {
  host: Pick<Host, 'ns'>;
  dir: string;
  bridge: string;
  bond: string;
  members: string[];
  vsctl(...args: string[]): Promise<string>;
  appctl(...args: string[]): Promise<string>;
  lacpShow(): Promise<LacpBond>;
  lacpStats(): Promise<LacpStats[]>;
  bondShow(): Promise<BondShow>;
  /** Pid of ovs-vswitchd, for memory/CPU readings. */
  vswitchdPid(): Promise<number>;
  /** Resolves once every member is attached, current and its partner in sync; rejects on timeout with the last lacp/show. */
  waitNegotiated(timeoutMs?: number, members?: string[]): Promise<LacpBond>;
  stop(): Promise<void>;
}

const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv) => runOk([cmd, ...args], { env });

async function schemaPath(): Promise<string> {
  for (const p of SCHEMA_CANDIDATES) {
    try {
      await readFile(p);
      return p;
    } catch {
      /* try the next one */
    }
  }
  throw new Error(`Open vSwitch schema not found in ${SCHEMA_CANDIDATES.join(', ')} (install openvswitch-switch)`);
}

async function readPid(file: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(file, 'utf8')).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function killPidFile(file: string): Promise<void> {
  const pid = await readPid(file);
  if (pid === undefined || !alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 50 && alive(pid); i++) await sleep(50);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

/**
 * Start a private Open vSwitch in `host`'s namespace with one bridge holding one LACP bond of
 * `opts.members`. On failure everything started so far is stopped again. Call stop() before
 * the namespace is deleted (the topology's teardown would otherwise SIGKILL it and leave its
 * temporary directory behind).
 */
export async function startOvs(host: Pick<Host, 'ns'>, opts: OvsBondOptions): Promise<Ovs> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `${opts.tag ?? 'lk-ovs'}-`));
  const bridge = opts.bridge ?? 'ovsbr0';
  const bond = opts.bond ?? 'bond0';
  const env = { ...process.env, OVS_RUNDIR: dir, OVS_DBDIR: dir, OVS_LOGDIR: dir, OVS_SYSCONFDIR: dir };
  const db = `unix:${path.join(dir, 'db.sock')}`;
  const vswitchdCtl = path.join(dir, 'ovs-vswitchd.ctl');
  const nsexec = (cmd: string, args: string[]) => run('ip', ['netns', 'exec', host.ns, cmd, ...args], env);
  const vsctl = (...args: string[]) => run('ovs-vsctl', [`--db=${db}`, '--timeout=20', ...args], env);
  const appctl = (...args: string[]) => run('ovs-appctl', ['-t', vswitchdCtl, ...args], env);

  const stop = async () => {
    // exit --cleanup removes the userspace datapath's ports, so member veths are released.
    await appctl('exit', '--cleanup').catch(() => undefined);
    await run('ovs-appctl', ['-t', path.join(dir, 'ovsdb-server.ctl'), 'exit'], env).catch(() => undefined);
    await killPidFile(path.join(dir, 'ovs-vswitchd.pid'));
    await killPidFile(path.join(dir, 'ovsdb-server.pid'));
    await rm(dir, { recursive: true, force: true });
  };

  try {
    // The peer kernel sees member frames too (AF_PACKET): it must not answer ARP on them.
    await nsexec('sysctl', ['-qw', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2']);
    await run('ovsdb-tool', ['create', path.join(dir, 'conf.db'), await schemaPath()], env);
    await nsexec('ovsdb-server', [
      path.join(dir, 'conf.db'),
      `--remote=p${db}`,
      `--pidfile=${path.join(dir, 'ovsdb-server.pid')}`,
      `--log-file=${path.join(dir, 'ovsdb-server.log')}`,
      `--unixctl=${path.join(dir, 'ovsdb-server.ctl')}`,
      '--detach',
      '--no-chdir',
    ]);
    await vsctl('--no-wait', 'init');
    await nsexec('ovs-vswitchd', [
      db,
      `--pidfile=${path.join(dir, 'ovs-vswitchd.pid')}`,
      `--log-file=${path.join(dir, 'ovs-vswitchd.log')}`,
      `--unixctl=${vswitchdCtl}`,
      '--detach',
      '--no-chdir',
    ]);
    await vsctl('add-br', bridge, '--', 'set', 'bridge', bridge, 'datapath_type=netdev');
    const bondArgs = [
      'add-bond',
      bridge,
      bond,
      ...opts.members,
      `lacp=${opts.lacp ?? 'active'}`,
      `bond_mode=${opts.bondMode ?? 'balance-tcp'}`,
      `other_config:lacp-time=${opts.lacpTime ?? 'fast'}`,
      'other_config:bond-detect-mode=carrier',
    ];
    if (opts.systemPriority !== undefined) bondArgs.push(`other_config:lacp-system-priority=${opts.systemPriority}`);
    if (opts.primary !== undefined) bondArgs.push(`other_config:bond-primary=${opts.primary}`);
    await vsctl(...bondArgs);
    for (const m of opts.members) await nsexec('ip', ['link', 'set', m, 'up']);
    if (opts.address) await nsexec('ip', ['addr', 'add', opts.address, 'dev', bridge]);
    await nsexec('ip', ['link', 'set', bridge, 'up']);
  } catch (err) {
    await stop();
    throw err;
  }

  const ovs: Ovs = {
    host,
    dir,
    bridge,
    bond,
    members: [...opts.members],
    vsctl,
    appctl,
    lacpShow: async () => {
      const bonds = parseLacpShow(await appctl('lacp/show', bond));
      const b = bonds.find((x) => x.name === bond);
      if (!b) throw new Error(`lacp/show has no bond ${bond}`);
      return b;
    },
    lacpStats: async () => parseLacpStats(await appctl('lacp/show-stats', bond)),
    bondShow: async () => parseBondShow(await appctl('bond/show', bond)),
    vswitchdPid: async () => {
      const pid = await readPid(path.join(dir, 'ovs-vswitchd.pid'));
      if (pid === undefined) throw new Error('ovs-vswitchd pid file missing');
      return pid;
    },
    waitNegotiated: async (timeoutMs = 15000, members = opts.members) => {
      const deadline = Date.now() + timeoutMs;
      let last: LacpBond | undefined;
      for (;;) {
        last = await ovs.lacpShow().catch(() => undefined);
        if (last && lacpMembersInSync(last, members)) return last;
        if (Date.now() > deadline) {
          throw new Error(`OVS bond ${bond} in ${host.ns} did not negotiate ${members.join(',')} within ${timeoutMs} ms:\n${JSON.stringify(last, null, 1)}`);
        }
        await sleep(100);
      }
    },
    stop,
  };
  return ovs;
}

/**
 * The LACP bond carries traffic on every member: each in sync both ways (lacpMembersInSync) and
 * enabled in the bond. Its partner's collecting and distributing are the far end's own state, as
 * its LACPDUs say.
 */
export async function lacpBondDistributing(ovs: Ovs): Promise<boolean> {
  return lacpMembersInSync(await ovs.lacpShow(), ovs.members) && (await ovs.bondShow()).members.every((m) => m.enabled);
}

/** True when each named member is attached and current, with both actor and partner synchronized. */
export function lacpMembersInSync(bond: LacpBond, members: string[]): boolean {
  return members.every((name) => {
    const m = bond.members.find((x) => x.name === name);
    return (
      !!m &&
      m.status.includes('current') &&
      m.status.includes('attached') &&
      m.actor.state.includes('synchronized') &&
      m.partner.state.includes('synchronized') &&
      m.partner.state.includes('collecting') &&
      m.partner.state.includes('distributing')
    );
  });
}

function emptyParty(): LacpParty {
  return { sysId: '', sysPriority: 0, portId: 0, portPriority: 0, key: 0, state: [] };
}

function setParty(p: LacpParty, key: string, value: string): void {
  switch (key) {
    case 'sys_id':
      p.sysId = value;
      break;
    case 'sys_priority':
      p.sysPriority = Number(value);
      break;
    case 'port_id':
      p.portId = Number(value);
      break;
    case 'port_priority':
      p.portPriority = Number(value);
      break;
    case 'key':
      p.key = Number(value);
      break;
    case 'state':
      p.state = value.split(/\s+/).filter(Boolean);
      break;
    default:
      break;
  }
}

/** Parse `ovs-appctl lacp/show` (one or more "---- NAME ----" sections). */
export function parseLacpShow(text: string): LacpBond[] {
  const bonds: LacpBond[] = [];
  let bond: LacpBond | undefined;
  let member: LacpMember | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const head = /^---- (\S+) ----$/.exec(line);
    if (head) {
      bond = { name: head[1]!, status: [], sysId: '', sysPriority: 0, key: 0, lacpTime: '', members: [] };
      bonds.push(bond);
      member = undefined;
      continue;
    }
    if (!bond) continue;
    const mem = /^member: ([^:]+):\s*(.*)$/.exec(line);
    if (mem) {
      member = {
        name: mem[1]!,
        status: mem[2]!.split(/\s+/).filter(Boolean),
        portId: 0,
        portPriority: 0,
        mayEnable: false,
        actor: emptyParty(),
        partner: emptyParty(),
      };
      bond.members.push(member);
      continue;
    }
    const kv = /^([a-z_ ]+):\s*(.*)$/.exec(line);
    if (!kv) continue;
    const key = kv[1]!;
    const value = kv[2]!;
    if (!member) {
      if (key === 'status') bond.status = value.split(/\s+/).filter(Boolean);
      else if (key === 'sys_id') bond.sysId = value;
      else if (key === 'sys_priority') bond.sysPriority = Number(value);
      else if (key === 'aggregation key') bond.key = Number(value);
      else if (key === 'lacp_time') bond.lacpTime = value;
      continue;
    }
    if (key.startsWith('actor ')) setParty(member.actor, key.slice(6), value);
    else if (key.startsWith('partner ')) setParty(member.partner, key.slice(8), value);
    else if (key === 'port_id') member.portId = Number(value);
    else if (key === 'port_priority') member.portPriority = Number(value);
    else if (key === 'may_enable') member.mayEnable = value === 'true';
  }
  return bonds;
}

/** Parse `ovs-appctl bond/show BOND`. */
export function parseBondShow(text: string): BondShow {
  const out: BondShow = { name: '', mode: '', lacpStatus: '', members: [], fields: {} };
  let member: BondMember | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const head = /^---- (\S+) ----$/.exec(line);
    if (head) {
      out.name = head[1]!;
      continue;
    }
    const mem = /^member (\S+): (enabled|disabled)$/.exec(line);
    if (mem) {
      member = { name: mem[1]!, enabled: mem[2] === 'enabled', active: false, mayEnable: false };
      out.members.push(member);
      continue;
    }
    if (member) {
      if (line === 'active member') member.active = true;
      else if (line.startsWith('may_enable:')) member.mayEnable = line.endsWith('true');
      continue;
    }
    const kv = /^([^:]+):\s*(.*)$/.exec(line);
    if (kv) out.fields[kv[1]!] = kv[2]!;
  }
  out.mode = out.fields['bond_mode'] ?? '';
  out.lacpStatus = out.fields['lacp_status'] ?? '';
  return out;
}

/** Parse `ovs-appctl lacp/show-stats`. */
export function parseLacpStats(text: string): LacpStats[] {
  const out: LacpStats[] = [];
  let cur: LacpStats | undefined;
  const fieldOf: Record<string, keyof Omit<LacpStats, 'member'>> = {
    'TX PDUs': 'txPdus',
    'RX PDUs': 'rxPdus',
    'RX Bad PDUs': 'rxBadPdus',
    'RX Marker Request PDUs': 'rxMarkerRequests',
    'Link Expired': 'linkExpired',
    'Link Defaulted': 'linkDefaulted',
    'Carrier Status Changed': 'carrierChanged',
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const mem = /^member: ([^:]+):$/.exec(line);
    if (mem) {
      cur = { member: mem[1]!, txPdus: 0, rxPdus: 0, rxBadPdus: 0, rxMarkerRequests: 0, linkExpired: 0, linkDefaulted: 0, carrierChanged: 0 };
      out.push(cur);
      continue;
    }
    const kv = /^([^:]+):\s*(\d+)$/.exec(line);
    const field = kv ? fieldOf[kv[1]!] : undefined;
    if (cur && kv && field) cur[field] = Number(kv[2]);
  }
  return out;
}
