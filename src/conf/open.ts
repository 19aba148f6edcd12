/**
 * Opens the place a conf command edits: exactly one of --root DIR (local files under DIR) or
 * --host H (a remote host through src/ssh, host key verified). Validation of the request happens
 * before this is called, so a hostile value never causes a connection.
 */
import { UsageError } from '../cli/errors.js';
import { connectHost } from '../ssh/index.js';
import { LocalFiles, RemoteFiles, type ConfFiles } from './files.js';

export interface WhereOptions {
  host?: string;
  root?: string;
  trustNewHostKey?: boolean;
  /** ssh_config file to use instead of ~/.ssh/config. */
  sshConfig?: string;
}

export async function openConfFiles(opts: WhereOptions): Promise<{ files: ConfFiles; close(): Promise<void> }> {
  if ((opts.host === undefined) === (opts.root === undefined)) {
    throw new UsageError('E_USAGE', 'Give exactly one of --host HOST or --root DIR', 'Use --root / for this machine, --root /mnt/img for a mounted image, or --host admin@host.');
  }
  if (opts.root !== undefined) return { files: new LocalFiles(opts.root), close: async () => {} };
  const session = await connectHost(opts.host as string, {
    ...(opts.trustNewHostKey ? { trustNewHostKey: true } : {}),
    ...(opts.sshConfig !== undefined ? { configFile: opts.sshConfig } : {}),
  });
  return { files: new RemoteFiles(session), close: () => session.close() };
}
