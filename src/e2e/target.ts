/**
 * Where e2e cases run. A target is two hosts A and B of one OS joined by data links, reachable
 * by shell, and optionally able to pull a link's cable. The built-in lab is the only target
 * implemented, with Linux guests (laggd, seqstream and bonding.ko in the image) or FreeBSD
 * guests (freebsd-lab.ts: if_laggkit.ko through deploy, base lagg); QMP pulls its cables.
 * `host` (two machines over SSH, no cable control) and `self` (one machine, veth + a namespace
 * as the peer) are part of the command's design and refused with a clear error until they are
 * written.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { EnvironmentError, UsageError } from '../cli/errors.js';
import { guestScript } from '../lab/guest-ssh.js';
import { findLaggd } from '../lab/linux-image.js';
import { labDown, labLink, labUp, subnetOf } from '../lab/lab.js';
import type { GuestOs, NicModel } from '../lab/machines.js';
import { repoRoot } from '../lab/paths.js';
import { readState, type LabState } from '../lab/state.js';
import { isAlive } from '../lab/qemu.js';
import type { ExecResult } from '../ssh/index.js';
import { driversFor, type Driver, type DriverName } from './drivers.js';
import { freebsdLabTarget } from './freebsd-lab.js';
import { platformFor, type Platform } from './platform.js';
import type { Capability } from './scenario.js';

export const TARGET_KINDS = ['lab', 'host', 'self'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

export type Side = 'A' | 'B';

export interface DataLink {
  model: NicModel;
  /** Interface name, the same on both sides in the lab. */
  nic: string;
  /** The link's own addresses between runs, where the target gives it one. */
  addrA?: string;
  addrB?: string;
}

export interface E2eTarget {
  kind: TargetKind;
  /** What it is, for reports: "lab 'e2e' (2 Linux guests, tcg)". */
  describe: string;
  capabilities: Capability[];
  /** The guests' OS dialect and the two drivers on it. */
  platform: Platform;
  drivers: Record<DriverName, Driver>;
  /** What the target lacks, with the reason, for the skip message. */
  lacks(cap: Capability): string | undefined;
  links: DataLink[];
  /** A shell script on a side; `fresh`: over a new SSH connection (a target may keep one open). */
  sh(side: Side, script: string, timeoutMs?: number, fresh?: boolean): Promise<ExecResult>;
  /** Pull (false) or plug back (true) the cable of a data link: both ends lose carrier. */
  cable(nic: string, up: boolean): Promise<void>;
  close(): Promise<void>;
}

export const LAB_NICS: NicModel[] = ['virtio', 'virtio', 'e1000', 'e1000'];

export interface LabTargetOptions {
  /** An existing lab to use; without it a lab is started and stopped again at the end. */
  lab?: string;
  keep?: boolean;
  onProgress?: (line: string) => void;
  /** The guests of a lab e2e starts (default linux); a BSD guest boots from `image`. */
  guest?: GuestOs;
  image?: string;
  /** Boot timeout per guest (s), for a lab e2e starts. */
  timeoutSec?: number;
  /** FreeBSD: build if_laggkit.ko here against this source tree (deploy --build local). */
  sysroot?: string;
  kernbuild?: string;
}

