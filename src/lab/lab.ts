/**
 * The lab service: `up`, `status`, `link`, `down` over the pieces in this folder. Commands in
 * src/commands/lab are thin wrappers around these functions; tests and the demo call them too.
 *
 * Topology of `up` with the default --nics virtio,virtio,e1000,e1000 and --peer vm:
 *
 *      guest A                                   guest B
 *      mgmt0 ── user net, SSH on 127.0.0.1:pA     mgmt0 ── user net, SSH on 127.0.0.1:pB
 *      vtnet0 ═══ UDP 127.0.0.1 (link 1, 10.99.1.0/24) ═══ vtnet0
 *      vtnet1 ═══ link 2, 10.99.2.0/24 ═══════════════════ vtnet1
 *      em0    ═══ link 3, 10.99.3.0/24 ═══════════════════ em0
 *      em1    ═══ link 4, 10.99.4.0/24 ═══════════════════ em1
 *
 * With --peer netns the right-hand side is a namespace lk-<lab> holding one TAP per link.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { UsageError } from '../cli/errors.js';
import { decideAccel, type AccelVerdict } from './accel.js';
import { labBackend } from './bhyve.js';
import { bhyveDown, bhyveLink, bhyveUp } from './bhyve-lab.js';
import { LabError } from './errors.js';
import { waitForSsh } from './guest-ssh.js';
import { buildLinuxImage, defaultInputs, guestOverlay, type LinuxImage } from './linux-image.js';
import { clientKey, dropbearHostKey, knownHostsLine, opensshHostKey } from './keys.js';
import { machineDef, nicNames, type GuestOs, type NicModel } from './machines.js';
import { createTaps, moveTapsIntoNetns, netnsName, removeNetnsPeer, requireRoot, setTapCarrier, tapName } from './netns-peer.js';
import { freeTcpPort, freeUdpPorts } from './ports.js';
import { qmpOnce } from './qmp.js';
import { checkSocketPath, labDir } from './paths.js';
import { isAlive, launchGuest, type Accel, type GuestLaunch, type GuestNic } from './qemu.js';
import { buildSeedIso } from './seed.js';
import { provisionOverConsole } from './serial-login.js';
import { findVm, listLabs, readState, requireState, writeState, type LabState, type LinkState, type VmState } from './state.js';

export interface UpOptions {
  name?: string;
  guest?: GuestOs;
  image?: string;
  nics?: NicModel[];
  peer?: 'vm' | 'netns';
  accel?: Accel | 'auto';
  /**
   * Linux guests only: 'console' boots them like a BSD image without seed support (no SSH
   * server, root login on the serial console), so the console provisioning that BSD images
   * rely on runs against a real guest. Default 'image': keys are built into the initramfs.
   */
  linuxProvision?: 'image' | 'console';
  /** Boot timeout per guest in seconds (default from the machine definition). */
  timeoutSec?: number;
  /** Progress lines for humans (never part of --json output). */
  onProgress?: (line: string) => void;
}

export const DEFAULT_LAB = 'lab';

/** A byte derived from the lab name, so two labs' MAC addresses differ. */
function labByte(name: string): string {
  return createHash('sha256').update(name).digest('hex').slice(0, 2);
}

export function subnetOf(index: number): { net: string; a: string; b: string } {
  return { net: `10.99.${index + 1}.0/24`, a: `10.99.${index + 1}.1/24`, b: `10.99.${index + 1}.2/24` };
}

function probeImageIfBuildable(): LinuxImage | undefined {
  try {
    return buildLinuxImage(defaultInputs({ withLaggd: false }));
  } catch {
    return undefined;
  }
}

