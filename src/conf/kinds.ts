/**
 * The config file kinds laggkit edits and where each lives:
 *
 *   loader         /boot/loader.conf, /boot/loader.conf.d/*.conf, /boot/loader.conf.local
 *                  (read in that order, as FreeBSD's loader does; the last assignment wins)
 *   rc             /etc/rc.conf, /etc/rc.conf.local (sysrc semantics: last assignment wins)
 *   ifconfig.IF    NetBSD /etc/ifconfig.IF, one ifconfig argument list per line
 *   modules        NetBSD /etc/modules.conf, one module (and its arguments) per line
 *
 * Each kind also validates its keys and values, so a hostile value is refused before any file
 * is read or any connection is made.
 */
import { UsageError } from '../cli/errors.js';
import { showValue, validateConfKey, validateConfValue, validateIfName, validateModuleName } from '../validate/index.js';
import type { ConfFiles } from './files.js';

export type ConfFormat = 'shvars' | 'words';

export interface ConfKind {
  /** As given on the command line: loader, rc, ifconfig.laggkit0, modules. */
  name: string;
  format: ConfFormat;
  /** The file new assignments go to when the key is nowhere yet. */
  mainFile: string;
  /** Every file that contributes, in reading order (later wins). */
  files(fs: ConfFiles): Promise<string[]>;
  validateKey(key: string): string;
  validateValue(value: string): string;
  /** An element of a list value (for --add / --remove). */
  validateElement(element: string): string;
  /** Files `--file` may name for this kind (shvars kinds only). */
  isTargetFile(path: string): boolean;
}

const WORD = /^[A-Za-z0-9_.:/,+=%@-]+$/;

/** Values that end up as ifconfig/modload arguments: plain words separated by single spaces. */
function validateWords(value: string, what: string): string {
  validateConfValue(value, what);
  const words = value.trim().split(/\s+/).filter(Boolean);
  for (const w of words) {
    if (!WORD.test(w)) {
      throw new UsageError(
        'E_BAD_VALUE',
        `The ${what} ${showValue(value)} contains ${showValue(w)}, which is not a plain word`,
        'Use letters, digits and . : / , + = % @ - only; no shell characters.',
      );
    }
  }
  return words.join(' ');
}

function validateElement(element: string): string {
  if (!WORD.test(element)) {
    throw new UsageError(
      'E_BAD_VALUE',
      `The list element ${showValue(element)} is not a single plain word`,
      'List elements are names like laggkit0 or if_laggkit, without spaces or shell characters.',
    );
  }
  return element;
}

function shKind(
  name: string,
  mainFile: string,
  extra: (fs: ConfFiles) => Promise<string[]>,
  allowDots: boolean,
  isTargetFile: (p: string) => boolean,
): ConfKind {
  return {
    name,
    format: 'shvars',
    mainFile,
    files: extra,
    isTargetFile,
    validateKey: (k) => validateConfKey(k, allowDots),
    validateValue: (v) => validateConfValue(v),
    validateElement,
  };
}

export const LOADER_CONF = '/boot/loader.conf';
export const LOADER_CONF_DIR = '/boot/loader.conf.d';
export const LOADER_CONF_LOCAL = '/boot/loader.conf.local';
export const RC_CONF = '/etc/rc.conf';
export const RC_CONF_LOCAL = '/etc/rc.conf.local';
export const MODULES_CONF = '/etc/modules.conf';
/** laggd's configuration (Linux): one laggctl line per aggregate, keyed by the aggregate's name. */
export const LAGGD_CONF = '/etc/laggd.conf';

/** Resolve a FILE-KIND argument. */
export function confKind(spec: string): ConfKind {
  if (spec === 'loader') {
    return shKind(
      'loader',
      LOADER_CONF,
      async (fs) => [
        LOADER_CONF,
        ...(await fs.list(LOADER_CONF_DIR)).filter((n) => n.endsWith('.conf')).map((n) => `${LOADER_CONF_DIR}/${n}`),
        LOADER_CONF_LOCAL,
      ],
      true,
      (p) => p === LOADER_CONF || p === LOADER_CONF_LOCAL || new RegExp(`^${LOADER_CONF_DIR}/[A-Za-z0-9_][A-Za-z0-9_.-]*\\.conf$`).test(p),
    );
  }
  if (spec === 'rc')
    return shKind(
      'rc',
      RC_CONF,
      async () => [RC_CONF, RC_CONF_LOCAL],
      false,
      (p) => p === RC_CONF || p === RC_CONF_LOCAL,
    );
  if (spec === 'modules') {
    return {
      name: 'modules',
      format: 'words',
      mainFile: MODULES_CONF,
      files: async () => [MODULES_CONF],
      validateKey: validateModuleName,
      validateValue: (v) => validateWords(v, 'module arguments'),
      validateElement: (v) => validateWords(v, 'module arguments'),
      isTargetFile: (p) => p === MODULES_CONF,
    };
  }
  if (spec === 'laggd') {
    return {
      name: 'laggd',
      format: 'words',
      mainFile: LAGGD_CONF,
      files: async () => [LAGGD_CONF],
      validateKey: (k) => validateIfName(k, 'aggregate name'),
      validateValue: (v) => validateWords(v, 'laggctl words'),
      validateElement: (v) => validateWords(v, 'laggctl words'),
      isTargetFile: (p) => p === LAGGD_CONF,
    };
  }
  const m = /^ifconfig\.(.*)$/.exec(spec);
  if (m) {
    const ifname = validateIfName(m[1] ?? '', 'interface name in the file kind');
    const file = `/etc/ifconfig.${ifname}`;
    return {
      name: spec,
      format: 'words',
      mainFile: file,
      files: async () => [file],
      validateKey: (k) => {
        // `!cmd` lines run shell code at boot: laggkit never writes them.
        if (!/^-?[A-Za-z][A-Za-z0-9_-]*$/.test(k)) {
          throw new UsageError(
            'E_BAD_KEY',
            `${showValue(k)} is not an ifconfig keyword`,
            'Give an ifconfig word such as up, laggproto, laggport, inet or mtu.',
          );
        }
        return k;
      },
      validateValue: (v) => validateWords(v, 'ifconfig arguments'),
      validateElement: (v) => validateWords(v, 'ifconfig arguments'),
      isTargetFile: (p) => p === file,
    };
  }
  throw new UsageError('E_BAD_KIND', `Unknown config file kind ${showValue(spec)}`, 'Use loader, rc, modules, laggd or ifconfig.IF (e.g. ifconfig.laggkit0).');
}
