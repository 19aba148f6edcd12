/**
 * QEMU command lines for lab guests, as a pure function of a guest description (so the exact
 * options are unit-tested without starting anything), and the launcher that runs them.
 *
 * Choices that matter, and why:
 *  - `-nodefaults -no-user-config`, no display, qboot firmware for kernel boots: every device
 *    and every BIOS step costs time under TCG.
 *  - NICs at fixed PCI slots in the listed order, so a BSD guest's probe order (vtnet0, em0, ...)
 *    is the order the user wrote; `romfile=` empty so no PXE ROM is loaded.
 *  - virtio-net gets speed/duplex (from vm/machines/nics.json), or LACP would refuse the port.
 *  - data links are `-netdev dgram` on 127.0.0.1 UDP ports, one pair per link: no root, no
 *    bridge; or a TAP the lab created when the peer is a network namespace.
 *  - management NIC: user-mode networking restricted to the guest, SSH forwarded to 127.0.0.1.
 *  - serial console on a unix socket (logged to a file); QMP on another unix socket.
 *  - `-cpu max` under TCG gives the guest RDRAND, so its entropy pool is ready at once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { EnvironmentError } from '../cli/errors.js';
import { LabError } from './errors.js';
import { nicModels, type MachineDef, type NicModel } from './machines.js';

export type Accel = 'kvm' | 'hvf' | 'tcg';

export type DataNetdev = { type: 'dgram'; localPort: number; remotePort: number } | { type: 'tap'; ifname: string };

export interface GuestNic {
  /** QEMU device id, also the name QMP set_link takes. */
  id: string;
  model: NicModel;
  mac: string;
  /** Interface name inside the guest (vtnet0, em1, ...). */
  name: string;
  netdev: DataNetdev;
  /** Address put on the NIC by the Linux guest's init, e.g. 10.99.1.1/24. */
  addr?: string;
}

export interface GuestLaunch {
  name: string;
  machine: MachineDef;
  accel: Accel;
  kernel?: string;
  initrd?: string;
  disk?: string;
  seedIso?: string;
  sshPort: number;
  mgmtMac: string;
  nics: GuestNic[];
  qmpSocket: string;
  consoleSocket: string;
  consoleLog: string;
  pidFile: string;
  /** Extra kernel arguments (kernel boots only). */
  kernelArgs?: string[];
  /** Run in the foreground with the console on stdio (the accelerator probe). */
  foreground?: boolean;
}

const PCI_FIRST_SLOT = 3;

