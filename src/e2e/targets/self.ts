/**
 * `laggkit e2e --target self`: one machine plays both hosts. An OS flavour builds the two
 * sides and the data links between them (Linux: network namespaces and veth pairs through a
 * wire namespace, self-linux.ts; FreeBSD: vnet jails and epairs, self-freebsd.ts; NetBSD: the
 * machine's kernel as side A and a rump kernel as side B, joined by tap(4)-virtif pairs,
 * self-netbsd.ts) and says how to run a script on a side, pull a cable (where it can) and take
 * it all down again. The flavour is plain shell run through a Shell, so `--host user@machine`
 * runs the same on a remote machine over SSH.
 *
 * Nothing of the machine's own network is touched: the sides have their own interfaces only
 * (on NetBSD side A is the machine's own stack, with interfaces of the run's own).
 */
import { EnvironmentError, UsageError } from '../../cli/errors.js';
import { subnetOf } from '../../lab/lab.js';
import type { GuestOs } from '../../lab/machines.js';
import { FAMILY_PROBE, openHost, type HostOptions } from '../../targets/index.js';
import { driversFor, stockChoice, type Driver, type DriverName, type StockChoice } from '../drivers.js';
import { platformFor } from '../platform.js';
import type { Capability } from '../scenario.js';
import { freebsdFlavour } from './self-freebsd.js';
import { linuxFlavour } from './self-linux.js';
import { netbsdFlavour } from './self-netbsd.js';
import { localShell, remoteShell, type Shell } from './shell.js';
import { mustSh } from './tools.js';
import type { DataLink, E2eTarget, Side } from './types.js';

/** What a flavour's scripts are given: names, where state and tools are, how many links. */
export interface SelfPlan {
  /** Unique per run, short: namespace and jail names are made from it. */
  name: string;
  /** Folder on the machine for the flavour's state (pid files); removed by down(). */
  stateDir: string;
  /** Folder of laggd, laggctl and seqstream to put first on PATH, when not the machine's own. */
  binDir?: string;
  links: number;
  /** The stock driver --compare stock runs (--stock, or the OS's default). */
  stock: StockChoice;
}

export interface SelfFlavour {
  /** `uname -s` of the machines it runs on. */
  os: string;
  /** The platform and drivers its sides speak. */
  guest: GuestOs;
  /** How the sides and links are made, for reports. */
  how: string;
  /** What a data link is (veth, epair), for reports. */
  linkKind: string;
  /** Name of data link i's interface on both sides. */
  nic(i: number): string;
  /** The management link's name on both sides (the link no action may touch). */
  mgmt: string;
  /** The stock driver, for the message when it cannot run. */
  stockName: string;
  /** What the machine needs when up() fails. */
  setupHint: string;
  /** The sides' drivers, where the flavour must change what the platform's do (jails). */
  drivers?(d: Record<DriverName, Driver>): Record<DriverName, Driver>;
  /**
   * Side B's driver when side B cannot run laggkit (NetBSD's rump kernel cannot load
   * laggkit.kmod): every run pairs side A's driver with it; `why` is the skip reason of a run
   * that needs laggkit on B.
   */
  sideB?(d: Record<DriverName, Driver>): { driver: Driver; why: string };
  /**
   * laggd, laggctl, seqstream, as the flavour needs them, where the sides can run them:
   * `binDir` goes first on the sides' PATH (none: the machine's own); remove() undoes it.
   * `local`: the machine is this one.
   */
  placeTools(shell: Shell, scratch: string, say: (l: string) => void, local: boolean): Promise<{ binDir?: string; remove(): Promise<void> }>;
  /** Build both sides, the links and mgmt; print "stock=yes", or "stock=no REASON". */
  up(p: SelfPlan): string;
  /** A command running `script` on a side. */
  side(p: SelfPlan, side: Side, script: string): string;
  /** Pull (up false) or plug back data link i: both ends lose carrier, both stay admin-up. */
  cable?(p: SelfPlan, i: number, up: boolean): string;
  /** Why there is no cable(), when there is none. */
  lacksCable?: string;
  /** Drop a direction of data link i (or only its LACPDUs) until called again with on false. */
  impair?(p: SelfPlan, i: number, imp: WireImpairment, on: boolean): string;
  /** Why there is no impair(), when there is none. */
  lacksImpair?: string;
  /** Remove everything up() made; never fails, also after a half-done up(). */
  down(p: SelfPlan): string;
}

/**
 * What an impairment drops on a data link: A→B, B→A or both, everything or only LACPDUs (the
 * partner going silent while the link stays up).
 */
export interface WireImpairment {
  direction: 'ab' | 'ba' | 'both';
  only?: 'lacp';
}

/** The self target records no frames yet: a capture on the Linux flavour's wire namespace would. */
const NO_CAPTURE = 'target self records no frames yet (no capture on its wire namespace)';

export type SelfTarget = E2eTarget;

/** One per OS, by `uname -s`. */
const FLAVOURS: Record<string, SelfFlavour> = { Linux: linuxFlavour, FreeBSD: freebsdFlavour, NetBSD: netbsdFlavour };

export const SELF_LINKS = 4;

export interface SelfTargetOptions {
  /** Run on this machine over SSH instead of locally (the shared SSH flags apply). */
  host?: HostOptions;
  /** --stock: the stock driver, where the OS has more than one. */
  stock?: string;
  onProgress?: (line: string) => void;
}

