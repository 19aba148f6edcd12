/**
 * The lab's keys: one client key (root's authorized key in every guest) and one host key per
 * guest, generated on the host before boot. The host key's public half goes into the lab's own
 * known_hosts file under [127.0.0.1]:<forwarded port>, so SSH to a guest is verified strictly.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { EnvironmentError } from '../cli/errors.js';

function run(cmd: string, args: string[], hint: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string; stderr?: string };
    throw new EnvironmentError('E_LAB_KEYGEN', `${cmd} failed: ${e.code === 'ENOENT' ? 'not installed' : (e.stderr ?? '').trim()}`, hint);
  }
}

/** Client key pair (OpenSSH format) at dir/id_ed25519; returns the public key line. */
export function clientKey(dir: string): { privateKey: string; publicKey: string } {
  const key = path.join(dir, 'id_ed25519');
  if (!fs.existsSync(key)) run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'laggkit-lab', '-f', key], 'apt-get install openssh-client');
  return { privateKey: key, publicKey: fs.readFileSync(`${key}.pub`, 'utf8').trim() };
}

/** A dropbear-format host key (for the Linux guest) and its OpenSSH public line. */
export function dropbearHostKey(file: string): { key: Buffer; publicKey: string } {
  if (!fs.existsSync(file)) run('dropbearkey', ['-t', 'ed25519', '-f', file], 'apt-get install dropbear-bin');
  const pub = run('dropbearkey', ['-y', '-f', file], 'apt-get install dropbear-bin')
    .split('\n')
    .find((l) => l.startsWith('ssh-'));
  if (!pub) throw new EnvironmentError('E_LAB_KEYGEN', `dropbearkey printed no public key for ${file}`);
  return { key: fs.readFileSync(file), publicKey: pub.split(' ').slice(0, 2).join(' ') };
}

/** An OpenSSH-format host key (for BSD guests, injected through the seed or the console). */
export function opensshHostKey(file: string): { privateKey: string; publicKey: string } {
  if (!fs.existsSync(file)) run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'laggkit-lab-host', '-f', file], 'apt-get install openssh-client');
  return { privateKey: fs.readFileSync(file, 'utf8'), publicKey: fs.readFileSync(`${file}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ') };
}

/** known_hosts spells port 22 as the bare host, any other port as [host]:port. */
export function knownHostsLine(port: number, publicKey: string, host = '127.0.0.1'): string {
  return `${port === 22 ? host : `[${host}]:${port}`} ${publicKey}`;
}
