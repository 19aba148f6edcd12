/**
 * Where config files live: on the local machine under a root directory (`--root DIR`, e.g. a
 * mounted VM image; "/" for this machine) or on a remote host through an SSH session
 * (`--host H`, optionally with `--root DIR` on that host). Both offer the same four operations, so the editors never know which it is.
 * Local writes follow the same discipline as the SSH layer's: temp file in the same directory,
 * fsync, rename over the old file, and a backup of the old content kept beside it.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { chmod, chown, link, copyFile, lstat, readdir, readFile, rename, type stat, unlink } from 'node:fs/promises';
import { dirname, basename, join, posix, resolve } from 'node:path';
import { LaggkitError, ParseError } from '../cli/errors.js';
import { backupPathFor } from '../ssh/backup-name.js';
import { shQuote } from '../ssh/quote.js';
import type { RemoteHost } from '../targets/host.js';
import { validateAbsPath } from '../validate/index.js';

export interface ConfFiles {
  /** Where the files are, for messages: "/", "/mnt/vm", "admin@host". */
  readonly where: string;
  /** The file's content, or null when it does not exist. */
  read(path: string): Promise<string | null>;
  /** Names in a directory ([] when absent). */
  list(dir: string): Promise<string[]>;
  /** Atomic replace with a timestamped backup of the old content; returns the backup as displayed. */
  write(path: string, content: string): Promise<{ backupPath: string | null }>;
  /** The path as the operator should see it (root prefix included). */
  display(path: string): string;
}

function noDirError(shownDir: string): LaggkitError {
  return new LaggkitError(
    'remote',
    'E_CONF_NO_DIR',
    `The directory ${shownDir} does not exist`,
    `Create it first (mkdir -p ${shownDir}), or choose another --file.`,
  );
}

function fileError(what: string, path: string, err: unknown): LaggkitError {
  return new LaggkitError(
    'remote',
    'E_CONF_WRITE',
    `Cannot ${what} ${path}: ${(err as Error).message}`,
    'Check the permissions of the file and its directory.',
    { cause: err },
  );
}

/**
 * Config files are edited as UTF-8 text. A file with other bytes (a Latin-1 comment, say) would
 * not survive a decode/encode round trip byte for byte, so it is refused, naming the line.
 */
