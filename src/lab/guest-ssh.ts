/**
 * SSH into lab guests through the project's SSH layer (src/ssh), with the lab's own client key
 * and known_hosts file: the lab generated each guest's host key, so the key is verified from
 * the very first connection and no "trust on first use" is ever needed.
 */
import { connect, runInteractive, type ExecResult, type SshSession, type SshTarget } from '../ssh/index.js';
import { LabError } from './errors.js';
import type { LabState, VmState } from './state.js';

export function guestTarget(s: Pick<LabState, 'clientKey' | 'knownHosts'>, vm: Pick<VmState, 'name' | 'sshPort' | 'sshUser' | 'sshHost'>): SshTarget {
  return {
    alias: `lab-${vm.name}`,
    host: vm.sshHost ?? '127.0.0.1',
    port: vm.sshPort,
    user: vm.sshUser,
    identityFiles: [s.clientKey],
    knownHostsFiles: [s.knownHosts],
    jumps: [],
  };
}

export function connectGuest(
  s: Pick<LabState, 'clientKey' | 'knownHosts'>,
  vm: Pick<VmState, 'name' | 'sshPort' | 'sshUser' | 'sshHost'>,
  readyTimeoutMs = 20_000,
): Promise<SshSession> {
  // agentSocket '' keeps a developer's agent keys out of the lab: the lab key is the only one.
  return connect(guestTarget(s, vm), { agentSocket: '', readyTimeoutMs, keepaliveIntervalMs: 0 });
}

/** Run a shell script in a guest on a fresh connection. */
export async function guestScript(s: LabState, vmName: string, script: string, timeoutMs = 60_000, readyTimeoutMs?: number): Promise<ExecResult> {
  const vm = s.vms.find((v) => v.name === vmName);
  if (!vm) throw new LabError('E_LAB_VM', `lab '${s.name}' has no VM named '${vmName}'`);
  const session = await connectGuest(s, vm, readyTimeoutMs);
  try {
    return await session.execScript(script, { timeoutMs });
  } finally {
    await session.close();
  }
}

/**
 * Poll until the guest answers an SSH command. Host-key errors end the wait at once (a wrong
 * key is never "not ready yet"); connection refusals and handshake closes are retried.
 */
export async function waitForSsh(
  s: Pick<LabState, 'clientKey' | 'knownHosts'>,
  vm: Pick<VmState, 'name' | 'sshPort' | 'sshUser' | 'sshHost'>,
  deadlineMs: number,
  alive: () => boolean,
): Promise<void> {
  let last = 'no attempt yet';
  while (Date.now() < deadlineMs) {
    if (!alive())
      throw new LabError(
        'E_LAB_VM_DIED',
        `guest ${vm.name} stopped while booting (last SSH error: ${last})`,
        'Read its console log in the lab folder (laggkit lab status shows it).',
      );
    try {
      const session = await connectGuest(s, vm, 5000);
      try {
        const r = await session.execScript('true', { timeoutMs: 10_000 });
        if (r.code === 0) return;
        last = `exit ${r.code}`;
      } finally {
        await session.close();
      }
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (code.startsWith('E_SSH_HOST_KEY') || code === 'E_SSH_UNKNOWN_HOST') throw err;
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new LabError(
    'E_LAB_BOOT_TIMEOUT',
    `guest ${vm.name} did not answer SSH in time (last error: ${last})`,
    'Read its console log in the lab folder; under TCG boots are slower (try a longer --timeout).',
  );
}

/** The system ssh client argv for an interactive login (what `laggkit lab ssh` execs). */
/** An interactive login (or one command) on a guest's terminal, verified like connectGuest(). */
export function interactiveSsh(
  s: Pick<LabState, 'clientKey' | 'knownHosts'>,
  vm: Pick<VmState, 'name' | 'sshPort' | 'sshUser' | 'sshHost'>,
  command: string[],
): Promise<number> {
  // agent false, as in connectGuest(): the lab key is the only one offered.
  return runInteractive(guestTarget(s, vm), command, { agent: false });
}
