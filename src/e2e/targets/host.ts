/**
 * `laggkit e2e --target host`: two Linux machines A and B over SSH, joined by the data links
 * the user names (--link A-if=B-if). Both run laggd, laggctl and seqstream: their own when on
 * root's PATH, else the static builds copied into a scratch folder and removed at the end.
 * There is no cable to pull unless the caller brings a way to (the vagrant target does, through
 * libvirt); without one the cable scenarios are reported skipped with the reason.
 */
import { EnvironmentError, UsageError } from '../../cli/errors.js';
import { subnetOf } from '../../lab/lab.js';
import type { NicModel } from '../../lab/machines.js';
import { shQuote } from '../../ssh/index.js';
import { openHost, type HostOptions } from '../../targets/index.js';
import { validateIfName } from '../../validate/index.js';
import { driversFor } from '../drivers.js';
import { linuxPlatform } from '../platform.js';
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

const DRIVER_MODEL: Record<string, NicModel> = { virtio_net: 'virtio', e1000: 'e1000', e1000e: 'e1000' };

export interface HostTargetOptions {
  kind?: TargetKind;
  hosts: HostOptions[];
  links: HostLinkSpec[];
  /** How to pull a data link's cable, when the machines' links can be pulled (libvirt). */
  cable?: (nic: string, up: boolean) => Promise<void>;
  /** Why there is no cable to pull, for the skip message. */
  noCable?: string;
  describe?: string;
  onProgress?: (line: string) => void;
}

/** What a machine says about itself: OS, the SSH session's interface, each link's driver. */
async function probe(shell: Shell, links: string[]): Promise<{ mgmt?: string; drivers: Record<string, string>; stockWhyNot?: string }> {
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
  const os = /^os=(.*)$/m.exec(out)?.[1];
  if (os !== 'Linux')
    throw new EnvironmentError(
      'E_E2E_HOST_OS',
      `${shell.name} runs ${os ?? 'an unknown OS'}: --target host drives laggd and Linux bonding and needs two Linux machines`,
      'Use two Linux machines, or --target self on that machine.',
    );
  const drivers: Record<string, string> = {};
  for (const m of out.matchAll(/^link=(\S+) (\S+)$/gm)) drivers[m[1]!] = m[2]!;
  const absent = links.filter((l) => drivers[l] === 'absent');
  if (absent.length) throw new UsageError('E_E2E_LINK', `${shell.name} has no interface ${absent.join(', ')}`, 'Name interfaces that exist there (ip link).');
  const stock = /^stock=(yes|no)(?: (.*))?$/m.exec(out);
  const mgmt = /^mgmt=(\S+)$/m.exec(out)?.[1];
  return {
    ...(mgmt ? { mgmt } : {}),
    drivers,
    ...(stock?.[1] === 'yes' ? {} : { stockWhyNot: `bonding does not load on ${shell.name}: ${stock?.[2]?.trim() || 'no answer'}` }),
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
    const probes: Awaited<ReturnType<typeof probe>>[] = [];
    for (const s of shells) probes.push(await probe(s, nics));
    for (const [i, p] of probes.entries()) {
      if (p.mgmt && nics.includes(p.mgmt))
        throw new UsageError(
          'E_E2E_LINK',
          `--link ${p.mgmt} is the interface ${shells[i]!.name}'s SSH session runs over`,
          'Name data links only: an aggregate over the management link would cut the session.',
        );
    }
    const scratch = `/var/tmp/laggkit-e2e${process.pid % 100000}`;
    for (const s of shells) placed.push(await placeTools(s, scratch, say));
    const links: DataLink[] = nics.map((nic, i) => {
      const [da, db] = probes.map((p) => p.drivers[nic]);
      const model = da === db ? DRIVER_MODEL[da ?? ''] : undefined;
      return { ...(model ? { model } : {}), nic, addrA: subnetOf(i).a, addrB: subnetOf(i).b };
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
      platform: linuxPlatform,
      drivers: driversFor('linux'),
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
        // The data links are the run's: the addresses it gave them go again.
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
