/**
 * Where the lab keeps things. Two roots, both overridable so tests and CI can isolate runs:
 *
 *   cache  $LAGGKIT_CACHE_DIR or ~/.cache/laggkit     built guest images, the accelerator verdict
 *   labs   $LAGGKIT_LAB_DIR   or <cache>/lab          one folder per running lab: state.json,
 *                                                     QMP and console sockets, logs, SSH keys
 *
 * Also the location of the repository's own data (vm/) when running from dist/ or src/.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../cli/errors.js';

export function cacheRoot(): string {
  return process.env.LAGGKIT_CACHE_DIR || path.join(os.homedir(), '.cache', 'laggkit');
}

export function labsRoot(): string {
  return process.env.LAGGKIT_LAB_DIR || path.join(cacheRoot(), 'lab');
}

/** The lab's folder; the name is validated because it becomes part of paths and QEMU options. */
export function labDir(name: string): string {
  validateLabName(name);
  return path.join(labsRoot(), name);
}

export function validateLabName(name: string): void {
  if (!/^[a-z][a-z0-9-]{0,15}$/.test(name)) {
    throw new UsageError('E_LAB_NAME', `invalid lab name '${name}'`, 'Use 1-16 characters: lower-case letters, digits and "-", starting with a letter.');
  }
}

/** The repository root (the folder holding vm/ and kmod/), from src/lab or dist/lab alike. */
export function repoRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
}

export function vmDataDir(): string {
  return path.join(repoRoot(), 'vm');
}

/** Unix socket paths are limited to 107 bytes; say so clearly instead of a QEMU error. */
export function checkSocketPath(p: string): string {
  if (Buffer.byteLength(p) > 107) {
    throw new UsageError(
      'E_LAB_PATH',
      `socket path too long for a unix socket (${Buffer.byteLength(p)} > 107 bytes): ${p}`,
      'Set LAGGKIT_LAB_DIR to a shorter folder.',
    );
  }
  return p;
}
