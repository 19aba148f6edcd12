/**
 * Validators for every value that may end up on a remote command line or in a config file:
 * interface names, kernel module names, absolute paths, numbers, host strings and config
 * values. Each refuses a hostile or malformed value with a UsageError that names it, before any
 * connection is made or any file is touched. Quoting (src/ssh/quote.ts) is the second line of
 * defence, not the only one.
 */
import { UsageError } from '../cli/errors.js';

/** IFNAMSIZ is 16 on FreeBSD, NetBSD and Linux; one byte is the terminating NUL. */
export const IFNAME_MAX = 15;
/** MAXMODNAME on NetBSD is 32; FreeBSD module file names are well below MAXPATHLEN. */
export const MODNAME_MAX = 32;

/** Shows a value in an error message with control characters made visible. */
export function showValue(value: string): string {
  return JSON.stringify(value);
}

/**
 * Interface names: a letter, then letters, digits, '_' or '.', e.g. em0, vtnet1, laggkit0,
 * vlan0.100 (Linux-style VLAN names). No shell metacharacters, no whitespace.
 */
export function validateIfName(name: string, what = 'interface name'): string {
  if (name.length === 0) throw new UsageError('E_BAD_IFNAME', `Empty ${what} ""`, 'Give an interface name such as em0 or laggkit0.');
  if (name.length > IFNAME_MAX) {
    throw new UsageError(
      'E_BAD_IFNAME',
      `The ${what} ${showValue(name)} is ${name.length} characters long; the limit is ${IFNAME_MAX} (IFNAMSIZ-1)`,
      'Use a shorter interface name.',
    );
  }
  if (!/^[A-Za-z][A-Za-z0-9_.]*$/.test(name)) {
    throw new UsageError(
      'E_BAD_IFNAME',
      `The ${what} ${showValue(name)} contains characters an interface name cannot have`,
      'Interface names start with a letter and contain only letters, digits, "_" and "."',
    );
  }
  return name;
}

/**
 * Kernel module names as given to kldload, modload or loader.conf: letters, digits, '_', '-',
 * optionally ending in .ko (FreeBSD) or .kmod (NetBSD).
 */
export function validateModuleName(name: string): string {
  const base = name.replace(/\.(ko|kmod)$/, '');
  if (base.length === 0 || base.length > MODNAME_MAX || !/^[A-Za-z_][A-Za-z0-9_-]*$/.test(base)) {
    throw new UsageError(
      'E_BAD_MODULE',
      `${showValue(name)} is not a valid kernel module name`,
      `Module names contain only letters, digits, "_" and "-" (at most ${MODNAME_MAX}), optionally ending in .ko or .kmod.`,
    );
  }
  return name;
}

/** Absolute paths without '..' components, control characters or empty names. */
export function validateAbsPath(path: string, what = 'path'): string {
  if (!path.startsWith('/')) {
    throw new UsageError('E_BAD_PATH', `The ${what} ${showValue(path)} is not absolute`, 'Give a path starting with "/".');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(path)) {
    throw new UsageError(
      'E_BAD_PATH',
      `The ${what} ${showValue(path)} contains control characters`,
      'Remove newlines, tabs and other control characters from the path.',
    );
  }
  if (path.split('/').some((c) => c === '..')) {
    throw new UsageError('E_BAD_PATH', `The ${what} ${showValue(path)} contains a ".." component`, 'Give the path without "..".');
  }
  return path;
}

/** An integer within [min, max]; accepts a number or its decimal text. */
export function validateInt(value: string | number, min: number, max: number, what = 'value'): number {
  const text = String(value).trim();
  const n = typeof value === 'number' ? value : /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(
      'E_BAD_NUMBER',
      `The ${what} ${showValue(String(value))} is not an integer between ${min} and ${max}`,
      `Give a whole number from ${min} to ${max}.`,
    );
  }
  return n;
}

/** A TCP port. */
export function validatePort(value: string | number): number {
  return validateInt(value, 1, 65535, 'port');
}

/**
 * A host name or address as typed by the user (before ssh_config resolution): host names,
 * IPv4, bracketed or bare IPv6. Never an option for ssh (leading '-').
 */
export function validateHostName(host: string): string {
  if (host.length === 0 || host.length > 253 || host.startsWith('-') || !/^[A-Za-z0-9_.:%-]+$/.test(host)) {
    throw new UsageError('E_BAD_HOST', `${showValue(host)} is not a valid host name or address`, 'Give a host as HOST, USER@HOST or USER@HOST:PORT.');
  }
  return host;
}

/** A user name for ssh: POSIX portable user names. */
export function validateUserName(user: string): string {
  if (user.length === 0 || user.length > 64 || !/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/.test(user)) {
    throw new UsageError('E_BAD_USER', `${showValue(user)} is not a valid user name`, 'User names contain letters, digits, "_", "." and "-".');
  }
  return user;
}

/**
 * A value for a config file (rc.conf, loader.conf, ifconfig.IF, modules.conf): one line of
 * printable text. Newlines, NUL and other control characters (tab excepted) are refused because
 * they could add lines or cut the file; quoting is handled by the editors.
 */
export function validateConfValue(value: string, what = 'value'): string {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) {
    throw new UsageError(
      'E_BAD_VALUE',
      `The ${what} ${showValue(value)} contains a newline or control character`,
      'Config values must be a single line of printable text.',
    );
  }
  return value;
}

/** A shell-variable style key for rc.conf and loader.conf (loader keys may contain '.'). */
export function validateConfKey(key: string, allowDots: boolean): string {
  const re = allowDots ? /^[A-Za-z_][A-Za-z0-9_.-]*$/ : /^[A-Za-z_][A-Za-z0-9_]*$/;
  if (!re.test(key) || key.length > 128) {
    throw new UsageError(
      'E_BAD_KEY',
      `${showValue(key)} is not a valid ${allowDots ? 'loader.conf' : 'rc.conf'} variable name`,
      allowDots ? 'Names contain letters, digits, "_", "." and "-", e.g. if_laggkit_load.' : 'Names contain letters, digits and "_", e.g. cloned_interfaces.',
    );
  }
  return key;
}

/** `aggregates[0].laggports[1]` from a validator's path (zod's issue.path), for error messages. */
export function fieldPath(p: (string | number)[]): string {
  return p.map((x, i) => (typeof x === 'number' ? `[${x}]` : i === 0 ? x : `.${x}`)).join('') || '(top level)';
}
