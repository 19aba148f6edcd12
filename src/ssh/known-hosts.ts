/**
 * known_hosts handling, following OpenSSH's sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT":
 *
 *   [marker] hostpatterns keytype base64-key [comment]
 *
 * Host patterns are comma lists with '*' and '?' wildcards and '!' negation; a non-default port
 * is written `[host]:port`; hashed entries are `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`.
 * `@revoked` marks a key that must never be accepted; `@cert-authority` lines describe CAs for
 * host certificates, which laggkit does not use, so they are kept in the file but never trust a
 * plain key. Lines laggkit does not understand are ignored, never rewritten.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export type Marker = 'revoked' | 'cert-authority' | null;

export interface KnownHostEntry {
  file: string;
  line: number;
  marker: Marker;
  hosts: string;
  keyType: string;
  key: Buffer;
}

export type HostKeyVerdict =
  | { status: 'trusted'; entry: KnownHostEntry }
  | { status: 'revoked'; entry: KnownHostEntry }
  | { status: 'changed'; entries: KnownHostEntry[] }
  | { status: 'unknown'; otherTypes: string[] };

/** The name a host is recorded under: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** SHA256 fingerprint exactly as OpenSSH prints it: SHA256:<unpadded base64>. */
export function fingerprintSha256(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

/** The key type named inside an SSH public key blob (its first string). */
export function keyTypeOfBlob(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const len = keyBlob.readUInt32BE(0);
  if (len > keyBlob.length - 4 || len > 64) return 'unknown';
  return keyBlob.subarray(4, 4 + len).toString('latin1');
}

export function parseKnownHosts(text: string, file: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: Marker = null;
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift();
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else return; // an unknown marker: ignore the line as OpenSSH does
    }
    const [hosts, keyType, b64] = fields;
    if (hosts === undefined || keyType === undefined || b64 === undefined) return;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return;
    const key = Buffer.from(b64, 'base64');
    // The blob names its own type; a line whose type field disagrees is corrupt.
    if (keyTypeOfBlob(key) !== keyType) return;
    entries.push({ file, line: i + 1, marker, hosts, keyType, key });
  });
  return entries;
}

/** OpenSSH-style glob: '*' any run, '?' one character; case-insensitive like host names. */
function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(
    '^' +
      pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.') +
      '$',
    'i',
  );
  return re.test(name);
}

function hashedMatch(field: string, name: string): boolean {
  const parts = field.split('|');
  // ['', '1', salt, hash]
  if (parts.length !== 4 || parts[1] !== '1' || parts[2] === undefined || parts[3] === undefined) return false;
  const salt = Buffer.from(parts[2], 'base64');
  const want = Buffer.from(parts[3], 'base64');
  const got = createHmac('sha1', salt).update(name).digest();
  return got.length === want.length && got.equals(want);
}

/** True when the host field of a line names `name` (already in `[host]:port` form if needed). */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) return hashedMatch(field, name);
  let positive = false;
  for (const pat of field.split(',')) {
    if (pat.startsWith('!')) {
      if (globMatch(pat.slice(1), name)) return false;
    } else if (globMatch(pat, name)) {
      positive = true;
    }
  }
  return positive;
}

/** Hash a host name the way `ssh-keygen -H` does (used by tests and by hashed appends). */
export function hashHostName(name: string, salt: Buffer): string {
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

export async function loadKnownHosts(files: readonly string[]): Promise<KnownHostEntry[]> {
  const all: KnownHostEntry[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue; // a missing known_hosts file simply knows nothing
    }
    all.push(...parseKnownHosts(text, file));
  }
  return all;
}

/** Entries naming this host (revoked lines included, cert-authority excluded). */
export function entriesFor(entries: readonly KnownHostEntry[], host: string, port: number): KnownHostEntry[] {
  const name = knownHostsName(host, port);
  return entries.filter((e) => e.marker !== 'cert-authority' && hostFieldMatches(e.hosts, name));
}

/**
 * Decide about a presented key. Revocation wins over everything; then a matching plain entry
 * trusts the key; an entry of the same key type with a different key means the key changed.
 */
export function judgeHostKey(entries: readonly KnownHostEntry[], host: string, port: number, keyBlob: Buffer): HostKeyVerdict {
  // A revoked key is refused whatever host it is presented by, when the line's pattern is '*'
  // or names this host.
  const name = knownHostsName(host, port);
  for (const e of entries) {
    if (e.marker === 'revoked' && e.key.equals(keyBlob) && hostFieldMatches(e.hosts, name)) return { status: 'revoked', entry: e };
  }
  const mine = entriesFor(entries, host, port).filter((e) => e.marker === null);
  const match = mine.find((e) => e.key.equals(keyBlob));
  if (match) return { status: 'trusted', entry: match };
  const type = keyTypeOfBlob(keyBlob);
  const sameType = mine.filter((e) => e.keyType === type);
  if (sameType.length > 0) return { status: 'changed', entries: sameType };
  return { status: 'unknown', otherTypes: [...new Set(mine.map((e) => e.keyType))] };
}

/** ssh2 host key algorithm names for the key types known for a host, in preference order. */
export function preferredHostKeyAlgorithms(entries: readonly KnownHostEntry[], host: string, port: number): string[] {
  const all = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  const known = new Set(
    entriesFor(entries, host, port)
      .filter((e) => e.marker === null)
      .map((e) => e.keyType),
  );
  if (known.size === 0) return all;
  // Asking first for the types we already know avoids a spurious "unknown key" when the
  // server also has a key of a type we have never seen (OpenSSH does the same).
  const isKnown = (alg: string) => known.has(alg.startsWith('rsa-sha2-') ? 'ssh-rsa' : alg);
  return [...all.filter(isKnown), ...all.filter((a) => !isKnown(a))];
}

/**
 * Append a trusted key to a known_hosts file, creating it (and ~/.ssh, mode 0700) if needed;
 * under a hashed name (random 20-byte salt, as `ssh-keygen -H`) when HashKnownHosts is on.
 */
export async function appendKnownHost(file: string, host: string, port: number, keyBlob: Buffer, hashed = false): Promise<string> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  let prefix = '';
  try {
    const old = await readFile(file, 'utf8');
    if (old.length > 0 && !old.endsWith('\n')) prefix = '\n';
  } catch {
    /* new file */
  }
  const name = hashed ? hashHostName(knownHostsName(host, port), randomBytes(20)) : knownHostsName(host, port);
  const line = `${name} ${keyTypeOfBlob(keyBlob)} ${keyBlob.toString('base64')}`;
  await appendFile(file, `${prefix}${line}\n`, { mode: 0o600 });
  return line;
}
