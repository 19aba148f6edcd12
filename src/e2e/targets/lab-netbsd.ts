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
import { labDown, labLink } from '../../lab/lab.js';
import type { HostOptions } from '../../targets/index.js';
import { allDriversFor, driversFor } from '../drivers.js';
import { labWire } from '../lab-wire.js';
import { netbsdPlatform } from '../platform.js';
import type { Capability } from '../scenario.js';
import { deployModule, GUEST_TOOLS_DIR, guestMachine, guestScript, guestShells, undeployModule } from './lab-freebsd.js';
import { openLab, type LabTargetOptions } from './lab.js';
import { installNetbsdSeqstream, netbsdSkipCase, netbsdUnloadScript, probeNetbsd } from './netbsd-tools.js';
import type { DataLink, E2eTarget, Side } from './types.js';

export async function netbsdLabTarget(opts: LabTargetOptions, say: (l: string) => void): Promise<E2eTarget> {
  // A stock driver NetBSD lacks is refused before any guest starts.
  const drivers = driversFor('netbsd', opts.stock);
  const { state, owned } = await openLab(opts, 'netbsd', say);
  const stop = async (): Promise<void> => {
    if (owned && !opts.keep) await labDown(state.name);
    else if (owned) say(`lab '${state.name}' kept (--keep-lab): laggkit lab down --name ${state.name}`);
  };
  // As on FreeBSD guests the data links carry no address between runs: only the aggregates do.
  const links: DataLink[] = state.links.map((l) => ({ model: l.model, nic: l.a.nic }));
  let hosts: Record<Side, HostOptions> | undefined;
  try {
    const machines = state.vms.map((vm) => guestMachine(state, vm.name as Side));
    const facts = await probeNetbsd(machines[0]!);
    // A run interrupted before its clean-up may have left lagg0 or agr0 holding the links deploy wants.
    const every = allDriversFor('netbsd');
    await Promise.all(state.vms.map((vm) => guestScript(state, vm.name, every.map((d) => d.destroy()).join('\n'))));
    await installNetbsdSeqstream(machines, facts, GUEST_TOOLS_DIR, say);
    // Deploy verifies its LACP aggregate, which only e1000 ports can form on NetBSD.
    const wm = links.filter((l) => l.model === 'e1000').map((l) => l.nic);
    hosts = await deployModule(state, wm.slice(0, 2), opts, say, 'laggkit.kmod');
    const wire = labWire(state);
    const stockName = drivers.stock.stockKey === 'agr' ? 'agr' : 'lagg';
    const lacking: Partial<Record<Capability, string>> = {
      stock: facts[stockName] ? undefined : `the guests' kernel has no ${stockName}(4) (neither built in nor as /stand/.../if_${stockName}.kmod)`,
      impair: wire.lacksImpair,
      capture: wire.lacksCapture,
    };
    let closing: Promise<void> | undefined;
    const shells = guestShells(state, () => closing !== undefined);
    return {
      kind: 'lab',
      describe: `lab '${state.name}' (2 NetBSD guests, NetBSD ${facts.release}, ${state.accel}, links ${state.links.map((l) => `${l.a.nic}:${l.model}`).join(' ')}; stock ${drivers.stock.label})`,
      capabilities: (['cable', 'stock', 'impair', 'capture'] as const).filter((c) => !lacking[c]),
      lacks: (cap) => lacking[cap],
      skipCase: netbsdSkipCase,
      platform: netbsdPlatform,
      drivers,
      links,
      sh: shells.sh,
      cable: async (nic, up) => {
        await labLink(state.name, 'A', nic, up ? 'up' : 'down');
      },
      impair: (nic, what, on) => wire.impair(nic, what, on),
      capture: (nics, direction) => wire.capture(nics, direction),
      close: () =>
        (closing ??= (async () => {
          try {
            wire.close();
            // e2e's own aggregates first: undeploy hands the links back, lagg0 or agr0 must not hold them.
            await Promise.all(state.vms.map((vm) => guestScript(state, vm.name, every.map((d) => d.destroy()).join('\n')).catch(() => undefined)));
            if (hosts) await undeployModule(hosts, say, 'laggkit.kmod');
            await Promise.all(
              state.vms.map((vm) => guestScript(state, vm.name, `rm -rf ${GUEST_TOOLS_DIR}; ${netbsdUnloadScript(facts)}`).catch(() => undefined)),
            );
          } finally {
            await shells.close();
            await stop();
          }
        })()),
    };
  } catch (err) {
    if (hosts) await undeployModule(hosts, say, 'laggkit.kmod').catch(() => {});
    await stop();
    throw err;
  }
}
