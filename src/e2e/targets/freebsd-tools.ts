/**
 * seqstream (kmod/posix/seqstream.c) on FreeBSD machines, whichever target reaches them: the
 * lab's guests, or the one machine the self target runs on.
 *
 * A machine with cc compiles it; one without (a world built WITHOUT_TOOLCHAIN) gets it
 * cross-compiled here by clang for the machine's FreeBSD release, against a sysroot taken from
 * that machine (its /usr/include, crt objects and libc, one tarball copied over) and linked by
 * lld. Both are cached by the machine's osreldate, the binary also by the source's hash.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { EnvironmentError } from '../../cli/errors.js';
import { cacheRoot, repoRoot } from '../../lab/paths.js';
import type { ExecResult } from '../../ssh/index.js';

const run = promisify(execFile);

/** What this file needs of a FreeBSD machine: run a script as root, read and write a file. */
export interface FreebsdMachine {
  name: string;
  sh(script: string, timeoutMs?: number): Promise<ExecResult>;
  read(remote: string): Promise<Buffer>;
  write(remote: string, data: Buffer, mode: number): Promise<void>;
}

export interface FreebsdFacts {
  osreldate: number;
  machine: string;
  cc: boolean;
  /** if_lagg.ko is there (loaded, or in /boot/kernel): lagg(4) can be the stock driver. */
  lagg: boolean;
  /** if_lagg.ko was loaded before e2e: the end unloads it unless so. */
  laggLoaded: boolean;
}

export async function probeFreebsd(m: FreebsdMachine): Promise<FreebsdFacts> {
  const r = await m.sh(
    'sysctl -n kern.osreldate; uname -m; command -v cc >/dev/null && echo cc; kldstat -q -m if_lagg && echo loaded; { kldstat -q -m if_lagg || [ -f /boot/kernel/if_lagg.ko ]; } && echo lagg; true',
  );
  const [rel, machine, ...rest] = r.stdout.trim().split('\n');
  return { osreldate: Number(rel), machine: machine ?? '', cc: rest.includes('cc'), lagg: rest.includes('lagg'), laggLoaded: rest.includes('loaded') };
}

/** What clang needs from the machine to compile and link a program for it. */
const SYSROOT_FILES = [
  'usr/include',
  ...['crt1.o', 'crti.o', 'crtn.o', 'crtbegin.o', 'crtend.o', 'Scrt1.o', 'crtbeginS.o', 'crtendS.o'].map((f) => `usr/lib/${f}`),
  ...['libc.so', 'libc_nonshared.a', 'libssp_nonshared.a', 'libgcc_s.so', 'libgcc.a', 'libcompiler_rt.a', 'libsys.so'].map((f) => `usr/lib/${f}`),
  'lib/libc.so.7',
  'lib/libsys.so.7',
  'lib/libgcc_s.so.1',
];

