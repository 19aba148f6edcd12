/**
 * The lab's record of what it started: <labs>/<name>/state.json. Every command after `lab up`
 * (status, ssh, link, down) works from this file alone, and `lab down` uses it to remove
 * exactly what was created (processes, sockets, TAPs, the namespace) and nothing else.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LabError } from './errors.js';
import type { GuestOs, NicModel } from './machines.js';
import type { Accel, GuestNic } from './qemu.js';
import { labDir, labsRoot } from './paths.js';

export interface VmState {
  name: string;
  guest: GuestOs;
  pid: number;
  sshPort: number;
  /** Where SSH reaches the guest: 127.0.0.1 (QEMU port forward) or its own address (bhyve). */
  sshHost?: string;
  sshUser: string;
  qmpSocket: string;
  consoleSocket: string;
  consoleLog: string;
  mgmtMac: string;
  nics: Array<GuestNic & { link: 'up' | 'down' }>;
  /** Milliseconds from starting QEMU to the first successful SSH command. */
  bootToSshMs?: number;
}

export interface LinkState {
  index: number;
  model: NicModel;
  /** The two ends: a guest NIC, or a TAP in the peer namespace. */
  a: { vm: string; nic: string };
  b: { vm: string; nic: string } | { netns: string; tap: string };
  subnet: string;
}

export interface LabState {
  name: string;
  createdAt: string;
  dir: string;
  guest: GuestOs;
  peer: 'vm' | 'netns';
  accel: Accel;
  accelReason: string;
  image: { kind: 'linux-built'; hash: string; kernelVersion: string; laggd: boolean } | { kind: 'user'; path: string; seedIso?: string };
  clientKey: string;
  knownHosts: string;
  vms: VmState[];
  links: LinkState[];
  netns?: string;
  taps: string[];
  /** Which hypervisor runs the guests (absent in records from before bhyve support: qemu). */
  backend?: 'qemu' | 'bhyve';
  /** bhyve only: the host commands that undo the lab, and the host tap of each guest NIC. */
  bhyve?: { teardown: string[][]; nicTaps: Record<string, string> };
}

export function statePath(name: string): string {
  return path.join(labDir(name), 'state.json');
}

export function writeState(s: LabState): void {
  const file = statePath(s.name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(s, null, 2) + '\n');
  fs.renameSync(`${file}.tmp`, file);
}

export function readState(name: string): LabState | undefined {
  const file = statePath(name); // validates the name: a bad one is a usage error, not "not found"
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

export function requireState(name: string): LabState {
  const s = readState(name);
  if (!s) throw new LabError('E_LAB_NOT_FOUND', `no lab named '${name}' is running`, `Start one with: laggkit lab up --name ${name}`);
  return s;
}

export function listLabs(): string[] {
  try {
    return fs.readdirSync(labsRoot()).filter((d) => fs.existsSync(path.join(labsRoot(), d, 'state.json')));
  } catch {
    return [];
  }
}

export function findVm(s: LabState, vm: string): VmState {
  const v = s.vms.find((x) => x.name === vm);
  if (!v) throw new LabError('E_LAB_VM', `lab '${s.name}' has no VM named '${vm}'`, `Its VMs are: ${s.vms.map((x) => x.name).join(', ')}.`);
  return v;
}
