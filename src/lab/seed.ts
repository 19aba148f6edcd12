/**
 * Seed ISOs that provision BSD guests without manual steps: a NoCloud `cidata` volume
 * (meta-data, user-data, network-config) or an OpenStack `config-2` volume
 * (openstack/latest/meta_data.json, user_data), read by FreeBSD's nuageinit and by cloud-init.
 * The content comes from the templates in vm/seed/, filled with the lab's client key, the
 * guest's pre-generated host key, its name and management MAC. Built with xorriso.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { EnvironmentError } from '../cli/errors.js';
import { vmDataDir } from './paths.js';

export type SeedKind = 'cidata' | 'config-2';

export interface SeedInput {
  hostname: string;
  instanceId: string;
  authorizedKey: string;
  hostKey: { privateKey: string; publicKey: string };
  mgmtMac: string;
  /** A static management address (bhyve has no user-mode NAT/DHCP), e.g. 172.30.0.2/30. */
  mgmtAddress?: { address: string; gateway: string };
}

function template(name: string): Record<string, unknown> {
  return YAML.parse(fs.readFileSync(path.join(vmDataDir(), 'seed', name), 'utf8')) as Record<string, unknown>;
}

export function userData(input: SeedInput): string {
  const t = template('user-data.yaml');
  t.hostname = input.hostname;
  t.users = [{ name: 'root', ssh_authorized_keys: [input.authorizedKey] }];
  t.ssh_authorized_keys = [input.authorizedKey];
  t.ssh_keys = { ed25519_private: input.hostKey.privateKey, ed25519_public: input.hostKey.publicKey };
  t.write_files = [
    { path: '/etc/ssh/ssh_host_ed25519_key', permissions: '0600', content: input.hostKey.privateKey },
    { path: '/etc/ssh/ssh_host_ed25519_key.pub', permissions: '0644', content: input.hostKey.publicKey + '\n' },
  ];
  return '#cloud-config\n' + YAML.stringify(t, { lineWidth: 0 });
}

export function metaData(input: SeedInput): string {
  const t = template('meta-data.yaml');
  t['instance-id'] = input.instanceId;
  t['local-hostname'] = input.hostname;
  return YAML.stringify(t);
}

export function networkConfig(input: SeedInput): string {
  const t = template('network-config.yaml') as { ethernets: { mgmt: { match: { macaddress: string } } } };
  t.ethernets.mgmt.match.macaddress = input.mgmtMac;
  if (input.mgmtAddress) {
    const m = t.ethernets.mgmt as Record<string, unknown>;
    m.dhcp4 = false;
    m.addresses = [input.mgmtAddress.address];
    m.gateway4 = input.mgmtAddress.gateway;
  }
  return YAML.stringify(t);
}

/** The files of a seed volume, by path inside the ISO. */
export function seedFiles(kind: SeedKind, input: SeedInput): Record<string, string> {
  if (kind === 'cidata') {
    return { 'meta-data': metaData(input), 'user-data': userData(input), 'network-config': networkConfig(input) };
  }
  const meta = { uuid: input.instanceId, hostname: input.hostname, name: input.hostname, public_keys: { laggkit: input.authorizedKey } };
  return { 'openstack/latest/meta_data.json': JSON.stringify(meta, null, 2) + '\n', 'openstack/latest/user_data': userData(input) };
}

export function volumeId(kind: SeedKind): string {
  return kind === 'cidata' ? 'cidata' : 'config-2';
}

/** Write the seed ISO to `output` (xorriso, Rock Ridge + Joliet so every reader finds the names). */
export function buildSeedIso(kind: SeedKind, input: SeedInput, output: string): string {
  const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'laggkit-seed-'));
  try {
    for (const [rel, content] of Object.entries(seedFiles(kind, input))) {
      fs.mkdirSync(path.dirname(path.join(staging, rel)), { recursive: true });
      fs.writeFileSync(path.join(staging, rel), content);
    }
    fs.rmSync(output, { force: true });
    try {
      execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-output', output, '-volid', volumeId(kind), '-joliet', '-rock', staging], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    } catch (err) {
      const e = err as { code?: string; stderr?: Buffer };
      throw new EnvironmentError(
        'E_LAB_XORRISO',
        `xorriso could not build the seed ISO: ${e.code === 'ENOENT' ? 'not installed' : String(e.stderr ?? '').trim()}`,
        'apt-get install xorriso (FreeBSD: pkg install xorriso)',
      );
    }
    return output;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}
