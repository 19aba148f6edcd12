/**
 * Network-namespace test rig for laggd: "hosts" are Linux network namespaces joined by veth
 * pairs, so laggd (and any peer: another laggd, Open vSwitch, a raw-socket sender) runs on real
 * interfaces with real frames, without touching the machine's own network.
 *
 * Every name this module creates carries a prefix unique to the test process (pid + counter),
 * so ava can run test files in parallel. Everything is torn down by topology.destroy(), which
 * createTopology() registers with t.teardown() so a failing test still cleans up.
 *
 *   const topo = await createTopology(t, { links: 2 });       // hosts a, b; veth0..veth1 on each
 *   const la = await topo.a.startLaggd();                      // laggd -f inside host a
 *   await la.ctlOk('laggkit0', 'create', 'laggproto', 'lacp', 'laggport', 'veth0');
 *   await topo.a.exec(['ping', '-c1', '10.0.0.2']);
 *   await topo.setLink('b', 'veth1', 'down');
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { parseIfconfig } from '../../../src/ifconfig/index.js';
import type { IfInterface } from '../../../src/ifconfig/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..', '..');
/** The optimised build (what benchmarks measure). */
export const releaseBuildDir = path.join(repoRoot, 'kmod', 'posix', 'build');
/** The -fsanitize=address,undefined build `make -C kmod/posix` also makes when clang is there. */
export const asanBuildDir = path.join(releaseBuildDir, 'asan');

/**
 * Where laggd and laggctl come from: LAGGD_BUILD if set; under ava the sanitizer build when it
 * is at least as new as the optimised one (so tests catch memory errors); otherwise the
 * optimised build.
 */
function chooseBuildDir(): string {
  if (process.env.LAGGD_BUILD) return path.resolve(repoRoot, process.env.LAGGD_BUILD);
  const underAva = /[\\/]ava[\\/]lib[\\/]worker[\\/]/.test(process.argv[1] ?? '');
  const asan = path.join(asanBuildDir, 'laggd');
  const rel = path.join(releaseBuildDir, 'laggd');
  if (underAva && existsSync(asan) && (!existsSync(rel) || statSync(asan).mtimeMs >= statSync(rel).mtimeMs)) return asanBuildDir;
  return releaseBuildDir;
}
export const buildDir = chooseBuildDir();
export const laggdBin = path.join(buildDir, 'laggd');
export const laggctlBin = path.join(buildDir, 'laggctl');

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Data written to the command's stdin. */
  input?: string | Buffer;
  /** Kill the command after this many ms (default 30 s); the result then has code 124. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Run argv (no shell) and collect its output. Never throws for a non-zero exit. */
