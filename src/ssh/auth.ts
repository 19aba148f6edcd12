/**
 * Client authentication: the ssh-agent first (as OpenSSH does), then each IdentityFile that
 * exists. Encrypted keys without a passphrase are skipped and remembered so that, if nothing
 * else works, the error says exactly which key needs a passphrase instead of a vague "denied".
 */
import { existsSync, readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import type { AnyAuthMethod, AuthHandlerMiddleware } from 'ssh2';
import { SshError } from './errors.js';
import type { SshHop } from './types.js';

export interface AuthPlan {
  handler: AuthHandlerMiddleware;
  /** Identity files that need a passphrase nobody gave. */
  encrypted: string[];
  /** Human summary of what was tried, for error messages. */
  tried: string[];
}

function isEncryptedKeyError(err: Error): boolean {
  return /encrypted|passphrase|bad decrypt/i.test(err.message);
}

export function planAuth(hop: SshHop, agentSocket: string | undefined, passphrase: string | undefined): AuthPlan {
  const methods: AnyAuthMethod[] = [];
  const tried: string[] = [];
  const encrypted: string[] = [];
  if (agentSocket && existsSync(agentSocket)) {
    methods.push({ type: 'agent', username: hop.user, agent: agentSocket });
    tried.push(`ssh-agent (${agentSocket})`);
  }
  for (const file of hop.identityFiles) {
    if (!existsSync(file)) continue;
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch (err) {
      throw new SshError('E_SSH_KEY_UNREADABLE', `Cannot read the identity file ${file}: ${(err as Error).message}`, 'Check the file permissions.');
    }
    const parsed = ssh2.utils.parseKey(data, passphrase);
    if (parsed instanceof Error) {
      if (isEncryptedKeyError(parsed)) {
        if (passphrase !== undefined) {
          throw new SshError(
            'E_SSH_KEY_PASSPHRASE',
            `The passphrase does not decrypt the identity file ${file}`,
            'Check the passphrase, or load the key into ssh-agent with ssh-add.',
          );
        }
        encrypted.push(file);
        continue;
      }
      // Public keys, certificates and other non-keys next to the real ones are not errors.
      continue;
    }
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (key === undefined || !key.isPrivateKey()) continue;
    methods.push(
      passphrase !== undefined ? { type: 'publickey', username: hop.user, key: data, passphrase } : { type: 'publickey', username: hop.user, key: data },
    );
    tried.push(file);
  }
  if (methods.length === 0) {
    if (encrypted.length > 0) {
      throw new SshError(
        'E_SSH_KEY_ENCRYPTED',
        `The identity file ${encrypted.join(', ')} is encrypted and no passphrase was given`,
        'Add the key to ssh-agent (ssh-add) or pass its passphrase.',
      );
    }
    throw new SshError(
      'E_SSH_NO_KEYS',
      `No SSH key to log in to ${hop.alias}: no ssh-agent and none of ${hop.identityFiles.join(', ')} exists`,
      'Start ssh-agent and ssh-add a key, or set IdentityFile in ~/.ssh/config.',
    );
  }
  let next = 0;
  const handler: AuthHandlerMiddleware = (_left, _partial, cb) => {
    const m = methods[next++];
    cb(m ?? (false as unknown as AnyAuthMethod));
  };
  return { handler, encrypted, tried };
}
