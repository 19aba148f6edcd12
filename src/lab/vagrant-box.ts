/**
 * A local Vagrant box (libvirt provider) made from the lab's Linux guest, so `vagrant up` works
 * with nothing downloaded from Vagrant Cloud.
 *
 * Vagrant's libvirt provider boots a box from its disk image (box.img), so the guest's kernel and
 * initramfs go on a small disk that boots by itself: a FAT file system with SYSLINUX in its boot
 * sector (made with mkfs.fat, mtools and syslinux: no loop mount, no root needed), holding the
 * Debian kernel, the lab's initramfs and a command line with laggkit.vagrant=1. That init mode
 * (vm/linux/init) finds the management NIC by PCI order and takes its address by DHCP, which is
 * how vagrant-libvirt finds the guest. Passing kernel and initrd through libvirt's <os> element
 * instead would need them outside the box, readable by libvirt's QEMU user.
 *
 * Vagrant then needs little from the guest, and the box's own Vagrantfile says so:
 *   - SSH as root with Vagrant's insecure key, kept (insert_key = false): the root file system is
 *     the initramfs, so a key Vagrant inserted would not survive a reboot anyway;
 *   - guest type :linux, a busybox `sh` login shell, no sudo (already root); no synced folder,
 *     no /etc/hosts or /etc/fstab edits;
 *     hostname and network configuration are left to the box (auto_config: false, no hostname);
 *   - the libvirt domain type the lab's accelerator probe chose on this machine ("qemu", i.e.
 *     TCG, when /dev/kvm cannot run the guest kernel).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { EnvironmentError, UsageError } from '../cli/errors.js';
import { decideAccel } from './accel.js';
import { cpioArchive, S_IFDIR, S_IFREG } from './cpio.js';
import { buildLinuxImage, defaultInputs } from './linux-image.js';
import { cacheRoot, vmDataDir } from './paths.js';
import type { Accel } from './qemu.js';

export const DEFAULT_BOX_NAME = 'laggkit/linux-lab';

/** The kernel command line baked into the box (the lab's Linux machine's own arguments). */
const BOX_CMDLINE = 'console=ttyS0 quiet panic=-1 mitigations=off tsc=reliable no_timer_check laggkit.vagrant=1 laggkit.name=linux-lab';

/** Where the disk-making tools come from. */
const DISK_TOOLS = 'apt-get install syslinux syslinux-common mtools dosfstools qemu-utils (npm run setup does this as root)';

export interface VagrantBoxOptions {
  /** Name the box is added under (vagrant box add --name). */
  name?: string;
  /** Where the .box file goes; default <cache>/vagrant/<name with / as ->.box. */
  output?: string;
  /** Run `vagrant box add --force` (default true). */
  add?: boolean;
  accel?: Accel | 'auto';
}

export interface VagrantBoxResult {
  name: string;
  file: string;
  bytes: number;
  /** The libvirt domain type written into the box: kvm, or qemu (TCG). */
  driver: 'kvm' | 'qemu';
  accelReason: string;
  kernelVersion: string;
  imageHash: string;
  added: boolean;
}

export function validateBoxName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    throw new UsageError(
      'E_VAGRANT_BOX_NAME',
      `invalid Vagrant box name '${name}'`,
      'Use ORGANISATION/NAME with letters, digits, ".", "_" and "-", e.g. laggkit/linux-lab.',
    );
  }
  return name;
}

