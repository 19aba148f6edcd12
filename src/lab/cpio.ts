/**
 * A writer for the "newc" cpio format, the one the Linux kernel unpacks as an initramfs.
 *
 * Written here rather than calling cpio(1) so that ownership, modes and timestamps in the
 * image are fixed (root-owned, mtime 0) whatever user builds it, which keeps the image's
 * content hash stable and lets a non-root user build a guest whose files belong to root.
 */

export interface CpioEntry {
  /** Path inside the archive, without a leading slash. */
  path: string;
  /** File type and permission bits as in st_mode, e.g. 0o100755 or 0o40755. */
  mode: number;
  /** File content, or a symlink's target. Empty for directories. */
  data?: Buffer;
}

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(len: number): Buffer {
  return Buffer.alloc((4 - (len % 4)) % 4);
}

/** Serialise entries (in the order given) plus the trailer into one archive. */
export function cpioArchive(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const push = (path: string, mode: number, data: Buffer, rdev = 0): void => {
    const name = Buffer.from(`${path}\0`);
    const header =
      '070701' +
      hex8(ino++) +
      hex8(mode) +
      hex8(0) + // uid
      hex8(0) + // gid
      hex8(mode & S_IFDIR ? 2 : 1) +
      hex8(0) + // mtime: fixed, so the same inputs give the same bytes
      hex8(data.length) +
      hex8(0) +
      hex8(0) +
      hex8(rdev >> 8) +
      hex8(rdev & 0xff) +
      hex8(name.length) +
      hex8(0);
    const head = Buffer.concat([Buffer.from(header, 'ascii'), name]);
    parts.push(head, pad4(head.length), data, pad4(data.length));
  };
  for (const e of entries) push(e.path.replace(/^\/+/, ''), e.mode, e.data ?? Buffer.alloc(0));
  push('TRAILER!!!', 0, Buffer.alloc(0));
  return Buffer.concat(parts);
}

/** Every parent directory of the given paths, shallowest first, as directory entries. */
export function parentDirs(paths: string[]): CpioEntry[] {
  const dirs = new Set<string>();
  for (const p of paths) {
    const parts = p.replace(/^\/+/, '').split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs].sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b)).map((path) => ({ path, mode: S_IFDIR | 0o755 }));
}
