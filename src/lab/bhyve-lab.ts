/**
 * `laggkit lab up/link/down` on a FreeBSD host, with bhyve (see bhyve.ts for the command lines
 * and the link-control limits). Guests are FreeBSD or NetBSD images given with --image,
 * provisioned by the cidata seed (static management address on a /30 per guest, since bhyve
 * has no user-mode networking) or over the serial console on nmdm(4); SSH goes straight to
 * the guest's management address on port 22, verified against the lab's known_hosts.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../cli/errors.js';
import { bhyveLinkCommand, bhyvePlan, runCommands, type BhyveGuest, type BhyveLinkSpec } from './bhyve.js';
import { LabError } from './errors.js';
import { waitForSsh } from './guest-ssh.js';
import { clientKey, knownHostsLine, opensshHostKey } from './keys.js';
import { machineDef, nicNames, type GuestOs, type NicModel } from './machines.js';
import { labDir } from './paths.js';
import { isAlive } from './qemu.js';
import { buildSeedIso } from './seed.js';
import { findVm, writeState, type LabState, type LinkState, type VmState } from './state.js';

export interface BhyveUpOptions {
  name: string;
  guest: GuestOs;
  image?: string;
  nics: NicModel[];
  timeoutSec?: number;
  onProgress?: (line: string) => void;
}

/** Tap and bridge units for a lab: a block of 64 per lab name, far from hand-made ones. */
function unitBase(lab: string): number {
  return 4000 + (parseInt(createHash('sha256').update(lab).digest('hex').slice(0, 4), 16) % 60) * 64;
}

