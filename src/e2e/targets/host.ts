/**
 * `laggkit e2e --target host`: two machines A and B over SSH, joined by the data links the
 * user names (--link A-if=B-if), both Linux or both NetBSD.
 *
 * - Linux: both run laggd, laggctl and seqstream: their own when on root's PATH, else the
 *   static builds copied into a scratch folder and removed at the end; stock is bonding.
 * - NetBSD: laggkit.kmod must be loaded already (`laggkit deploy` to each machine: the module
 *   is a kernel's, not a run's); seqstream is the machine's own or compiled there into the
 *   scratch folder by its cc; stock is lagg(4), or agr(4) with --stock agr. The data links carry
 *   no address of their own while the run goes on (the aggregates do), as in the NetBSD lab.
 *
 * There is no cable to pull unless the caller brings a way to (the vagrant target does, through
 * libvirt); without one the cable scenarios are reported skipped with the reason.
 */
import { EnvironmentError, UsageError } from '../../cli/errors.js';
import { subnetOf } from '../../lab/lab.js';
import type { NicModel } from '../../lab/machines.js';
import { shQuote } from '../../ssh/index.js';
import { openHost, type HostOptions } from '../../targets/index.js';
import { validateIfName } from '../../validate/index.js';
import { FAMILY_PROBE } from '../../targets/index.js';
import { driversFor } from '../drivers.js';
import { linuxPlatform, netbsdPlatform } from '../platform.js';
import { installNetbsdSeqstream, NETBSD_PROBE, netbsdSkipCase, parseNetbsdProbe } from './netbsd-tools.js';
import { remoteShell, type Shell } from './shell.js';
import { mustSh, placeTools, type PlacedTools } from './tools.js';
import type { DataLink, E2eTarget, Side, TargetKind } from './types.js';

export interface HostLinkSpec {
  a: string;
  b: string;
}

/** --link A-if=B-if, validated before anything connects. */
export function parseLinkSpecs(specs: string[]): HostLinkSpec[] {
  const links = specs.map((s) => {
    const m = /^([^=]+)=([^=]+)$/.exec(s);
    if (!m) throw new UsageError('E_E2E_LINK', `--link ${JSON.stringify(s)} is not A-interface=B-interface`, 'Example: --link vtnet0=vtnet0');
    const a = validateIfName(m[1]!, 'interface name in --link');
    const b = validateIfName(m[2]!, 'interface name in --link');
    // The actions address both ends of a member by one name; different names are refused
    // here rather than half-supported.
    if (a !== b)
      throw new UsageError(
        'E_E2E_LINK',
        `--link ${s}: the two ends of a data link must have the same interface name on A and B`,
        'Rename one end (ip link set dev X name Y) or pick links whose names agree.',
      );
    return { a, b };
  });
  const seen = new Set<string>();
  for (const l of links) {
    if (seen.has(l.a)) throw new UsageError('E_E2E_LINK', `--link ${l.a}=${l.b} is given twice`, 'Name each data link once.');
    seen.add(l.a);
  }
  return links;
}

/** A link's model from its Linux driver, or on NetBSD from the driver its name carries (vioif1, wm0). */
const DRIVER_MODEL: Record<string, NicModel> = { virtio_net: 'virtio', e1000: 'e1000', e1000e: 'e1000', vioif: 'virtio', wm: 'e1000' };

export interface HostTargetOptions {
  kind?: TargetKind;
  hosts: HostOptions[];
  links: HostLinkSpec[];
  /** How to pull a data link's cable, when the machines' links can be pulled (libvirt). */
  cable?: (nic: string, up: boolean) => Promise<void>;
  /** Why there is no cable to pull, for the skip message. */
  noCable?: string;
  describe?: string;
  /** --stock: the stock driver, where the OS has more than one (agr on NetBSD). */
  stock?: string;
  onProgress?: (line: string) => void;
}

export type HostOs = 'linux' | 'netbsd';

