/**
 * What the lab's BSD guests share, whatever the BSD: the kernel module onto both guests
 * through `laggkit deploy` and off again through undeploy, the guests' shells (one SSH
 * connection each for the run), seqstream in a tools folder of its own, and the target itself:
 * the links are host-side UDP sockets whatever the guest OS, so frames are dropped and recorded
 * on the host (lab-wire.ts) and cables pulled by QMP. lab-freebsd.ts and lab-netbsd.ts say what
 * differs: drivers, platform, how the guests are probed and get seqstream, what they lack.
 */
import fs from 'node:fs';
import path from 'node:path';
import { deploy } from '../../deploy/deploy.js';
import { validateSpec } from '../../deploy/spec.js';
import { undeploy } from '../../deploy/undeploy.js';
import { connectGuest, guestScript as labGuestScript } from '../../lab/guest-ssh.js';
import { labDown, labLink } from '../../lab/lab.js';
import type { GuestOs } from '../../lab/machines.js';
import { labDir } from '../../lab/paths.js';
import { labSshConfig } from '../../lab/ssh-config.js';
import type { LabState } from '../../lab/state.js';
import type { SshSession } from '../../ssh/index.js';
import { adapterFor, openHost, type HostOptions } from '../../targets/index.js';
import type { Driver, DriverName } from '../drivers.js';
import { labWire } from '../lab-wire.js';
import type { Platform } from '../platform.js';
import type { Capability } from '../scenario.js';
import type { FreebsdMachine } from './freebsd-tools.js';
import { openLab, type LabTargetOptions } from './lab.js';
import type { DataLink, E2eTarget, Side } from './types.js';

/** SSH handshakes with TCG guests on a loaded host take far longer than the lab's 20 s default. */
export const READY_MS = 90_000;
export const guestScript = (state: LabState, side: string, script: string, timeoutMs = 120_000) => labGuestScript(state, side, script, timeoutMs, READY_MS);
/** Where the guests keep seqstream: outside the system's own folders, removed at the end. */
export const GUEST_TOOLS_DIR = '/var/tmp/laggkit-e2e';

/**
 * A BSD lab target's shell on its guests: one SSH connection per guest for the whole run (under
 * TCG a new one costs seconds, which would stretch every poll; restore time is measured by
 * polling), or a new one when asked (`fresh`), with the guest tools on PATH. Once `closing()`
 * says so, nothing new starts behind the target's clean-up (a Ctrl-C while the engine runs).
 */
export function guestShells(state: LabState, closing: () => boolean): { sh: E2eTarget['sh']; close(): Promise<void> } {
  const sessions: Partial<Record<Side, Promise<SshSession>>> = {};
  return {
    sh: async (side, script, timeoutMs = 120_000, fresh = false) => {
      if (closing()) throw new Error('the target is closing');
      if (fresh) return guestScript(state, side, `PATH=$PATH:${GUEST_TOOLS_DIR}\n${script}`, timeoutMs);
      const session = await (sessions[side] ??= connectGuest(state, state.vms.find((v) => v.name === side)!, READY_MS));
      try {
        return await session.execScript(`PATH=$PATH:${GUEST_TOOLS_DIR}\n${script}`, { timeoutMs });
      } catch (err) {
        // A lost connection is opened again on the next command.
        delete sessions[side];
        await session.close().catch(() => {});
        throw err;
      }
    },
    close: async () => void (await Promise.all(Object.values(sessions).map((p) => p.then((x) => x.close()).catch(() => {})))),
  };
}

/** A guest as freebsd-tools.ts reaches a FreeBSD machine (each call its own SSH connection). */
export function guestMachine(state: LabState, side: Side): FreebsdMachine {
  const vm = state.vms.find((v) => v.name === side)!;
  const withSession = async <T>(fn: (s: SshSession) => Promise<T>): Promise<T> => {
    const session = await connectGuest(state, vm, READY_MS);
    try {
      return await fn(session);
    } finally {
      await session.close();
    }
  };
  return {
    name: `guest ${side}`,
    sh: (script, timeoutMs) => guestScript(state, side, script, timeoutMs),
    read: (remote) => withSession((s) => s.readFile(remote)),
    write: (remote, data, mode) => withSession(async (s) => void (await s.writeFileAtomic(remote, data, { mode }))),
  };
}

