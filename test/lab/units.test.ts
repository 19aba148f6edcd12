/**
 * The lab's pure parts, without starting a VM: QEMU command lines (NIC models and their
 * properties, crossed UDP ports, sockets, firmware), the Linux guest's kernel command line,
 * bhyve command lines and host plumbing, the cpio writer (read back with cpio(1)), module
 * ordering from the real modules.dep, NIC naming per OS, and input validation.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testNeeding } from '../support/require.js';
import { bhyveArgs, bhyveLinkCommand, bhyvePlan, bhyveloadArgs, labBackend, type BhyveGuest } from '../../src/lab/bhyve.js';
import { cpioArchive, parentDirs, S_IFDIR, S_IFLNK, S_IFREG } from '../../src/lab/cpio.js';
import { findKernel, findLaggd, GUEST_MODULES, moduleLoadOrder } from '../../src/lab/linux-image.js';
import { machineDef, nicNames, parseGuest, parseNicList } from '../../src/lab/machines.js';
import { linuxKernelCmdline, qemuArgs, type GuestLaunch } from '../../src/lab/qemu.js';
import { checkSocketPath, validateLabName } from '../../src/lab/paths.js';
import { parseAccel } from '../../src/lab/accel.js';
import { tapName } from '../../src/lab/netns-peer.js';
import { provisioningCommands } from '../../src/lab/serial-login.js';

function launch(overrides: Partial<GuestLaunch> = {}): GuestLaunch {
  return {
    name: 'A',
    machine: machineDef('linux'),
    accel: 'tcg',
    kernel: '/img/vmlinux',
    initrd: '/lab/A.initrd',
    sshPort: 40022,
    mgmtMac: '52:54:00:aa:0a:00',
    nics: [
      {
        id: 'nic0',
        model: 'virtio',
        mac: '52:54:00:aa:0a:01',
        name: 'vtnet0',
        netdev: { type: 'dgram', localPort: 50001, remotePort: 50002 },
        addr: '10.99.1.1/24',
      },
      { id: 'nic1', model: 'e1000', mac: '52:54:00:aa:0a:02', name: 'em0', netdev: { type: 'tap', ifname: 'lkabcdeft1' } },
    ],
    qmpSocket: '/lab/A.qmp.sock',
    consoleSocket: '/lab/A.console.sock',
    consoleLog: '/lab/A.console.log',
    pidFile: '/lab/A.pid',
    ...overrides,
  };
}

const values = (args: string[], flag: string): string[] => args.flatMap((a, i) => (args[i - 1] === flag ? [a] : []));

test('QEMU: virtio-net gets speed/duplex, e1000 autonegotiation off, no option ROMs, fixed PCI slots', (t) => {
  const args = qemuArgs(launch());
  const devices = values(args, '-device');
  t.is(devices.length, 3);
  t.regex(devices[0]!, /^virtio-net-pci,netdev=mgmt-net,id=mgmt,mac=52:54:00:aa:0a:00,romfile=,addr=0x3$/);
  t.is(devices[1], 'virtio-net-pci,netdev=nic0-net,id=nic0,mac=52:54:00:aa:0a:01,addr=0x4,romfile=,speed=10000,duplex=full');
  t.is(devices[2], 'e1000,netdev=nic1-net,id=nic1,mac=52:54:00:aa:0a:02,addr=0x5,romfile=,autonegotiation=off');
  const netdevs = values(args, '-netdev');
  t.is(netdevs[0], 'user,id=mgmt-net,restrict=on,hostfwd=tcp:127.0.0.1:40022-:22');
  t.is(netdevs[1], 'dgram,id=nic0-net,local.type=inet,local.host=127.0.0.1,local.port=50001,remote.type=inet,remote.host=127.0.0.1,remote.port=50002');
  t.is(netdevs[2], 'tap,id=nic1-net,ifname=lkabcdeft1,script=no,downscript=no');
  t.deepEqual(values(args, '-accel'), ['tcg']);
  t.deepEqual(values(args, '-cpu'), ['max'], 'TCG: -cpu max gives the guest RDRAND');
  t.deepEqual(values(args, '-bios'), ['qboot.rom']);
  t.deepEqual(values(args, '-qmp'), ['unix:/lab/A.qmp.sock,server=on,wait=off']);
  t.deepEqual(values(args, '-chardev'), ['socket,id=con,path=/lab/A.console.sock,server=on,wait=off,logfile=/lab/A.console.log']);
  t.true(args.includes('-nodefaults') && args.includes('-daemonize'));
  t.deepEqual(values(qemuArgs(launch({ accel: 'kvm' })), '-cpu'), ['host']);
  t.false(qemuArgs(launch({ foreground: true })).includes('-daemonize'));
});

test('QEMU: BSD guests boot their disk read-only-by-snapshot with the seed ISO, no kernel', (t) => {
  const args = qemuArgs(launch({ machine: machineDef('freebsd'), kernel: undefined, initrd: undefined, disk: '/img/fbsd.qcow2', seedIso: '/lab/A.seed.iso' }));
  t.deepEqual(values(args, '-drive'), [
    'file=/img/fbsd.qcow2,format=qcow2,if=virtio,snapshot=on',
    'file=/lab/A.seed.iso,format=raw,if=virtio,readonly=on,media=cdrom',
  ]);
  t.false(args.includes('-kernel'));
  t.deepEqual(values(args, '-m'), ['1024']);
  const err = t.throws(() => qemuArgs(launch({ machine: machineDef('netbsd'), kernel: undefined })));
  t.regex(err!.message, /--image|disk image/);
});

test('Linux guest kernel command line carries names, MACs and addresses for the init script', (t) => {
  const line = linuxKernelCmdline(launch());
  t.regex(line, /console=ttyS0/);
  t.regex(line, /laggkit\.name=A /);
  t.regex(line, /laggkit\.mgmt=52:54:00:aa:0a:00/);
  t.regex(line, /laggkit\.nics=vtnet0@52:54:00:aa:0a:01,em0@52:54:00:aa:0a:02/);
  t.regex(line, /laggkit\.addrs=vtnet0@10\.99\.1\.1\/24(\s|$)/);
  // The init script parses these words with sh; no value may contain a space.
  for (const w of line.split(' ').filter((x) => x.startsWith('laggkit.'))) t.notRegex(w, /\s/);
});

test('init script is valid sh and reads every parameter the launcher writes', (t) => {
  const init = fs.readFileSync(path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'vm', 'linux', 'init'), 'utf8');
  execFileSync('sh', ['-n'], { input: init });
  for (const p of ['name', 'mgmt', 'nics', 'addrs', 'probe']) t.regex(init, new RegExp(`arg ${p}\\b`), `init reads laggkit.${p}`);
});

test('NIC names follow each OS: Linux guest renames, BSD units skip the virtio management NIC', (t) => {
  t.deepEqual(nicNames('linux', ['virtio', 'virtio', 'e1000', 'e1000']), ['vtnet0', 'vtnet1', 'em0', 'em1']);
  t.deepEqual(nicNames('freebsd', ['virtio', 'e1000', 'virtio']), ['vtnet1', 'em0', 'vtnet2']);
  t.deepEqual(nicNames('netbsd', ['virtio', 'e1000']), ['vioif1', 'wm0']);
});

test('bhyve: virtio-net and e1000 slots on taps, nmdm console, bhyveload for FreeBSD, UEFI for others', (t) => {
  const g: BhyveGuest = {
    name: 'A',
    guest: 'freebsd',
    memoryMiB: 1024,
    cpus: 1,
    disk: '/vm/fbsd.img',
    seedIso: '/vm/seed.iso',
    consoleUnit: 7,
    mgmtTap: 'tap100',
    mgmtMac: '58:9c:fc:00:00:00',
    nics: [
      { model: 'virtio', tap: 'tap101', mac: '58:9c:fc:00:00:01' },
      { model: 'e1000', tap: 'tap102', mac: '58:9c:fc:00:00:02' },
    ],
  };
  const a = bhyveArgs('lab', g);
  t.deepEqual(values(a, '-s'), [
    '0,hostbridge',
    '31,lpc',
    '2,virtio-blk,/vm/fbsd.img',
    '3,ahci-cd,/vm/seed.iso,ro',
    '4,virtio-net,tap100,mac=58:9c:fc:00:00:00',
    '5,virtio-net,tap101,mac=58:9c:fc:00:00:01',
    '6,e1000,tap102,mac=58:9c:fc:00:00:02',
  ]);
  t.deepEqual(values(a, '-l'), ['com1,/dev/nmdm7A']);
  t.is(a[a.length - 1], 'laggkit-lab-A');
  t.deepEqual(bhyveloadArgs('lab', g), [
    '-c',
    '/dev/nmdm7A',
    '-m',
    '1024M',
    '-d',
    '/vm/fbsd.img',
    '-e',
    'autoboot_delay=0',
    '-e',
    'console=comconsole',
    'laggkit-lab-A',
  ]);
  const nb = bhyveArgs('lab', { ...g, guest: 'netbsd' });
  t.true(values(nb, '-l').includes('bootrom,/usr/local/share/uefi-firmware/BHYVE_UEFI.fd'));
  const b: BhyveGuest = {
    ...g,
    name: 'B',
    mgmtTap: 'tap200',
    nics: [
      { model: 'virtio', tap: 'tap201', mac: 'x' },
      { model: 'e1000', tap: 'tap202', mac: 'y' },
    ],
  };
  const plan = bhyvePlan(
    'lab',
    [g, b],
    [
      { bridge: 'bridge101', taps: ['tap101', 'tap201'] },
      { bridge: 'bridge102', taps: ['tap102', 'tap202'] },
    ],
  );
  t.deepEqual(
    plan.guests.map((x) => x.load?.[0]),
    ['bhyveload', 'bhyveload'],
  );
  t.true(plan.setup.some((c) => c.join(' ') === 'ifconfig bridge101 addm tap101 addm tap201 up'));
  t.true(plan.teardown.some((c) => c.join(' ') === 'bhyvectl --vm=laggkit-lab-B --destroy'));
  t.true(plan.teardown.some((c) => c.join(' ') === 'ifconfig tap202 destroy'));
  // Every tap set up is torn down.
  const created = plan.setup.filter((c) => c[2] === 'create').map((c) => c[1]);
  const destroyed = plan.teardown.filter((c) => c[2] === 'destroy').map((c) => c[1]);
  t.deepEqual([...created].sort(), [...destroyed].sort());
  t.deepEqual(bhyveLinkCommand('tap101', false), ['ifconfig', 'tap101', 'down']);
  t.is(labBackend('freebsd'), 'bhyve');
  t.is(labBackend('linux'), 'qemu');
});

testNeeding(test, 'cpio writer: cpio(1) lists and extracts what was written, with modes and symlinks', { tools: ['cpio'] }, (t) => {
  const files = ['bin/busybox', 'etc/dropbear/host_key'];
  const archive = cpioArchive([
    ...parentDirs(files),
    { path: 'bin/busybox', mode: S_IFREG | 0o755, data: Buffer.from('#!/bin/sh\necho hi\n') },
    { path: 'bin/sh', mode: S_IFLNK | 0o777, data: Buffer.from('/bin/busybox') },
    { path: 'etc/dropbear/host_key', mode: S_IFREG | 0o600, data: Buffer.from('k'.repeat(83)) },
    { path: 'root', mode: S_IFDIR | 0o700 },
  ]);
  const listing = execFileSync('cpio', ['-itv', '--quiet'], { input: archive, encoding: 'utf8' });
  t.regex(listing, /-rwxr-xr-x .* bin\/busybox/);
  t.regex(listing, /lrwxrwxrwx .* bin\/sh -> \/bin\/busybox/);
  t.regex(listing, /-rw------- .* etc\/dropbear\/host_key/);
  t.regex(listing, /drwx------ .* root/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-cpio-'));
  try {
    execFileSync('cpio', ['-idm', '--quiet', '--no-absolute-filenames'], { input: archive, cwd: dir });
    t.is(fs.readFileSync(path.join(dir, 'etc/dropbear/host_key'), 'utf8'), 'k'.repeat(83));
    t.is(fs.readlinkSync(path.join(dir, 'bin/sh')), '/bin/busybox');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  t.is(archive.length % 4, 0);
});

test('module load order: dependencies first, from a modules.dep', (t) => {
  const dep = [
    'kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko',
    'kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko',
    'kernel/net/core/failover.ko:',
    'kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko',
    'kernel/drivers/virtio/virtio_ring.ko:',
    'kernel/drivers/net/ethernet/intel/e1000/e1000.ko:',
  ].join('\n');
  const order = moduleLoadOrder(dep, ['virtio_net', 'e1000']);
  const idx = (m: string): number => order.findIndex((f) => f.endsWith(`/${m}.ko`));
  // findIndex gives -1 for a module left out, which would pass every "comes before" below.
  for (const m of ['failover', 'net_failover', 'virtio_ring', 'virtio', 'virtio_net', 'e1000']) t.true(idx(m) >= 0, `${m} is in the load order`);
  t.true(idx('failover') < idx('net_failover'));
  t.true(idx('net_failover') < idx('virtio_net'));
  t.true(idx('virtio_ring') < idx('virtio'));
  t.true(idx('virtio') < idx('virtio_net'));
  t.is(new Set(order).size, order.length, 'each module once');
  t.throws(() => moduleLoadOrder(dep, ['no_such_driver']), { message: /no_such_driver/ });
});

testNeeding(test, "module load order on this machine's kernel covers the guest's drivers", { tools: ['busybox'] }, (t) => {
  const k = findKernel();
  const order = moduleLoadOrder(fs.readFileSync(path.join(k.moduleDir, 'modules.dep'), 'utf8'), GUEST_MODULES);
  for (const m of ['virtio_net', 'virtio_pci', 'e1000', 'tun', 'virtio_ring', 'net_failover'])
    t.true(
      order.some((f) => path.basename(f).startsWith(`${m}.ko`)),
      m,
    );
});

test('validation: lab names, NIC lists, guests, accelerators, socket path length, TAP names', (t) => {
  t.notThrows(() => validateLabName('lab-1'));
  for (const bad of ['', 'Lab', '1lab', 'a/b', 'a b', 'x'.repeat(17), '../x'])
    t.throws(() => validateLabName(bad), { message: new RegExp(bad.replace(/[./]/g, '\\$&') || "''") });
  t.deepEqual(parseNicList('virtio, e1000'), ['virtio', 'e1000']);
  t.throws(() => parseNicList('virtio,rtl8139'), { message: /rtl8139/ });
  t.throws(() => parseNicList(''), { message: /1 to 8/ });
  t.throws(() => parseGuest('openbsd'), { message: /openbsd/ });
  t.is(parseGuest('netbsd'), 'netbsd');
  t.throws(() => parseAccel('xen'), { message: /xen/ });
  t.throws(() => checkSocketPath(`/${'d'.repeat(120)}/q.sock`), { message: /too long/ });
  const tap = tapName('some-long-lab-name', 7);
  t.true(tap.length <= 15, 'fits IFNAMSIZ');
  t.not(tapName('a', 0), tapName('b', 0));
});

test('serial-console provisioning lines fit FreeBSD MAX_CANON and carry the whole key', (t) => {
  const key = `ssh-ed25519 ${'A'.repeat(68)} laggkit-lab`;
  const priv = `-----BEGIN OPENSSH PRIVATE KEY-----\n${'b'.repeat(70)}\n${'c'.repeat(70)}\n-----END OPENSSH PRIVATE KEY-----\n`;
  const lines = provisioningCommands(key, { privateKey: priv, publicKey: 'ssh-ed25519 XYZ' });
  for (const l of lines) t.true(l.length < 255, `${l.length} bytes: ${l.slice(0, 40)}`);
  const typed = lines
    .filter((l) => l.includes('authorized_keys') && l.startsWith('printf'))
    .map((l) => /'(.*)'/.exec(l)![1])
    .join('');
  t.is(typed, key);
  t.true(lines.some((l) => l.includes('b'.repeat(70))));
});

test('serial-console provisioning edits sshd_config in place: root by key only, no empty passwords, whatever the image set first', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-sshd-'));
  try {
    const conf = path.join(dir, 'sshd_config');
    // As a CI image ships it: the commented default, then the image's own permissive lines.
    fs.writeFileSync(conf, '#PermitRootLogin no\n#PermitEmptyPasswords no\nUsePAM yes\nPermitRootLogin yes\nPermitEmptyPasswords yes\n');
    const lines = provisioningCommands('ssh-ed25519 AAAA k', { privateKey: 'x', publicKey: 'y' });
    const edit = lines.slice(
      lines.findIndex((l) => l.startsWith('C=')),
      lines.findIndex((l) => l.includes("'^PermitEmptyPasswords' $C")) + 1,
    );
    t.true(edit.length >= 3, 'the sshd_config lines are found');
    execFileSync('sh', ['-c', [`C=${conf}`, ...edit.slice(1)].join('\n')]);
    const active = fs
      .readFileSync(conf, 'utf8')
      .split('\n')
      .filter((l) => /^(PermitRootLogin|PermitEmptyPasswords)/.test(l));
    t.deepEqual(active, ['PermitRootLogin prohibit-password', 'PermitEmptyPasswords no']);
    // A file without either line gets both appended.
    fs.writeFileSync(conf, 'UsePAM yes\n');
    execFileSync('sh', ['-c', [`C=${conf}`, ...edit.slice(1)].join('\n')]);
    t.regex(fs.readFileSync(conf, 'utf8'), /^PermitRootLogin prohibit-password\nPermitEmptyPasswords no$/m);
    // Each data NIC gets its own rc.conf line (no DHCP wait at boot), unless the image has one.
    const withNics = provisioningCommands('ssh-ed25519 AAAA k', { privateKey: 'x', publicKey: 'y' }, ['vtnet1', 'em0']);
    for (const nic of ['vtnet1', 'em0'])
      t.true(
        withNics.some((l) => l.includes(`grep -q '^ifconfig_${nic}=' /etc/rc.conf || sysrc ifconfig_${nic}=up`)),
        nic,
      );
    // NetBSD's rc.conf variable (sshd=YES) must never reach FreeBSD's rc.conf, where sysrc exists.
    for (const l of lines.filter((x) => x.includes('sshd=YES') || x.includes('/boot.cfg'))) t.true(l.startsWith('command -v sysrc >/dev/null ||'), l);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

testNeeding(
  test,
  'compressed kernel modules (.ko.xz as Debian 13 ships them, .ko.gz) are stored decompressed for busybox insmod',
  { tools: ['xz', 'gzip'] },
  async (t) => {
    const { readModule } = await import('../../src/lab/linux-image.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-mod-'));
    try {
      const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(4096, 7)]);
      fs.writeFileSync(path.join(dir, 'm.ko'), elf);
      execFileSync('xz', ['-k', path.join(dir, 'm.ko')]);
      execFileSync('gzip', ['-k', path.join(dir, 'm.ko')]);
      for (const f of ['m.ko', 'm.ko.xz', 'm.ko.gz']) t.true(readModule(path.join(dir, f)).equals(elf), f);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);

testNeeding(test.serial, 'findLaggd brings the static laggd up to date with the core before handing it out', { tools: ['make', 'cc', 'ldd'] }, (t) => {
  // A core source newer than the static laggd (as after an edit), then findLaggd: the
  // binary it returns must be newer than that source, not the one built before.
  const src = path.resolve('kmod', 'core', 'lk_core.c');
  const before = fs.statSync(src);
  const touched = new Date();
  fs.utimesSync(src, before.atime, touched);
  try {
    const found = findLaggd();
    t.truthy(found, 'a static laggd');
    t.true(fs.statSync(found!.laggd).mtimeMs >= touched.getTime(), 'rebuilt after the source changed');
  } finally {
    fs.utimesSync(src, before.atime, before.mtime);
  }
});
