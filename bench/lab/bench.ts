/**
 * Lab benchmark (npm run bench:lab): LACP convergence of the lab's guests against an Open
 * vSwitch bond, with Open vSwitch against itself measured in the same run as the peer.
 *
 * Each guest OS gets a lab of one guest with two virtio links whose far ends are TAPs in a
 * namespace (`lab up --peer netns`), where an OVS balance-tcp bond (LACP active, fast timeout,
 * userspace datapath) holds both TAPs. In the guest, each driver in turn builds an LACP
 * aggregate with the fast timeout over its two NICs:
 *
 *   linux    laggd (the lab image's static build), then Linux bonding (802.3ad)
 *   freebsd  if_laggkit.ko, loaded by `laggkit deploy` (built here against
 *            LAGGKIT_FREEBSD_SYSROOT and LAGGKIT_FREEBSD_KERNBUILD, or on the guest), then
 *            lagg(4); reported skipped, with the reason, without LAGGKIT_FREEBSD_IMAGE
 *   peer     OVS↔OVS: two bonds over two veth pairs between namespaces, as in bench:laggd
 *
 * A round pulls both cables (QMP set_link on the guest's NIC and the TAP's carrier off) until
 * neither end still has every member, waits 300 ms and plugs both back at once. The figure is
 * the time from the plug until OVS has every member in sync and enabled and the guest's LACPDUs
 * say it collects and distributes on each: OVS's view of both ends, polled here every 5 ms (a
 * poll over SSH into a TCG guest would cost more than the convergence). After each round the
 * guest's own status, read over SSH, must agree. Median of BENCH_CONVERGENCE_RUNS rounds (5).
 *
 * Prints a table and writes bench/results/lab.json with the load at start and end. A pairing
 * that cannot run is recorded with its error and the run exits non-zero. Needs root (TAPs and
 * namespaces); about four minutes with the Linux guest alone, under TCG.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { driversFor, type Driver } from '../../src/e2e/drivers.js';
import { deployModule, guestScript, undeployModule } from '../../src/e2e/targets/lab-bsd.js';
import { localTools } from '../../src/e2e/targets/tools.js';
import { labDown, labLink, labUp } from '../../src/lab/lab.js';
import type { GuestOs } from '../../src/lab/machines.js';
import { repoRoot } from '../../src/lab/paths.js';
import type { LabState } from '../../src/lab/state.js';
import { createTopology } from '../../test/laggd/support/netns.js';
import { lacpBondDistributing, startOvs, type Ovs } from '../../test/laggd/support/ovs.js';
import { convergence, convergenceRuns } from '../laggd/measure.js';
import { ADDR_A, ADDR_B, makePair, ovsSide } from '../laggd/peers.js';

const RUNS = Number(process.env.BENCH_CONVERGENCE_RUNS ?? 5);
const GUEST_ADDR = `${ADDR_A}/24`;
const OVS_ADDR = `${ADDR_B}/24`;

interface Figure {
  median_ms: number;
  runs_ms: number[];
}
interface GuestResult {
  guest: GuestOs;
  accel?: string;
  /** driver name (laggkit, stock) to its figure, or why it could not run */
  drivers: Record<string, Figure & { label: string }>;
  skipped?: string;
  error?: string;
}
const results = {
  date: new Date().toISOString(),
  host: { cpus: os.cpus().length, kernel: os.release(), loadavg_start: os.loadavg().map((l) => Number(l.toFixed(2))), loadavg_end: [] as number[] },
  runs: RUNS,
  ovs_ovs: undefined as (Figure & { error?: string }) | undefined,
  guests: [] as GuestResult[],
};
const say = (l: string) => process.stderr.write(`bench:lab: ${l}\n`);

