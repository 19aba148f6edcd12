/**
 * Seed ISOs and the image catalog, checked by reading the result back with independent tools:
 * the ISO is built with xorriso, then its volume id is read from the raw volume descriptor and its files are
 * extracted with xorriso -osirrox and parsed (YAML/JSON). Checksum-file parsing is checked on
 * both formats the official servers publish.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { testNeeding } from '../support/require.js';
import { buildSeedIso, type SeedInput } from '../../src/lab/seed.js';
import { checksumFor, imageCatalog } from '../../src/lab/images.js';
import { opensshHostKey } from '../../src/lab/keys.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-seedt-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

function input(): SeedInput {
  const hostKey = opensshHostKey(path.join(tmp, `hk-${Math.random().toString(16).slice(2)}`));
  return {
    hostname: 'lab-A',
    instanceId: 'laggkit-lab-A',
    authorizedKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxhZ2draXQtdGVzdC1rZXktMDEyMzQ1Njc4OWFi laggkit-lab',
    hostKey,
    mgmtMac: '52:54:00:12:0a:00',
  };
}

function extract(iso: string): string {
  const out = fs.mkdtempSync(path.join(tmp, 'x-'));
  execFileSync('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', out], { stdio: 'ignore' });
  return out;
}

/** The volume identifier straight from the ISO 9660 primary volume descriptor (sector 16). */
function volumeId(iso: string): string {
  const pvd = Buffer.alloc(2048);
  const fd = fs.openSync(iso, 'r');
  try {
    fs.readSync(fd, pvd, 0, 2048, 16 * 2048);
  } finally {
    fs.closeSync(fd);
  }
  if (pvd[0] !== 1 || pvd.toString('ascii', 1, 6) !== 'CD001') throw new Error(`${iso}: no primary volume descriptor`);
  return pvd.toString('ascii', 40, 72).trim();
}

testNeeding(
  test,
  'cidata seed ISO: volume id, meta-data, user-data with keys, network-config on the management MAC',
  { tools: ['xorriso', 'ssh-keygen'] },
  (t) => {
    const inp = input();
    const iso = buildSeedIso('cidata', inp, path.join(tmp, 'cidata.iso'));
    t.is(volumeId(iso), 'cidata');
    const dir = extract(iso);
    t.deepEqual(fs.readdirSync(dir).sort(), ['meta-data', 'network-config', 'user-data']);
    const meta = YAML.parse(fs.readFileSync(path.join(dir, 'meta-data'), 'utf8'));
    t.deepEqual(meta, { 'instance-id': 'laggkit-lab-A', 'local-hostname': 'lab-A' });
    const udText = fs.readFileSync(path.join(dir, 'user-data'), 'utf8');
    t.true(udText.startsWith('#cloud-config\n'), 'cloud-init needs the #cloud-config first line');
    const ud = YAML.parse(udText);
    t.is(ud.hostname, 'lab-A');
    t.deepEqual(ud.users[0], { name: 'root', ssh_authorized_keys: [inp.authorizedKey] });
    t.deepEqual(ud.ssh_authorized_keys, [inp.authorizedKey]);
    t.is(ud.ssh_keys.ed25519_public, inp.hostKey.publicKey);
    t.regex(ud.ssh_keys.ed25519_private, /BEGIN OPENSSH PRIVATE KEY/);
    t.true(
      ud.runcmd.some((c: string) => c.includes('autoboot_delay=0')),
      'loader autoboot_delay set low',
    );
    const wf = ud.write_files.find((f: { path: string }) => f.path === '/etc/ssh/ssh_host_ed25519_key');
    t.is(wf.permissions, '0600');
    // The host key in the seed is the one whose public half the lab puts in known_hosts.
    const keyFile = path.join(tmp, 'readback_key');
    fs.writeFileSync(keyFile, wf.content, { mode: 0o600 });
    t.is(execFileSync('ssh-keygen', ['-y', '-f', keyFile], { encoding: 'utf8' }).trim().split(' ').slice(0, 2).join(' '), inp.hostKey.publicKey);
    const net = YAML.parse(fs.readFileSync(path.join(dir, 'network-config'), 'utf8'));
    t.is(net.version, 2);
    t.is(net.ethernets.mgmt.match.macaddress, '52:54:00:12:0a:00');
    t.true(net.ethernets.mgmt.dhcp4);
  },
);

test('network-config: a static management address when there is no DHCP (bhyve)', async (t) => {
  const { networkConfig } = await import('../../src/lab/seed.js');
  const net = YAML.parse(networkConfig({ ...input(), mgmtAddress: { address: '172.30.1.2/30', gateway: '172.30.1.1' } }));
  t.false(net.ethernets.mgmt.dhcp4);
  t.deepEqual(net.ethernets.mgmt.addresses, ['172.30.1.2/30']);
  t.is(net.ethernets.mgmt.gateway4, '172.30.1.1');
});

testNeeding(test, 'config-2 seed ISO: OpenStack layout with meta_data.json and user_data', { tools: ['xorriso', 'ssh-keygen'] }, (t) => {
  const inp = input();
  const iso = buildSeedIso('config-2', inp, path.join(tmp, 'config2.iso'));
  t.is(volumeId(iso), 'config-2');
  const dir = extract(iso);
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'openstack', 'latest', 'meta_data.json'), 'utf8'));
  t.is(meta.hostname, 'lab-A');
  t.is(meta.uuid, 'laggkit-lab-A');
  t.deepEqual(Object.values(meta.public_keys), [inp.authorizedKey]);
  const ud = YAML.parse(fs.readFileSync(path.join(dir, 'openstack', 'latest', 'user_data'), 'utf8'));
  t.is(ud.ssh_keys.ed25519_public, inp.hostKey.publicKey);
});

