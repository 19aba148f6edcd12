/**
 * Interactive sessions. A person at a terminal gets the system OpenSSH client (a real pty,
 * escape sequences, window resizes), configured from the same resolved SshTarget that
 * connect() uses and with StrictHostKeyChecking=yes, so it trusts exactly the keys laggkit's
 * own sessions verify and never adds one on first use.
 */
import { spawn } from 'node:child_process';
import { SshError } from './errors.js';
import { commandLineOf } from './quote.js';
import type { SshTarget } from './types.js';

export interface InteractiveOptions {
  /** Offer keys from ssh-agent (default true); false limits the client to target.identityFiles. */
  agent?: boolean;
}

/** The `ssh` argv for a target: a login shell when command is empty, else that one command. */
export function openSshArgs(target: SshTarget, command: string[] = [], opts: InteractiveOptions = {}): string[] {
  if (target.jumps.length > 0) {
    // ssh applies command-line options to the final hop only, so the hops could not be held to
    // these known_hosts files; refuse rather than verify less than connect() does.
    throw new SshError(
      'E_SSH_INTERACTIVE_JUMP',
      `interactive sessions through ProxyJump are not supported (${target.alias})`,
      'Run ssh yourself, or use laggkit exec, which verifies every hop.',
    );
  }
  const knownHosts = target.knownHostsFiles.join(' ');
  const globalKnownHosts = target.globalKnownHostsFiles?.length ? target.globalKnownHostsFiles.join(' ') : '/dev/null';
  return [
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    `GlobalKnownHostsFile=${globalKnownHosts}`,
    '-o',
    'LogLevel=ERROR',
    ...(opts.agent === false ? ['-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none'] : []),
    ...target.identityFiles.flatMap((f) => ['-i', f]),
    '-p',
    String(target.port),
    ...(command.length ? [] : ['-t']),
    `${target.user}@${target.host}`,
    // ssh joins its remaining words with spaces for the remote shell: hand it one command line.
    ...(command.length ? ['--', commandLineOf(command)] : []),
  ];
}

/** Run the system ssh client on this terminal; resolves with its exit status. */
export function runInteractive(target: SshTarget, command: string[] = [], opts: InteractiveOptions = {}): Promise<number> {
  const args = openSshArgs(target, command, opts);
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', args, { stdio: 'inherit' });
    child.on('error', (err) => reject(new SshError('E_SSH_CLIENT', `cannot run ssh: ${err.message}`, 'Install the OpenSSH client (openssh-client).')));
    child.on('exit', (code) => resolve(code ?? 255));
  });
}