export async function labUp(opts: UpOptions = {}): Promise<LabState> {
  const name = opts.name ?? DEFAULT_LAB;
  const dir = labDir(name);
  const guest = opts.guest ?? 'linux';
  const machine = machineDef(guest);
  const models = opts.nics ?? machine.defaultNics;
  const peer = opts.peer ?? 'vm';
  const say = opts.onProgress ?? (() => {});
  const existing = readState(name);
  if (existing) {
    if (existing.vms.some((v) => isAlive(v.pid) && fs.existsSync(v.qmpSocket))) {
      throw new LabError(
        'E_LAB_EXISTS',
        `lab '${name}' is already running`,
        `Use it (laggkit lab status --name ${name}) or stop it first: laggkit lab down --name ${name}`,
      );
    }
    await labDown(name); // a stale record from a crashed run: clean it up first
  }
  if (guest !== 'linux' && !opts.image) {
    throw new UsageError('E_LAB_IMAGE', `a ${guest} guest needs --image PATH`, `Download an official image with: laggkit lab fetch-image ${guest}-14`);
  }
  if (guest === 'linux' && opts.image) {
    throw new UsageError(
      'E_LAB_IMAGE',
      `--image '${opts.image}' is for freebsd and netbsd guests; the linux guest is built from this machine's packages`,
      'Drop --image, or add --guest freebsd|netbsd.',
    );
  }
  if (opts.image && !fs.existsSync(opts.image)) throw new UsageError('E_LAB_IMAGE', `image '${opts.image}' does not exist`);
  if (labBackend() === 'bhyve') {
    if (peer !== 'vm')
      throw new UsageError('E_LAB_PEER', '--peer netns needs Linux network namespaces; on FreeBSD the peer is a second guest', 'Use --peer vm.');
    return bhyveUp({ name, guest, image: opts.image, nics: models, timeoutSec: opts.timeoutSec, onProgress: opts.onProgress });
  }
  if (peer === 'netns') requireRoot();
  fs.mkdirSync(dir, { recursive: true });

  let image: LinuxImage | undefined;
  if (guest === 'linux') {
    image = buildLinuxImage();
    say(
      image.built
        ? `built guest image linux-${image.hash} (kernel ${image.kernelVersion})`
        : `guest image linux-${image.hash} (cached, kernel ${image.kernelVersion})`,
    );
    if (!image.laggd) say('note: laggd/laggctl are not in the image (build them: make -C kmod/posix static)');
  }
  // BSD guests are probed with the Linux guest's kernel too, when this host can build it:
  // an accelerator that cannot boot a stock Linux kernel will not boot FreeBSD either.
  const probeImage = image ?? probeImageIfBuildable();
  const verdict: AccelVerdict = await decideAccel(
    probeImage ? { kernel: probeImage.kernel, initrd: probeImage.initramfs, hash: probeImage.hash } : undefined,
    opts.accel ?? 'auto',
  );
  say(`accelerator: ${verdict.accel} (${verdict.reason})`);

  const key = clientKey(dir);
  const knownHosts = path.join(dir, 'known_hosts');
  const vmNames = peer === 'vm' ? ['A', 'B'] : ['A'];
  const names = nicNames(guest, models);
  const udp = await freeUdpPorts(models.length * 2);
  const mb = labByte(name);
  const taps = peer === 'netns' ? models.map((_, i) => tapName(name, i)) : [];
  const ns = peer === 'netns' ? netnsName(name) : undefined;

  const links: LinkState[] = models.map((model, i) => ({
    index: i,
    model,
    a: { vm: 'A', nic: names[i]! },
    b: peer === 'vm' ? { vm: 'B', nic: names[i]! } : { netns: ns!, tap: taps[i]! },
    subnet: subnetOf(i).net,
  }));

  const launches: GuestLaunch[] = [];
  const vms: VmState[] = [];
  const khLines: string[] = [];
  for (const [gi, vmName] of vmNames.entries()) {
    const sshPort = await freeTcpPort();
    const gb = (0x0a + gi).toString(16).padStart(2, '0');
    const nics: GuestNic[] = models.map((model, i) => ({
      id: `nic${i}`,
      model,
      mac: `52:54:00:${mb}:${gb}:${(i + 1).toString(16).padStart(2, '0')}`,
      name: names[i]!,
      netdev:
        peer === 'netns'
          ? { type: 'tap', ifname: taps[i]! }
          : gi === 0
            ? { type: 'dgram', localPort: udp[2 * i]!, remotePort: udp[2 * i + 1]! }
            : { type: 'dgram', localPort: udp[2 * i + 1]!, remotePort: udp[2 * i]! },
      addr: guest === 'linux' ? (gi === 0 ? subnetOf(i).a : subnetOf(i).b) : undefined,
    }));
    const mgmtMac = `52:54:00:${mb}:${gb}:00`;
    const file = (suffix: string): string => path.join(dir, `${vmName}.${suffix}`);
    const launch: GuestLaunch = {
      name: vmName,
      machine,
      accel: verdict.accel,
      sshPort,
      mgmtMac,
      nics,
      qmpSocket: checkSocketPath(file('qmp.sock')),
      consoleSocket: checkSocketPath(file('console.sock')),
      consoleLog: file('console.log'),
      pidFile: file('pid'),
    };
    if (image && opts.linuxProvision === 'console') {
      const hk = opensshHostKey(file('host_key'));
      khLines.push(knownHostsLine(sshPort, hk.publicKey));
      Object.assign(launch, { kernel: image.kernel, initrd: image.initramfs, kernelArgs: ['laggkit.login=1'] });
    } else if (image) {
      const hk = dropbearHostKey(file('host_key'));
      khLines.push(knownHostsLine(sshPort, hk.publicKey));
      const initrd = file('initrd');
      fs.writeFileSync(initrd, Buffer.concat([fs.readFileSync(image.initramfs), guestOverlay(hk.key, key.publicKey)]));
      Object.assign(launch, { kernel: image.kernel, initrd });
    } else {
      const hk = opensshHostKey(file('host_key'));
      khLines.push(knownHostsLine(sshPort, hk.publicKey));
      const seedIso = machine.seed
        ? buildSeedIso(
            machine.seed,
            { hostname: `${name}-${vmName}`, instanceId: `laggkit-${name}-${vmName}`, authorizedKey: key.publicKey, hostKey: hk, mgmtMac },
            file('seed.iso'),
          )
        : undefined;
      Object.assign(launch, { disk: diskOverlay(opts.image as string, file('disk.qcow2')), seedIso });
    }
    launches.push(launch);
    vms.push({
      name: vmName,
      guest,
      pid: 0,
      sshPort,
      sshUser: machine.sshUser,
      qmpSocket: launch.qmpSocket,
      consoleSocket: launch.consoleSocket,
      consoleLog: launch.consoleLog,
      mgmtMac,
      nics: nics.map((n) => ({ ...n, link: 'up' })),
    });
  }
  fs.writeFileSync(knownHosts, khLines.join('\n') + '\n');

  const state: LabState = {
    name,
    createdAt: new Date().toISOString(),
    dir,
    guest,
    peer,
    accel: verdict.accel,
    accelReason: verdict.reason,
    image: image
      ? { kind: 'linux-built', hash: image.hash, kernelVersion: image.kernelVersion, laggd: image.laggd }
      : { kind: 'user', path: path.resolve(opts.image!), seedIso: launches[0]?.seedIso },
    clientKey: key.privateKey,
    knownHosts,
    vms,
    links,
    netns: ns,
    taps,
  };
  // Recorded before anything starts, so `lab down` can clean up a half-started lab.
  writeState(state);

  try {
    if (taps.length) createTaps(taps);
    const timeoutMs = (opts.timeoutSec ?? machine.bootTimeoutSec) * 1000;
    await Promise.all(
      launches.map(async (launch, i) => {
        const vm = vms[i]!;
        const start = Date.now();
        vm.pid = await launchGuest(launch);
        writeState(state);
        // A BSD image that DHCPs every interface (FreeBSD CI images: ifconfig_DEFAULT="DHCP") would
        // wait for an answer on each data link at every boot; they stay unplugged until the guest
        // is provisioned, which writes those interfaces their own rc.conf lines.
        const holdLinks = guest !== 'linux';
        if (holdLinks) for (const nic of launch.nics) await qmpOnce(vm.qmpSocket, 'set_link', { name: nic.id, up: false });
        if (guest !== 'linux' || opts.linuxProvision === 'console')
          await provisionOverConsole(launch, vm, key.publicKey, opensshHostKey(path.join(dir, `${vm.name}.host_key`)), start + timeoutMs, state);
        await waitForSsh(state, vm, start + timeoutMs, () => isAlive(vm.pid));
        if (holdLinks) for (const nic of launch.nics) await qmpOnce(vm.qmpSocket, 'set_link', { name: nic.id, up: true });
        vm.bootToSshMs = Date.now() - start;
        say(`guest ${vm.name}: SSH on 127.0.0.1:${vm.sshPort} after ${(vm.bootToSshMs / 1000).toFixed(1)} s (${verdict.accel})`);
      }),
    );
    if (ns)
      moveTapsIntoNetns(
        ns,
        taps.map((tap, i) => ({ tap, addr: subnetOf(i).b })),
      );
  } catch (err) {
    writeState(state);
    // Keep the consoles of a failed boot where the error message says (the lab folder goes).
    const logs = `${dir}.failed-logs`;
    fs.mkdirSync(logs, { recursive: true });
    for (const v of vms) if (fs.existsSync(v.consoleLog)) fs.copyFileSync(v.consoleLog, path.join(logs, path.basename(v.consoleLog)));
    await labDown(name).catch(() => {});
    if (err instanceof LabError || err instanceof UsageError) {
      err.message += ` (console logs kept in ${logs})`;
      // A hint naming a console log in the lab folder (just removed) names the kept copy.
      if (err.suggestion) (err as { suggestion: string }).suggestion = err.suggestion.split(`${dir}${path.sep}`).join(`${logs}${path.sep}`);
    }
    throw err;
  }
  writeState(state);
  return state;
}

