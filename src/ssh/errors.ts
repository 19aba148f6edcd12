/**
 * Typed errors of the SSH layer. Connection, authentication and host key failures are SshError
 * (exit class "ssh"); a remote command that fails or times out, and a remote file that cannot be
 * read or written, are "remote" errors.
 */
import { LaggkitError } from '../cli/errors.js';

export class SshError extends LaggkitError {
  constructor(code: string, message: string, suggestion?: string, options?: { cause?: unknown }) {
    super('ssh', code, message, suggestion, options);
    this.name = 'SshError';
  }
}

export class RemoteCommandError extends LaggkitError {
  readonly command: string;
  readonly exitStatus: number | null;
  readonly stderr: string;
  constructor(code: string, message: string, command: string, exitStatus: number | null, stderr: string, suggestion?: string) {
    super('remote', code, message, suggestion);
    this.name = 'RemoteCommandError';
    this.command = command;
    this.exitStatus = exitStatus;
    this.stderr = stderr;
  }
}

export class RemoteFileError extends LaggkitError {
  readonly path: string;
  constructor(code: string, message: string, path: string, suggestion?: string, options?: { cause?: unknown }) {
    super('remote', code, message, suggestion, options);
    this.name = 'RemoteFileError';
    this.path = path;
  }
}
