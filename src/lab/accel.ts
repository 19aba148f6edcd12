/**
 * Which accelerator QEMU should use, decided by a real probe and cached.
 *
 * /dev/kvm existing proves little: on nested hosts it can be an emulating KVM that rejects MSR
 * writes or hangs on a stock kernel. So on Linux the probe boots the lab's own guest kernel
 * under KVM with `laggkit.probe=1` (its init prints a marker and powers off at once) and
 * accepts KVM only if the marker appears within the time limit. On macOS HVF is taken when the
 * hypervisor framework is present. Otherwise TCG: slower, but it always works.
 *
 * The verdict is cached in <cache>/accel.json, keyed by QEMU version, host kernel and guest
 * kernel, so the probe's cost (up to PROBE_TIMEOUT_MS when KVM hangs) is paid once.
 * LAGGKIT_ACCEL=kvm|hvf|tcg overrides everything.
 */
import { execFileSync } from 'node:child_process';
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../cli/errors.js';
import { cacheRoot } from './paths.js';
import { cpuFor, firmwareAvailable, qemuBinary, type Accel } from './qemu.js';

export const PROBE_TIMEOUT_MS = 12_000;

export interface AccelVerdict {
  accel: Accel;
  /** Why: "forced by LAGGKIT_ACCEL", "KVM probe booted the guest kernel in 812 ms", ... */
  reason: string;
  cached: boolean;
}

interface CacheFile {
  key: string;
  accel: Accel;
  reason: string;
  probedAt: string;
}

function qemuVersion(): string {
  try {
    return execFileSync(qemuBinary(), ['--version'], { encoding: 'utf8' }).split('\n')[0] ?? '';
  } catch {
    return 'unknown';
  }
}

/** Boot the guest kernel under `accel` and wait for the init's probe marker. */
export async function probeBoot(
  accel: Accel,
  kernel: string,
  initrd: string,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<{ ok: boolean; ms: number; detail: string }> {
  const args = [
    '-nodefaults',
    '-no-user-config',
    '-machine',
    'pc',
    '-accel',
    accel,
    '-cpu',
    cpuFor(accel),
    '-m',
    '256',
    '-display',
    'none',
    '-no-reboot',
    ...(firmwareAvailable('qboot.rom') ? ['-bios', 'qboot.rom'] : []),
    '-kernel',
    kernel,
    '-initrd',
    initrd,
    '-append',
    'console=ttyS0 quiet panic=-1 laggkit.probe=1',
    '-serial',
    'stdio',
  ];
  const start = Date.now();
  const r = await execa(qemuBinary(), args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, reject: false });
  const ms = Date.now() - start;
  if (r.stdout.includes('LAGGKIT-PROBE-OK')) return { ok: true, ms, detail: `booted the guest kernel in ${ms} ms` };
  const why = r.timedOut ? `no boot within ${timeoutMs} ms` : (r.stderr.trim().split('\n').pop() ?? 'QEMU failed');
  return { ok: false, ms, detail: why };
}

function kvmUsable(): boolean {
  try {
    fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function hvfAvailable(): boolean {
  try {
    return execFileSync('sysctl', ['-n', 'kern.hv_support'], { encoding: 'utf8' }).trim() === '1';
  } catch {
    return false;
  }
}

export const ACCEL_OPTIONS = ['auto', 'kvm', 'hvf', 'tcg'] as const;

export function parseAccel(s: string): Accel | 'auto' {
  if ((ACCEL_OPTIONS as readonly string[]).includes(s)) return s as Accel | 'auto';
  throw new UsageError('E_LAB_ACCEL', `unknown accelerator '${s}'`, `Use ${ACCEL_OPTIONS.join(', ')}.`);
}

/** Decide the accelerator for guests booting `kernel`/`initrd` (the probe needs a bootable kernel). */
export async function decideAccel(
  probeImage: { kernel: string; initrd: string; hash: string } | undefined,
  requested: Accel | 'auto' = 'auto',
): Promise<AccelVerdict> {
  const forced = process.env.LAGGKIT_ACCEL || (requested !== 'auto' ? requested : undefined);
  if (forced)
    return { accel: parseAccel(forced) as Accel, reason: process.env.LAGGKIT_ACCEL ? 'forced by LAGGKIT_ACCEL' : 'requested with --accel', cached: false };
  if (process.platform === 'darwin') {
    // HVF runs guests of the host's own architecture only: x86 guests on Intel Macs.
    if (process.arch === 'x64' && hvfAvailable()) return { accel: 'hvf', reason: 'macOS Hypervisor.framework available', cached: false };
    return { accel: 'tcg', reason: process.arch === 'x64' ? 'no Hypervisor.framework' : `x86 guests on an ${process.arch} Mac are emulated`, cached: false };
  }
  if (!kvmUsable()) return { accel: 'tcg', reason: '/dev/kvm absent or not accessible', cached: false };
  if (!probeImage) return { accel: 'kvm', reason: '/dev/kvm accessible (not probed: no Linux guest image)', cached: false };

  const key = [qemuVersion(), os.release(), probeImage.hash].join(' | ');
  const file = path.join(cacheRoot(), 'accel.json');
  try {
    const c = JSON.parse(fs.readFileSync(file, 'utf8')) as CacheFile;
    if (c.key === key) return { accel: c.accel, reason: `${c.reason} (cached verdict from ${c.probedAt})`, cached: true };
  } catch {
    /* no cache yet */
  }
  const probe = await probeBoot('kvm', probeImage.kernel, probeImage.initrd);
  const verdict: CacheFile = probe.ok
    ? { key, accel: 'kvm', reason: `KVM probe ${probe.detail}`, probedAt: new Date().toISOString() }
    : { key, accel: 'tcg', reason: `KVM probe failed (${probe.detail}); using TCG`, probedAt: new Date().toISOString() };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Written whole then renamed: labs started in parallel may probe and record at once.
  fs.writeFileSync(`${file}.${process.pid}`, JSON.stringify(verdict, null, 2) + '\n');
  fs.renameSync(`${file}.${process.pid}`, file);
  return { accel: verdict.accel, reason: verdict.reason, cached: false };
}
