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

/**
 * Derivatives keep the kernel interfaces but not always the name (`uname -s` says "Renux" on one
 * FreeBSD 15 derivative), so an unknown name is classified by what only that family's kernel
 * has: kern.osreldate and kldload for FreeBSD, kern.osrevision and modload for NetBSD.
 */
export const FAMILY_PROBE =
  'uname -s; if sysctl -n kern.osreldate >/dev/null 2>&1 && command -v kldload >/dev/null; then echo FreeBSD; ' +
  'elif sysctl -n kern.osrevision >/dev/null 2>&1 && command -v modload >/dev/null; then echo NetBSD; fi';

export async function adapterFor(host: RemoteHost): Promise<TargetAdapter> {
  const r = await host.run(['sh', '-c', FAMILY_PROBE], { check: true });
  const [name = '', family = ''] = r.stdout
    .trim()
    .split('\n')
    .map((l) => l.trim());
  const a = ADAPTERS[name] ?? ADAPTERS[family];
  if (!a)
    throw new LaggkitError(
      'remote',
      'E_TARGET_OS',
      `${host.name} runs ${name || 'an unknown OS'}; laggkit deploys to FreeBSD, NetBSD and Linux (laggd) and their derivatives`,
      'Pick a supported host.',
    );
  return a;
}
