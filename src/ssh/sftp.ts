/**
 * SFTP file access for a session: reads, atomic writes (temp file in the same directory, fsync,
 * POSIX rename over the old file, optional backup kept by hard link or copy) and directory tree
 * uploads that keep permission bits. The SFTP channel is opened once, on first use.
 */
import { randomBytes } from 'node:crypto';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Client, SFTPWrapper, Stats } from 'ssh2';
import { validateAbsPath } from '../validate/index.js';
import { backupPathFor } from './backup-name.js';
import { RemoteFileError } from './errors.js';
import type { RemoteStat, UploadResult, WriteOptions, WriteResult } from './types.js';

/** SSH_FX_NO_SUCH_FILE */
const NO_SUCH_FILE = 2;

type Cb<T> = (err: Error | null | undefined, value?: T) => void;

function call<T>(fn: (cb: Cb<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));
}

function isMissing(err: unknown): boolean {
  return (err as { code?: number }).code === NO_SUCH_FILE;
}

export class SftpFiles {
  private sftpPromise: Promise<SFTPWrapper> | undefined;

  constructor(private readonly client: Client) {}

  private sftp(): Promise<SFTPWrapper> {
    // Minimal hosts (dropbear, embedded images) have no SFTP subsystem: say so, not "a bug".
    this.sftpPromise ??= call<SFTPWrapper>((cb) => this.client.sftp((err, s) => cb(err, s))).catch((err: Error) => {
      throw new RemoteFileError(
        'E_REMOTE_NO_SFTP',
        `the host offers no SFTP subsystem (${err.message})`,
        '',
        'laggkit conf, deploy and exec do not need SFTP; this operation does. Enable sftp-server on the host.',
        { cause: err },
      );
    });
    return this.sftpPromise;
  }

  close(): void {
    this.sftpPromise?.then((s) => s.end()).catch(() => {});
  }

  private fail(what: string, path: string, err: unknown): RemoteFileError {
    if (isMissing(err)) return new RemoteFileError('E_REMOTE_NOT_FOUND', `${path} does not exist on the remote host`, path, 'Check the path.', { cause: err });
    return new RemoteFileError(
      'E_REMOTE_FILE',
      `Cannot ${what} ${path} on the remote host: ${(err as Error).message}`,
      path,
      'Check the permissions of the remote file and directory.',
      { cause: err },
    );
  }

  async readFile(path: string): Promise<Buffer> {
    validateAbsPath(path);
    const s = await this.sftp();
    try {
      return await call<Buffer>((cb) => s.readFile(path, (err, data) => cb(err, data)));
    } catch (err) {
      throw this.fail('read', path, err);
    }
  }

  async stat(path: string): Promise<RemoteStat | null> {
    validateAbsPath(path);
    const s = await this.sftp();
    try {
      const st = await call<Stats>((cb) => s.stat(path, (err, v) => cb(err, v)));
      return { mode: st.mode & 0o7777, size: st.size, isDirectory: st.isDirectory(), isFile: st.isFile() };
    } catch (err) {
      if (isMissing(err)) return null;
      throw this.fail('stat', path, err);
    }
  }

  async listDir(path: string): Promise<string[]> {
    validateAbsPath(path);
    const s = await this.sftp();
    try {
      const list = await call<{ filename: string }[]>((cb) => s.readdir(path, (err, v) => cb(err, v)));
      return list
        .map((e) => e.filename)
        .filter((n) => n !== '.' && n !== '..')
        .sort();
    } catch (err) {
      if (isMissing(err)) return [];
      throw this.fail('list', path, err);
    }
  }

  private async writeWhole(s: SFTPWrapper, path: string, data: Buffer, mode: number, flags: 'wx'): Promise<void> {
    const handle = await call<Buffer>((cb) => s.open(path, flags, { mode }, (err, h) => cb(err, h)));
    try {
      let off = 0;
      while (off < data.length) {
        const n = Math.min(32 * 1024, data.length - off);
        await call<void>((cb) => s.write(handle, data, off, n, off, (err) => cb(err)));
        off += n;
      }
      // fsync@openssh.com: make the bytes durable before the rename makes them visible.
      await call<void>((cb) => s.ext_openssh_fsync(handle, (err) => cb(err))).catch(() => {});
    } finally {
      await call<void>((cb) => s.close(handle, (err) => cb(err))).catch(() => {});
    }
    // The server's umask applied at open(); set the exact bits asked for.
    await call<void>((cb) => s.chmod(path, mode, (err) => cb(err)));
  }

  private async exists(s: SFTPWrapper, path: string): Promise<boolean> {
    try {
      await call<Stats>((cb) => s.lstat(path, (err, v) => cb(err, v)));
      return true;
    } catch {
      return false;
    }
  }

