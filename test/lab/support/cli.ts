/**
 * Helpers for the lab tests: run the built laggkit CLI (dist/, built by `npm run test:lab`),
 * poll for a condition, and list what a lab may have left behind on this host.
 */
import type { ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  // biome-ignore lint/suspicious/noExplicitAny: each test reads the result shape it expects.
  json?: { ok: boolean; result?: any; error?: { code: string; message: string } };
}

export function cli(args: string[], env: Record<string, string> = {}, timeoutMs = 180_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(repo, 'bin', 'run.js'), ...args],
      { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        let json: CliResult['json'];
        if (args.includes('--json')) {
          try {
            json = JSON.parse(stdout);
          } catch {
            json = undefined;
          }
        }
        resolve({ code, stdout, stderr, json });
      },
    );
  });
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

/** Processes whose command line mentions `needle` (e.g. a lab folder). */
export function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle)) pids.push(Number(d));
    } catch {
      /* exited meanwhile */
    }
  }
  return pids;
}

export function distBuilt(): boolean {
  return fs.existsSync(path.join(repo, 'dist', 'commands', 'lab', 'up.js'));
}

/**
 * One lab per test file, isolated: its own LAGGKIT_LAB_DIR under the system temp folder and a
 * name unique to this process; after the file, every lab in that folder that is still up (this
 * one, or those a CLI run kept with --keep-lab) is brought down and the folder removed.
 */
export async function isolatedLab(test: { after: { always: (fn: () => Promise<void>) => void } }, prefix: string): Promise<{ root: string; name: string }> {
  const { labDown } = await import('../../../src/lab/lab.js');
  const { listLabs } = await import('../../../src/lab/state.js');
  const os = await import('node:os');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `lk-lab${prefix}-`));
  process.env.LAGGKIT_LAB_DIR = root;
  const name = `${prefix}${process.pid % 100000}`;
  test.after.always(async () => {
    for (const lab of listLabs()) await labDown(lab).catch(() => {});
    fs.rmSync(root, { recursive: true, force: true });
  });
  return { root, name };
}

/**
 * An e2e run's reports, kept in `keep` among the test artefacts whatever the outcome, its exit
 * code checked (0), then its report.json read.
 */
export function keptReport(t: ExecutionContext, run: CliResult, out: string, keep: string, what: string): import('../../../src/e2e/engine.js').E2eResult {
  fs.rmSync(keep, { recursive: true, force: true });
  if (fs.existsSync(out)) fs.cpSync(out, keep, { recursive: true });
  checkExit(t, run, 0, what);
  return JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
}

/** Assert a CLI run's exit code; the message carries the tails of its output, the evidence. */
export function checkExit(t: ExecutionContext, r: CliResult | undefined, code: number, what: string): asserts r is CliResult {
  if (!r) throw new Error(`${what}: not run`);
  t.is(r.code, code, `${what}: exit ${r.code}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
}

/**
 * `laggkit deploy` of an LACP laggkit0 over `ports` to lab guest A or B (addresses .1 and .2 of
 * `subnet`/24), reached through the lab's ssh_config: the deploy the lab tests and bench:deploy
 * run; `extra` adds the flags each needs (build, timeouts, --json).
 */
export function lacpDeployArgs(sshConfig: string, vm: string, ports: string[], subnet: string, extra: string[] = []): string[] {
  const inet = `${subnet}.${vm === 'A' ? 1 : 2}/24`;
  return ['deploy', '--ssh-config', sshConfig, '--host', vm, '--laggproto', 'lacp', ...ports.flatMap((p) => ['--laggport', p]), '--inet', inet, ...extra];
}

/** The TAP points and figure comments of an e2e run's stdout, for the test log. */
export function tapSummary(stdout: string): string {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('# ') || l.startsWith('ok'))
    .join('\n');
}

/** A shell line printing an interface's addresses and link line, without the counters that move. */
export function ifSnapshot(dev: string): string {
  return `ip -o addr show dev ${dev} | grep -v _lft; ip -o link show dev ${dev} | sed 's/ qlen.*//'`;
}

/**
 * The lab the e2e lab tests run on: laggd, laggctl and seqstream built for the guest image,
 * then two Linux guests over two virtio and two e1000 links; undefined (the reason on stderr)
 * when it did not come up, so each test fails with that rather than the hook.
 */
export async function e2eLab(name: string): Promise<import('../../../src/lab/state.js').LabState | undefined> {
  const { execFileSync } = await import('node:child_process');
  const { labUp } = await import('../../../src/lab/lab.js');
  execFileSync('make', ['-s', '-C', path.join(repo, 'kmod', 'posix'), 'static'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  try {
    return await labUp({ name, nics: ['virtio', 'virtio', 'e1000', 'e1000'] });
  } catch (err) {
    process.stderr.write(`lab up failed: ${(err as Error).message}\n`);
    return undefined;
  }
}

/**
 * The FreeBSD guest tests' inputs: $LAGGKIT_FREEBSD_IMAGE (a disk image in the form of the
 * BASIC-CI one) and a FreeBSD source tree, $LAGGKIT_FREEBSD_SYSROOT (its built kernel folder
 * $LAGGKIT_FREEBSD_KERNBUILD when present). Neither can be downloaded here; `missing` is the
 * reason to report the tests skipped, empty when both are there.
 */
export function freebsdInputs(): { image: string; sysroot: string; kernbuild: string; missing: string } {
  const cache = path.join(os.homedir(), '.cache', 'laggkit', 'freebsd');
  const image = process.env.LAGGKIT_FREEBSD_IMAGE ?? '';
  const sysroot = process.env.LAGGKIT_FREEBSD_SYSROOT ?? path.join(cache, 'src');
  const kernbuild = process.env.LAGGKIT_FREEBSD_KERNBUILD ?? path.join(cache, 'kernbuild');
  const missing = !image
    ? 'no FreeBSD image (set LAGGKIT_FREEBSD_IMAGE to one in the form of the BASIC-CI image)'
    : !fs.existsSync(image)
      ? `no FreeBSD image at ${image} (LAGGKIT_FREEBSD_IMAGE)`
      : !fs.existsSync(path.join(sysroot, 'sys', 'conf'))
        ? `no FreeBSD source tree at ${sysroot} (set LAGGKIT_FREEBSD_SYSROOT)`
        : '';
  return { image, sysroot, kernbuild, missing };
}

/**
 * The NetBSD inputs the lab's NetBSD tests need, from the environment: a bootable NetBSD 10 disk
 * image with the comp set (cc) and a netbsd-10 source tree with sys/ to build laggkit.kmod here
 * (kmod/netbsd/cross-build.sh). `missing` says what is absent, for the skip message.
 */
export function netbsdInputs(): { image: string; sysroot: string; missing: string } {
  const image = process.env.LAGGKIT_NETBSD_IMAGE ?? '';
  const sysroot = process.env.LAGGKIT_NETBSD_SYSROOT ?? path.join(os.homedir(), '.cache', 'laggkit', 'netbsd', 'src');
  const missing = !image
    ? 'no NetBSD image (set LAGGKIT_NETBSD_IMAGE to a NetBSD 10 amd64 disk image with the comp set installed)'
    : !fs.existsSync(image)
      ? `no NetBSD image at ${image} (LAGGKIT_NETBSD_IMAGE)`
      : !fs.existsSync(path.join(sysroot, 'sys', 'net', 'lagg', 'if_lagg.h'))
        ? `no netbsd-10 source tree at ${sysroot} (set LAGGKIT_NETBSD_SYSROOT)`
        : '';
  return { image, sysroot, missing };
}