/** The flavour for a machine's `uname -s` (or kernel family); one without is a usage error saying why. */
export function selfFlavourFor(machine: string, os: string, family: string): SelfFlavour {
  const flavour = FLAVOURS[os] ?? FLAVOURS[family];
  if (flavour) return flavour;
  throw new UsageError(
    'E_E2E_SELF_OS',
    `--target self has no ${os} flavour yet (${machine} runs ${os}; there is one for ${Object.keys(FLAVOURS).join(', ')})`,
    'Use --target host with two machines, or the lab.',
  );
}

export async function selfTarget(opts: SelfTargetOptions): Promise<SelfTarget> {
  const say = opts.onProgress ?? (() => {});
  if (!opts.host && typeof process.getuid === 'function' && process.getuid() !== 0)
    throw new EnvironmentError(
      'E_E2E_ROOT',
      '--target self needs root (it creates network namespaces or jails, and links between them)',
      'Run it as root, or on another machine with --host root@machine.',
    );
  const shell: Shell = opts.host ? remoteShell(await openHost(opts.host)) : localShell();
  try {
    // By name, or by kernel family for a derivative that renamed itself (as deploy does).
    const [os = '', family = ''] = (await mustSh(shell, FAMILY_PROBE, 'read the OS name')).trim().split('\n');
    const flavour = selfFlavourFor(shell.name, os, family);
    const stock = stockChoice(flavour.guest, opts.stock);
    const name = `e2e${process.pid % 100000}`;
    const scratch = `/var/tmp/laggkit-${name}`;
    const tools = await flavour.placeTools(shell, scratch, say, !opts.host);
    const binDir = tools.binDir;
    const plan: SelfPlan = { name, stateDir: scratch, binDir, links: SELF_LINKS, stock };
    say(`${shell.name}: building sides A and B (${flavour.how})`);
    const upOut = await shell.sh(flavour.up(plan), 120_000);
    if (upOut.code !== 0) {
      await shell.sh(flavour.down(plan));
      throw new EnvironmentError(
        'E_E2E_TARGET_SETUP',
        `${shell.name}: cannot build the self target (exit ${upOut.code}): ${(upOut.stderr || upOut.stdout).trim().slice(-600)}`,
        flavour.setupHint,
      );
    }
    const stockLine = /^stock=(yes|no)(?: (.*))?$/m.exec(upOut.stdout);
    const stockWhyNot = stockLine?.[1] === 'yes' ? undefined : `${flavour.stockName} does not load on ${shell.name}: ${stockLine?.[2]?.trim() || 'no answer'}`;
    const links: DataLink[] = Array.from({ length: SELF_LINKS }, (_, i) => ({
      nic: flavour.nic(i),
      addrA: subnetOf(i).a,
      addrB: subnetOf(i).b,
    }));
    const linkIndex = (nic: string): number => {
      const i = links.findIndex((l) => l.nic === nic);
      if (i < 0) throw new UsageError('E_E2E_LINK', `the self target has no data link ${nic}`, `Its links are ${links.map((l) => l.nic).join(', ')}.`);
      return i;
    };
    let closed = false;
    const drivers = driversFor(flavour.guest, opts.stock);
    const lacking: Partial<Record<Capability, string>> = {
      stock: stockWhyNot,
      capture: NO_CAPTURE,
      cable: flavour.cable ? undefined : flavour.lacksCable,
      impair: flavour.impair ? undefined : flavour.lacksImpair,
    };
    return {
      kind: 'self',
      describe: `self on ${shell.name} (${os}: ${flavour.how}; ${SELF_LINKS} ${flavour.linkKind} links, any NIC model)`,
      capabilities: (['cable', 'stock', 'impair'] as const).filter((c) => !lacking[c]),
      lacks: (cap) => lacking[cap],
      platform: platformFor(flavour.guest),
      drivers: flavour.drivers ? flavour.drivers(drivers) : drivers,
      ...(flavour.sideB ? { sideB: flavour.sideB(drivers) } : {}),
      links,
      mgmt: { A: flavour.mgmt, B: flavour.mgmt },
      sh: (side, script, timeoutMs = 120_000) => shell.sh(flavour.side(plan, side, script), timeoutMs),
      cable: async (nic, up) => {
        if (!flavour.cable) throw new EnvironmentError('E_E2E_NO_CABLE', flavour.lacksCable ?? 'no cable pulls here');
        await mustSh(shell, flavour.cable(plan, linkIndex(nic), up), `${up ? 'plug back' : 'pull'} the cable of ${nic}`);
      },
      impair: async (nic, imp, on) => {
        if (!flavour.impair) throw new EnvironmentError('E_E2E_NO_IMPAIR', flavour.lacksImpair ?? 'no impairments here');
        const wire: WireImpairment = { direction: imp.direction === 'a-to-b' ? 'ab' : 'ba', ...(imp.what === 'lacp' ? { only: 'lacp' as const } : {}) };
        await mustSh(shell, flavour.impair(plan, linkIndex(nic), wire, on), `${on ? 'impair' : 'restore'} ${nic}`);
      },
      capture: async () => {
        throw new EnvironmentError('E_E2E_NO_CAPTURE', NO_CAPTURE);
      },
      close: async () => {
        if (closed) return;
        closed = true;
        await shell.sh(flavour.down(plan)).catch(() => {});
        await tools.remove();
        await shell.close();
      },
    };
  } catch (err) {
    await shell.close();
    throw err;
  }
}
