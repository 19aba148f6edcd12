/**
 * The lab on a FreeBSD host: bhyve command lines and the host-side plumbing around them, as
 * pure functions of a lab description (unit-tested on any OS), plus a runner that executes
 * the plan on FreeBSD. `laggkit lab up` selects this backend by itself on FreeBSD.
 *
 * Layout per lab:
 *   - each guest: `bhyve -H -A -P` with hostbridge, lpc, com1 on an nmdm(4) pair (console),
 *     virtio-blk disk, optional ahci-cd seed ISO, then one `virtio-net` or `e1000` slot per NIC;
 *     FreeBSD guests are loaded with bhyveload, others with the UEFI firmware (bootrom).
 *   - management: one tap per guest with a host address on a /30 (no user-mode NAT in bhyve),
 *     SSH goes straight to the guest's address.
 *   - each data link: one if_bridge holding the two guests' taps for that link.
 *
 * Link control: bhyve's virtio-net and e1000 models always report link up, and bhyve has no
 * QMP-like control socket, so the guest never sees a carrier change. `lab link ... down`
 * therefore takes the host side of the link down (`ifconfig tapN down`): traffic stops both
 * ways and LACP notices through its timeout (3 s fast, 90 s slow), not through carrier.
 */
import { execFileSync } from 'node:child_process';
import { LabError } from './errors.js';
import { nicModels, type GuestOs, type NicModel } from './machines.js';

export interface BhyveGuest {
  name: string;
  guest: GuestOs;
  memoryMiB: number;
  cpus: number;
  disk: string;
  seedIso?: string;
  /** nmdm unit: the console is /dev/nmdm<unit>A for bhyve, /dev/nmdm<unit>B for cu(1). */
  consoleUnit: number;
  mgmtTap: string;
  mgmtMac: string;
  nics: Array<{ model: NicModel; tap: string; mac: string }>;
  /** UEFI firmware for non-FreeBSD guests (sysutils/bhyve-firmware). */
  bootrom?: string;
}

export const DEFAULT_BOOTROM = '/usr/local/share/uefi-firmware/BHYVE_UEFI.fd';

/** The VM name bhyve and /dev/vmm know the guest by. */
export function vmmName(lab: string, guest: string): string {
  return `laggkit-${lab}-${guest}`;
}

export function bhyveloadArgs(lab: string, g: BhyveGuest): string[] {
  return [
    '-c',
    `/dev/nmdm${g.consoleUnit}A`,
    '-m',
    `${g.memoryMiB}M`,
    '-d',
    g.disk,
    '-e',
    'autoboot_delay=0',
    '-e',
    'console=comconsole',
    vmmName(lab, g.name),
  ];
}

export function bhyveArgs(lab: string, g: BhyveGuest): string[] {
  const models = nicModels();
  const a = ['-c', String(g.cpus), '-m', `${g.memoryMiB}M`, '-H', '-A', '-P', '-u'];
  a.push('-s', '0,hostbridge', '-s', '31,lpc', '-l', `com1,/dev/nmdm${g.consoleUnit}A`);
  if (g.guest !== 'freebsd') a.push('-l', `bootrom,${g.bootrom ?? DEFAULT_BOOTROM}`);
  a.push('-s', `2,virtio-blk,${g.disk}`);
  if (g.seedIso) a.push('-s', `3,ahci-cd,${g.seedIso},ro`);
  a.push('-s', `4,virtio-net,${g.mgmtTap},mac=${g.mgmtMac}`);
  g.nics.forEach((n, i) => a.push('-s', `${5 + i},${models[n.model].bhyve},${n.tap},mac=${n.mac}`));
  a.push(vmmName(lab, g.name));
  return a;
}

export interface BhyvePlan {
  /** Host commands before the guests start (argv lists). */
  setup: string[][];
  /** Per guest: the loader (FreeBSD guests) and bhyve itself. */
  guests: Array<{ name: string; load?: string[]; run: string[] }>;
  /** Host commands that undo setup and destroy the VMs; each may fail harmlessly. */
  teardown: string[][];
}

export interface BhyveLinkSpec {
  bridge: string;
  taps: [string, string];
}

export function bhyvePlan(lab: string, guests: BhyveGuest[], links: BhyveLinkSpec[]): BhyvePlan {
  const setup: string[][] = [
    ['kldload', '-n', 'vmm'],
    ['kldload', '-n', 'nmdm'],
    ['kldload', '-n', 'if_bridge'],
    ['kldload', '-n', 'if_tuntap'],
  ];
  guests.forEach((g, gi) => {
    setup.push(['ifconfig', g.mgmtTap, 'create'], ['ifconfig', g.mgmtTap, 'inet', `172.30.${gi}.1/30`, 'up']);
    for (const n of g.nics) setup.push(['ifconfig', n.tap, 'create'], ['ifconfig', n.tap, 'up']);
  });
  for (const l of links) setup.push(['ifconfig', l.bridge, 'create'], ['ifconfig', l.bridge, 'addm', l.taps[0], 'addm', l.taps[1], 'up']);
  const teardown: string[][] = [];
  for (const g of guests) teardown.push(['bhyvectl', `--vm=${vmmName(lab, g.name)}`, '--destroy']);
  for (const l of links) teardown.push(['ifconfig', l.bridge, 'destroy']);
  for (const g of guests) for (const t of [g.mgmtTap, ...g.nics.map((n) => n.tap)]) teardown.push(['ifconfig', t, 'destroy']);
  return {
    setup,
    guests: guests.map((g) => ({
      name: g.name,
      load: g.guest === 'freebsd' ? ['bhyveload', ...bhyveloadArgs(lab, g)] : undefined,
      run: ['bhyve', ...bhyveArgs(lab, g)],
    })),
    teardown,
  };
}

/** `lab link` on bhyve: the host side of the tap (see the header: no guest carrier change). */
export function bhyveLinkCommand(tap: string, up: boolean): string[] {
  return ['ifconfig', tap, up ? 'up' : 'down'];
}

/** Run a plan's argv lists in order (FreeBSD host, as root). */
export function runCommands(cmds: string[][], ignoreErrors = false): void {
  for (const [cmd, ...args] of cmds) {
    try {
      execFileSync(cmd!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      if (ignoreErrors) continue;
      const e = err as { stderr?: Buffer; message: string };
      throw new LabError('E_LAB_BHYVE', `${cmd} ${args.join(' ')} failed: ${String(e.stderr ?? e.message).trim()}`);
    }
  }
}

/** Which backend runs guests on this host. */
export function labBackend(platform: NodeJS.Platform = process.platform): 'qemu' | 'bhyve' {
  return platform === 'freebsd' && process.env.LAGGKIT_LAB_BACKEND !== 'qemu' ? 'bhyve' : 'qemu';
}
