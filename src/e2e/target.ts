/**
 * Where e2e cases run. A target is two Linux hosts A and B joined by data links, reachable by
 * shell, and optionally able to pull a link's cable. The built-in lab is the only target
 * implemented: its guests carry laggd, seqstream and bonding.ko, and QMP pulls its cables.
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
import type { NicModel } from '../lab/machines.js';
import { repoRoot } from '../lab/paths.js';
import { readState, type LabState } from '../lab/state.js';
import { isAlive } from '../lab/qemu.js';
import type { ExecResult } from '../ssh/index.js';
import { labWire } from './lab-wire.js';
import type { Capability } from './scenario.js';
import type { Direction, Impairment, WireCapture } from './wire.js';

export const TARGET_KINDS = ['lab', 'host', 'self'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

export type Side = 'A' | 'B';

export interface DataLink {
  model: NicModel;
  /** Interface name, the same on both sides in the lab. */
  nic: string;
  addrA: string;
  addrB: string;
}

export interface E2eTarget {
  kind: TargetKind;
  /** What it is, for reports: "lab 'e2e' (2 Linux guests, tcg)". */
  describe: string;
  capabilities: Capability[];
  /** What the target lacks, with the reason, for the skip message. */
  lacks(cap: Capability): string | undefined;
  links: DataLink[];
  sh(side: Side, script: string, timeoutMs?: number): Promise<ExecResult>;
  /** Pull (false) or plug back (true) the cable of a data link: both ends lose carrier. */
  cable(nic: string, up: boolean): Promise<void>;
  /** Drop one direction of a data link (every frame, or its LACPDUs) until called with on=false; close() undoes it. */
  impair(nic: string, what: Impairment, on: boolean): Promise<void>;
  /** Record the frames data links carry in one direction, with host timestamps, until stop(). */
  capture(nics: string[], direction: Direction): Promise<WireCapture>;
  close(): Promise<void>;
}

const LAB_NICS: NicModel[] = ['virtio', 'virtio', 'e1000', 'e1000'];

export interface LabTargetOptions {
  /** An existing lab to use; without it a lab is started and stopped again at the end. */
  lab?: string;
  keep?: boolean;
  onProgress?: (line: string) => void;
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

export async function labTarget(opts: LabTargetOptions): Promise<E2eTarget> {
  const say = opts.onProgress ?? (() => {});
  let state: LabState;
  let owned = false;
  if (opts.lab) {
    const s = readState(opts.lab);
    if (!s?.vms.every((v) => v.pid > 0 && isAlive(v.pid)))
      throw new UsageError(
        'E_E2E_LAB',
        `lab '${opts.lab}' is not running`,
        `Start it (laggkit lab up --name ${opts.lab}) or leave out --lab to let e2e start its own.`,
      );
    state = s;
  } else {
    ensureGuestTools(say);
    const name = `e2e${process.pid % 100000}`;
    say(`starting lab '${name}' (two Linux guests, links ${LAB_NICS.join(', ')})`);
    state = await labUp({ name, nics: LAB_NICS, onProgress: say });
    owned = true;
  }
  if (state.guest !== 'linux' || state.peer !== 'vm')
    throw new UsageError(
      'E_E2E_LAB',
      `lab '${state.name}' is a ${state.guest} lab with a ${state.peer} peer; e2e runs on two Linux guests`,
      'Use a lab started with the defaults: laggkit lab up.',
    );
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
  const wire = labWire(state);
  const lacking: Partial<Record<Capability, string>> = {
    stock: hasBonding ? undefined : 'the lab image has no bonding.ko (rebuild it: restart the lab)',
    impair: wire.lacksImpair,
    capture: wire.lacksCapture,
  };
  return {
    kind: 'lab',
    describe: `lab '${state.name}' (2 Linux guests, ${state.accel}, links ${state.links.map((l) => `${l.a.nic}:${l.model}`).join(' ')})`,
    capabilities: (['cable', 'stock', 'impair', 'capture'] as const).filter((c) => !lacking[c]),
    lacks: (cap) => lacking[cap],
    links,
    sh: (side, script, timeoutMs = 120_000) => guestScript(state, side, script, timeoutMs),
    cable: async (nic, up) => {
      await labLink(state.name, 'A', nic, up ? 'up' : 'down');
    },
    impair: (nic, what, on) => wire.impair(nic, what, on),
    capture: (nics, direction) => wire.capture(nics, direction),
    close: async () => {
      wire.close();
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
