/**
 * Opens the place a conf command edits: --root DIR (local files under DIR), --host H (a remote
 * host with the SSH flags every remote command shares: host key verified, -i, --become), or both (files under DIR on that host, e.g. a jail
 * or a mounted boot environment). Validation of the request happens
 * before this is called, so a hostile value never causes a connection.
 */
import { UsageError } from '../cli/errors.js';
import type { HostOptions } from '../targets/host.js';
import { validateAbsPath } from '../validate/index.js';
import { LocalFiles, RemoteFiles, type ConfFiles } from './files.js';

export type WhereOptions = Partial<HostOptions> & { root?: string | undefined };

export async function openConfFiles(opts: WhereOptions): Promise<{ files: ConfFiles; close(): Promise<void> }> {
  if (opts.host === undefined && opts.root === undefined) {
    throw new UsageError(
      'E_USAGE',
      'Give --host HOST or --root DIR: laggkit never guesses which machine to edit',
      'Use --root / for this machine, --root /mnt/img for a mounted image, or --host admin@host.',
    );
  }
  if (opts.host === undefined) return { files: new LocalFiles(opts.root as string), close: async () => {} };
  if (opts.root !== undefined) validateAbsPath(opts.root, 'root directory');
  // The SSH stack (ssh2) loads only when a host is edited, not for --root.
  const { openHost } = await import('../targets/host.js');
  const host = await openHost({ ...opts, host: opts.host });
  try {
    return { files: new RemoteFiles(host, opts.root ?? '/'), close: () => host.close() };
  } catch (err) {
    await host.close();
    throw err;
  }
}
