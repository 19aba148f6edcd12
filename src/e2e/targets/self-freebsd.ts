/**
 * The `self` target's FreeBSD flavour: sides A and B are vnet jails on one FreeBSD machine,
 * each data link an epair(4) with one end in each jail, renamed dl0..dl3 on both sides. The
 * machine's own interfaces are never touched; mgmt0, an epair of its own, stands for the
 * management link the mgmt-untouched scenario watches.
 *
 *   jail A: dlN ==epair== dlN :jail B          jail A: mgmt0 ==epair== mgmt0 :jail B
 *
 * Both drivers are the machine's kernel modules, loaded outside the jails: if_laggkit.ko (put
 * there by `laggkit deploy`, or kldload) and if_lagg.ko for --compare stock. Both are VNET
 * aware, so each jail has laggkit0 and lagg0 of its own.
 *
 * What a jail cannot do is said, not faked:
 * - cable pulls: an epair end keeps its carrier whatever the other end does (if_epair sets the
 *   link state only at creation and destruction), so nothing here can make a member lose
 *   carrier while staying administratively up;
 * - frame drops on the link: the links have no middle to filter in;
 * - unloading a module (the unload-in-use scenario): a jail may not.
 *
 * The jails share the machine's file system (path=/): each side's stream files go to a folder
 * of its own through TMPDIR.
 */
import { shQuote } from '../../ssh/index.js';
import type { Driver, DriverName } from '../drivers.js';
import { installSeqstream, probeFreebsd } from './freebsd-tools.js';
import type { SelfFlavour, SelfPlan } from './self.js';
import { placeBsdSeqstream } from './tools.js';
import type { Side } from './types.js';

const jail = (p: SelfPlan, side: Side): string => `lk-${p.name}-${side.toLowerCase()}`;
const sideTmp = (p: SelfPlan, side: Side): string => `${p.stateDir}/${side}`;

/** Destroys the aggregates and links inside a jail, then the jail: epairs die with their ends. */
const removeJail = (p: SelfPlan, side: Side): string => {
  const j = jail(p, side);
  return [
    `if jls -j ${j} jid >/dev/null 2>&1; then`,
    `  for i in $(jexec ${j} ifconfig -l); do case $i in laggkit*|lagg*) jexec ${j} ifconfig $i destroy ;; esac; done`,
    `  for i in $(jexec ${j} ifconfig -l); do case $i in dl*|mgmt0) jexec ${j} ifconfig $i destroy 2>/dev/null ;; esac; done`,
    `  jail -r ${j} >/dev/null 2>&1`,
    'fi',
  ].join('\n');
};

export const freebsdFlavour: SelfFlavour = {
  os: 'FreeBSD',
  guest: 'freebsd',
  how: 'vnet jails A and B, epair(4) links',
  linkKind: 'epair',
  nic: (i) => `dl${i}`,
  mgmt: 'mgmt0',
  stockName: 'lagg(4)',
  setupHint: 'Run it as root on a FreeBSD with VIMAGE (GENERIC has it) and if_laggkit.ko loaded (laggkit deploy, or kldload).',
  lacksCable:
    'epair(4) keeps its carrier whatever its other end does, so the self target on FreeBSD cannot pull a cable (the lab and a host with a switch can)',
  lacksImpair: 'the self target on FreeBSD has no wire in the middle of its epair links to drop frames on',
  drivers: (d) => {
    const inJail = (x: Driver): Driver => ({
      ...x,
      unload: () => ({ unsupported: 'the self target runs the drivers in vnet jails, and a jail may not unload a kernel module' }),
    });
    return { laggkit: inJail(d.laggkit), stock: inJail(d.stock) } satisfies Record<DriverName, Driver>;
  },
  up: (p) => {
    const [A, B] = [jail(p, 'A'), jail(p, 'B')];
    return [
      'set -e',
      'kldstat -q -m if_laggkit || { echo "if_laggkit.ko is not loaded: load it first (laggkit deploy, or kldload if_laggkit)" >&2; exit 3; }',
      'kldstat -q -m if_epair || kldload if_epair',
      // The kernel log's stamps place lagg(4)'s link messages on the timeline; a jail may not set it.
      'sysctl kern.msgbuf_show_timestamp=1 >/dev/null 2>&1 || true',
      `mkdir -p ${shQuote(sideTmp(p, 'A'))} ${shQuote(sideTmp(p, 'B'))}`,
      ...[A, B].map((j) => `jail -c name=${j} host.hostname=${j} path=/ vnet persist allow.raw_sockets >/dev/null`),
      // One link: an epair, end a into jail A and end b into jail B, both renamed $1 and up.
      `lk_link() { e=$(ifconfig epair create); b=\${e%a}b; ifconfig $e vnet ${A}; ifconfig $b vnet ${B}; jexec ${A} ifconfig $e name $1 up >/dev/null; jexec ${B} ifconfig $b name $1 up >/dev/null; }`,
      ...Array.from({ length: p.links }, (_, i) => `lk_link dl${i}`),
      'lk_link mgmt0',
      `jexec ${A} ifconfig mgmt0 inet 192.0.2.1/24`,
      `jexec ${B} ifconfig mgmt0 inet 192.0.2.2/24`,
      'set +e',
      'if kldstat -q -m if_lagg || m=$(kldload if_lagg 2>&1); then echo stock=yes; else echo "stock=no ${m:-kldload if_lagg failed}"; fi',
    ].join('\n');
  },
  side: (p, side, script) =>
    `exec jexec ${jail(p, side)} env TMPDIR=${shQuote(sideTmp(p, side))} sh -c ${shQuote(`${p.binDir ? `PATH=${shQuote(p.binDir)}:$PATH; export PATH; ` : ''}cd /\n${script}`)}`,
  down: (p) => [removeJail(p, 'A'), removeJail(p, 'B'), `rm -rf ${shQuote(p.stateDir)}`, 'true'].join('\n'),
  placeTools: (shell, scratch, say) => placeBsdSeqstream(shell, scratch, say, async (m, binDir, s) => installSeqstream([m], await probeFreebsd(m), binDir, s)),
};