export interface VmStatus {
  name: string;
  running: boolean;
  pid: number;
  ssh: string;
  bootToSshMs?: number;
  consoleLog: string;
  nics: Array<{ name: string; model: NicModel; mac: string; link: 'up' | 'down'; addr?: string }>;
}

export interface LabStatus {
  name: string;
  running: boolean;
  accel: Accel;
  accelReason: string;
  guest: GuestOs;
  peer: 'vm' | 'netns';
  image: LabState['image'];
  dir: string;
  vms: VmStatus[];
  links: LinkState[];
}

export function labStatus(name = DEFAULT_LAB): LabStatus {
  const s = requireState(name);
  const vms = s.vms.map((v) => ({
    name: v.name,
    running: v.pid > 0 && isAlive(v.pid),
    pid: v.pid,
    ssh: `${v.sshUser}@${v.sshHost ?? '127.0.0.1'}:${v.sshPort}`,
    bootToSshMs: v.bootToSshMs,
    consoleLog: v.consoleLog,
    nics: v.nics.map((n) => ({ name: n.name, model: n.model, mac: n.mac, link: n.link, addr: n.addr })),
  }));
  return {
    name: s.name,
    running: vms.every((v) => v.running),
    accel: s.accel,
    accelReason: s.accelReason,
    guest: s.guest,
    peer: s.peer,
    image: s.image,
    dir: s.dir,
    vms,
    links: s.links,
  };
}

