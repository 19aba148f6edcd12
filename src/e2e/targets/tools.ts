/**
 * laggd, laggctl and seqstream where a target's shells run them. They come from kmod/posix's
 * static build (brought up to date here first); a machine that has all three on its PATH keeps its
 * own, any other gets them copied into a scratch folder that close() removes again.
 */
import { EnvironmentError } from '../../cli/errors.js';
import { findLaggd } from '../../lab/linux-image.js';
import { shQuote } from '../../ssh/index.js';
import type { FreebsdMachine } from './freebsd-tools.js';
import type { Shell } from './shell.js';

export const TOOLS = ['laggd', 'laggctl', 'seqstream'] as const;

/** The static laggd, laggctl and seqstream of kmod/posix, brought up to date by findLaggd. */
export function localTools(say: (l: string) => void): Record<(typeof TOOLS)[number], string> {
  let buildError = '';
  say('laggd, laggctl and seqstream: make -C kmod/posix static');
  const found = findLaggd((m) => {
    buildError = m;
  });
  if (!found?.seqstream)
    throw new EnvironmentError(
      'E_E2E_BUILD',
      buildError ? `cannot build laggd: ${buildError}` : 'make -C kmod/posix static left no static laggd, laggctl and seqstream',
      buildError ? 'Install a C compiler and make (npm run setup), then retry.' : 'Run it by hand to see why.',
    );
  return { laggd: found.laggd, laggctl: found.laggctl, seqstream: found.seqstream };
}

export interface PlacedTools {
  /** Folder to put first on PATH, or undefined when the machine's own tools are used. */
  binDir?: string;
  /** Where they came from, for reports: "own" or "pushed". */
  how: 'own' | 'pushed';
  /** Remove what was pushed. */
  remove(): Promise<void>;
}

/**
 * The tools on a machine: its own when all three are on its PATH, else the static builds
 * copied into `scratch`/bin (the whole `scratch` folder goes again at remove()). Only Linux
 * takes the static builds; elsewhere the error says so.
 */
export async function placeTools(shell: Shell, scratch: string, say: (l: string) => void): Promise<PlacedTools> {
  const probe = await shell.sh(`uname -s; uname -m; for t in ${TOOLS.join(' ')}; do command -v $t >/dev/null || echo missing $t; done`);
  const [os, arch] = probe.stdout.trim().split('\n');
  const missing = [...probe.stdout.matchAll(/^missing (\w+)$/gm)].map((m) => m[1]);
  if (missing.length === 0) return { how: 'own', remove: async () => {} };
  if (os !== 'Linux' || arch !== process.arch.replace('x64', 'x86_64'))
    throw new EnvironmentError(
      'E_E2E_TOOLS',
      `${shell.name} lacks ${missing.join(', ')} and is ${os} ${arch}: the static builds here are Linux ${process.arch}`,
      "Install laggd, laggctl and seqstream there (make -C kmod/posix on that machine) and put them on root's PATH.",
    );
  const local = localTools(say);
  const binDir = `${scratch}/bin`;
  say(`${shell.name}: copying laggd, laggctl and seqstream into ${binDir}`);
  await mustSh(shell, `mkdir -p ${shQuote(binDir)}`, 'make the scratch folder');
  for (const t of TOOLS) await shell.put(local[t], `${binDir}/${t}`);
  // The daemons started from the copies are ours: they end with the folder (found by their
  // executable's path, so a laggd the machine runs of its own is never touched).
  const remove = async (): Promise<void> =>
    void (await shell
      .sh(`for p in $(pidof laggd seqstream); do case "$(readlink /proc/$p/exe)" in ${shQuote(binDir)}/*) kill $p ;; esac; done; rm -rf ${shQuote(scratch)}`)
      .catch(() => {}));
  return { binDir, how: 'pushed', remove };
}

/** Run a script; a non-zero exit is an EnvironmentError naming the machine and the step. */
export async function mustSh(shell: Shell, script: string, what: string, timeoutMs?: number): Promise<string> {
  const r = await shell.sh(script, timeoutMs);
  if (r.code !== 0)
    throw new EnvironmentError(
      'E_E2E_TARGET_SETUP',
      `${shell.name}: cannot ${what} (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-600)}`,
      'Run the target as root on a machine with what it needs (laggkit e2e --help: Linux needs iproute2, tc and util-linux; FreeBSD a VIMAGE kernel).',
    );
  return r.stdout;
}

/**
 * seqstream for a BSD self target: the machine's own when it has one on its PATH, else built
 * there by `install` (freebsd-tools.ts, netbsd-tools.ts: the same machine type) into scratch/bin,
 * which remove() deletes again.
 */
export async function placeBsdSeqstream(
  shell: Shell,
  scratch: string,
  say: (l: string) => void,
  install: (machine: FreebsdMachine, binDir: string, say: (l: string) => void) => Promise<void>,
): Promise<{ binDir?: string; remove(): Promise<void> }> {
  const binDir = `${scratch}/bin`;
  if ((await shell.sh('command -v seqstream')).code === 0) return { remove: async () => {} };
  const machine: FreebsdMachine = { name: shell.name, sh: (s, t) => shell.sh(s, t), read: (f) => shell.read(f), write: (f, d, m) => shell.write(f, d, m) };
  await install(machine, binDir, say);
  return { binDir, remove: async () => void (await shell.sh(`rm -rf ${shQuote(scratch)}`).catch(() => undefined)) };
}
