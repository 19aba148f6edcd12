/**
 * The lab target with FreeBSD guests: laggkit's kernel module against base lagg(4).
 *
 * The module reaches the guests the way it reaches any FreeBSD host, through `laggkit deploy`:
 * an LACP aggregate over the first two data links is deployed on both guests at once (built
 * here with --sysroot/--kernbuild, or on the guest when it has the sources and a compiler),
 * verified, confirmed and persisted; the cases then build and destroy their own aggregates, and
 * closing the target undeploys, which leaves the guests' files as they were.
 *
 * The links are host-side UDP sockets whatever the guest OS, so their frames are dropped and
 * recorded on the host as for Linux guests (lab-wire.ts).
 *
 * seqstream (kmod/posix/seqstream.c) runs on the guests. A guest with cc compiles it; one
 * without (a world built WITHOUT_TOOLCHAIN) gets it cross-compiled here by clang for the
 * guest's FreeBSD release, against a sysroot taken from that guest (its /usr/include, crt
 * objects and libc, one tarball fetched over SFTP) and linked by lld. Both are cached by the
 * guest's osreldate, the binary also by the source's hash.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { EnvironmentError } from '../../cli/errors.js';
import { deploy } from '../../deploy/deploy.js';
import { validateSpec } from '../../deploy/spec.js';
import { undeploy } from '../../deploy/undeploy.js';
import { connectGuest, guestScript as labGuestScript } from '../../lab/guest-ssh.js';
import { labDown, labLink } from '../../lab/lab.js';
import { cacheRoot, labDir, repoRoot } from '../../lab/paths.js';
import { labSshConfig } from '../../lab/ssh-config.js';
import type { LabState } from '../../lab/state.js';
import type { SshSession } from '../../ssh/index.js';
import { adapterFor, openHost, type HostOptions } from '../../targets/index.js';
import { driversFor } from '../drivers.js';
import { labWire } from '../lab-wire.js';
import { freebsdPlatform } from '../platform.js';
import type { Capability } from '../scenario.js';
import { openLab, type LabTargetOptions } from './lab.js';
import type { DataLink, E2eTarget, Side } from './types.js';

const run = promisify(execFile);
/** SSH handshakes with TCG guests on a loaded host take far longer than the lab's 20 s default. */
const READY_MS = 90_000;
const guestScript = (state: LabState, side: string, script: string, timeoutMs = 120_000) => labGuestScript(state, side, script, timeoutMs, READY_MS);
/** Where the guests keep seqstream: outside the system's own folders, removed at the end. */
export const GUEST_TOOLS_DIR = '/var/tmp/laggkit-e2e';

interface GuestFacts {
  osreldate: number;
  machine: string;
  cc: boolean;
  lagg: boolean;
  /** if_lagg.ko was loaded before e2e: the stock runs load it, the end unloads it unless so. */
  laggLoaded: boolean;
}

async function probeGuest(state: LabState, side: Side): Promise<GuestFacts> {
  const r = await guestScript(
    state,
    side,
    'sysctl -n kern.osreldate; uname -m; command -v cc >/dev/null && echo cc; kldstat -q -m if_lagg && echo loaded; { kldstat -q -m if_lagg || [ -f /boot/kernel/if_lagg.ko ]; } && echo lagg; true',
  );
  const [rel, machine, ...rest] = r.stdout.trim().split('\n');
  return { osreldate: Number(rel), machine: machine ?? '', cc: rest.includes('cc'), lagg: rest.includes('lagg'), laggLoaded: rest.includes('loaded') };
}

/** What clang needs from the guest to compile and link a program for it. */
const SYSROOT_FILES = [
  'usr/include',
  ...['crt1.o', 'crti.o', 'crtn.o', 'crtbegin.o', 'crtend.o', 'Scrt1.o', 'crtbeginS.o', 'crtendS.o'].map((f) => `usr/lib/${f}`),
  ...['libc.so', 'libc_nonshared.a', 'libssp_nonshared.a', 'libgcc_s.so', 'libgcc.a', 'libcompiler_rt.a', 'libsys.so'].map((f) => `usr/lib/${f}`),
  'lib/libc.so.7',
  'lib/libsys.so.7',
  'lib/libgcc_s.so.1',
];