/**
 * The aggregate deploy creates and persists. Not laggkit0: devd applies rc.conf's
 * ifconfig_laggkit0 to every laggkit0 created while it is persisted, so the cases' own laggkit0
 * would get deploy's ports and protocol added a few seconds after its creation.
 */
const DEPLOYED = 'laggkit9';
/** Its addresses: a subnet of its own, beside the cases' 10.77.0.0/24. */
const DEPLOYED_ADDR = { A: '10.77.9.1/24', B: '10.77.9.2/24' } as const;

/**
 * The module (`module`: if_laggkit.ko, or laggkit.kmod on NetBSD guests) onto the guests
 * through deploy: LACP over `ports`, the guests deploying at once so each verifies against the
 * other (one guest alone verifies against whatever LACP partner the lab's namespace holds).
 * The deployed aggregate is then destroyed (the module stays loaded): the cases build their own.
 */
export async function deployModule(
  state: LabState,
  ports: string[],
  opts: LabTargetOptions,
  say: (l: string) => void,
  module = 'if_laggkit.ko',
  sides: Side[] = ['A', 'B'],
): Promise<Partial<Record<Side, HostOptions>>> {
  const sshConfig = path.join(labDir(state.name), 'ssh_config');
  fs.writeFileSync(sshConfig, labSshConfig(state));
  const hosts = Object.fromEntries(sides.map((side) => [side, { host: side, sshConfig }])) as Record<Side, HostOptions>;
  say(
    `deploying ${module} to ${sides.length === 2 ? 'both guests' : `guest ${sides.join(', ')}`} (laggkit deploy, ${opts.sysroot ? `built here against ${opts.sysroot}` : 'built on the guests'}; LACP over ${ports.join(', ')})`,
  );
  await Promise.all(
    sides.map(async (side) => {
      const spec = validateSpec(
        { aggregates: [{ name: DEPLOYED, laggproto: 'lacp', laggports: ports, inet: [DEPLOYED_ADDR[side]] }] },
        `e2e deploy spec for ${side}`,
      );
      const host = await openHost(hosts[side]);
      try {
        const r = await deploy(host, await adapterFor(host), spec, {
          build: opts.sysroot ? 'local' : 'remote',
          ...(opts.sysroot ? { sysroot: opts.sysroot } : {}),
          ...(opts.kernbuild ? { kernbuild: opts.kernbuild } : {}),
          confirmTimeoutSec: 180,
          verifyTimeoutSec: 90,
          allowManagementPort: false,
          dryRun: false,
          onStep: (s) => say(`  ${side} deploy ${s.step}: ${s.ok ? 'ok' : 'FAILED'} ${(s.ms / 1000).toFixed(1)} s ${s.detail}`),
          progress: () => {},
          reconnect: () => openHost(hosts[side]),
        });
        say(`  ${side}: ${module} ${r.plan.buildId} deployed, ${r.aggregates.map((a) => `${a.name} ${a.status}`).join(', ')}`);
        await host.script(`ifconfig ${DEPLOYED} destroy`, { check: true });
      } finally {
        await host.close().catch(() => {});
      }
    }),
  );
  return hosts;
}

export async function undeployModule(hosts: Partial<Record<Side, HostOptions>>, say: (l: string) => void, module = 'if_laggkit.ko'): Promise<void> {
  say(`undeploying ${module} from the guests (laggkit undeploy)`);
  await Promise.all(
    Object.values(hosts).map(async (options) => {
      const host = await openHost(options);
      try {
        await undeploy(host, await adapterFor(host), () => {});
      } finally {
        await host.close().catch(() => {});
      }
    }),
  );
}