export function run(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    const [cmd, ...args] = argv;
    if (cmd === undefined) throw new Error('run: empty argv');
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: stderr + err.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: timedOut ? 124 : (code ?? 1), stdout, stderr });
    });
    child.stdin.on('error', () => {});
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** Like run(), but throws with the command's stderr when it exits non-zero. */
export async function runOk(argv: string[], opts: ExecOptions = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Poll fn until it returns a truthy value, or throw after timeoutMs naming what was awaited.
 * The last value (or error) is put in the message so a failing test says what it saw.
 */
export async function waitFor<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 15_000, everyMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      last = await fn();
      if (last) return last as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const seen = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${seen})`);
    }
    await sleep(everyMs);
  }
}

/** Interface statistics as the kernel counts them (ip -s -j link). */
export interface IfCounters {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  rxDropped: number;
  txDropped: number;
}

let counter = 0;
/** A name prefix unique to this process and call: short, since interface names are <= 15 chars. */
export function uniquePrefix(tag = 'lk'): string {
  counter += 1;
  return `${tag}${process.pid.toString(36)}${counter.toString(36)}`;
}

/** Result of one laggctl run. */
export type CtlResult = ExecResult;

/** A laggd running in a host namespace. */
export class Laggd {
  private logText = '';
  private exited: Promise<number>;
  exitCode: number | undefined;

  constructor(
    readonly host: Host,
    readonly socket: string,
    readonly proc: ChildProcess,
    readonly configFile: string | undefined,
  ) {
    proc.stdout?.on('data', (d: Buffer) => (this.logText += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (this.logText += d.toString()));
    this.exited = new Promise((resolve) => {
      proc.on('close', (code, signal) => {
        this.exitCode = code ?? (signal ? 128 : 1);
        resolve(this.exitCode);
      });
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  /** Everything laggd wrote to stdout/stderr so far. */
  log(): string {
    return this.logText;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Run laggctl against this daemon (inside the same namespace). */
  ctl(...args: string[]): Promise<CtlResult> {
    return this.host.exec([laggctlBin, '-s', this.socket, ...args]);
  }

  /** Run laggctl and throw (with its stderr and the daemon's log tail) unless it exits 0. */
  async ctlOk(...args: string[]): Promise<string> {
    const r = await this.ctl(...args);
    if (r.code !== 0) {
      throw new Error(`laggctl ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}\n--- laggd log tail ---\n${this.log().slice(-2000)}`);
    }
    return r.stdout;
  }

  /** laggctl IF --json, parsed. */
  async status(ifname = 'laggkit0', verbose = false): Promise<LaggStatusJson> {
    const out = await this.ctlOk(...(verbose ? ['-v'] : []), '--json', ifname);
    return JSON.parse(out) as LaggStatusJson;
  }

  /** `laggctl IF` (or -v) read through the project's ifconfig parser. */
  async ifconfig(ifname = 'laggkit0', verbose = false): Promise<IfInterface> {
    const text = await this.ctlOk(...(verbose ? ['-v'] : []), ifname);
    const model = parseIfconfig(text);
    const iface = model.interfaces.find((i) => i.name === ifname);
    if (!iface) throw new Error(`no ${ifname} block in laggctl output:\n${text}`);
    return iface;
  }

  /** Port name -> flag names (ACTIVE, COLLECTING, ...) from the status block. */
  async portFlags(ifname = 'laggkit0'): Promise<Record<string, string[]>> {
    const iface = await this.ifconfig(ifname);
    const res: Record<string, string[]> = {};
    for (const p of iface.lagg?.ports ?? []) res[p.name] = p.flags.names;
    return res;
  }

  /** Per-port counters (laggctl IF counters --json). */
  async counters(ifname = 'laggkit0'): Promise<Record<string, PortCounters>> {
    const out = await this.ctlOk('--json', ifname, 'counters');
    const parsed = JSON.parse(out) as { ports: Array<PortCounters & { name: string }> };
    const res: Record<string, PortCounters> = {};
    for (const p of parsed.ports) res[p.name] = p;
    return res;
  }

  /** Send a signal to the daemon (SIGHUP to re-read the config, ...). */
  signal(sig: NodeJS.Signals): void {
    if (this.running) this.proc.kill(sig);
  }

  /** Stop with SIGTERM (laggd restores members), SIGKILL after timeoutMs; returns the exit code. */
  async stop(timeoutMs = 5000): Promise<number> {
    if (!this.running) return this.exitCode ?? 0;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** Resolves with the exit code when the daemon exits. */
  wait(): Promise<number> {
    return this.exited;
  }
}

/** Subset of `laggctl --json IF` the tests read (the full shape is in kmod/posix/README.md). */
export interface LaggStatusJson {
  name: string;
  flags: string[];
  mtu: number;
  ether: string;
  inet: string[];
  inet6?: string[];
  laggproto: string;
  lagghash: string[];
  active_port?: string | null;
  options: Record<string, number | boolean | string>;
  ports: Array<{
    name: string;
    flags: string[];
    prio: number;
    link: boolean;
    speed: number;
    lacp?: {
      actor: Record<string, unknown> & { state: string[] };
      partner: Record<string, unknown> & { state: string[] };
    };
  }>;
  lag_id?: string;
  status: string;
}

export interface PortCounters {
  rx_packets: number;
  rx_bytes: number;
  tx_packets: number;
  tx_bytes: number;
  rx_dropped: number;
  tx_dropped: number;
  lacp_rx?: number;
  lacp_tx?: number;
  lacp_illegal?: number;
  marker_rx?: number;
  marker_tx?: number;
  marker_resp_rx?: number;
  marker_resp_tx?: number;
  /** the port's data frames reach the TAP inside the kernel (laggd_rxpath.c) */
  host_rx_kernel?: boolean;
  /** frames laggd's own socket on the member took in */
  host_rx_socket_frames?: number;
  /** the kernel sends the aggregate's frames out of this port itself (laggd_txpath.c) */
  host_tx_kernel?: boolean;
  /** frames the kernel sent out of this port that way (tx_packets includes them) */
  host_tx_kernel_packets?: number;
}

export interface StartLaggdOptions {
  /** Contents of a config file passed with -c (written to the topology's temp dir). */
  config?: string;
  /** Extra laggd arguments. */
  args?: string[];
  /** Wait this long for the control socket to appear (default 10 s). */
  timeoutMs?: number;
  /** Environment variables for laggd (LAGGD_RX_PATH=user, ...). */
  env?: Record<string, string>;
}

/** One network namespace. */
export class Host {
  readonly laggds: Laggd[] = [];

  constructor(
    readonly topo: Topology,
    readonly label: string,
    readonly ns: string,
  ) {}

  /** Run argv inside this namespace. */
  exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return run(['ip', 'netns', 'exec', this.ns, ...argv], opts);
  }

  execOk(argv: string[], opts: ExecOptions = {}): Promise<string> {
    return runOk(['ip', 'netns', 'exec', this.ns, ...argv], opts);
  }

  /** Run a shell command line inside this namespace (for pipelines only; prefer exec). */
  sh(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return this.exec(['sh', '-c', script], opts);
  }

  /** Start a long-running process inside the namespace; it is killed at teardown. */
  spawn(argv: string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.topo.children.push(child);
    return child;
  }

  /** Set an interface of this host up or down. */
  async setLink(ifname: string, state: 'up' | 'down'): Promise<void> {
    await this.execOk(['ip', 'link', 'set', 'dev', ifname, state]);
  }

  /** The kernel's counters of an interface in this namespace. */
  async ifCounters(ifname: string): Promise<IfCounters> {
    const out = await this.execOk(['ip', '-s', '-j', 'link', 'show', 'dev', ifname]);
    const j = JSON.parse(out) as Array<{ stats64: { rx: Record<string, number>; tx: Record<string, number> } }>;
    const s = j[0]?.stats64;
    if (!s) throw new Error(`no stats for ${ifname} in ${this.ns}`);
    return {
      rxPackets: s.rx.packets ?? 0,
      rxBytes: s.rx.bytes ?? 0,
      txPackets: s.tx.packets ?? 0,
      txBytes: s.tx.bytes ?? 0,
      rxDropped: s.rx.dropped ?? 0,
      txDropped: s.tx.dropped ?? 0,
    };
  }

  /** MAC address and MTU of an interface in this namespace. */
  async ifInfo(ifname: string): Promise<{ mac: string; mtu: number; up: boolean }> {
    const out = await this.execOk(['ip', '-j', 'link', 'show', 'dev', ifname]);
    const j = JSON.parse(out) as Array<{ address: string; mtu: number; operstate: string; flags: string[] }>;
    const e = j[0];
    if (!e) throw new Error(`no interface ${ifname} in ${this.ns}`);
    return { mac: e.address, mtu: e.mtu, up: e.flags.includes('UP') };
  }

  /**
   * Start laggd -f in this namespace with its own control socket (and config file if given),
   * and wait until it answers `laggctl -a`.
   */
  async startLaggd(opts: StartLaggdOptions = {}): Promise<Laggd> {
    if (!existsSync(laggdBin)) throw new Error(`${laggdBin} is not built (run: make -C kmod/posix)`);
    const n = this.laggds.length;
    const socket = path.join(this.topo.tmpDir, `${this.label}-laggd${n}.sock`);
    let configFile: string | undefined;
    if (opts.config !== undefined) {
      configFile = path.join(this.topo.tmpDir, `${this.label}-laggd${n}.conf`);
      writeFileSync(configFile, opts.config);
    }
    const argv = [laggdBin, '-f', '-s', socket, ...(configFile ? ['-c', configFile] : []), ...(opts.args ?? [])];
    const env = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`);
    const proc = spawn('ip', ['netns', 'exec', this.ns, ...(env.length ? ['env', ...env] : []), ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    const d = new Laggd(this, socket, proc, configFile);
    this.laggds.push(d);
    await waitFor(
      `laggd in ${this.ns} to answer on ${socket}`,
      async () => {
        if (!d.running) throw new Error(`laggd exited ${d.exitCode}: ${d.log()}`);
        if (!existsSync(socket)) return false;
        return (await d.ctl('-a')).code === 0;
      },
      opts.timeoutMs ?? 10_000,
      50,
    );
    return d;
  }

  /** Write a file in the topology's temp dir and return its path (for configs, payloads). */
  writeTemp(name: string, data: string | Buffer): string {
    const p = path.join(this.topo.tmpDir, `${this.label}-${name}`);
    writeFileSync(p, data);
    return p;
  }
}