/** OVS↔OVS over veths, as bench:laggd measures it: the peer figure of this run. */
async function ovsPeer(): Promise<Figure> {
  const teardowns: Array<() => unknown> = [];
  const fakeT = { teardown: (fn: () => unknown) => teardowns.push(fn) } as unknown as ExecutionContext;
  try {
    const topo = await createTopology(fakeT, { links: 2, tag: 'lkbl' });
    const pair = makePair('ovs', await ovsSide(topo, topo.a, ADDR_A), await ovsSide(topo, topo.b, ADDR_B));
    try {
      return await convergence(pair, topo, RUNS);
    } finally {
      await pair.stop();
    }
  } finally {
    for (const fn of teardowns.reverse()) await fn();
  }
}

/** The guest's aggregate as `driver` reports it: every port distributing? */
async function guestDistributing(state: LabState, driver: Driver, ports: string[]): Promise<boolean> {
  const r = await guestScript(state, 'A', driver.portStates('lacp', ports));
  const active = r.stdout.split('\n').filter((l) => / active$/.test(l)).length;
  return active === ports.length;
}

/** One driver in the guest against the OVS bond on the TAPs. */
async function measureDriver(state: LabState, ovs: Ovs, driver: Driver, nics: string[]): Promise<Figure> {
  const sh = async (script: string) => {
    const r = await guestScript(state, 'A', script);
    if (r.code !== 0) throw new Error(`${driver.label}: guest script failed (${r.code}): ${(r.stderr || r.stdout).trim().slice(-400)}`);
  };
  await sh(driver.prepare());
  await sh(driver.create({ proto: 'lacp', ports: nics, addr: GUEST_ADDR, lacpFastTimeout: true, lacpMultiSpeed: false }));
  try {
    await ovs.waitNegotiated(60_000);
    const ovsReady = () => lacpBondDistributing(ovs);
    return await convergenceRuns(
      {
        cables: async (up) => {
          for (const nic of nics) await labLink(state.name, 'A', nic, up ? 'up' : 'down');
        },
        stillUp: ovsReady,
        allDistributing: ovsReady,
        check: async () => {
          if (!(await guestDistributing(state, driver, nics)))
            throw new Error(`OVS saw ${driver.label} distributing on every member, but the guest itself does not report it`);
        },
      },
      RUNS,
    );
  } finally {
    await guestScript(state, 'A', driver.destroy()).catch(() => undefined);
  }
}

/** A one-guest lab of `guest` with OVS on its TAPs; each of the OS's drivers measured in turn. */
async function measureGuest(guest: GuestOs, image?: string): Promise<GuestResult> {
  const out: GuestResult = { guest, drivers: {} };
  const name = `benchlab${process.pid % 10000}`;
  if (guest === 'linux') localTools(say);
  say(`starting a ${guest} guest with two virtio links to TAPs in a namespace`);
  const state = await labUp({ name, guest, ...(image ? { image } : {}), nics: ['virtio', 'virtio'], peer: 'netns', timeoutSec: 900, onProgress: say });
  out.accel = state.accel;
  let ovs: Ovs | undefined;
  let deployed: Awaited<ReturnType<typeof deployModule>> | undefined;
  try {
    const ns = state.links[0]?.b && 'netns' in state.links[0].b ? state.links[0].b.netns : undefined;
    if (!ns) throw new Error('the lab has no namespace peer');
    const taps = state.links.map((l) => ('tap' in l.b ? l.b.tap : ''));
    const nics = state.links.map((l) => l.a.nic);
    // OVS owns the TAPs now: the lab's addresses on them would make the namespace answer too.
    for (const t of taps) execFileSync('ip', ['-n', ns, 'addr', 'flush', 'dev', t]);
    ovs = await startOvs({ ns }, { members: taps, address: OVS_ADDR, tag: `${name}-ovs` });
    const drivers = driversFor(guest);
    if (guest !== 'linux') {
      // The module comes the way it comes to any BSD host: deploy, verified against OVS.
      const sysroot = process.env.LAGGKIT_FREEBSD_SYSROOT;
      const kernbuild = process.env.LAGGKIT_FREEBSD_KERNBUILD;
      deployed = await deployModule(state, nics, { ...(sysroot ? { sysroot } : {}), ...(kernbuild ? { kernbuild } : {}) }, say, 'if_laggkit.ko', ['A']);
    }
    for (const driver of [drivers.laggkit, drivers.stock]) {
      say(`${driver.label} ↔ OVS: ${RUNS} rounds`);
      try {
        out.drivers[driver.name] = { label: driver.label, ...(await measureDriver(state, ovs, driver, nics)) };
        say(`  ${driver.label}: ${out.drivers[driver.name]!.runs_ms.join(', ')} ms`);
      } catch (err) {
        out.drivers[driver.name] = { label: driver.label, median_ms: NaN, runs_ms: [] };
        out.error = `${out.error ? `${out.error}; ` : ''}${(err as Error).message}`;
        say(`  ${driver.label}: ${(err as Error).message}`);
      }
    }
  } finally {
    if (deployed) await undeployModule(deployed, say).catch(() => undefined);
    await ovs?.stop().catch(() => undefined);
    await labDown(name).catch(() => undefined);
  }
  return out;
}