test('checksum files: BSD-style (FreeBSD CHECKSUM.SHA256, NetBSD SHA512) and GNU-style lines', (t) => {
  const h = 'a'.repeat(64);
  const bsd = `SHA256 (FreeBSD-14.3-RELEASE-amd64-BASIC-CLOUDINIT-ufs.qcow2.xz) = ${h}\nSHA256 (other.raw.xz) = ${'b'.repeat(64)}\n`;
  t.is(checksumFor(bsd, 'FreeBSD-14.3-RELEASE-amd64-BASIC-CLOUDINIT-ufs.qcow2.xz', 'sha256'), h);
  t.is(checksumFor(bsd, 'missing.img', 'sha256'), undefined);
  t.is(checksumFor(bsd, 'other.raw.xz', 'sha512'), undefined, 'the algorithm must match');
  const h512 = 'c'.repeat(128);
  t.is(checksumFor(`SHA512 (NetBSD-10.1-amd64-live.img.gz) = ${h512}\n`, 'NetBSD-10.1-amd64-live.img.gz', 'sha512'), h512);
  t.is(checksumFor(`${h}  image.qcow2\n`, 'image.qcow2', 'sha256'), h);
});

test('image catalog: official HTTPS servers only, a checksum file beside each image, every guest covered', (t) => {
  const cat = imageCatalog();
  t.true(Object.keys(cat).length >= 5);
  for (const [id, e] of Object.entries(cat)) {
    const u = new URL(e.url);
    const c = new URL(e.checksums);
    t.is(u.protocol, 'https:', id);
    t.true(['download.freebsd.org', 'cdn.netbsd.org'].includes(u.hostname), `${id}: official server ${u.hostname}`);
    t.is(c.hostname, u.hostname, `${id}: checksums from the same server`);
    t.is(path.posix.dirname(c.pathname), path.posix.dirname(u.pathname), `${id}: checksum file next to the image`);
    t.true(e.guest === 'freebsd' || e.guest === 'netbsd');
    t.is(e.algorithm, e.guest === 'freebsd' ? 'sha256' : 'sha512');
  }
  for (const id of ['freebsd-13', 'freebsd-14', 'freebsd-15', 'netbsd-9', 'netbsd-10']) t.truthy(cat[id], id);
});

/** Serve files from a map on 127.0.0.1 (an official mirror stand-in) for fetch-image. */
async function serve(files: Record<string, Buffer | string>): Promise<{ base: string; close: () => Promise<void> }> {
  const http = await import('node:http');
  const srv = http.createServer((req, res) => {
    const body = files[req.url ?? ''];
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200).end(body);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  return { base: `http://127.0.0.1:${port}`, close: () => new Promise((r) => srv.close(() => r())) };
}

testNeeding(test, 'fetch-image: verifies against the checksum file, decompresses, and keeps nothing when the digest is wrong', { tools: ['xz'] }, async (t) => {
  const { createHash } = await import('node:crypto');
  const { fetchImage } = await import('../../src/lab/images.js');
  process.env.LAGGKIT_CACHE_DIR = path.join(tmp, 'cache');
  const raw = Buffer.from('FAKE DISK IMAGE '.repeat(4096));
  const xz = execFileSync('xz', ['-c'], { input: raw });
  const digest = createHash('sha256').update(xz).digest('hex');
  const name = 'Test-1.0-amd64.raw.xz';
  const mirror = await serve({
    [`/r/${name}`]: xz,
    '/r/CHECKSUM.SHA256': `SHA256 (${name}) = ${digest}\n`,
    '/bad/CHECKSUM.SHA256': `SHA256 (${name}) = ${'0'.repeat(64)}\n`,
    [`/bad/${name}`]: xz,
  });
  try {
    const entry = {
      guest: 'freebsd' as const,
      url: `${mirror.base}/r/${name}`,
      checksums: `${mirror.base}/r/CHECKSUM.SHA256`,
      algorithm: 'sha256' as const,
      compression: 'xz' as const,
    };
    const r = await fetchImage('test-ok', { entry });
    t.true(r.downloaded);
    t.is(r.digest, digest);
    t.true(fs.readFileSync(r.path).equals(raw), 'decompressed image');
    const again = await fetchImage('test-ok', { entry });
    t.false(again.downloaded, 'a verified image is not downloaded twice');

    const bad = { ...entry, url: `${mirror.base}/bad/${name}`, checksums: `${mirror.base}/bad/CHECKSUM.SHA256` };
    const err = await t.throwsAsync(fetchImage('test-bad', { entry: bad }));
    t.is((err as { code?: string }).code, 'E_LAB_CHECKSUM');
    t.deepEqual(fs.readdirSync(path.join(tmp, 'cache', 'images', 'test-bad')), [], 'nothing kept from a bad download');
    const pinned = await t.throwsAsync(fetchImage('test-pin', { entry, sha256: 'f'.repeat(64) }));
    t.is((pinned as { code?: string }).code, 'E_LAB_CHECKSUM');
  } finally {
    await mirror.close();
  }
});