/** mkfs.fat lives in /usr/sbin, which a non-root user's PATH on Debian leaves out. */
const toolEnv = (): NodeJS.ProcessEnv => ({ ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` });

function tool(cmd: string, args: string[], env: NodeJS.ProcessEnv = toolEnv()): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT') throw new EnvironmentError('E_VAGRANT_BOX_TOOL', `'${cmd}' is not installed`, DISK_TOOLS);
    throw new EnvironmentError('E_VAGRANT_BOX_TOOL', `${cmd} ${args.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

/** Fail before building anything when a tool the box needs is missing. */
function requireTools(tools: string[]): void {
  for (const t of tools) {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore', env: toolEnv() });
    } catch {
      const hint = t === 'vagrant' ? 'apt-get install vagrant vagrant-libvirt (npm run setup does this as root).' : DISK_TOOLS;
      throw new EnvironmentError(t === 'vagrant' ? 'E_VAGRANT_MISSING' : 'E_VAGRANT_BOX_TOOL', `'${t}' is not installed`, hint);
    }
  }
}

/**
 * Vagrant's insecure public key, from the installed Vagrant (Debian's package or HashiCorp's).
 * Vagrant logs in with the matching private key when a box asks it not to insert its own.
 */
export function vagrantInsecureKey(): string {
  const gemDirs = ['/usr/share/rubygems-integration/all/gems', '/opt/vagrant/embedded/gems/gems'];
  for (const dir of gemDirs) {
    if (!fs.existsSync(dir)) continue;
    for (const gem of fs
      .readdirSync(dir)
      .filter((d) => /^vagrant-\d/.test(d))
      .sort()
      .reverse()) {
      const pub = path.join(dir, gem, 'keys', 'vagrant.pub');
      if (fs.existsSync(pub)) return fs.readFileSync(pub, 'utf8').trim();
    }
  }
  throw new EnvironmentError(
    'E_VAGRANT_MISSING',
    "Vagrant's insecure public key (keys/vagrant.pub) was not found: is Vagrant installed?",
    'apt-get install vagrant vagrant-libvirt (npm run setup does this as root).',
  );
}

/** What the box adds to the lab's initramfs: root's authorized key and udhcpc's event script. */
export function boxOverlay(authorizedKey: string): Buffer {
  return cpioArchive([
    { path: 'root', mode: S_IFDIR | 0o700 },
    { path: 'root/.ssh', mode: S_IFDIR | 0o700 },
    { path: 'root/.ssh/authorized_keys', mode: S_IFREG | 0o600, data: Buffer.from(authorizedKey.trim() + '\n') },
    { path: 'etc', mode: S_IFDIR | 0o755 },
    { path: 'etc/udhcpc', mode: S_IFDIR | 0o755 },
    { path: 'etc/udhcpc/default.script', mode: S_IFREG | 0o755, data: fs.readFileSync(path.join(vmDataDir(), 'linux', 'udhcpc.script')) },
  ]);
}

/** The Vagrantfile inside the box: defaults every machine made from it starts with. */
export function boxVagrantfile(driver: 'kvm' | 'qemu'): string {
  return `# Defaults of the laggkit Linux lab box (written by \`laggkit lab vagrant-box\`).
# The guest runs from its initramfs: root logs in with Vagrant's insecure key, which stays (a key
# Vagrant inserted would be gone after a reboot); busybox has sh, not bash; the box names its
# NICs and takes its management address itself, so Vagrant configures neither.
Vagrant.configure("2") do |config|
  config.vm.guest = :linux
  config.ssh.username = "root"
  config.ssh.shell = "sh"
  config.ssh.insert_key = false
  # Already root, and busybox has no sudo.
  config.ssh.sudo_command = "%c"
  config.vm.synced_folder ".", "/vagrant", disabled: true
  config.vm.allow_hosts_modification = false
  config.vm.allow_fstab_modification = false
  config.vm.boot_timeout = 300

  config.vm.provider "libvirt" do |lv|
    # ${driver === 'kvm' ? 'KVM ran the guest kernel when this box was made.' : 'TCG: KVM could not run the guest kernel on the machine that made this box.'}
    lv.driver = "${driver}"
    lv.cpu_mode = "${driver === 'kvm' ? 'host-passthrough' : 'maximum'}"
    lv.memory = 256
    lv.cpus = 1
    lv.disk_bus = "virtio"
    lv.graphics_type = "none"
    lv.video_type = "none"
  end
end
`;
}

function defaultOutput(name: string): string {
  return path.join(cacheRoot(), 'vagrant', `${name.replace('/', '-')}.box`);
}

/** Build the .box file (and add it to Vagrant unless told not to). */
export async function packVagrantBox(opts: VagrantBoxOptions = {}): Promise<VagrantBoxResult> {
  const name = validateBoxName(opts.name ?? DEFAULT_BOX_NAME);
  const output = path.resolve(opts.output ?? defaultOutput(name));
  if (!output.endsWith('.box')) throw new UsageError('E_VAGRANT_BOX_OUTPUT', `output file '${output}' does not end in .box`, 'Name the file NAME.box.');
  const add = opts.add ?? true;
  requireTools(['mkfs.fat', 'syslinux', 'mcopy', 'qemu-img', 'tar', ...(add ? ['vagrant'] : [])]);
  const authorizedKey = vagrantInsecureKey();

  const inputs = defaultInputs({ withLaggd: false });
  const image = buildLinuxImage(inputs);
  const verdict = await decideAccel({ kernel: image.kernel, initrd: image.initramfs, hash: image.hash }, opts.accel ?? 'auto');
  const driver = verdict.accel === 'kvm' ? 'kvm' : 'qemu';

  fs.mkdirSync(path.dirname(output), { recursive: true });
  const work = fs.mkdtempSync(path.join(path.dirname(output), '.box-'));
  try {
    const initrd = path.join(work, 'initrd.img');
    fs.writeFileSync(initrd, Buffer.concat([fs.readFileSync(image.initramfs), boxOverlay(authorizedKey)]));
    const cfg = path.join(work, 'syslinux.cfg');
    fs.writeFileSync(cfg, `DEFAULT linux\nPROMPT 0\nTIMEOUT 0\nLABEL linux\n  KERNEL /vmlinuz\n  INITRD /initrd.img\n  APPEND ${BOX_CMDLINE}\n`);

    // FAT sized to its files plus slack for SYSLINUX and the FAT itself, in whole MiB.
    const payload = fs.statSync(inputs.vmlinuz).size + fs.statSync(initrd).size;
    const mib = Math.ceil(payload / 2 ** 20) + 8;
    const raw = path.join(work, 'disk.raw');
    tool('mkfs.fat', ['-C', '-n', 'LAGGKIT', raw, String(mib * 1024)]);
    tool('syslinux', ['--install', raw]);
    // mtools refuses images whose geometry it cannot check; this one is a plain superfloppy.
    const mtoolsEnv = { ...toolEnv(), MTOOLS_SKIP_CHECK: '1' };
    tool('mcopy', ['-i', raw, inputs.vmlinuz, '::vmlinuz'], mtoolsEnv);
    tool('mcopy', ['-i', raw, initrd, '::initrd.img'], mtoolsEnv);
    tool('mcopy', ['-i', raw, cfg, '::syslinux.cfg'], mtoolsEnv);
    tool('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, path.join(work, 'box.img')]);
    fs.rmSync(raw);

    fs.writeFileSync(path.join(work, 'metadata.json'), JSON.stringify({ provider: 'libvirt', format: 'qcow2', virtual_size: 1 }) + '\n');
    fs.writeFileSync(path.join(work, 'Vagrantfile'), boxVagrantfile(driver));
    const tmpBox = `${output}.${process.pid}`;
    tool('tar', ['-cf', tmpBox, '-C', work, 'metadata.json', 'Vagrantfile', 'box.img']);
    fs.renameSync(tmpBox, output);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }

  if (add) {
    try {
      execFileSync('vagrant', ['box', 'add', '--force', '--name', name, output], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    } catch (err) {
      const e = err as { code?: string; stderr?: string; stdout?: string; message: string };
      if (e.code === 'ENOENT')
        throw new EnvironmentError(
          'E_VAGRANT_MISSING',
          "'vagrant' is not installed",
          'apt-get install vagrant vagrant-libvirt (npm run setup does this as root).',
        );
      throw new EnvironmentError(
        'E_VAGRANT_BOX_ADD',
        `vagrant box add failed: ${(e.stderr || e.stdout || e.message).trim()}`,
        `The box file is kept: ${output}`,
      );
    }
  }
  return {
    name,
    file: output,
    bytes: fs.statSync(output).size,
    driver,
    accelReason: verdict.reason,
    kernelVersion: image.kernelVersion,
    imageHash: image.hash,
    added: add,
  };
}
