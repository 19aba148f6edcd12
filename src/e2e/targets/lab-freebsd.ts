/**
 * The lab target with FreeBSD guests: laggkit's kernel module against base lagg(4).
 *
 * The module reaches the guests the way it reaches any FreeBSD host, through `laggkit deploy`:
 * an LACP aggregate over the first two data links is deployed on both guests at once (built
 * here with --sysroot/--kernbuild, or on the guest when it has the sources and a compiler),
 * verified, confirmed and persisted; the cases then build and destroy their own aggregates, and
 * closing the target undeploys, which leaves the guests' files as they were.
 *
 * What every BSD guest shares (deploy in and out, the guests' shells, the links on the host)
 * is lab-bsd.ts.
 *
 * seqstream (kmod/posix/seqstream.c) runs on the guests: compiled there, or cross-compiled
 * here when they have no cc (freebsd-tools.ts).
 */
import { allDriversFor, driversFor } from '../drivers.js';
import { freebsdPlatform } from '../platform.js';
import { installSeqstream, probeFreebsd } from './freebsd-tools.js';
import { bsdLabTarget } from './lab-bsd.js';
import type { LabTargetOptions } from './lab.js';
import type { E2eTarget } from './types.js';

export function freebsdLabTarget(opts: LabTargetOptions, say: (l: string) => void): Promise<E2eTarget> {
  const drivers = driversFor('freebsd', opts.stock);
  return bsdLabTarget(
    {
      os: 'freebsd',
      module: 'if_laggkit.ko',
      drivers,
      everyDriver: allDriversFor('freebsd'),
      platform: freebsdPlatform,
      probe: probeFreebsd,
      installTools: installSeqstream,
      deployPorts: (links) => links.slice(0, 2).map((l) => l.nic),
      stockLacks: (facts) => (facts.lagg ? undefined : 'the guests have no if_lagg.ko (a kernel without lagg(4))'),
      describe: (state, facts) =>
        `lab '${state.name}' (2 FreeBSD guests, osreldate ${facts.osreldate}, ${state.accel}, links ${state.links.map((l) => `${l.a.nic}:${l.model}`).join(' ')})`,
      atEnd: (facts) => (facts.laggLoaded ? 'true' : 'kldunload if_lagg 2>/dev/null; true'),
    },
    opts,
    say,
  );
}