  async writeFileAtomic(path: string, data: string | Buffer, opts: WriteOptions): Promise<WriteResult> {
    validateAbsPath(path);
    const s = await this.sftp();
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let old: Stats | null = null;
    try {
      old = await call<Stats>((cb) => s.stat(path, (err, v) => cb(err, v)));
    } catch (err) {
      if (!isMissing(err)) throw this.fail('stat', path, err);
    }
    if (old) {
      // Renaming over a symlink would replace the link by a file, silently moving the config.
      const l = await call<Stats>((cb) => s.lstat(path, (err, v) => cb(err, v)));
      if (l.isSymbolicLink()) {
        throw new RemoteFileError(
          'E_REMOTE_SYMLINK',
          `${path} is a symbolic link on the remote host; laggkit will not replace it`,
          path,
          'Edit the file the link points to.',
        );
      }
    }
    const mode = opts.mode ?? (old ? old.mode & 0o7777 : 0o644);
    const tmp = posix.join(posix.dirname(path), `.${posix.basename(path)}.laggkit-tmp-${randomBytes(4).toString('hex')}`);
    let backupPath: string | null = null;
    try {
      await this.writeWhole(s, tmp, bytes, mode, 'wx');
      if (old) {
        // Keep the owner of a system file (works when we are root; harmless otherwise).
        const { uid, gid } = old;
        await call<void>((cb) => s.chown(tmp, uid, gid, (err) => cb(err))).catch(() => {});
      }
      if (opts.backup && old) {
        backupPath = backupPathFor(path);
        for (let i = 1; await this.exists(s, backupPath); i++) backupPath = `${backupPathFor(path)}-${i}`;
        const bp = backupPath;
        try {
          // A hard link keeps the old inode, content and mode exactly, and costs nothing.
          await call<void>((cb) => s.ext_openssh_hardlink(path, bp, (err) => cb(err)));
        } catch {
          const content = await call<Buffer>((cb) => s.readFile(path, (err, v) => cb(err, v)));
          await this.writeWhole(s, bp, content, old.mode & 0o7777, 'wx');
        }
      }
      try {
        await call<void>((cb) => s.ext_openssh_rename(tmp, path, (err) => cb(err)));
      } catch (err) {
        // Servers without posix-rename: plain SFTP rename only works when the target is absent.
        if (old) throw err;
        await call<void>((cb) => s.rename(tmp, path, (e) => cb(e)));
      }
    } catch (err) {
      await call<void>((cb) => s.unlink(tmp, (e) => cb(e))).catch(() => {});
      throw this.fail('write', path, err);
    }
    return { path, backupPath };
  }

  private async mkdirp(s: SFTPWrapper, dir: string, mode: number): Promise<boolean> {
    try {
      const st = await call<Stats>((cb) => s.stat(dir, (err, v) => cb(err, v)));
      if (!st.isDirectory()) throw new Error(`${dir} exists and is not a directory`);
      return false;
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
    const parent = posix.dirname(dir);
    if (parent !== dir) await this.mkdirp(s, parent, 0o755);
    await call<void>((cb) => s.mkdir(dir, { mode }, (err) => cb(err)));
    return true;
  }

  async uploadTree(localDir: string, remoteDir: string): Promise<UploadResult> {
    validateAbsPath(remoteDir);
    const s = await this.sftp();
    const result: UploadResult = { files: 0, directories: 0, symlinks: 0 };
    const walk = async (local: string, remote: string): Promise<void> => {
      const st = await lstat(local);
      const mode = st.mode & 0o7777;
      if (st.isDirectory()) {
        await this.mkdirp(s, remote, 0o700);
        result.directories++;
        for (const name of (await readdir(local)).sort()) await walk(join(local, name), posix.join(remote, name));
        // Set the mode last so a read-only directory can still be filled.
        await call<void>((cb) => s.chmod(remote, mode, (err) => cb(err)));
      } else if (st.isSymbolicLink()) {
        const target = await readlink(local);
        await call<void>((cb) => s.unlink(remote, (err) => cb(err))).catch(() => {});
        await call<void>((cb) => s.symlink(target, remote, (err) => cb(err)));
        result.symlinks++;
      } else if (st.isFile()) {
        await call<void>((cb) => s.fastPut(local, remote, { mode }, (err) => cb(err)));
        await call<void>((cb) => s.chmod(remote, mode, (err) => cb(err)));
        result.files++;
      }
      // Sockets, FIFOs and devices have no meaning on another host: skipped.
    };
    try {
      await walk(localDir, remoteDir);
    } catch (err) {
      throw new RemoteFileError(
        'E_REMOTE_UPLOAD',
        `Uploading ${localDir} to ${remoteDir} failed: ${(err as Error).message}`,
        remoteDir,
        'Check the remote directory permissions and free space.',
        { cause: err },
      );
    }
    return result;
  }
}
