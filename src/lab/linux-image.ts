/**
 * Builds the Linux lab guest from the build machine's own Debian packages, with no download:
 *
 *   vmlinux         the Debian kernel (linux-image-amd64) unpacked from its bzImage. The ELF
 *                   carries a PVH entry note, so QEMU starts it directly: no real-mode setup
 *                   and no in-guest XZ decompression, which costs seconds under TCG.
 *   initramfs.cpio  uncompressed newc archive: busybox-static, vm/linux/init, the NIC modules
 *                   (virtio_net, virtio_pci, e1000, tun and their dependencies from
 *                   modules.dep, loaded with insmod: no modprobe, no depmod), dropbear with the
 *                   shared libraries ldd names, sftp-server when present, and laggd/laggctl
 *                   when they have been built, and seqstream (the numbered packet stream
 *                   laggkit e2e measures outages with); bonding.ko, loaded on demand.
 *
 * The result is cached under <cache>/images/linux-<hash>, the hash covering every input's
 * content, so a new kernel, init script or laggd build makes a new image and nothing else does.
 * Per-guest secrets (host key, authorized key) are not in it: see guestOverlay().
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { EnvironmentError } from '../cli/errors.js';
import { cpioArchive, parentDirs, S_IFDIR, S_IFLNK, S_IFREG, type CpioEntry } from './cpio.js';
import { cacheRoot, repoRoot, vmDataDir } from './paths.js';

/** Bump when the layout of the image changes in a way the input hash cannot see. */
const RECIPE_VERSION = 5;

/** Modules the guest needs; their dependencies are added from modules.dep. */
// sch_ingress + cls_bpf: laggd's tc ingress eBPF program on each member hands the aggregate's
// frames to the TAP in the kernel and keeps them from the member's own IP stack, as on any
// Linux host; without them every frame goes through laggd, and sysctls that leave IPv4 on the
// member open stand in for the isolation.
export const GUEST_MODULES = ['virtio_pci', 'virtio_net', 'e1000', 'tun', 'sch_ingress', 'cls_bpf'];

/**
 * Modules in the image but not loaded at boot: Linux bonding, the stock driver `laggkit e2e
 * --compare stock` measures laggd against. Loading it only when asked keeps the boot short and
 * the guests free of a bond0 they did not ask for. Their load order is lib/modules/load-order.NAME.
 */
export const ON_DEMAND_MODULES = ['bonding'];

export interface LinuxImage {
  kernel: string;
  initramfs: string;
  kernelVersion: string;
  hash: string;
  /** Whether laggd and laggctl are inside. */
  laggd: boolean;
  /** True when this call built the image, false when it came from the cache. */
  built: boolean;
}

export interface ImageInputs {
  kernelVersion: string;
  vmlinuz: string;
  moduleDir: string;
  busybox: string;
  dropbear: string;
  sftpServer?: string;
  init: string;
  /** The rc script and key converter of console-provisioning mode (laggkit.login=1). */
  rcSshd: string;
  dropbearconvert?: string;
  laggd?: string;
  laggctl?: string;
  seqstream?: string;
}

/** The newest installed Debian kernel, or the one LAGGKIT_GUEST_KERNEL names. */
export function findKernel(): { version: string; vmlinuz: string; moduleDir: string } {
  const wanted = process.env.LAGGKIT_GUEST_KERNEL;
  const versions = fs.existsSync('/boot')
    ? fs
        .readdirSync('/boot')
        .filter((f) => f.startsWith('vmlinuz-'))
        .map((f) => f.slice('vmlinuz-'.length))
    : [];
  const usable = versions.filter((v) => fs.existsSync(path.join('/lib/modules', v, 'modules.dep')));
  usable.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const version = wanted ?? usable[usable.length - 1];
  if (!version || !usable.includes(version)) {
    throw new EnvironmentError(
      'E_LAB_KERNEL',
      wanted ? `kernel ${wanted} not found in /boot with modules in /lib/modules` : 'no Linux kernel with modules found in /boot and /lib/modules',
      'Install the Debian kernel: apt-get install linux-image-amd64 (npm run setup does this as root).',
    );
  }
  return { version, vmlinuz: path.join('/boot', `vmlinuz-${version}`), moduleDir: path.join('/lib/modules', version) };
}

/**
 * laggd/laggctl static builds from kmod/posix, when present (`make -C kmod/posix static`). In a
 * checkout the build is brought up to date first: a lab image or an e2e target once ran a
 * static laggd built hours before the core it was meant to test. make is incremental and the
 * Makefile takes a lock, so this costs a stat of each source when nothing changed; where it
 * cannot run (no compiler), what is built is used.
 */
