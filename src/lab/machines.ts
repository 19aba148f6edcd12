/**
 * Machine definitions: the data in vm/machines/*.json (memory, CPUs, boot method, NIC models)
 * read into typed values. Keeping them as data lets a user see and change what a lab guest is
 * without reading the launcher.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../cli/errors.js';
import { vmDataDir } from './paths.js';

export type GuestOs = 'linux' | 'freebsd' | 'netbsd';
export type NicModel = 'virtio' | 'e1000';

export const GUESTS: GuestOs[] = ['linux', 'freebsd', 'netbsd'];
export const NIC_MODELS: NicModel[] = ['virtio', 'e1000'];

export interface NicModelDef {
  qemu: { device: string; props: Record<string, string | number> };
  bhyve: string;
  linuxDriver: string;
  names: Record<GuestOs, string>;
}

export interface MachineDef {
  guest: GuestOs;
  memoryMiB: number;
  cpus: number;
  boot: 'kernel' | 'disk';
  firmware?: string;
  diskInterface?: 'virtio' | 'ide';
  seed?: 'cidata' | 'config-2';
  sshUser: string;
  defaultNics: NicModel[];
  bootTimeoutSec: number;
  kernelArgs?: string[];
  loader?: Record<string, string>;
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(path.join(vmDataDir(), 'machines', file), 'utf8')) as T;
}

export function machineDef(guest: GuestOs): MachineDef {
  return readJson<MachineDef>(`${guest}.json`);
}

export function nicModels(): Record<NicModel, NicModelDef> {
  return readJson<Record<NicModel, NicModelDef>>('nics.json');
}

export function parseGuest(s: string): GuestOs {
  if ((GUESTS as string[]).includes(s)) return s as GuestOs;
  throw new UsageError('E_LAB_GUEST', `unknown guest OS '${s}'`, `Use one of: ${GUESTS.join(', ')}.`);
}

/** "virtio,virtio,e1000" → models; at least one, at most eight data NICs. */
export function parseNicList(s: string): NicModel[] {
  const list = s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  if (list.length === 0 || list.length > 8) {
    throw new UsageError('E_LAB_NICS', `--nics '${s}' must list 1 to 8 NIC models`, 'Example: --nics virtio,virtio,e1000,e1000');
  }
  for (const m of list) {
    if (!(NIC_MODELS as string[]).includes(m)) throw new UsageError('E_LAB_NICS', `unknown NIC model '${m}' in --nics`, `Use ${NIC_MODELS.join(' or ')}.`);
  }
  return list as NicModel[];
}

/**
 * Guest-side interface names for a NIC list, BSD-style per model: vtnet0, vtnet1, em0, ...
 * The Linux guest renames its NICs by MAC, so its management NIC (mgmt0) takes no unit. A BSD
 * guest numbers NICs in PCI probe order, and the virtio management NIC comes first: unit 0.
 */
export function nicNames(guest: GuestOs, models: NicModel[]): string[] {
  const defs = nicModels();
  const count: Record<string, number> = guest === 'linux' ? {} : { [defs.virtio.names[guest]]: 1 };
  return models.map((m) => {
    const base = defs[m].names[guest];
    const n = count[base] ?? 0;
    count[base] = n + 1;
    return `${base}${n}`;
  });
}
