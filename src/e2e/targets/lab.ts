/**
 * The built-in lab as an e2e target: two Linux QEMU guests carrying laggd, seqstream and
 * bonding.ko, the data links' cables pulled through QMP. Without --lab a lab is started for
 * the run and stopped again at the end.
 */
import { EnvironmentError, UsageError } from '../../cli/errors.js';
import { guestScript } from '../../lab/guest-ssh.js';
import { labDown, labLink, labUp, subnetOf } from '../../lab/lab.js';
import type { NicModel } from '../../lab/machines.js';
import { readState, type LabState } from '../../lab/state.js';
import { isAlive } from '../../lab/qemu.js';
import { labWire } from '../lab-wire.js';
import type { Capability } from '../scenario.js';
import { localTools } from './tools.js';
import type { DataLink, E2eTarget } from './types.js';

const LAB_NICS: NicModel[] = ['virtio', 'virtio', 'e1000', 'e1000'];

export interface LabTargetOptions {
  /** An existing lab to use; without it a lab is started and stopped again at the end. */
  lab?: string;
  keep?: boolean;
  onProgress?: (line: string) => void;
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
    // The lab image takes laggd, laggctl and seqstream from kmod/posix's static build.
    localTools(say);
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