export function decodeConf(buf: Buffer, shownPath: string): string {
  const strict = new TextDecoder('utf-8', { fatal: true });
  try {
    return strict.decode(buf);
  } catch {
    let line = 1;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      const end = nl < 0 ? buf.length : nl;
      try {
        strict.decode(buf.subarray(start, end));
      } catch {
        break;
      }
      if (nl < 0) break;
      line++;
      start = nl + 1;
    }
    throw new ParseError(
      'E_CONF_ENCODING',
      `${shownPath}:${line}: the file is not valid UTF-8`,
      line,
      'Convert the file to UTF-8 (e.g. with iconv) before editing it with laggkit.',
    );
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** Files under a local root directory. Paths are absolute paths inside that root. */
export class LocalFiles implements ConfFiles {
  readonly where: string;
  constructor(root: string) {
    this.where = resolve(root);
  }

  private real(path: string): string {
    validateAbsPath(path);
    return join(this.where, path);
  }

  display(path: string): string {
    return this.where === '/' ? path : this.real(path);
  }

  async read(path: string): Promise<string | null> {
    let buf: Buffer;
    try {
      buf = await readFile(this.real(path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw fileError('read', this.display(path), err);
    }
    return decodeConf(buf, this.display(path));
  }

  async list(dir: string): Promise<string[]> {
    try {
      return (await readdir(this.real(dir))).sort();
    } catch {
      return [];
    }
  }

  async write(path: string, content: string): Promise<{ backupPath: string | null }> {
    const real = this.real(path);
    let old: Awaited<ReturnType<typeof stat>> | null = null;
    try {
      old = await lstat(real);
    } catch {
      old = null;
    }
    if (old?.isSymbolicLink()) {
      // Its target may be an absolute path meant for the image, not this machine: never follow.
      throw new LaggkitError(
        'remote',
        'E_CONF_SYMLINK',
        `${this.display(path)} is a symbolic link; laggkit will not replace it`,
        'Edit the file the link points to.',
      );
    }
    if (!(await exists(dirname(real)))) throw noDirError(dirname(this.display(path)));
    const tmp = join(dirname(real), `.${basename(real)}.laggkit-tmp-${randomBytes(4).toString('hex')}`);
    let backupPath: string | null = null;
    try {
      const fd = openSync(tmp, 'wx', old ? old.mode & 0o7777 : 0o644);
      try {
        writeSync(fd, content);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      if (old) {
        await chmod(tmp, old.mode & 0o7777);
        await chown(tmp, old.uid, old.gid).catch(() => {});
        backupPath = backupPathFor(real);
        for (let i = 1; await exists(backupPath); i++) backupPath = `${backupPathFor(real)}-${i}`;
        // A hard link keeps the old inode as the backup; copy where links are not allowed.
        await link(real, backupPath).catch(() => copyFile(real, backupPath as string));
      }
      await rename(tmp, real);
      // Make the rename itself durable.
      const dfd = openSync(dirname(real), 'r');
      try {
        fsyncSync(dfd);
      } catch {
        /* some filesystems refuse fsync on directories */
      } finally {
        closeSync(dfd);
      }
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw fileError('write', this.display(path), err);
    }
    return { backupPath };
  }
}

/**
 * Files on a remote host, optionally under a root there, read and written through the host's
 * own commands (cat, cp, ln, mv) rather than SFTP: minimal hosts (dropbear, embedded images)
 * have no SFTP subsystem, and with --become the commands run as root where SFTP would run as
 * the login user.
 */
export class RemoteFiles implements ConfFiles {
  readonly where: string;
  private readonly login: string;
  constructor(
    private readonly host: RemoteHost,
    private readonly root = '/',
  ) {
    validateAbsPath(root, 'root directory');
    this.login = `${host.session.target.user}@${host.session.target.alias}`;
    this.where = `${this.login}${root === '/' ? '' : `:${root}`}`;
  }

  private real(path: string): string {
    validateAbsPath(path);
    return posix.join(this.root, path);
  }

  display(path: string): string {
    return `${this.login}:${this.real(path)}`;
  }

  async read(path: string): Promise<string | null> {
    const buf = await this.host.readFile(this.real(path));
    return buf === null ? null : decodeConf(buf, this.display(path));
  }

  async list(dir: string): Promise<string[]> {
    const d = shQuote(this.real(dir));
    const r = await this.host.script(`if [ -d ${d} ]; then ls -1A ${d}; fi`, { check: true });
    return r.stdout.split('\n').filter(Boolean).sort();
  }

  /**
   * Atomic replace with a backup, as LocalFiles does it: the new bytes go to a temp file beside
   * the old one (a copy of it first, so mode and owner carry over), the old inode is kept as
   * the backup by a hard link (a copy where links fail), and the temp file is renamed over.
   */
  async write(path: string, content: string): Promise<{ backupPath: string | null }> {
    const real = this.real(path);
    const q = shQuote(real);
    const backup = shQuote(backupPathFor(real));
    const script = [
      `[ -d ${shQuote(posix.dirname(real))} ] || exit 90`,
      `[ -L ${q} ] && exit 91`,
      `tmp=${shQuote(`${real}.laggkit-tmp`)}.$$`,
      'trap \'rm -f "$tmp"\' EXIT',
      `if [ -e ${q} ]; then`,
      `  cp -p ${q} "$tmp" || exit 1`,
      `  b=${backup}; n=1`,
      `  while [ -e "$b" ]; do b=${backup}-$n; n=$((n + 1)); done`,
      `  ln ${q} "$b" 2>/dev/null || cp -p ${q} "$b" || exit 1`,
      '  echo "$b"',
      'fi',
      `umask 022; cat > "$tmp" && mv -f "$tmp" ${q}`,
    ].join('\n');
    const r = await this.host.script(script, { stdin: content }, `write ${real}`);
    if (r.code === 90) throw noDirError(posix.dirname(this.display(path)));
    if (r.code === 91)
      throw new LaggkitError(
        'remote',
        'E_CONF_SYMLINK',
        `${this.display(path)} is a symbolic link; laggkit will not replace it`,
        'Edit the file the link points to.',
      );
    if (r.code !== 0) throw fileError('write', this.display(path), new Error(r.stderr.trim() || `exit ${r.code}`));
    const b = r.stdout.trim();
    return { backupPath: b === '' ? null : `${this.login}:${b}` };
  }
}