const fmt = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? 'n/a' : String(v));

function table(): string {
  const peer = results.ovs_ovs?.median_ms;
  const rows: string[][] = [['LACP convergence, ms (median)', 'ms', 'OVS↔OVS', 'ratio']];
  for (const g of results.guests) {
    if (g.skipped) {
      rows.push([`${g.guest} guest`, 'skipped', '', '']);
      continue;
    }
    for (const f of Object.values(g.drivers)) {
      const ratio = peer && !Number.isNaN(f.median_ms) ? (f.median_ms / peer).toFixed(2) : '';
      rows.push([`${f.label} ↔ OVS (${g.guest} guest, ${g.accel ?? '?'})`, fmt(f.median_ms), fmt(peer), ratio]);
    }
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  '));
  for (const g of results.guests) if (g.skipped) lines.push(`${g.guest}: skipped: ${g.skipped}`);
  return lines.join('\n');
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench:lab needs root (TAPs and network namespaces); run it with sudo\n');
    return 2;
  }
  let failed = false;
  say('OVS↔OVS over veths (the peer)');
  try {
    results.ovs_ovs = await ovsPeer();
    say(`  OVS↔OVS: ${results.ovs_ovs.runs_ms.join(', ')} ms`);
  } catch (err) {
    results.ovs_ovs = { median_ms: NaN, runs_ms: [], error: (err as Error).message };
    failed = true;
  }
  for (const guest of ['linux', 'freebsd'] as const) {
    const image = guest === 'freebsd' ? process.env.LAGGKIT_FREEBSD_IMAGE : undefined;
    if (guest === 'freebsd' && !image) {
      results.guests.push({ guest, drivers: {}, skipped: 'LAGGKIT_FREEBSD_IMAGE is not set (a FreeBSD disk image, as FreeBSD publishes its BASIC-CI one)' });
      continue;
    }
    try {
      const r = await measureGuest(guest, image);
      results.guests.push(r);
      failed ||= r.error !== undefined;
    } catch (err) {
      results.guests.push({ guest, drivers: {}, error: (err as Error).message });
      say(`${guest}: ${(err as Error).message}`);
      failed = true;
    }
  }
  results.host.loadavg_end = os.loadavg().map((l) => Number(l.toFixed(2)));
  const file = path.join(repoRoot(), 'bench', 'results', 'lab.json');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(
    `${table()}\n\nconvergence: cables of both links out and back in at once, to OVS seeing every member in sync and enabled and the guest collecting and distributing on each; ${RUNS} rounds\nload average at start ${results.host.loadavg_start[0]}, at end ${results.host.loadavg_end[0]}\nwritten: bench/results/lab.json\n`,
  );
  return failed ? 1 : 0;
}

process.exit(await main());