export interface TopologyOptions {
  /** Number of hosts (default 2: a and b). */
  hosts?: number;
  /** veth pairs between host a and host b (default 2), named veth0.. on both ends. */
  links?: number;
  /** Name tag of this test file in namespace names (default 'lk'). */
  tag?: string;
  /** Keep IPv6 enabled on member ports (default: disabled on members, so their own router
   *  solicitations and DAD do not pollute counters; IPv6 stays on for laggkit0). */
  memberIpv6?: boolean;
}

/** A veth pair: end a in host `a` and end b in host `b`. */
export interface Link {
  a: { host: Host; ifname: string };
  b: { host: Host; ifname: string };
}

export class Topology {
  readonly hosts: Host[] = [];
  readonly links: Link[] = [];
  readonly children: ChildProcess[] = [];
  readonly tmpDir: string;
  private destroyed = false;

  constructor(readonly prefix: string) {
    this.tmpDir = mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  }

  get a(): Host {
    const h = this.hosts[0];
    if (!h) throw new Error('topology has no host a');
    return h;
  }

  get b(): Host {
    const h = this.hosts[1];
    if (!h) throw new Error('topology has no host b');
    return h;
  }

  host(label: string): Host {
    const h = this.hosts.find((x) => x.label === label);
    if (!h) throw new Error(`no host ${label}`);
    return h;
  }