export function findLaggd(onBuildError: (message: string) => void = () => {}): { laggd: string; laggctl: string; seqstream?: string } | undefined {
  const dir = process.env.LAGGKIT_LAGGD_DIR ?? path.join(repoRoot(), 'kmod', 'posix');
  if (!process.env.LAGGKIT_LAGGD_DIR && fs.existsSync(path.join(dir, 'Makefile'))) {
    try {
      execFileSync('make', ['-s', '-C', dir, 'static'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 600_000 });
    } catch (err) {
      // no compiler or make here: what is built is used; the caller hears why nothing was
      onBuildError(
        String((err as { stderr?: Buffer }).stderr ?? err)
          .trim()
          .slice(-400),
      );
    }
  }
  const candidates = [
    ['laggd-static', 'laggctl-static'],
    ['build/static/laggd', 'build/static/laggctl'],
    ['static/laggd', 'static/laggctl'],
  ];
  for (const [d, c] of candidates) {
    const laggd = path.join(dir, d!);
    const laggctl = path.join(dir, c!);
    const seqstream = path.join(path.dirname(laggctl), 'seqstream');
    if (fs.existsSync(laggd) && fs.existsSync(laggctl) && isStatic(laggd))
      return { laggd, laggctl, ...(fs.existsSync(seqstream) && isStatic(seqstream) ? { seqstream } : {}) };
  }
  return undefined;
}

function isStatic(file: string): boolean {
  try {
    execFileSync('ldd', [file], { stdio: ['ignore', 'pipe', 'pipe'] });
    return false;
  } catch {
    return true; // ldd exits non-zero for "not a dynamic executable"
  }
}

function which(tool: string, fallbacks: string[]): string | undefined {
  for (const p of fallbacks) if (fs.existsSync(p)) return p;
  try {
    return execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export function defaultInputs(opts: { withLaggd?: boolean } = {}): ImageInputs {
  const k = findKernel();
  const busybox = which('busybox', ['/bin/busybox', '/usr/bin/busybox']);
  if (!busybox || !isStatic(busybox)) {
    throw new EnvironmentError('E_LAB_BUSYBOX', 'a statically linked busybox is needed for the guest userland', 'apt-get install busybox-static');
  }
  const dropbear = which('dropbear', ['/usr/sbin/dropbear']);
  if (!dropbear) throw new EnvironmentError('E_LAB_DROPBEAR', 'dropbear (the guest SSH server) is not installed', 'apt-get install dropbear-bin');
  const sftp = ['/usr/lib/openssh/sftp-server', '/usr/libexec/sftp-server'].find((p) => fs.existsSync(p));
  const l = opts.withLaggd === false ? undefined : findLaggd();
  return {
    kernelVersion: k.version,
    vmlinuz: k.vmlinuz,
    moduleDir: k.moduleDir,
    busybox,
    dropbear,
    sftpServer: sftp,
    init: path.join(vmDataDir(), 'linux', 'init'),
    rcSshd: path.join(vmDataDir(), 'linux', 'rc.sshd'),
    dropbearconvert: ['/usr/lib/dropbear/dropbearconvert', '/usr/bin/dropbearconvert'].find((p) => fs.existsSync(p)),
    laggd: l?.laggd,
    laggctl: l?.laggctl,
    seqstream: l?.seqstream,
  };
}

/** Module files (relative to moduleDir) for `wanted`, dependencies first. */
export function moduleLoadOrder(modulesDep: string, wanted: string[]): string[] {
  const deps = new Map<string, string[]>();
  const byName = new Map<string, string>();
  for (const line of modulesDep.split('\n')) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const file = m[1]!;
    deps.set(file, m[2]!.split(/\s+/).filter(Boolean));
    byName.set(
      path
        .basename(file)
        .replace(/\.ko(\.\w+)?$/, '')
        .replace(/-/g, '_'),
      file,
    );
  }
  const order: string[] = [];
  const visit = (file: string): void => {
    if (order.includes(file)) return;
    // modules.dep lists the full transitive closure; visiting each keeps deps before users.
    for (const d of deps.get(file) ?? []) visit(d);
    order.push(file);
  };
  for (const w of wanted) {
    const file = byName.get(w.replace(/-/g, '_'));
    if (!file)
      throw new EnvironmentError(
        'E_LAB_MODULE',
        `kernel module '${w}' not found in modules.dep`,
        'Use a Debian kernel built with this driver as a module (linux-image-amd64).',
      );
    visit(file);
  }
  return order;
}

/** A kernel module's bytes, decompressed when the distribution ships .ko.xz/.ko.zst/.ko.gz. */
export function readModule(file: string): Buffer {
  const tool = file.endsWith('.xz') ? 'xz' : file.endsWith('.zst') ? 'zstd' : file.endsWith('.gz') ? 'gzip' : undefined;
  if (!tool) return fs.readFileSync(file);
  try {
    return execFileSync(tool, ['-dc', file], { maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new EnvironmentError(
      'E_LAB_MODULE',
      `cannot decompress ${file} with ${tool}: ${(err as Error).message}`,
      `Install ${tool === 'zstd' ? 'zstd' : tool === 'xz' ? 'xz-utils' : 'gzip'}.`,
    );
  }
}

/** Shared libraries (and the ELF interpreter) a dynamic binary needs, as absolute paths. */
export function sharedLibraries(binary: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [binary], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return [];
  }
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}

/** The kernel's ELF image out of a bzImage (payload located through the boot protocol header). */
export function extractVmlinux(bzImage: Buffer): Buffer {
  if (bzImage.toString('ascii', 0x202, 0x206) !== 'HdrS') throw new EnvironmentError('E_LAB_KERNEL', 'kernel image is not a bzImage (no HdrS header)');
  const setupSects = bzImage.readUInt8(0x1f1) || 4;
  const payloadOffset = bzImage.readUInt32LE(0x248);
  const payloadLength = bzImage.readUInt32LE(0x24c);
  const start = (setupSects + 1) * 512 + payloadOffset;
  const payload = bzImage.subarray(start, start + payloadLength);
  const magic = payload.subarray(0, 6);
  const decoders: Array<[Buffer, string, string[]]> = [
    [Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), 'xz', ['-dc', '--single-stream']],
    [Buffer.from([0x1f, 0x8b]), 'gzip', ['-dc']],
    [Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), 'zstd', ['-dcq']],
  ];
  for (const [m, tool, args] of decoders) {
    if (magic.subarray(0, m.length).equals(m)) {
      let out: Buffer;
      try {
        out = execFileSync(tool, args, { input: payload, maxBuffer: 512 * 1024 * 1024, stdio: ['pipe', 'pipe', 'ignore'] });
      } catch (err) {
        // gzip/zstd complain about the trailing size word but still write the whole image.
        out = (err as { stdout?: Buffer }).stdout ?? Buffer.alloc(0);
      }
      if (out.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) return out;
      break;
    }
  }
  throw new EnvironmentError(
    'E_LAB_KERNEL',
    'could not unpack the kernel payload to an ELF vmlinux',
    'Install xz-utils (the Debian kernel payload is XZ-compressed).',
  );
}

