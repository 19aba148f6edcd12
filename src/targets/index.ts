/**
 * Pick the adapter for a host by what `uname -s` answers, and connect with the SSH flags every
 * remote command shares. The adapters are the only code that knows an OS's dialect.
 */
import { LaggkitError } from '../cli/errors.js';
import { freebsdTarget } from './freebsd.js';
import type { RemoteHost } from './host.js';
import { linuxTarget } from './linux.js';
import { netbsdTarget } from './netbsd.js';
import type { TargetAdapter } from './types.js';

export { RemoteHost, openHost, type Become, type HostOptions } from './host.js';
export type { TargetAdapter, HostFacts, TargetOs } from './types.js';

export const ADAPTERS: Record<string, TargetAdapter> = { FreeBSD: freebsdTarget, NetBSD: netbsdTarget, Linux: linuxTarget };

export async function adapterFor(host: RemoteHost): Promise<TargetAdapter> {
  const r = await host.run(['uname', '-s'], { check: true });
  const name = r.stdout.trim();
  const a = ADAPTERS[name];
  if (!a) throw new LaggkitError('remote', 'E_TARGET_OS', `${host.name} runs ${name || 'an unknown OS'}; laggkit deploys to FreeBSD, NetBSD and Linux (laggd)`, 'Pick a supported host.');
  return a;
}