export function allLabs(): LabStatus[] {
  return listLabs().map((n) => labStatus(n));
}

export interface LinkResult {
  lab: string;
  vm: string;
  nic: string;
  state: 'up' | 'down';
  /** Every end whose carrier was changed (both ends of a VM-to-VM link, like pulling a cable). */
  changed: string[];
}

function nicOf(vm: VmState, nic: string): VmState['nics'][number] {
  const n = vm.nics.find((x) => x.name === nic || x.id === nic);
  if (!n) throw new UsageError('E_LAB_NIC', `guest ${vm.name} has no data NIC '${nic}'`, `Its data NICs are: ${vm.nics.map((x) => x.name).join(', ')}.`);
  return n;
}

/**
 * A copy-on-write overlay of the user's image in the lab folder: the guest writes there (so a
 * reboot keeps what it wrote, as on a real disk), the user's image is never written, and
 * `lab down` throws the overlay away with the folder.
 */
function diskOverlay(image: string, overlay: string): string {
  const format = /\.qcow2$/i.test(image) ? 'qcow2' : 'raw';
  try {
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', format, '-b', path.resolve(image), overlay], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new LabError(
      'E_LAB_IMAGE',
      `cannot make a disk overlay of ${image}: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`,
      'Check that the image is readable and that qemu-img (qemu-utils) is installed.',
    );
  }
  return overlay;
}

