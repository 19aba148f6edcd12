/**
 * The SSH layer's public entry point. Everything another layer needs is re-exported here:
 *
 *   const target = await resolveTarget('admin@fbsd1:2222', { configFile });
 *   const s = await connect(target, { trustNewHostKey: false });
 *   await s.exec(['ifconfig', ifname]);           // argv, quoted by quoteArgv()
 *   await s.writeFileAtomic('/etc/rc.conf', text, { backup: true });
 *   await s.close();
 *
 * Host keys are always verified against known_hosts (see known-hosts.ts); only an explicit
 * trustNewHostKey accepts an unknown key, never a changed or revoked one.
 */
export type {
  SshHop,
  SshTarget,
  ResolveOptions,
  ConnectOptions,
  ExecOptions,
  ExecResult,
  WriteOptions,
  WriteResult,
  UploadResult,
  RemoteStat,
  SshSession,
} from './types.js';
export { connect, connectHost } from './session.js';
export { resolveTarget, parseHostString } from './config.js';
export { commandLineOf, quoteArgv, shQuote } from './quote.js';
export { openSshArgs, runInteractive, type InteractiveOptions } from './interactive.js';
export { backupPathFor } from './backup-name.js';
export { fingerprintSha256, keyTypeOfBlob } from './known-hosts.js';
export { SshError, RemoteCommandError, RemoteFileError } from './errors.js';
