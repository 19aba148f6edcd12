/**
 * Where e2e cases run, one file per kind: lab.ts (the built-in QEMU lab; its FreeBSD guests in
 * lab-freebsd.ts, its NetBSD guests in lab-netbsd.ts), self.ts (one machine,
 * the two sides in namespaces or jails), host.ts (two Linux or NetBSD machines over SSH) and vagrant.ts (the
 * Vagrantfile's Linux pair, a host target with cable pulls through libvirt).
 */
import type { HostOptions } from '../../targets/index.js';
import { labTarget, type LabTargetOptions } from './lab.js';
import { selfTarget } from './self.js';
import type { E2eTarget, TargetKind } from './types.js';

export * from './types.js';

export interface OpenTargetOptions extends LabTargetOptions {
  /** SSH destinations with the shared SSH flags: self takes at most one, host exactly two (A, B). */
  hosts?: HostOptions[];
  /** host: the data links as A-interface=B-interface. */
  links?: string[];
  /** vagrant: the shared SSH flags, for the hosts vagrant ssh-config names. */
  ssh?: Omit<HostOptions, 'host'>;
}

export async function openTarget(kind: TargetKind, opts: OpenTargetOptions): Promise<E2eTarget> {
  switch (kind) {
    case 'lab':
      return labTarget(opts);
    case 'self':
      return selfTarget({
        ...(opts.hosts?.[0] ? { host: opts.hosts[0] } : {}),
        ...(opts.stock ? { stock: opts.stock } : {}),
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      });
    case 'host': {
      const { hostTarget, parseLinkSpecs } = await import('./host.js');
      return hostTarget({
        kind,
        hosts: opts.hosts ?? [],
        links: parseLinkSpecs(opts.links ?? []),
        ...(opts.stock ? { stock: opts.stock } : {}),
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      });
    }
    case 'vagrant': {
      const { vagrantTarget } = await import('./vagrant.js');
      return vagrantTarget({ ...(opts.ssh ? { ssh: opts.ssh } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
    }
  }
}