/** Which of the OSes --target host drives a machine runs (by name, or by kernel family for a derivative). */
export async function hostOsOf(shell: Shell): Promise<HostOs> {
  const [os = '', family = ''] = (await mustSh(shell, FAMILY_PROBE, 'read the OS name')).trim().split('\n');
  if (os === 'Linux') return 'linux';
  if (os === 'NetBSD' || family === 'NetBSD') return 'netbsd';
  throw new EnvironmentError(
    'E_E2E_HOST_OS',
    `${shell.name} runs ${os || 'an unknown OS'}: --target host drives two Linux machines (laggd against bonding) or two NetBSD machines (laggkit.kmod against lagg(4) or agr(4))`,
    os === 'FreeBSD' || family === 'FreeBSD'
      ? 'For FreeBSD use --target self on that machine (vnet jails) or the lab (--guest freebsd).'
      : 'Use two Linux or two NetBSD machines.',
  );
}

/**
 * The NetBSD probe: the SSH session's interface, each link (absent, or the driver in its name),
 * whether laggkit.kmod is loaded, and netbsd-tools.ts's facts after a "=== facts" line.
 */
export function netbsdHostProbe(links: string[]): string {
  return [
    // The interface holding the address this SSH session came in on: the management link.
    'set -- $SSH_CONNECTION; [ -n "$3" ] && for i in $(ifconfig -l); do ifconfig $i | awk -v a="$3" -v i=$i \'$1 == "inet" || $1 == "inet6" { split($2, x, "/"); sub("%.*", "", x[1]); if (x[1] == a) print "mgmt=" i }\'; done',
    ...links.map((l) => `if ifconfig ${l} >/dev/null 2>&1; then echo "link=${l} ${l.replace(/\d+$/, '')}"; else echo "link=${l} absent"; fi`),
    "modstat laggkit 2>/dev/null | grep -q '^laggkit ' && echo laggkit=yes",
    'echo "=== facts"',
    NETBSD_PROBE,
  ].join('\n');
}

interface Probed {
  mgmt?: string;
  drivers: Record<string, string>;
  stockWhyNot?: string;
  /** NetBSD: what netbsd-tools.ts knows of the machine. */
  netbsd?: ReturnType<typeof parseNetbsdProbe>;
}

/** What a NetBSD machine says about itself; laggkit.kmod not loaded is refused with what to do. */
async function probeNetbsdHost(shell: Shell, links: string[], stock: 'lagg' | 'agr'): Promise<Probed> {
  const out = await mustSh(shell, netbsdHostProbe(links), 'probe the machine');
  const [head = '', facts = ''] = out.split('=== facts\n');
  if (!/^laggkit=yes$/m.test(head))
    throw new EnvironmentError(
      'E_E2E_MODULE',
      `laggkit.kmod is not loaded on ${shell.name}`,
      `Deploy it first: laggkit deploy --host ${shell.name} ... (the module is the machine's, not the run's; undeploy removes it).`,
    );
  return { ...linksAndMgmt(shell, head, links), netbsd: parseNetbsdProbe(facts), ...stockOf(shell, parseNetbsdProbe(facts), stock) };
}

function stockOf(shell: Shell, f: ReturnType<typeof parseNetbsdProbe>, stock: 'lagg' | 'agr'): Pick<Probed, 'stockWhyNot'> {
  return f[stock] ? {} : { stockWhyNot: `${shell.name}'s kernel has no ${stock}(4) (neither built in nor as if_${stock}.kmod)` };
}

function linksAndMgmt(shell: Shell, out: string, links: string[]): Pick<Probed, 'mgmt' | 'drivers'> {
  const drivers: Record<string, string> = {};
  for (const m of out.matchAll(/^link=(\S+) (\S+)$/gm)) drivers[m[1]!] = m[2]!;
  const absent = links.filter((l) => drivers[l] === 'absent');
  if (absent.length)
    throw new UsageError('E_E2E_LINK', `${shell.name} has no interface ${absent.join(', ')}`, 'Name interfaces that exist there (ifconfig -l, ip link).');
  const mgmt = /^mgmt=(\S+)$/m.exec(out)?.[1];
  return { ...(mgmt ? { mgmt } : {}), drivers };
}

