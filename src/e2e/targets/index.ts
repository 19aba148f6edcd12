/**
 * Where e2e cases run. The built-in lab is the only target implemented: its guests carry laggd,
 * seqstream and bonding.ko, and QMP pulls its cables. `host` (two machines over SSH, no cable
 * control) and `self` (one machine, veth + a namespace as the peer) are part of the command's
 * design and refused with a clear error until they are written.
 */
import { EnvironmentError } from '../../cli/errors.js';
import { labTarget, type LabTargetOptions } from './lab.js';
import type { E2eTarget, TargetKind } from './types.js';

export * from './types.js';

export async function openTarget(kind: TargetKind, opts: LabTargetOptions): Promise<E2eTarget> {
  if (kind === 'lab') return labTarget(opts);
  throw new EnvironmentError(
    'E_E2E_TARGET_UNSUPPORTED',
    kind === 'host'
      ? "target 'host' (two machines over SSH, --host and --link) is not implemented yet"
      : "target 'self' (one machine, veth pairs and a namespace or vnet jail as the peer) is not implemented yet",
    'Run on the built-in lab: laggkit e2e --target lab.',
  );
}