function ensureGuestTools(say: (l: string) => void): void {
  const found = findLaggd();
  if (found?.seqstream) return;
  // The lab image takes laggd, laggctl and seqstream from this static build.
  say('building laggd, laggctl and seqstream for the lab guests (make -C kmod/posix static)');
  try {
    execFileSync('make', ['-s', '-C', path.join(repoRoot(), 'kmod', 'posix'), 'static'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
  } catch (err) {
    throw new EnvironmentError(
      'E_E2E_BUILD',
      `cannot build laggd for the lab guests: ${String((err as { stderr?: Buffer }).stderr ?? err)
        .trim()
        .slice(-400)}`,
      'Install a C compiler and make (npm run setup), then retry.',
    );
  }
}

/**
 * The lab e2e runs on: the running one named by --lab (it must have two `guest` guests), or one
 * it starts with the lab's four data links; `owned` says e2e stops it again.
 */
export async function openLab(opts: LabTargetOptions, guest: GuestOs, say: (l: string) => void): Promise<{ state: LabState; owned: boolean }> {
  if (opts.lab) {
    const s = readState(opts.lab);
    if (!s?.vms.every((v) => v.pid > 0 && isAlive(v.pid)))
      throw new UsageError(
        'E_E2E_LAB',
        `lab '${opts.lab}' is not running`,
        `Start it (laggkit lab up --name ${opts.lab}) or leave out --lab to let e2e start its own.`,
      );
    if (s.guest !== guest || s.peer !== 'vm' || s.vms.length !== 2)
      throw new UsageError(
        'E_E2E_LAB',
        `lab '${s.name}' is a ${s.guest} lab with a ${s.peer} peer; e2e runs on two ${guest} guests`,
        guest === 'linux' ? 'Use a lab started with the defaults: laggkit lab up.' : `Use a lab started with: laggkit lab up --guest ${guest} --image IMG.`,
      );
    return { state: s, owned: false };
  }
  if (guest === 'linux') ensureGuestTools(say);
  const name = `e2e${process.pid % 100000}`;
  say(`starting lab '${name}' (two ${guest} guests, links ${LAB_NICS.join(', ')})`);
  const state = await labUp({
    name,
    guest,
    ...(opts.image ? { image: opts.image } : {}),
    ...(opts.timeoutSec ? { timeoutSec: opts.timeoutSec } : {}),
    nics: LAB_NICS,
    onProgress: say,
  });
  return { state, owned: true };
}

export async function labTarget(opts: LabTargetOptions): Promise<E2eTarget> {
  const say = opts.onProgress ?? (() => {});
  const guest = opts.lab ? (readState(opts.lab)?.guest ?? 'linux') : (opts.guest ?? 'linux');
  if (guest === 'freebsd') return freebsdLabTarget(opts, say);
  if (guest !== 'linux') throw new EnvironmentError('E_E2E_GUEST', `e2e does not run on ${guest} guests yet`, 'Use --guest linux or --guest freebsd.');
  const { state, owned } = await openLab(opts, 'linux', say);
  const links: DataLink[] = state.links.map((l) => ({ model: l.model, nic: l.a.nic, addrA: subnetOf(l.index).a, addrB: subnetOf(l.index).b }));
  const probe = await guestScript(state, 'A', 'for t in laggctl seqstream; do command -v $t; done; test -f /lib/modules/load-order.bonding && echo bonding');
  if (!/seqstream/.test(probe.stdout) || !/laggctl/.test(probe.stdout)) {
    throw new EnvironmentError(
      'E_E2E_GUEST_TOOLS',
      `lab '${state.name}' guests lack laggctl or seqstream (found: ${probe.stdout.trim().split('\n').join(', ') || 'neither'})`,
      'Build them (make -C kmod/posix static) and restart the lab: the guest image takes them from there.',
    );
  }
  const hasBonding = /bonding/.test(probe.stdout);
  return {
    kind: 'lab',
    describe: `lab '${state.name}' (2 Linux guests, ${state.accel}, links ${state.links.map((l) => `${l.a.nic}:${l.model}`).join(' ')})`,
    capabilities: hasBonding ? ['cable', 'stock'] : ['cable'],
    lacks: (cap) => (cap === 'stock' && !hasBonding ? 'the lab image has no bonding.ko (rebuild it: restart the lab)' : undefined),
    platform: platformFor('linux'),
    drivers: driversFor('linux'),
    links,
    sh: (side, script, timeoutMs = 120_000) => guestScript(state, side, script, timeoutMs),
    cable: async (nic, up) => {
      await labLink(state.name, 'A', nic, up ? 'up' : 'down');
    },
    close: async () => {
      if (owned && !opts.keep) await labDown(state.name);
      else if (owned) say(`lab '${state.name}' kept (--keep-lab): laggkit lab down --name ${state.name}`);
    },
  };
}

export async function openTarget(kind: TargetKind, opts: LabTargetOptions): Promise<E2eTarget> {
  if (kind === 'lab') return labTarget(opts);
  throw new EnvironmentError(
    'E_E2E_TARGET_UNSUPPORTED',
    kind === 'host'
      ? "target 'host' (two machines over SSH, --host and --link) is not implemented yet"
      : "target 'self' (one machine, veth pairs and a namespace or vnet jail as the peer) is not implemented yet",
    'Run on the built-in lab: laggkit e2e --target lab.',
  );
}

/** The lab's data links for a member list, taken in order per model: [virtio, e1000] is vtnet0, em0. */
export function pickMembers(links: DataLink[], models: NicModel[]): DataLink[] | string {
  const used = new Set<string>();
  const picked: DataLink[] = [];
  for (const m of models) {
    const l = links.find((x) => x.model === m && !used.has(x.nic));
    if (!l) return `the target has ${links.filter((x) => x.model === m).length} ${m} link(s); this case needs ${models.filter((x) => x === m).length}`;
    used.add(l.nic);
    picked.push(l);
  }
  return picked;
}
