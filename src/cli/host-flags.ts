/**
 * The SSH flags every command that works on a host shares (deploy, undeploy, status), so they
 * agree on names, help texts and validation.
 */
import * as Flags from '@oclif/core/flags';

export const hostFlags = {
  host: Flags.string({ description: 'user@host:port or an ~/.ssh/config alias' }),
  'ssh-config': Flags.string({ description: 'ssh_config file to use instead of ~/.ssh/config (like ssh -F)' }),
  identity: Flags.string({ char: 'i', description: 'Identity (private key) file, as ssh -i' }),
  'trust-new-host-key': Flags.boolean({ description: 'Accept and record an unknown SSH host key (never a changed one)', default: false }),
  become: Flags.string({ description: 'Run commands as root through sudo or doas (for a non-root login)', options: ['sudo', 'doas'] }),
};

export type HostFlagValues = {
  host?: string | undefined;
  'ssh-config'?: string | undefined;
  identity?: string | undefined;
  'trust-new-host-key'?: boolean | undefined;
  become?: string | undefined;
};

export function hostOptions(f: HostFlagValues, host: string) {
  return {
    host,
    sshConfig: f['ssh-config'],
    identity: f.identity,
    trustNewHostKey: f['trust-new-host-key'],
    become: f.become as 'sudo' | 'doas' | undefined,
  };
}