/** The machine's own headers and libraries, as a sysroot on this machine (cached by osreldate). */
async function sysrootOf(m: FreebsdMachine, facts: FreebsdFacts, say: (l: string) => void): Promise<string> {
  const dir = path.join(cacheRoot(), 'sysroots', `freebsd-${facts.osreldate}-${facts.machine}`);
  if (fs.existsSync(path.join(dir, '.complete'))) return dir;
  say(`taking a sysroot from ${m.name} (FreeBSD ${facts.osreldate}: /usr/include, crt objects, libc)`);
  const tgz = '/tmp/laggkit-sysroot.tgz';
  const made = await m.sh(
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
      `${m.name} has no /usr/include: seqstream can be neither compiled there nor cross-compiled here`,
      'Use an image with the base system headers (FreeBSD installs them unless built WITHOUT_INCLUDES).',
    );
  if (made.code !== 0) throw new EnvironmentError('E_E2E_SYSROOT', `${m.name} could not pack its headers and libraries: ${made.stderr.trim().slice(-300)}`);
  let bytes: Buffer;
  try {
    bytes = await m.read(tgz);
  } finally {
    await m.sh(`rm -f ${tgz} /tmp/laggkit-sysroot.list`).catch(() => undefined);
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

/** seqstream for the machine's release, cross-compiled here (cached by osreldate and source hash). */
async function crossSeqstream(m: FreebsdMachine, facts: FreebsdFacts, say: (l: string) => void): Promise<Buffer> {
  const src = path.join(repoRoot(), 'kmod', 'posix', 'seqstream.c');
  const hash = crypto.createHash('sha256').update(fs.readFileSync(src)).digest('hex').slice(0, 12);
  const out = path.join(cacheRoot(), 'builds', `seqstream-freebsd-${facts.osreldate}-${facts.machine}-${hash}`);
  if (fs.existsSync(out)) return fs.readFileSync(out);
  const clang = await findTool(['clang-19', 'clang']);
  const lld = await findTool(['ld.lld-19', 'ld.lld']);
  if (!clang || !lld)
    throw new EnvironmentError(
      'E_E2E_CROSS',
      `${m.name} has no C compiler and this machine has no clang-19/ld.lld-19 to cross-compile seqstream for it`,
      'Install them (npm run setup installs clang-19 and lld-19), or use a FreeBSD with cc.',
    );
  const sysroot = await sysrootOf(m, facts, say);
  // The triple names the FreeBSD major version, which is what osreldate's leading digits are.
  const triple = `${facts.machine === 'amd64' ? 'x86_64' : facts.machine}-unknown-freebsd${Math.floor(facts.osreldate / 100_000)}`;
  say(`cross-compiling seqstream for ${triple} (clang ${path.basename(clang)}, sysroot from ${m.name})`);
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

/**
 * seqstream into `dir` on every machine (all of one release, as `facts` says): compiled there
 * when they have cc, else cross-compiled here and copied. Checked by running it.
 */
export async function installSeqstream(machines: FreebsdMachine[], facts: FreebsdFacts, dir: string, say: (l: string) => void): Promise<void> {
  const first = machines[0];
  const binary = facts.cc || !first ? undefined : await crossSeqstream(first, facts, say);
  await placeSeqstream(machines, dir, binary, say);
}

/**
 * seqstream into `dir` on every machine: `binary` copied there, or without one the source
 * compiled there by its cc (any BSD's). Checked by running `seqstream now`.
 */
export async function placeSeqstream(machines: FreebsdMachine[], dir: string, binary: Buffer | undefined, say: (l: string) => void): Promise<void> {
  const src = fs.readFileSync(path.join(repoRoot(), 'kmod', 'posix', 'seqstream.c'));
  if (!binary) say(`compiling seqstream on ${machines.map((m) => m.name).join(' and ')} (cc)`);
  await Promise.all(
    machines.map(async (m) => {
      const mkdir = await m.sh(`mkdir -p ${dir}`);
      if (mkdir.code !== 0) throw new EnvironmentError('E_E2E_GUEST_TOOLS', `${m.name}: cannot make ${dir}: ${mkdir.stderr.trim().slice(-300)}`);
      if (binary) await m.write(`${dir}/seqstream`, binary, 0o755);
      else {
        await m.write(`${dir}/seqstream.c`, src, 0o644);
        const cc = await m.sh(`cc -O2 -Wall -o ${dir}/seqstream ${dir}/seqstream.c`, 300_000);
        if (cc.code !== 0) throw new EnvironmentError('E_E2E_GUEST_TOOLS', `compiling seqstream on ${m.name} failed: ${cc.stderr.trim().slice(-400)}`);
      }
      const now = await m.sh(`${dir}/seqstream now`);
      if (!/^\d+\.\d{3}$/.test(now.stdout.trim()))
        throw new EnvironmentError('E_E2E_GUEST_TOOLS', `seqstream does not run on ${m.name}: ${(now.stderr || now.stdout).trim().slice(-300)}`);
    }),
  );
}
