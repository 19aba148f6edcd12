/**
 * The lab target with NetBSD guests: laggkit's kernel module (laggkit.kmod) against NetBSD's
 * own lagg(4), or with --stock agr against agr(4). It mirrors lab-freebsd.ts:
 *
 * - The module reaches the guests through `laggkit deploy`'s NetBSD target: built here with
 *   --sysroot (a netbsd-10 tree, kmod/netbsd/cross-build.sh) or on the guests against their
 *   /usr/src/sys, loaded with modload, persisted in /etc/modules.conf and
 *   /etc/ifconfig.laggkit9; closing the target undeploys, which leaves the guests' files as
 *   they were. The deployed aggregate is LACP over the two e1000 (wm) links (see below).
 * - seqstream is compiled on the guests by their cc (NetBSD's comp set); see netbsd-tools.ts.
 * - The links are host-side UDP sockets whatever the guest OS, so frames are dropped and
 *   recorded on the host as for the other guests (lab-wire.ts).
 *
 * What NetBSD guests cannot run is said, not faked: vioif(4), NetBSD's virtio-net driver, has no
 * media ioctl, so its ports have no known speed or duplex, and LACP (laggkit's core, lagg(4)
 * and agr(4) alike) aggregates only full-duplex ports of a known speed. LACP cases with a virtio
 * member are skipped with that reason; on the e1000 links (wm(4), 1000baseT full-duplex) they
 * run, and every other protocol runs on both models.
 */
import { allDriversFor, driversFor } from '../drivers.js';
import { netbsdPlatform } from '../platform.js';
import { bsdLabTarget } from './lab-bsd.js';
import type { LabTargetOptions } from './lab.js';
import { installNetbsdSeqstream, netbsdSkipCase, netbsdUnloadScript, probeNetbsd } from './netbsd-tools.js';
import type { E2eTarget } from './types.js';

export function netbsdLabTarget(opts: LabTargetOptions, say: (l: string) => void): Promise<E2eTarget> {
  // A stock driver NetBSD lacks is refused before any guest starts.
  const drivers = driversFor('netbsd', opts.stock);
  const stockName = drivers.stock.stockKey === 'agr' ? 'agr' : 'lagg';
  return bsdLabTarget(
    {
      os: 'netbsd',
      module: 'laggkit.kmod',
      drivers,
      everyDriver: allDriversFor('netbsd'),
      platform: netbsdPlatform,
      skipCase: netbsdSkipCase,
      probe: probeNetbsd,
      installTools: installNetbsdSeqstream,
      // Deploy verifies its LACP aggregate, which only e1000 ports can form on NetBSD.
      deployPorts: (links) =>
        links
          .filter((l) => l.model === 'e1000')
          .slice(0, 2)
          .map((l) => l.nic),
      stockLacks: (facts) =>
        facts[stockName] ? undefined : `the guests' kernel has no ${stockName}(4) (neither built in nor as /stand/.../if_${stockName}.kmod)`,
      describe: (state, facts) =>
        `lab '${state.name}' (2 NetBSD guests, NetBSD ${facts.release}, ${state.accel}, links ${state.links.map((l) => `${l.a.nic}:${l.model}`).join(' ')}; stock ${drivers.stock.label})`,
      atEnd: netbsdUnloadScript,
    },
    opts,
    say,
  );
}