export async function bhyveUp(o: BhyveUpOptions): Promise<LabState> {
  if (o.guest === 'linux' || !o.image)
    throw new UsageError(
      'E_LAB_IMAGE',
      'on a FreeBSD host the lab runs FreeBSD or NetBSD guests from --image',
      'Example: laggkit lab up --guest freebsd --image FreeBSD-14.3-RELEASE-amd64-BASIC-CLOUDINIT-ufs.raw',
    );
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new UsageError('E_LAB_ROOT', 'bhyve needs root', 'Run as root (doas/sudo).');
  const dir = labDir(o.name);
  fs.mkdirSync(dir, { recursive: true });
  const machine = machineDef(o.guest);
  const key = clientKey(dir);
  const base = unitBase(o.name);
  const names = nicNames(o.guest, o.nics);
  const guests: BhyveGuest[] = [];
  const vms: VmState[] = [];
  const kh: string[] = [];
  const nicTaps: Record<string, string> = {};
  for (const [gi, vmName] of ['A', 'B'].entries()) {
    const unit = base + gi * 16;
    const mgmtMac = `58:9c:fc:${(base >> 8).toString(16).padStart(2, '0')}:${(base & 0xff).toString(16).padStart(2, '0')}:${(gi * 16).toString(16).padStart(2, '0')}`;
    const hostKey = opensshHostKey(path.join(dir, `${vmName}.host_key`));
    const sshHost = `172.30.${gi}.2`;
    kh.push(knownHostsLine(22, hostKey.publicKey, sshHost));
    const seedIso = buildSeedIso(
      'cidata',
      {
        hostname: `${o.name}-${vmName}`,
        instanceId: `laggkit-${o.name}-${vmName}`,
        authorizedKey: key.publicKey,
        hostKey,
        mgmtMac,
        mgmtAddress: { address: `${sshHost}/30`, gateway: `172.30.${gi}.1` },
      },
      path.join(dir, `${vmName}.seed.iso`),
    );
    const nics = o.nics.map((model, i) => ({ model, tap: `tap${unit + 1 + i}`, mac: mgmtMac.replace(/..$/, (gi * 16 + 1 + i).toString(16).padStart(2, '0')) }));
    nics.forEach((n, i) => (nicTaps[`${vmName}:${names[i]}`] = n.tap));
    guests.push({
      name: vmName,
      guest: o.guest,
      memoryMiB: machine.memoryMiB,
      cpus: machine.cpus,
      disk: path.resolve(o.image),
      seedIso,
      consoleUnit: unit % 1000,
      mgmtTap: `tap${unit}`,
      mgmtMac,
      nics,
    });
    vms.push({
      name: vmName,
      guest: o.guest,
      pid: 0,
      sshPort: 22,
      sshHost,
      sshUser: machine.sshUser,
      qmpSocket: '',
      consoleSocket: `/dev/nmdm${unit % 1000}B`,
      consoleLog: path.join(dir, `${vmName}.bhyve.log`),
      mgmtMac,
      nics: nics.map((n, i) => ({ id: n.tap, model: n.model, mac: n.mac, name: names[i]!, netdev: { type: 'tap', ifname: n.tap }, link: 'up' })),
    });
  }
  fs.writeFileSync(path.join(dir, 'known_hosts'), kh.join('\n') + '\n');
  const links: BhyveLinkSpec[] = o.nics.map((_, i) => ({ bridge: `bridge${base + i}`, taps: [guests[0]!.nics[i]!.tap, guests[1]!.nics[i]!.tap] }));
  const plan = bhyvePlan(o.name, guests, links);
  const linkStates: LinkState[] = o.nics.map((model, i) => ({ index: i, model, a: { vm: 'A', nic: names[i]! }, b: { vm: 'B', nic: names[i]! }, subnet: '' }));
  const state: LabState = {
    name: o.name,
    createdAt: new Date().toISOString(),
    dir,
    guest: o.guest,
    peer: 'vm',
    accel: 'kvm',
    accelReason: 'bhyve (hardware virtualization, vmm.ko)',
    image: { kind: 'user', path: path.resolve(o.image) },
    clientKey: key.privateKey,
    knownHosts: path.join(dir, 'known_hosts'),
    vms,
    links: linkStates,
    taps: [],
    backend: 'bhyve',
    bhyve: { teardown: plan.teardown, nicTaps },
  };
  writeState(state);
  try {
    runCommands(plan.setup);
    const timeoutMs = (o.timeoutSec ?? machine.bootTimeoutSec) * 1000;
    await Promise.all(
      plan.guests.map(async (g, i) => {
        const vm = vms[i]!;
        const start = Date.now();
        if (g.load) runCommands([g.load]);
        const log = fs.openSync(vm.consoleLog, 'a');
        const child = spawn(g.run[0]!, g.run.slice(1), { detached: true, stdio: ['ignore', log, log] });
        child.unref();
        vm.pid = child.pid ?? 0;
        writeState(state);
        await waitForSsh(state, vm, start + timeoutMs, () => isAlive(vm.pid));
        vm.bootToSshMs = Date.now() - start;
        o.onProgress?.(`guest ${vm.name}: SSH on ${vm.sshHost} after ${(vm.bootToSshMs / 1000).toFixed(1)} s (bhyve)`);
      }),
    );
  } catch (err) {
    writeState(state);
    bhyveDown(state);
    throw err;
  }
  writeState(state);
  return state;
}

export function bhyveLink(s: LabState, vmName: string, nicName: string, up: boolean): string[] {
  const vm = findVm(s, vmName);
  const tap = s.bhyve?.nicTaps[`${vm.name}:${nicName}`];
  if (!tap) throw new UsageError('E_LAB_NIC', `guest ${vm.name} has no data NIC '${nicName}'`, `Its data NICs are: ${vm.nics.map((n) => n.name).join(', ')}.`);
  runCommands([bhyveLinkCommand(tap, up)]);
  const nic = vm.nics.find((n) => n.name === nicName);
  if (nic) nic.link = up ? 'up' : 'down';
  writeState(s);
  return [`host:${tap}`];
}

export function bhyveDown(s: LabState): string[] {
  const stopped = s.vms.filter((v) => v.pid > 0 && isAlive(v.pid)).map((v) => v.name);
  if (!s.bhyve) throw new LabError('E_LAB_STATE', `lab ${s.name} has no bhyve record`);
  runCommands(s.bhyve.teardown, true);
  fs.rmSync(s.dir, { recursive: true, force: true });
  return stopped;
}
