/**
 * Opens the place a conf command edits: --root DIR (local files under DIR), --host H (a remote
 * host through src/ssh, host key verified), or both (files under DIR on that host, e.g. a jail
 * or a mounted boot environment). Validation of the request happens
 * before this is called, so a hostile value never causes a connection.
 */
import { UsageError } from '../cli/errors.js';
import { connectHost } from '../ssh/index.js';
import { validateAbsPath } from '../validate/index.js';
import { LocalFiles, RemoteFiles, type ConfFiles } from './files.js';

export interface WhereOptions {
  host?: string;
  root?: string;
  trustNewHostKey?: boolean;
  /** ssh_config file to use instead of ~/.ssh/config. */
  sshConfig?: string;
}

export async function openConfFiles(opts: WhereOptions): Promise<{ files: ConfFiles; close(): Promise<void> }> {
  if (opts.host === undefined && opts.root === undefined) {
    throw new UsageError('E_USAGE', 'Give --host HOST or --root DIR: laggkit never guesses which machine to edit', 'Use --root / for this machine, --root /mnt/img for a mounted image, or --host admin@host.');
  }
  if (opts.host === undefined) return { files: new LocalFiles(opts.root as string), close: async () => {} };
  if (opts.root !== undefined) validateAbsPath(opts.root, 'root directory');
  const session = await connectHost(opts.host as string, {
    ...(opts.trustNewHostKey ? { trustNewHostKey: true } : {}),
    ...(opts.sshConfig !== undefined ? { configFile: opts.sshConfig } : {}),
  });
  try {
    return { files: new RemoteFiles(session, opts.root ?? '/'), close: () => session.close() };
  } catch (err) {
    await session.close();
    throw err;
  }
}