function hashInputs(inputs: ImageInputs, modules: string[]): string {
  const h = createHash('sha256');
  h.update(`recipe ${RECIPE_VERSION}\n`);
  const files: Array<[string, string | undefined]> = [
    ['vmlinuz', inputs.vmlinuz],
    ['busybox', inputs.busybox],
    ['dropbear', inputs.dropbear],
    ['sftp', inputs.sftpServer],
    ['init', inputs.init],
    ['rc.sshd', inputs.rcSshd],
    ['dropbearconvert', inputs.dropbearconvert],
    ['laggd', inputs.laggd],
    ['laggctl', inputs.laggctl],
    ['seqstream', inputs.seqstream],
    ...modules.map((m): [string, string] => [m, path.join(inputs.moduleDir, m)]),
  ];
  for (const [name, file] of files) {
    h.update(`${name}\n`);
    if (file) h.update(fs.readFileSync(file));
  }
  return h.digest('hex').slice(0, 16);
}

/** Build (or reuse) the guest image for these inputs. */
export function buildLinuxImage(inputs: ImageInputs = defaultInputs()): LinuxImage {
  const modulesDep = fs.readFileSync(path.join(inputs.moduleDir, 'modules.dep'), 'utf8');
  const modules = moduleLoadOrder(modulesDep, GUEST_MODULES);
  const onDemand = ON_DEMAND_MODULES.map((m) => ({ name: m, files: moduleLoadOrder(modulesDep, [m]).filter((f) => !modules.includes(f)) }));
  const hash = hashInputs(inputs, [...modules, ...onDemand.flatMap((m) => m.files)]);
  const dir = path.join(cacheRoot(), 'images', `linux-${hash}`);
  const kernel = path.join(dir, 'vmlinux');
  const initramfs = path.join(dir, 'initramfs.cpio');
  const result = { kernel, initramfs, kernelVersion: inputs.kernelVersion, hash, laggd: Boolean(inputs.laggd) };
  if (fs.existsSync(kernel) && fs.existsSync(initramfs)) return { ...result, built: false };

  const entries: CpioEntry[] = [];
  const file = (dest: string, src: string | Buffer, mode = 0o755): void => {
    entries.push({ path: dest, mode: S_IFREG | mode, data: typeof src === 'string' ? fs.readFileSync(src) : src });
  };
  const link = (dest: string, target: string): void => {
    entries.push({ path: dest, mode: S_IFLNK | 0o777, data: Buffer.from(target) });
  };
  const withLibs = (dest: string, src: string): void => {
    file(dest, src);
    for (const lib of sharedLibraries(src)) if (!entries.some((e) => e.path === lib.slice(1))) file(lib.slice(1), lib);
  };

  file('init', inputs.init);
  file('bin/busybox', inputs.busybox);
  const applets = execFileSync(inputs.busybox, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const a of applets) if (a !== 'bin/busybox') link(a, '/bin/busybox');
  withLibs('usr/sbin/dropbear', inputs.dropbear);
  if (inputs.sftpServer) {
    // dropbear looks for the SFTP subsystem at its compiled-in path; provide both usual ones.
    withLibs('usr/lib/openssh/sftp-server', inputs.sftpServer);
    link('usr/libexec/sftp-server', '/usr/lib/openssh/sftp-server');
  }
  file('etc/rc.d/sshd', inputs.rcSshd);
  if (inputs.dropbearconvert) withLibs('usr/bin/dropbearconvert', inputs.dropbearconvert);
  if (inputs.laggd && inputs.laggctl) {
    file('usr/sbin/laggd', inputs.laggd);
    file('usr/sbin/laggctl', inputs.laggctl);
  }
  if (inputs.seqstream) file('usr/sbin/seqstream', inputs.seqstream);
  // Stored uncompressed: busybox insmod hands the bytes to init_module() as they are.
  const plain = modules.map((m) => m.replace(/\.(xz|zst|gz)$/, ''));
  modules.forEach((m, i) => file(`lib/modules/${plain[i]}`, readModule(path.join(inputs.moduleDir, m)), 0o644));
  file('lib/modules/load-order', Buffer.from(plain.join('\n') + '\n'), 0o644);
  for (const m of onDemand) {
    const plainFiles = m.files.map((f) => f.replace(/\.(xz|zst|gz)$/, ''));
    m.files.forEach((f, i) => file(`lib/modules/${plainFiles[i]}`, readModule(path.join(inputs.moduleDir, f)), 0o644));
    file(`lib/modules/load-order.${m.name}`, Buffer.from(plainFiles.join('\n') + '\n'), 0o644);
  }
  file('etc/passwd', Buffer.from('root:x:0:0:root:/root:/bin/sh\n'), 0o644);
  file('etc/group', Buffer.from('root:x:0:\n'), 0o644);
  file('etc/shells', Buffer.from('/bin/sh\n'), 0o644);
  file('etc/profile', Buffer.from('export PATH=/usr/sbin:/usr/bin:/sbin:/bin\nexport PS1="\\h# "\n'), 0o644);
  const dirs = ['proc', 'sys', 'dev', 'run', 'tmp', 'root/.ssh', 'etc/dropbear', 'var/log'];
  const all = [...parentDirs([...entries.map((e) => e.path), ...dirs.map((d) => `${d}/x`)]), ...entries];
  // Directories must precede their files; parentDirs already sorted them shallowest first.
  const archive = cpioArchive(all.map((e) => (e.mode & S_IFDIR && e.path === 'root' ? { ...e, mode: S_IFDIR | 0o700 } : e)));

  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${dir}/.tmp-${process.pid}`;
  fs.writeFileSync(`${tmp}-k`, extractVmlinux(fs.readFileSync(inputs.vmlinuz)));
  fs.writeFileSync(`${tmp}-i`, archive);
  fs.renameSync(`${tmp}-k`, kernel);
  fs.renameSync(`${tmp}-i`, initramfs);
  return { ...result, built: true };
}

/**
 * The per-guest archive appended to the shared initramfs: the guest's SSH host key (dropbear
 * format) and the lab's client public key as root's authorized key.
 */
export function guestOverlay(hostKeyDropbear: Buffer, authorizedKey: string): Buffer {
  return cpioArchive([
    { path: 'etc', mode: S_IFDIR | 0o755 },
    { path: 'etc/dropbear', mode: S_IFDIR | 0o700 },
    { path: 'etc/dropbear/host_key', mode: S_IFREG | 0o600, data: hostKeyDropbear },
    { path: 'root', mode: S_IFDIR | 0o700 },
    { path: 'root/.ssh', mode: S_IFDIR | 0o700 },
    { path: 'root/.ssh/authorized_keys', mode: S_IFREG | 0o600, data: Buffer.from(authorizedKey.trim() + '\n') },
  ]);
}