/** What one BSD brings to the lab target; `F` is what its probe of a guest learns. */
export interface BsdGuests<F> {
  os: GuestOs;
  /** The module file, for messages: if_laggkit.ko, laggkit.kmod. */
  module: string;
  drivers: Record<DriverName, Driver>;
  /** Every driver of the OS, stock choices included: a reset destroys each one's aggregate. */
  everyDriver: Driver[];
  platform: Platform;
  skipCase?: E2eTarget['skipCase'];
  probe(m: FreebsdMachine): Promise<F>;
  /** seqstream into `dir` on every guest. */
  installTools(machines: FreebsdMachine[], facts: F, dir: string, say: (l: string) => void): Promise<void>;
  /** The data links deploy's own LACP aggregate runs over. */
  deployPorts(links: DataLink[]): string[];
  /** Why the stock driver cannot run on these guests, if it cannot. */
  stockLacks(facts: F): string | undefined;
  describe(state: LabState, facts: F): string;
  /** Shell run on each guest at the end, after undeploy (unloads what e2e loaded). */
  atEnd(facts: F): string;
}

export async function bsdLabTarget<F>(g: BsdGuests<F>, opts: LabTargetOptions, say: (l: string) => void): Promise<E2eTarget> {
  const { state, owned } = await openLab(opts, g.os, say);
  const stop = async (): Promise<void> => {
    if (owned && !opts.keep) await labDown(state.name);
    else if (owned) say(`lab '${state.name}' kept (--keep-lab): laggkit lab down --name ${state.name}`);
  };
  // BSD data links carry no address between runs: only the aggregates do.
  const links: DataLink[] = state.links.map((l) => ({ model: l.model, nic: l.a.nic }));
  const destroyAll = g.everyDriver.map((d) => d.destroy()).join('\n');
  let hosts: Partial<Record<Side, HostOptions>> | undefined;
  try {
    const machines = state.vms.map((vm) => guestMachine(state, vm.name as Side));
    const facts = await g.probe(machines[0]!);
    // A run interrupted before its clean-up may have left a stock aggregate holding the links deploy wants.
    await Promise.all(state.vms.map((vm) => guestScript(state, vm.name, destroyAll)));
    await g.installTools(machines, facts, GUEST_TOOLS_DIR, say);
    hosts = await deployModule(state, g.deployPorts(links), opts, say, g.module);
    const wire = labWire(state);
    const lacking: Partial<Record<Capability, string>> = { stock: g.stockLacks(facts), impair: wire.lacksImpair, capture: wire.lacksCapture };
    let closing: Promise<void> | undefined;
    const shells = guestShells(state, () => closing !== undefined);
    return {
      kind: 'lab',
      describe: g.describe(state, facts),
      capabilities: (['cable', 'stock', 'impair', 'capture'] as const).filter((c) => !lacking[c]),
      lacks: (cap) => lacking[cap],
      ...(g.skipCase ? { skipCase: g.skipCase } : {}),
      platform: g.platform,
      drivers: g.drivers,
      links,
      sh: shells.sh,
      cable: async (nic, up) => {
        await labLink(state.name, 'A', nic, up ? 'up' : 'down');
      },
      impair: (nic, what, on) => wire.impair(nic, what, on),
      capture: (nics, direction) => wire.capture(nics, direction),
      // Once only: Ctrl-C closes the target while the engine may still be closing it too.
      close: () =>
        (closing ??= (async () => {
          try {
            wire.close();
            // e2e's own aggregates first: undeploy hands the links back, no stock aggregate may hold them.
            await Promise.all(state.vms.map((vm) => guestScript(state, vm.name, destroyAll).catch(() => undefined)));
            if (hosts) await undeployModule(hosts, say, g.module);
            await Promise.all(state.vms.map((vm) => guestScript(state, vm.name, `rm -rf ${GUEST_TOOLS_DIR}; ${g.atEnd(facts)}`).catch(() => undefined)));
          } finally {
            await shells.close();
            await stop();
          }
        })()),
    };
  } catch (err) {
    // A target that never opened still leaves the guests as it found them.
    if (hosts) await undeployModule(hosts, say, g.module).catch(() => {});
    await stop();
    throw err;
  }
}
