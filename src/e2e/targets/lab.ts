/**
 * The built-in lab as an e2e target: two QEMU guests, the data links' cables pulled through QMP
 * and their frames dropped or recorded on the host (lab-wire.ts). Linux guests carry laggd,
 * seqstream and bonding.ko; FreeBSD guests (lab-freebsd.ts) get if_laggkit.ko through deploy
 * and are compared with base lagg(4); NetBSD guests (lab-netbsd.ts) get laggkit.kmod the same
 * way and are compared with lagg(4) or agr(4). Without --lab a lab is started for the run and stopped
 * again at the end.
 */
import { EnvironmentError, UsageError } from '../../cli/errors.js';
import { guestScript } from '../../lab/guest-ssh.js';
import { labDown, labLink, labUp, subnetOf } from '../../lab/lab.js';
import type { GuestOs, NicModel } from '../../lab/machines.js';
import { readState, type LabState } from '../../lab/state.js';
import { isAlive } from '../../lab/qemu.js';
import { driversFor } from '../drivers.js';
import { labWire } from '../lab-wire.js';
import { linuxPlatform } from '../platform.js';
import type { Capability } from '../scenario.js';
import { localTools } from './tools.js';
import type { DataLink, E2eTarget } from './types.js';

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
  /** BSD guests: build the module here against this source tree (deploy --build local). */
  sysroot?: string;
  kernbuild?: string;
  /** The stock driver of --compare stock, where the OS has more than one (--stock agr on NetBSD). */
  stock?: string;
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
  // The Linux lab image takes laggd, laggctl and seqstream from kmod/posix's static build.
  if (guest === 'linux') localTools(say);
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
  if (guest === 'freebsd') {
    const { freebsdLabTarget } = await import('./lab-freebsd.js');
    return freebsdLabTarget(opts, say);
  }
  if (guest === 'netbsd') {
    const { netbsdLabTarget } = await import('./lab-netbsd.js');
    return netbsdLabTarget(opts, say);
  }
  const drivers = driversFor('linux', opts.stock);
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
    platform: linuxPlatform,
    drivers,
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