/** What a Linux machine says about itself: the SSH session's interface, each link's driver. */
async function probe(shell: Shell, links: string[]): Promise<Probed> {
  const out = await mustSh(
    shell,
    [
      'echo "os=$(uname -s)"',
      // The interface holding the address this SSH session came in on: the management link.
      'set -- $SSH_CONNECTION; [ -n "$3" ] && ip -o addr show | awk -v a="$3" \'{ split($4, x, "/"); if (x[1] == a) print "mgmt=" $2 }\'',
      ...links.map(
        (l) =>
          `if [ -e /sys/class/net/${l} ]; then echo "link=${l} $(basename "$(readlink /sys/class/net/${l}/device/driver 2>/dev/null || echo none)")"; else echo "link=${l} absent"; fi`,
      ),
      'if [ -d /sys/module/bonding ] || m=$(modprobe bonding max_bonds=0 2>&1); then echo stock=yes; else echo "stock=no ${m:-modprobe bonding failed}"; fi',
    ].join('\n'),
    'probe the machine',
  );
  const stock = /^stock=(yes|no)(?: (.*))?$/m.exec(out);
  return {
    ...linksAndMgmt(shell, out, links),
    ...(stock?.[1] === 'yes' ? {} : { stockWhyNot: `bonding does not load on ${shell.name}: ${stock?.[2]?.trim() || 'no answer'}` }),
  };
}

/**
 * seqstream on a NetBSD machine: its own when on root's PATH, else compiled there by its cc into
 * `scratch`/bin (which remove() deletes, with any seqstream still running from it).
 */
async function placeNetbsdTools(shell: Shell, p: Probed, scratch: string, say: (l: string) => void): Promise<PlacedTools> {
  if ((await shell.sh('command -v seqstream')).code === 0) return { how: 'own', remove: async () => {} };
  const binDir = `${scratch}/bin`;
  const machine = {
    name: shell.name,
    sh: (x: string, t?: number) => shell.sh(x, t),
    read: (f: string) => shell.read(f),
    write: (f: string, d: Buffer, m: number) => shell.write(f, d, m),
  };
  await installNetbsdSeqstream([machine], p.netbsd!, binDir, say);
  return {
    binDir,
    how: 'pushed',
    remove: async () => void (await shell.sh(`pkill -f ${shQuote(`${binDir}/seqstream`)}; rm -rf ${shQuote(scratch)}`).catch(() => {})),
  };
}