  /** Set one end of a link down/up: host label (or Host) and its interface name. */
  async setLink(host: string | Host, ifname: string, state: 'up' | 'down'): Promise<void> {
    const h = typeof host === 'string' ? this.host(host) : host;
    await h.setLink(ifname, state);
  }

  /** Add a veth pair between two hosts, with the given names on each side. */
  async addLink(a: Host, aName: string, b: Host, bName: string): Promise<Link> {
    await runOk(['ip', 'link', 'add', aName, 'netns', a.ns, 'type', 'veth', 'peer', 'name', bName, 'netns', b.ns]);
    const link = { a: { host: a, ifname: aName }, b: { host: b, ifname: bName } };
    this.links.push(link);
    return link;
  }

  /** Stop every laggd and child, delete namespaces and the temp dir. Safe to call twice. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const h of this.hosts) for (const d of h.laggds) await d.stop(3000).catch(() => undefined);
    // A sanitizer report in any daemon's output fails the test that ran it.
    const reports = this.hosts
      .flatMap((h) => h.laggds)
      .map((d) => d.log())
      .filter((l) => /AddressSanitizer|LeakSanitizer|runtime error:/.test(l));
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const h of this.hosts) {
      // Anything else still running in the namespace (tcpdump, socat) would keep it alive.
      await run(['ip', 'netns', 'pids', h.ns]).then(async (r) => {
        for (const pid of r.stdout.split(/\s+/).filter(Boolean)) await run(['kill', '-9', pid]);
      });
      await run(['ip', 'netns', 'del', h.ns]);
    }
    rmSync(this.tmpDir, { recursive: true, force: true });
    if (reports.length) throw new Error(`laggd sanitizer report:\n${reports.join('\n---\n').slice(0, 8000)}`);
  }
}

/**
 * Create hosts a, b (c, d... when hosts > 2) as namespaces `<prefix>a`, `<prefix>b`, joined by
 * `links` veth pairs named veth0..vethN-1 on both sides; every interface is up, loopback too.
 * Teardown is registered with t.teardown().
 */
export async function createTopology(t: ExecutionContext, opts: TopologyOptions = {}): Promise<Topology> {
  const prefix = uniquePrefix(opts.tag ?? 'lk');
  const topo = new Topology(prefix);
  t.teardown(() => topo.destroy());
  const nhosts = opts.hosts ?? 2;
  for (let i = 0; i < nhosts; i++) {
    const label = String.fromCharCode('a'.charCodeAt(0) + i);
    const ns = `${prefix}${label}`;
    await runOk(['ip', 'netns', 'add', ns]);
    const host = new Host(topo, label, ns);
    topo.hosts.push(host);
    await host.execOk(['ip', 'link', 'set', 'lo', 'up']);
    // The peers' kernels see member frames too when a userspace switch reads them via
    // AF_PACKET; answering ARP only on the addressed interface keeps replies unambiguous.
    await host.execOk(['sysctl', '-qw', 'net.ipv4.conf.all.arp_ignore=1']);
  }
  if (nhosts >= 2) {
    for (let i = 0; i < (opts.links ?? 2); i++) {
      const name = `veth${i}`;
      await topo.addLink(topo.a, name, topo.b, name);
    }
  }
  for (const l of topo.links) {
    for (const end of [l.a, l.b]) {
      if (!opts.memberIpv6) await end.host.execOk(['sysctl', '-qw', `net.ipv6.conf.${end.ifname}.disable_ipv6=1`]);
      await end.host.setLink(end.ifname, 'up');
    }
  }
  return topo;
}

/**
 * The usual two-host setup: a laggd on each side, laggkit0 created with `proto` over every
 * link, addresses 10.77.0.1/24 (a) and 10.77.0.2/24 (b) plus fd77::1/64 and fd77::2/64.
 * Extra laggctl words for each side are appended to the create line; protoB gives b another
 * protocol.
 */
export async function laggPair(
  t: ExecutionContext,
  proto: string,
  opts: TopologyOptions & { extra?: string[]; extraB?: string[]; protoB?: string; laggd?: StartLaggdOptions } = {},
): Promise<{ topo: Topology; la: Laggd; lb: Laggd }> {
  const topo = await createTopology(t, opts);
  const la = await topo.a.startLaggd(opts.laggd);
  const lb = await topo.b.startLaggd(opts.laggd);
  const ports = topo.links.flatMap((l) => ['laggport', l.a.ifname]);
  await la.ctlOk('laggkit0', 'create', 'laggproto', proto, ...ports, ...(opts.extra ?? []));
  await lb.ctlOk('laggkit0', 'create', 'laggproto', opts.protoB ?? proto, ...ports, ...(opts.extraB ?? opts.extra ?? []));
  for (const [h, n] of [
    [topo.a, 1],
    [topo.b, 2],
  ] as const) {
    await h.execOk(['ip', 'link', 'set', 'laggkit0', 'up']);
    await h.execOk(['ip', 'addr', 'add', `10.77.0.${n}/24`, 'dev', 'laggkit0']);
    await h.execOk(['ip', 'addr', 'add', `fd77::${n}/64`, 'dev', 'laggkit0', 'nodad']);
  }
  return { topo, la, lb };
}

/** A running packet capture (tcpdump) in a host namespace. */
export interface Capture {
  /** Stop tcpdump and return what it printed (one line per frame, -e -n, plus -A payload). */
  stop(): Promise<string>;
}

/**
 * Start `tcpdump -i ifname -e -n -l [-A] FILTER...` in a namespace and wait until it listens.
 * -e prints MAC addresses (member frames carry the aggregate's MAC), -A the payload in ASCII.
 */
export async function startCapture(host: Host, ifname: string, filter: string[] = [], opts: { ascii?: boolean; hex?: boolean } = {}): Promise<Capture> {
  const args = ['tcpdump', '-i', ifname, '-e', '-n', '-l', '-U', ...(opts.ascii ? ['-A'] : []), ...(opts.hex ? ['-xx'] : []), ...filter];
  const child = host.spawn(args);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await waitFor(
    `tcpdump on ${host.ns}/${ifname} to listen`,
    () => {
      if (child.exitCode !== null) throw new Error(`tcpdump exited: ${err}`);
      return err.includes('listening on');
    },
    10_000,
    20,
  );
  return {
    async stop() {
      // Give frames in flight a moment to be printed before stopping.
      await sleep(200);
      child.kill('SIGINT');
      await done;
      return out;
    },
  };
}

/**
 * Send `count` UDP datagrams from `host` to dst:port, spread over `flows` source sockets
 * (distinct source ports, so distinct L4 flows), in order, each carrying "seq=NNNNNN".
 */
export async function udpSend(host: Host, dst: string, port: number, count: number, flows = 1): Promise<void> {
  const script = `
    const dgram = require('node:dgram');
    const [dst, port, count, flows] = process.argv.slice(1);
    const fam = dst.includes(':') ? 'udp6' : 'udp4';
    const socks = Array.from({ length: +flows }, () => dgram.createSocket(fam));
    (async () => {
      for (let i = 0; i < +count; i++) {
        const msg = Buffer.from('seq=' + String(i).padStart(6, '0') + ';');
        await new Promise((r, j) => socks[i % socks.length].send(msg, +port, dst, (e) => (e ? j(e) : r())));
      }
      for (const s of socks) s.close();
    })().catch((e) => { console.error(e.message); process.exit(1); });`;
  await host.execOk([process.execPath, '-e', script, dst, String(port), String(count), String(flows)]);
}

/**
 * Move `bytes` random bytes over TCP from host `from` to `to` (listening on toAddr:port) with
 * socat, and return the SHA-256 of what was sent and of what arrived.
 */
export async function tcpTransfer(
  from: Host,
  to: Host,
  toAddr: string,
  bytes = 2 * 1024 * 1024,
  port = 5201,
): Promise<{ sent: string; received: string; receivedBytes: number }> {
  const topo = from.topo;
  const src = path.join(topo.tmpDir, `tcp-src-${port}-${counter}`);
  const dst = path.join(topo.tmpDir, `tcp-dst-${port}-${counter++}`);
  writeFileSync(src, randomBytes(bytes));
  const v6 = toAddr.includes(':');
  const listener = to.spawn(['socat', '-u', `${v6 ? 'TCP6' : 'TCP4'}-LISTEN:${port},reuseaddr`, `CREATE:${dst}`]);
  const lDone = new Promise<number>((resolve) => listener.on('close', (c) => resolve(c ?? 1)));
  await waitFor(
    `socat listening on ${to.ns}:${port}`,
    async () => {
      const r = await to.exec(['ss', '-Hltn', `sport = :${port}`]);
      return r.stdout.trim().length > 0;
    },
    10_000,
    50,
  );
  const target = v6 ? `TCP6:[${toAddr}]:${port}` : `TCP4:${toAddr}:${port}`;
  await from.execOk(['socat', '-u', `OPEN:${src}`, target], { timeoutMs: 60_000 });
  const code = await Promise.race([lDone, sleep(30_000).then(() => -1)]);
  if (code !== 0) throw new Error(`receiver socat exited ${code}`);
  const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
  const received = existsSync(dst) ? readFileSync(dst).length : 0;
  return { sent: sha(src), received: existsSync(dst) ? sha(dst) : '', receivedBytes: received };
}

/**
 * Make one end of a link silent while its carrier stays up: every frame the host sends on
 * `ifname` is redirected (tc mirred) into a veth whose peer is down, where it is dropped.
 * (This kernel has no netem or gact; mirred is enough.) Returns the undo function.
 */
export async function silence(host: Host, ifname: string): Promise<() => Promise<void>> {
  const sink = `sk${ifname}`.slice(0, 15);
  await host.execOk(['ip', 'link', 'add', sink, 'type', 'veth', 'peer', 'name', `${sink}p`.slice(0, 15)]);
  await host.execOk(['ip', 'link', 'set', sink, 'up']);
  // laggd may already have put a clsact qdisc on its members; reuse it then.
  await host.exec(['tc', 'qdisc', 'add', 'dev', ifname, 'clsact']);
  await host.execOk([
    'tc',
    'filter',
    'add',
    'dev',
    ifname,
    'egress',
    'prio',
    '1',
    'protocol',
    'all',
    'u32',
    'match',
    'u32',
    '0',
    '0',
    'action',
    'mirred',
    'egress',
    'redirect',
    'dev',
    sink,
  ]);
  return async () => {
    await host.execOk(['tc', 'filter', 'del', 'dev', ifname, 'egress', 'prio', '1']);
    await host.exec(['ip', 'link', 'del', sink]);
  };
}

/** Quote nothing: configs are written as files; this joins laggctl lines for a config file. */
export function configText(lines: string[][]): string {
  return lines.map((l) => l.join(' ')).join('\n') + '\n';
}