/** The guest's own headers and libraries, as a sysroot on this machine (cached by osreldate). */
async function guestSysroot(state: LabState, side: Side, facts: GuestFacts, say: (l: string) => void): Promise<string> {
  const dir = path.join(cacheRoot(), 'sysroots', `freebsd-${facts.osreldate}-${facts.machine}`);
  if (fs.existsSync(path.join(dir, '.complete'))) return dir;
  say(`taking a sysroot from guest ${side} (FreeBSD ${facts.osreldate}: /usr/include, crt objects, libc) over SFTP`);
  const tgz = '/tmp/laggkit-sysroot.tgz';
  const made = await guestScript(
    state,
    side,
    [
      '[ -d /usr/include/sys ] || { echo "no /usr/include" >&2; exit 3; }',
      `cd / && for f in ${SYSROOT_FILES.join(' ')}; do [ -e "$f" ] && echo "$f"; done > /tmp/laggkit-sysroot.list`,
      `tar -czf ${tgz} -T /tmp/laggkit-sysroot.list`,
    ].join('\n'),
    300_000,
  );
  if (made.code === 3)
    throw new EnvironmentError(
      'E_E2E_SYSROOT',
      `guest ${side} has no /usr/include: seqstream can be neither compiled there nor cross-compiled here`,
      'Use an image with the base system headers (FreeBSD installs them unless built WITHOUT_INCLUDES).',
    );
  if (made.code !== 0) throw new EnvironmentError('E_E2E_SYSROOT', `guest ${side} could not pack its headers and libraries: ${made.stderr.trim().slice(-300)}`);
  const session = await connectGuest(state, state.vms.find((v) => v.name === side)!, READY_MS);
  let bytes: Buffer;
  try {
    bytes = await session.readFile(tgz);
    await session.execScript(`rm -f ${tgz} /tmp/laggkit-sysroot.list`);
  } finally {
    await session.close();
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  fs.writeFileSync(path.join(tmp, 'sysroot.tgz'), bytes);
  await run('tar', ['-xzf', 'sysroot.tgz', '--no-same-owner'], { cwd: tmp });
  fs.rmSync(path.join(tmp, 'sysroot.tgz'));
  fs.writeFileSync(path.join(tmp, '.complete'), `${new Date().toISOString()}\n`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return dir;
}

async function findTool(names: string[]): Promise<string | undefined> {
  for (const n of names) {
    const r = await run('sh', ['-c', `command -v ${n}`]).catch(() => undefined);
    if (r?.stdout.trim()) return r.stdout.trim();
  }
  return undefined;
}

/** seqstream for the guest's release, cross-compiled here (cached by osreldate and source hash). */
async function crossSeqstream(state: LabState, facts: GuestFacts, say: (l: string) => void): Promise<Buffer> {
  const src = path.join(repoRoot(), 'kmod', 'posix', 'seqstream.c');
  const hash = crypto.createHash('sha256').update(fs.readFileSync(src)).digest('hex').slice(0, 12);
  const out = path.join(cacheRoot(), 'builds', `seqstream-freebsd-${facts.osreldate}-${facts.machine}-${hash}`);
  if (fs.existsSync(out)) return fs.readFileSync(out);
  const clang = await findTool(['clang-19', 'clang']);
  const lld = await findTool(['ld.lld-19', 'ld.lld']);
  if (!clang || !lld)
    throw new EnvironmentError(
      'E_E2E_CROSS',
      'the FreeBSD guests have no C compiler and this machine has no clang-19/ld.lld-19 to cross-compile seqstream for them',
      'Install them (npm run setup installs clang-19 and lld-19), or use an image with cc.',
    );
  const sysroot = await guestSysroot(state, 'A', facts, say);
  // The triple names the FreeBSD major version, which is what osreldate's leading digits are.
  const triple = `${facts.machine === 'amd64' ? 'x86_64' : facts.machine}-unknown-freebsd${Math.floor(facts.osreldate / 100_000)}`;
  say(`cross-compiling seqstream for ${triple} (clang ${path.basename(clang)}, sysroot from the guest)`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  try {
    await run(clang, [`--target=${triple}`, `--sysroot=${sysroot}`, `--ld-path=${lld}`, '-O2', '-Wall', '-Wextra', '-Werror', '-o', `${out}.tmp`, src]);
  } catch (err) {
    throw new EnvironmentError(
      'E_E2E_CROSS',
      `cross-compiling seqstream failed: ${String((err as { stderr?: string }).stderr ?? err)
        .trim()
        .slice(-600)}`,
    );
  }
  fs.renameSync(`${out}.tmp`, out);
  return fs.readFileSync(out);
}

/** seqstream onto both guests: compiled there when they have cc, else cross-compiled here and copied. */
async function installSeqstream(state: LabState, facts: GuestFacts, say: (l: string) => void): Promise<void> {
  const src = fs.readFileSync(path.join(repoRoot(), 'kmod', 'posix', 'seqstream.c'));
  const binary = facts.cc ? undefined : await crossSeqstream(state, facts, say);
  if (facts.cc) say('compiling seqstream on the guests (cc)');
  await Promise.all(
    state.vms.map(async (vm) => {
      const session = await connectGuest(state, vm, READY_MS);
      try {
        await session.execScript(`mkdir -p ${GUEST_TOOLS_DIR}`);
        if (binary) await session.writeFileAtomic(`${GUEST_TOOLS_DIR}/seqstream`, binary, { mode: 0o755 });
        else {
          await session.writeFileAtomic(`${GUEST_TOOLS_DIR}/seqstream.c`, src);
          const cc = await session.execScript(`cc -O2 -Wall -o ${GUEST_TOOLS_DIR}/seqstream ${GUEST_TOOLS_DIR}/seqstream.c`, { timeoutMs: 300_000 });
          if (cc.code !== 0) throw new EnvironmentError('E_E2E_GUEST_TOOLS', `compiling seqstream on guest ${vm.name} failed: ${cc.stderr.trim().slice(-400)}`);
        }
        const now = await session.execScript(`${GUEST_TOOLS_DIR}/seqstream now`);
        if (!/^\d+\.\d{3}$/.test(now.stdout.trim()))
          throw new EnvironmentError('E_E2E_GUEST_TOOLS', `seqstream does not run on guest ${vm.name}: ${(now.stderr || now.stdout).trim().slice(-300)}`);
      } finally {
        await session.close();
      }
    }),
  );
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
 * if_laggkit.ko onto both guests through deploy: LACP over the first two data links, the
 * guests deploying at once so each verifies against the other. The deployed aggregate is then
 * destroyed (the module stays loaded): the cases build their own.
 */
async function deployModule(state: LabState, links: DataLink[], opts: LabTargetOptions, say: (l: string) => void): Promise<Record<Side, HostOptions>> {
  const sshConfig = path.join(labDir(state.name), 'ssh_config');
  fs.writeFileSync(sshConfig, labSshConfig(state));
  const hosts = { A: { host: 'A', sshConfig }, B: { host: 'B', sshConfig } };
  const ports = links.slice(0, 2).map((l) => l.nic);
  say(
    `deploying if_laggkit.ko to both guests (laggkit deploy, ${opts.sysroot ? `built here against ${opts.sysroot}` : 'built on the guests'}; LACP over ${ports.join(', ')})`,
  );
  await Promise.all(
    (['A', 'B'] as const).map(async (side) => {
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
        say(`  ${side}: if_laggkit.ko ${r.plan.buildId} deployed, ${r.aggregates.map((a) => `${a.name} ${a.status}`).join(', ')}`);
        await host.script(`ifconfig ${DEPLOYED} destroy`, { check: true });
      } finally {
        await host.close().catch(() => {});
      }
    }),
  );
  return hosts;
}

async function undeployModule(hosts: Record<Side, HostOptions>, say: (l: string) => void): Promise<void> {
  say('undeploying if_laggkit.ko from both guests (laggkit undeploy)');
  await Promise.all(
    (['A', 'B'] as const).map(async (side) => {
      const host = await openHost(hosts[side]);
      try {
        await undeploy(host, await adapterFor(host), () => {});
      } finally {
        await host.close().catch(() => {});
      }
    }),
  );
}

export async function freebsdLabTarget(opts: LabTargetOptions, say: (l: string) => void): Promise<E2eTarget> {
  const { state, owned } = await openLab(opts, 'freebsd', say);
  const stop = async (): Promise<void> => {
    if (owned && !opts.keep) await labDown(state.name);
    else if (owned) say(`lab '${state.name}' kept (--keep-lab): laggkit lab down --name ${state.name}`);
  };
  // FreeBSD data links carry no address between runs: only the aggregates do.
  const links: DataLink[] = state.links.map((l) => ({ model: l.model, nic: l.a.nic }));
  let hosts: Record<Side, HostOptions> | undefined;
  try {
    const facts = await probeGuest(state, 'A');
    // A run interrupted before its clean-up may have left lagg0 holding the links deploy wants.
    const drivers = Object.values(driversFor('freebsd'));
    await Promise.all(state.vms.map((vm) => guestScript(state, vm.name, drivers.map((d) => d.destroy()).join('\n'))));
    await installSeqstream(state, facts, say);
    hosts = await deployModule(state, links, opts, say);
    const lagg = facts.lagg;
    const wire = labWire(state);
    const lacking: Partial<Record<Capability, string>> = {
      stock: lagg ? undefined : 'the guests have no if_lagg.ko (a kernel without lagg(4))',
      impair: wire.lacksImpair,
      capture: wire.lacksCapture,
    };
    let closing: Promise<void> | undefined;
    // One SSH connection per guest for the whole run: under TCG a new one costs seconds, which
    // would stretch every poll (restore time is measured by polling).
    const sessions: Partial<Record<Side, Promise<SshSession>>> = {};
    return {
      kind: 'lab',
      describe: `lab '${state.name}' (2 FreeBSD guests, osreldate ${facts.osreldate}, ${state.accel}, links ${state.links.map((l) => `${l.a.nic}:${l.model}`).join(' ')})`,
      capabilities: (['cable', 'stock', 'impair', 'capture'] as const).filter((c) => !lacking[c]),
      lacks: (cap) => lacking[cap],
      platform: freebsdPlatform,
      drivers: driversFor('freebsd'),
      links,
      sh: async (side, script, timeoutMs = 120_000, fresh = false) => {
        // Closing (Ctrl-C) while the engine still runs: nothing new starts behind undeploy's back.
        if (closing) throw new Error('the target is closing');
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
            // e2e's own aggregates first: undeploy hands the links back, lagg0 must not hold them.
            await Promise.all(state.vms.map((vm) => guestScript(state, vm.name, drivers.map((d) => d.destroy()).join('\n')).catch(() => undefined)));
            if (hosts) await undeployModule(hosts, say);
            const unloadLagg = facts.laggLoaded ? '' : '; kldunload if_lagg 2>/dev/null';
            await Promise.all(state.vms.map((vm) => guestScript(state, vm.name, `rm -rf ${GUEST_TOOLS_DIR}${unloadLagg}`).catch(() => undefined)));
          } finally {
            await Promise.all(Object.values(sessions).map((p) => p.then((x) => x.close()).catch(() => {})));
            await stop();
          }
        })()),
    };
  } catch (err) {
    // A target that never opened still leaves the guests as it found them.
    if (hosts) await undeployModule(hosts, say).catch(() => {});
    await stop();
    throw err;
  }
}