export async function hostTarget(o: HostTargetOptions): Promise<E2eTarget> {
  const say = o.onProgress ?? (() => {});
  if (o.hosts.length !== 2 || o.links.length === 0)
    throw new UsageError(
      'E_E2E_HOSTS',
      '--target host needs --host twice (A, then B) and at least one --link A-if=B-if',
      'Example: --target host --host root@a --host root@b --link vtnet1=vtnet1',
    );
  const shells: Shell[] = [];
  const placed: PlacedTools[] = [];
  try {
    for (const h of o.hosts) shells.push(remoteShell(await openHost(h)));
    const nics = o.links.map((l) => l.a);
    // One after the other: a fault is reported for A before B, whichever answers first.
    const oses: HostOs[] = [];
    for (const s of shells) oses.push(await hostOsOf(s));
    if (oses[0] !== oses[1])
      throw new UsageError(
        'E_E2E_HOST_OS',
        `--target host needs two machines of one OS: ${shells[0]!.name} runs ${oses[0]}, ${shells[1]!.name} ${oses[1]}`,
        'Pair Linux with Linux, NetBSD with NetBSD.',
      );
    const os = oses[0]!;
    const drivers = driversFor(os, o.stock);
    const probes: Probed[] = [];
    for (const s of shells)
      probes.push(os === 'netbsd' ? await probeNetbsdHost(s, nics, drivers.stock.stockKey === 'agr' ? 'agr' : 'lagg') : await probe(s, nics));
    for (const [i, p] of probes.entries()) {
      if (p.mgmt && nics.includes(p.mgmt))
        throw new UsageError(
          'E_E2E_LINK',
          `--link ${p.mgmt} is the interface ${shells[i]!.name}'s SSH session runs over`,
          'Name data links only: an aggregate over the management link would cut the session.',
        );
    }
    const scratch = `/var/tmp/laggkit-e2e${process.pid % 100000}`;
    for (const [i, s] of shells.entries())
      placed.push(os === 'netbsd' ? await placeNetbsdTools(s, probes[i]!, scratch, say) : await placeTools(s, scratch, say));
    const links: DataLink[] = nics.map((nic, i) => {
      const [da, db] = probes.map((p) => p.drivers[nic]);
      const model = da === db ? DRIVER_MODEL[da ?? ''] : undefined;
      // NetBSD's data links carry no address of their own (agr(4) takes no port that has one).
      return { ...(model ? { model } : {}), nic, ...(os === 'linux' ? { addrA: subnetOf(i).a, addrB: subnetOf(i).b } : {}) };
    });
    const stockNo = probes.map((p) => p.stockWhyNot).find(Boolean);
    const noCable = o.noCable ?? `no switch API to pull a cable on target ${o.kind ?? 'host'}`;
    const noWire = `target ${o.kind ?? 'host'} has no hand on the wire between its hosts (no frame dropped or recorded there)`;
    const side = (s: Side): number => (s === 'A' ? 0 : 1);
    const mgmt = probes.map((p) => p.mgmt ?? 'mgmt0');
    let closed = false;
    return {
      kind: o.kind ?? 'host',
      describe:
        o.describe ??
        `host ${shells.map((s) => s.name).join(' and ')} (links ${links.map((l) => `${l.nic}${l.model ? `:${l.model}` : ''}`).join(' ')}; tools ${placed.map((p) => p.how).join('/')})`,
      capabilities: [...(o.cable ? (['cable'] as const) : []), ...(stockNo ? [] : (['stock'] as const))],
      lacks: (cap) => (cap === 'stock' ? stockNo : cap === 'cable' && !o.cable ? noCable : cap === 'impair' || cap === 'capture' ? noWire : undefined),
      ...(os === 'netbsd' ? { skipCase: netbsdSkipCase } : {}),
      platform: os === 'netbsd' ? netbsdPlatform : linuxPlatform,
      drivers,
      links,
      mgmt: { A: mgmt[0]!, B: mgmt[1]! },
      sh: (s, script, timeoutMs = 120_000) => {
        const bin = placed[side(s)]?.binDir;
        return shells[side(s)]!.sh(`${bin ? `PATH=${shQuote(bin)}:$PATH; export PATH\n` : ''}${script}`, timeoutMs);
      },
      cable: async (nic, up) => {
        if (!o.cable) throw new EnvironmentError('E_E2E_NO_CABLE', noCable);
        await o.cable(nic, up);
      },
      impair: async () => {
        throw new EnvironmentError('E_E2E_NO_WIRE', noWire);
      },
      capture: async () => {
        throw new EnvironmentError('E_E2E_NO_WIRE', noWire);
      },
      close: async () => {
        if (closed) return;
        closed = true;
        // The data links are the run's: the addresses it gave them go again (NetBSD's got none).
        if (os === 'linux')
          await Promise.all(
            (['A', 'B'] as const).map((s) =>
              shells[side(s)]!.sh(links.map((l) => `ip addr del ${s === 'A' ? l.addrA : l.addrB} dev ${l.nic} 2>/dev/null`).join('\n')).catch(() => {}),
            ),
          );
        for (const p of placed) await p.remove();
        for (const s of shells) await s.close();
      },
    };
  } catch (err) {
    for (const p of placed) await p.remove().catch(() => {});
    for (const s of shells) await s.close().catch(() => {});
    throw err;
  }
}