function props(obj: Record<string, string | number | undefined>): string {
  return Object.entries(obj)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

const QEMU_DATA_DIRS = ['/usr/share/qemu', '/usr/local/share/qemu', '/opt/homebrew/share/qemu', '/usr/share/seabios'];

/**
 * Whether QEMU will find this firmware by name. qboot is much faster than SeaBIOS under TCG,
 * but not every QEMU package ships it; without it QEMU's default BIOS is used.
 */
export function firmwareAvailable(name: string): boolean {
  return QEMU_DATA_DIRS.some((d) => fs.existsSync(path.join(d, name)));
}

export function cpuFor(accel: Accel): string {
  return accel === 'tcg' ? 'max' : 'host';
}

/** The kernel command line of a Linux lab guest: tuning plus what vm/linux/init reads. */
export function linuxKernelCmdline(g: GuestLaunch): string {
  const args = [...(g.machine.kernelArgs ?? []), `laggkit.name=${g.name}`, `laggkit.mgmt=${g.mgmtMac}`];
  if (g.nics.length) args.push(`laggkit.nics=${g.nics.map((n) => `${n.name}@${n.mac}`).join(',')}`);
  const addrs = g.nics.filter((n) => n.addr).map((n) => `${n.name}@${n.addr}`);
  if (addrs.length) args.push(`laggkit.addrs=${addrs.join(',')}`);
  args.push(...(g.kernelArgs ?? []));
  return args.join(' ');
}

export function qemuArgs(g: GuestLaunch): string[] {
  const m = g.machine;
  const models = nicModels();
  const a: string[] = ['-name', `laggkit-${g.name},process=laggkit-${g.name}`, '-nodefaults', '-no-user-config', '-machine', 'pc', '-accel', g.accel];
  // Disk guests may reboot (a deploy's persistence is proven by one); kernel-booted Linux guests
  // power off for good.
  a.push('-cpu', cpuFor(g.accel), '-m', String(m.memoryMiB), '-smp', String(m.cpus), '-display', 'none', ...(m.boot === 'kernel' ? ['-no-reboot'] : []));
  if (m.boot === 'kernel') {
    if (!g.kernel || !g.initrd) throw new LabError('E_LAB_IMAGE', `guest ${g.name}: a kernel boot needs a kernel and an initrd`);
    if (m.firmware && firmwareAvailable(m.firmware)) a.push('-bios', m.firmware);
    a.push('-kernel', g.kernel, '-initrd', g.initrd, '-append', linuxKernelCmdline(g));
  } else {
    if (!g.disk)
      throw new LabError('E_LAB_IMAGE', `guest ${g.name}: a ${m.guest} guest boots from a disk image`, 'Pass --image PATH (see laggkit lab fetch-image).');
    const format = /\.qcow2$/i.test(g.disk) ? 'qcow2' : 'raw';
    // The lab passes an overlay of the user's image (lab.ts): written by the guest, kept across
    // its reboots, thrown away by lab down. Any other disk is never written (snapshot=on).
    a.push('-drive', `file=${g.disk},format=${format},if=${m.diskInterface ?? 'virtio'}${g.disk.endsWith('/disk.qcow2') ? '' : ',snapshot=on'}`);
    if (g.seedIso) a.push('-drive', `file=${g.seedIso},format=raw,if=virtio,readonly=on,media=cdrom`);
  }
  let slot = PCI_FIRST_SLOT;
  const addr = (): string => `0x${(slot++).toString(16)}`;
  a.push('-netdev', `user,id=mgmt-net,restrict=on,hostfwd=tcp:127.0.0.1:${g.sshPort}-:22`);
  a.push('-device', ['virtio-net-pci', props({ netdev: 'mgmt-net', id: 'mgmt', mac: g.mgmtMac, romfile: '', addr: addr() })].join(','));
  for (const n of g.nics) {
    const nd = n.netdev;
    const netdevId = `${n.id}-net`;
    if (nd.type === 'dgram') {
      a.push(
        '-netdev',
        `dgram,id=${netdevId},local.type=inet,local.host=127.0.0.1,local.port=${nd.localPort},remote.type=inet,remote.host=127.0.0.1,remote.port=${nd.remotePort}`,
      );
    } else {
      a.push('-netdev', `tap,id=${netdevId},ifname=${nd.ifname},script=no,downscript=no`);
    }
    const def = models[n.model].qemu;
    a.push('-device', [def.device, props({ netdev: netdevId, id: n.id, mac: n.mac, addr: addr(), ...def.props })].join(','));
  }
  a.push('-chardev', `socket,id=con,path=${g.consoleSocket},server=on,wait=off,logfile=${g.consoleLog}`);
  a.push('-serial', 'chardev:con');
  a.push('-qmp', `unix:${g.qmpSocket},server=on,wait=off`);
  a.push('-pidfile', g.pidFile);
  if (!g.foreground) a.push('-daemonize');
  return a;
}

export function qemuBinary(): string {
  const candidates = ['/usr/bin/qemu-system-x86_64', '/usr/local/bin/qemu-system-x86_64', '/opt/homebrew/bin/qemu-system-x86_64'];
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found)
    throw new EnvironmentError(
      'E_LAB_QEMU',
      'qemu-system-x86_64 not found',
      'Install QEMU: apt-get install qemu-system-x86 (npm run setup does this as root).',
    );
  return found;
}

/** Start a guest in the background; resolves once QEMU has daemonized (its pid file exists). */
export async function launchGuest(g: GuestLaunch): Promise<number> {
  for (const f of [g.qmpSocket, g.consoleSocket, g.pidFile]) fs.rmSync(f, { force: true });
  fs.mkdirSync(path.dirname(g.pidFile), { recursive: true });
  try {
    await execa(qemuBinary(), qemuArgs(g), { timeout: 30_000 });
  } catch (err) {
    const e = err as { stderr?: string; shortMessage?: string; message: string };
    throw new LabError(
      'E_LAB_QEMU_START',
      `QEMU failed to start guest ${g.name}: ${(e.stderr || e.shortMessage || e.message).trim()}`,
      'Check that the ports are free and the image paths exist; the console log is in the lab folder.',
      { cause: err },
    );
  }
  const pid = Number(fs.readFileSync(g.pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new LabError('E_LAB_QEMU_START', `QEMU for guest ${g.name} wrote no pid`);
  return pid;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
