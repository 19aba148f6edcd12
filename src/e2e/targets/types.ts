/**
 * What every e2e target is: two hosts A and B of one OS joined by data links, reachable by
 * shell, and optionally able to pull a link's cable. Each target says which OS its hosts run
 * (the platform: the shell dialect the actions speak there) and which two drivers run on it.
 * One file per target kind sits next to this one (lab.ts: the built-in QEMU lab, with
 * lab-bsd.ts for BSD guests, lab-freebsd.ts and lab-netbsd.ts for each BSD); index.ts opens
 * the one asked for.
 */
import type { NicModel } from '../../lab/machines.js';
import type { ExecResult } from '../../ssh/index.js';
import type { Driver, DriverName } from '../drivers.js';
import type { Platform } from '../platform.js';
import type { Capability, Protocol } from '../scenario.js';
import type { Direction, Impairment, WireCapture } from '../wire.js';

export const TARGET_KINDS = ['lab', 'self', 'host', 'vagrant'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

export type Side = 'A' | 'B';

export interface DataLink {
  /** The NIC model, or none for a link that stands for any (the self target's veth pairs). */
  model?: NicModel;
  /** Interface name, the same on both sides. */
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
  /** What the target lacks, with the reason, for the skip message. */
  lacks(cap: Capability): string | undefined;
  /**
   * Why a case cannot run here whatever the driver (its members' NICs cannot do what its
   * protocol needs), for the skip message; undefined when it can.
   */
  skipCase?(proto: Protocol, members: NicModel[]): string | undefined;
  /** The hosts' OS dialect and the two drivers on it. */
  platform: Platform;
  drivers: Record<DriverName, Driver>;
  /**
   * Side B's driver in every run, where side B cannot run laggkit (the self target's rump
   * kernel on NetBSD): the runs pair side A's driver with it, and one that needs laggkit on B
   * (`peer: other` on the stock driver) is skipped with `why`.
   */
  sideB?: { driver: Driver; why: string };
  links: DataLink[];
  /** Each side's management interface, which no action may touch (the platform's when not given). */
  mgmt?: Record<Side, string>;
  /** A shell script on a side; `fresh`: over a new SSH connection (a target may keep one open). */
  sh(side: Side, script: string, timeoutMs?: number, fresh?: boolean): Promise<ExecResult>;
  /** Pull (false) or plug back (true) the cable of a data link: both ends lose carrier. */
  cable(nic: string, up: boolean): Promise<void>;
  /** Drop one direction of a data link (every frame, or its LACPDUs) until called with on=false; close() undoes it. */
  impair(nic: string, what: Impairment, on: boolean): Promise<void>;
  /** Record the frames data links carry in one direction, with host timestamps, until stop(). */
  capture(nics: string[], direction: Direction): Promise<WireCapture>;
  close(): Promise<void>;
}

/**
 * The target's data links for a member list, taken in order per model: [virtio, e1000] is
 * vtnet0, em0. A link of no model stands in for any model once links of that model run out.
 */
export function pickMembers(links: DataLink[], models: NicModel[]): DataLink[] | string {
  const used = new Set<string>();
  const picked: DataLink[] = [];
  for (const m of models) {
    const l = links.find((x) => x.model === m && !used.has(x.nic)) ?? links.find((x) => x.model === undefined && !used.has(x.nic));
    if (!l)
      return `the target has ${links.filter((x) => x.model === m || x.model === undefined).length} link(s) that can be ${m}; this case needs ${models.filter((x) => x === m).length}`;
    used.add(l.nic);
    picked.push(l);
  }
  return picked;
}
