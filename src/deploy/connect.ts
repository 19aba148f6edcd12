/**
 * deploy() over a connection of its own, opened here and closed after. A host may drop a fresh
 * connection (a box just booted, a loaded guest's dropbear); lost before deploy got past its
 * probe, nothing was changed, so a new connection is opened and deploy run again, once.
 * The CLI's single-host deploy and every host of a fleet deploy go through here.
 */
import { SshError } from '../ssh/index.js';
import { adapterFor, openHost, type HostOptions } from '../targets/index.js';
import { deploy, type DeployOptions, type DeployResult } from './deploy.js';
import type { DeploySpec } from './spec.js';

export async function deployTo(
  ho: HostOptions,
  spec: DeploySpec,
  opts: Omit<DeployOptions, 'reconnect'>,
  /** Called before the second attempt, with why: what the first reported of its probe is void. */
  onRetry: (reason: string) => void = () => {},
): Promise<DeployResult> {
  for (let attempt = 1; ; attempt++) {
    let pastProbe = false;
    const host = await openHost(ho);
    try {
      return await deploy(host, await adapterFor(host), spec, {
        ...opts,
        onStep: (s) => {
          if (s.step !== 'probe') pastProbe = true;
          opts.onStep(s);
        },
        reconnect: () => openHost(ho),
      });
    } catch (err) {
      if (attempt > 1 || pastProbe || !(err instanceof SshError && err.code === 'E_SSH_LOST')) throw err;
      const reason = `${err.message} before anything changed: connecting again`;
      opts.progress(reason);
      onRetry(reason);
    } finally {
      await host.close().catch(() => {});
    }
  }
}