/**
 * Set a link's carrier through QMP set_link. A link is a cable: by default both ends lose
 * carrier, as when it is unplugged; `oneSide` changes only the named guest's NIC (the far end
 * then notices only through its protocol, e.g. LACP timeouts).
 */
export async function labLink(name: string, vmName: string, nicName: string, state: 'up' | 'down', oneSide = false): Promise<LinkResult> {
  const s = requireState(name);
  if (s.backend === 'bhyve') return { lab: name, vm: vmName, nic: nicName, state, changed: bhyveLink(s, vmName, nicName, state === 'up') };
  const vm = findVm(s, vmName);
  const nic = nicOf(vm, nicName);
  const up = state === 'up';
  const changed: string[] = [];
  await qmpOnce(vm.qmpSocket, 'set_link', { name: nic.id, up });
  nic.link = state;
  changed.push(`${vm.name}:${nic.name}`);
  if (!oneSide) {
    const link = s.links.find((l) => (l.a.vm === vm.name && l.a.nic === nic.name) || ('vm' in l.b && l.b.vm === vm.name && l.b.nic === nic.name));
    if (link) {
      const far = link.a.vm === vm.name && link.a.nic === nic.name ? link.b : link.a;
      if ('vm' in far) {
        const fvm = findVm(s, far.vm);
        const fnic = nicOf(fvm, far.nic);
        await qmpOnce(fvm.qmpSocket, 'set_link', { name: fnic.id, up });
        fnic.link = state;
        changed.push(`${fvm.name}:${fnic.name}`);
      } else {
        setTapCarrier(far.netns, far.tap, up);
        changed.push(`${far.netns}:${far.tap}`);
      }
    }
  }
  writeState(s);
  return { lab: name, vm: vm.name, nic: nic.name, state, changed };
}

/** Is this pid the QEMU of this lab (and not a recycled pid of something else)? */
function isLabQemu(pid: number, dir: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
  } catch {
    return process.platform !== 'linux' && isAlive(pid);
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !isAlive(pid);
}

export interface DownResult {
  lab: string;
  stopped: string[];
  removed: string[];
}

/** Stop every guest (QMP quit, then SIGKILL), remove TAPs, the namespace and the lab folder. */
export async function labDown(name = DEFAULT_LAB): Promise<DownResult> {
  const s = requireState(name);
  if (s.backend === 'bhyve') return { lab: name, stopped: bhyveDown(s), removed: [...s.bhyve!.teardown.map((c) => c.join(' ')), s.dir] };
  const stopped: string[] = [];
  await Promise.all(
    s.vms.map(async (vm) => {
      if (vm.pid <= 0 || !isAlive(vm.pid) || !isLabQemu(vm.pid, s.dir)) return;
      await qmpOnce(vm.qmpSocket, 'quit').catch(() => {});
      if (!(await waitGone(vm.pid, 3000))) {
        process.kill(vm.pid, 'SIGKILL');
        await waitGone(vm.pid, 3000);
      }
      stopped.push(vm.name);
    }),
  );
  const removed: string[] = [];
  if (s.taps.length || s.netns) {
    removeNetnsPeer(s.netns, s.taps);
    removed.push(...s.taps.map((t) => `tap ${t}`), ...(s.netns ? [`netns ${s.netns}`] : []));
  }
  fs.rmSync(s.dir, { recursive: true, force: true });
  removed.push(s.dir);
  return { lab: name, stopped, removed };
}
