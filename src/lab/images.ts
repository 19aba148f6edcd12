/**
 * `laggkit lab fetch-image`: downloads an official FreeBSD or NetBSD VM image from the catalog
 * in vm/images.json, only when the user asks. The image is checked against the project's own
 * published checksum file (FreeBSD CHECKSUM.SHA256, NetBSD SHA512; both BSD-style
 * "SHA256 (name) = hex" lines, GNU-style "hex  name" lines are also read) or a pinned --sha256,
 * before it is decompressed into <cache>/images/. Nothing is kept when verification fails.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../cli/errors.js';
import { LabError } from './errors.js';
import type { GuestOs } from './machines.js';
import { cacheRoot, vmDataDir } from './paths.js';

export interface ImageEntry {
  guest: GuestOs;
  url: string;
  checksums: string;
  algorithm: 'sha256' | 'sha512';
  compression: 'xz' | 'gzip' | 'none';
}

export function imageCatalog(): Record<string, ImageEntry> {
  const raw = JSON.parse(fs.readFileSync(path.join(vmDataDir(), 'images.json'), 'utf8')) as Record<string, unknown>;
  delete raw.$comment;
  return raw as Record<string, ImageEntry>;
}

export function catalogEntry(id: string): ImageEntry {
  const cat = imageCatalog();
  const e = cat[id];
  if (!e) throw new UsageError('E_LAB_IMAGE_ID', `unknown image '${id}'`, `Known images: ${Object.keys(cat).join(', ')}.`);
  return e;
}

/** The expected digest of `fileName` from a checksum file (BSD or GNU style). */
export function checksumFor(checksumText: string, fileName: string, algorithm: string): string | undefined {
  for (const line of checksumText.split('\n')) {
    const bsd = /^(\w+) \((.+)\) = ([0-9a-fA-F]+)\s*$/.exec(line.trim());
    if (bsd && bsd[2] === fileName && bsd[1]!.toLowerCase() === algorithm) return bsd[3]!.toLowerCase();
    const gnu = /^([0-9a-fA-F]{64,128})\s+\*?(.+)$/.exec(line.trim());
    if (gnu && gnu[2] === fileName) return gnu[1]!.toLowerCase();
  }
  return undefined;
}

export function imagePathFor(id: string, entry: ImageEntry): string {
  const base = path.basename(new URL(entry.url).pathname).replace(/\.(xz|gz)$/, '');
  return path.join(cacheRoot(), 'images', id, base);
}

async function download(url: string, dest: string): Promise<void> {
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new LabError('E_LAB_DOWNLOAD', `download of ${url} failed: HTTP ${res.status}`);
  const out = fs.createWriteStream(dest);
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

function digestFile(file: string, algorithm: string): string {
  const h = createHash(algorithm);
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(1 << 20);
  try {
    let n: number;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

export interface FetchResult {
  id: string;
  path: string;
  url: string;
  digest: string;
  verifiedWith: string;
  downloaded: boolean;
}

/** `entry` replaces the catalog's (tests serve images from a local server). */
export async function fetchImage(id: string, opts: { sha256?: string; entry?: ImageEntry } = {}): Promise<FetchResult> {
  const entry = opts.entry ?? catalogEntry(id);
  const finalPath = imagePathFor(id, entry);
  const fileName = path.basename(new URL(entry.url).pathname);
  if (fs.existsSync(finalPath)) return { id, path: finalPath, url: entry.url, digest: '', verifiedWith: 'verified when it was downloaded', downloaded: false };
  fs.mkdirSync(path.dirname(finalPath), { recursive: true });
  const partial = path.join(path.dirname(finalPath), `${fileName}.part`);
  let expected: string;
  let algorithm: string = entry.algorithm;
  let verifiedWith: string;
  if (opts.sha256) {
    if (!/^[0-9a-fA-F]{64}$/.test(opts.sha256)) throw new UsageError('E_LAB_SHA256', `--sha256 '${opts.sha256}' is not 64 hex digits`);
    expected = opts.sha256.toLowerCase();
    algorithm = 'sha256';
    verifiedWith = '--sha256';
  } else {
    const res = await fetch(entry.checksums);
    if (!res.ok) throw new LabError('E_LAB_DOWNLOAD', `cannot read the checksum file ${entry.checksums}: HTTP ${res.status}`);
    const found = checksumFor(await res.text(), fileName, entry.algorithm);
    if (!found)
      throw new LabError(
        'E_LAB_CHECKSUM',
        `${entry.checksums} lists no ${entry.algorithm} for ${fileName}`,
        'Pass --sha256 with the digest published by the project.',
      );
    expected = found;
    verifiedWith = entry.checksums;
  }
  try {
    await download(entry.url, partial);
    const digest = digestFile(partial, algorithm);
    if (digest !== expected)
      throw new LabError(
        'E_LAB_CHECKSUM',
        `${fileName}: ${algorithm} is ${digest}, expected ${expected}`,
        'The download is corrupt or was tampered with; it was deleted. Retry later or from another mirror.',
      );
    const tool = entry.compression === 'xz' ? ['xz', '-dc'] : entry.compression === 'gzip' ? ['gzip', '-dc'] : undefined;
    if (tool) {
      const fd = fs.openSync(`${finalPath}.tmp`, 'w');
      try {
        execFileSync(tool[0]!, [tool[1]!, partial], { stdio: ['ignore', fd, 'pipe'] });
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(`${finalPath}.tmp`, finalPath);
    } else {
      fs.renameSync(partial, finalPath);
    }
    return { id, path: finalPath, url: entry.url, digest, verifiedWith, downloaded: true };
  } finally {
    fs.rmSync(partial, { force: true });
    fs.rmSync(`${finalPath}.tmp`, { force: true });
  }
}
