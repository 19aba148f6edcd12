/**
 * The public shapes of the SSH layer: where to connect (SshTarget), how (ConnectOptions), and
 * what a connected session can do (SshSession). Other layers (conf editors, deploy, lab) program
 * against these types only; the ssh2 details stay inside src/ssh.
 */
import type { Readable } from 'node:stream';

/** One hop of a connection: resolved from a host string and ~/.ssh/config. */
export interface SshHop {
  /** The name the user typed (alias or host); known_hosts entries are looked up under `host`. */
  alias: string;
  /** HostName after ~/.ssh/config resolution. */
  host: string;
  port: number;
  user: string;
  /** IdentityFile entries (absolute paths; missing files are ignored at connect time). */
  identityFiles: string[];
  /** UserKnownHostsFile entries (absolute paths); the first one receives trusted keys. */
  knownHostsFiles: string[];
  /** GlobalKnownHostsFile entries: read for verification, never written. */
  globalKnownHostsFiles?: string[];
  /** HashKnownHosts: record trusted keys under a hashed name, as ssh would. */
  hashKnownHosts?: boolean;
}

/** A fully resolved destination: the final hop plus the ProxyJump chain leading to it. */
export interface SshTarget extends SshHop {
  /** ProxyJump hops, outermost first; empty for a direct connection. */
  jumps: SshHop[];
}

export interface ResolveOptions {
  /** An ssh_config file to use instead of ~/.ssh/config (like `ssh -F`). */
  configFile?: string;
  /** Home directory for `~` expansion and default files; defaults to os.homedir(). */
  homeDir?: string;
  /** Force the built-in ssh_config parser even when the `ssh` client is installed. */
  noSshClient?: boolean;
}

export interface ConnectOptions extends ResolveOptions {
  /**
   * Accept a host key that known_hosts does not know yet and append it to the first
   * UserKnownHostsFile. A changed or revoked key is never accepted.
   */
  trustNewHostKey?: boolean;
  /** Passphrase for encrypted identity files. */
  passphrase?: string;
  /** ssh-agent socket; defaults to $SSH_AUTH_SOCK. Pass '' to disable the agent. */
  agentSocket?: string;
  /** Handshake timeout per hop in ms (default 20000). */
  readyTimeoutMs?: number;
  /** Keepalive interval in ms (default 15000; 0 disables). */
  keepaliveIntervalMs?: number;
  /** Default per-command timeout in ms for exec() (default: none). */
  commandTimeoutMs?: number;
}

export interface ExecOptions {
  /** Kill the remote command (its whole process group) after this many ms. */
  timeoutMs?: number;
  /** Data written to the command's stdin, then EOF; a stream is piped through as it comes. */
  stdin?: string | Buffer | Readable;
  /** Output as it arrives (laggkit exec); given these, stdout is not collected in the result. */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Throw RemoteCommandError when the exit code is not 0 (default false). */
  check?: boolean;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when the command died from a signal. */
  code: number | null;
  signal: string | null;
}

export interface WriteOptions {
  /** File mode for the new file; defaults to the existing file's mode, else 0o644. */
  mode?: number;
  /** Keep the previous content as PATH.laggkit-YYYYMMDDTHHMMSSZ (default false). */
  backup?: boolean;
}

export interface WriteResult {
  path: string;
  /** Where the previous content was kept, when a backup was asked and the file existed. */
  backupPath: string | null;
}

export interface UploadResult {
  files: number;
  directories: number;
  symlinks: number;
}

export interface RemoteStat {
  mode: number;
  size: number;
  isDirectory: boolean;
  isFile: boolean;
}

export interface SshSession {
  readonly target: SshTarget;
  /** Run one command given as an argv list; every element is quoted for sh by quoteArgv(). */
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Run a prepared sh script verbatim. Build any interpolated value with quoteArgv/shQuote. */
  execScript(script: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Read a remote file over SFTP; throws RemoteFileError (E_REMOTE_NOT_FOUND) when absent. */
  readFile(path: string): Promise<Buffer>;
  /** stat() over SFTP, or null when the path does not exist. */
  stat(path: string): Promise<RemoteStat | null>;
  /** Names in a remote directory (no . or ..), or [] when the directory does not exist. */
  listDir(path: string): Promise<string[]>;
  /** Temp file in the same directory + fsync + rename over SFTP, with an optional backup. */
  writeFileAtomic(path: string, data: string | Buffer, opts?: WriteOptions): Promise<WriteResult>;
  /** Copy a local directory tree to remoteDir over SFTP, keeping permission bits and symlinks. */
  uploadTree(localDir: string, remoteDir: string): Promise<UploadResult>;
  close(): Promise<void>;
}
