/**
 * What e2e needs of a NetBSD machine, whichever target reaches it (the lab's guests, or a host
 * over SSH): its release, whether it has a compiler, which stock aggregation drivers it has, and
 * seqstream (kmod/posix/seqstream.c) put on it.
 *
 * seqstream is compiled there by the system's cc. NetBSD installs cc and /usr/include together,
 * in its comp set: a machine without the set has neither, so there is no sysroot to take from
 * it for a cross-compile either (as freebsd-tools.ts does for FreeBSD), and it is refused with
 * what to install.
 */
import { EnvironmentError } from '../../cli/errors.js';
import type { NicModel } from '../../lab/machines.js';
import type { Protocol } from '../scenario.js';
import { placeSeqstream, type FreebsdMachine } from './freebsd-tools.js';

/** A NetBSD machine, reached as freebsd-tools.ts reaches a FreeBSD one (root shell, file read and write). */
export type NetbsdMachine = FreebsdMachine;

export interface NetbsdFacts {
  /** kern.osrelease: "10.1". */
  release: string;
  machine: string;
  cc: boolean;
  /** lagg(4) / agr(4) are in the kernel (GENERIC has both built in) or loadable. */
  lagg: boolean;
  agr: boolean;
  /** Loaded (or built in) before e2e: the end unloads only what e2e loaded. */
  laggLoaded: boolean;
  agrLoaded: boolean;
}

/** The probe script; its output is read by parseNetbsdProbe (kept apart, so a test can feed it NetBSD's answers). */
export const NETBSD_PROBE = [
  'sysctl -n kern.osrelease',
  'uname -m',
  'command -v cc >/dev/null && echo cc',
  ...['if_lagg', 'if_agr'].map(
    (m) =>
      `modstat ${m} 2>/dev/null | grep -q '^${m} ' && echo ${m}-loaded; { modstat ${m} 2>/dev/null | grep -q '^${m} ' || ls /stand/$(uname -m)/$(sysctl -n kern.osrelease)/modules/${m}/${m}.kmod >/dev/null 2>&1; } && echo ${m}`,
  ),
  'true',
].join('\n');

export function parseNetbsdProbe(stdout: string): NetbsdFacts {
  const [release = '', machine = '', ...rest] = stdout.trim().split('\n');
  return {
    release,
    machine,
    cc: rest.includes('cc'),
    lagg: rest.includes('if_lagg'),
    agr: rest.includes('if_agr'),
    laggLoaded: rest.includes('if_lagg-loaded'),
    agrLoaded: rest.includes('if_agr-loaded'),
  };
}

export async function probeNetbsd(m: NetbsdMachine): Promise<NetbsdFacts> {
  return parseNetbsdProbe((await m.sh(NETBSD_PROBE)).stdout);
}

/** seqstream into `dir` on every machine, compiled there; a machine without cc is refused saying what to install. */
export async function installNetbsdSeqstream(machines: NetbsdMachine[], facts: NetbsdFacts, dir: string, say: (l: string) => void): Promise<void> {
  if (!facts.cc)
    throw new EnvironmentError(
      'E_E2E_GUEST_TOOLS',
      `${machines.map((m) => m.name).join(' and ')} (NetBSD ${facts.release}) have no cc: seqstream, e2e's probe, is compiled there`,
      "Install NetBSD's comp set (cc and /usr/include): tar -xzpf comp.tar.xz -C / from the release's sets, or use an image made with it.",
    );
  await placeSeqstream(machines, dir, undefined, say);
}

/** What e2e loaded of the stock drivers, unloaded again at the end (nothing the system had before). */
export function netbsdUnloadScript(facts: NetbsdFacts): string {
  return [...(facts.laggLoaded ? [] : ['modunload if_lagg 2>/dev/null']), ...(facts.agrLoaded ? [] : ['modunload if_agr 2>/dev/null']), 'true'].join('; ');
}

/** Why an LACP case with a virtio member cannot run on NetBSD (vioif(4) reports no media). */
export const NETBSD_VIRTIO_LACP =
  "NetBSD's vioif(4) has no media ioctl, so a virtio port has no known speed or duplex, and LACP (laggkit, lagg(4) and agr(4) alike) aggregates only full-duplex ports of a known speed; LACP runs on NetBSD's e1000 (wm) ports";

/** The case-level skip of NetBSD machines: LACP over a virtio member. */
export function netbsdSkipCase(proto: Protocol, members: NicModel[]): string | undefined {
  return proto === 'lacp' && members.includes('virtio') ? NETBSD_VIRTIO_LACP : undefined;
}
