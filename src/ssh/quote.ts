/**
 * The one place where remote command lines are built. Every argument becomes a single-quoted sh
 * word (an embedded ' becomes '\''), so no value can reach the remote shell as syntax: `em0;reboot`,
 * `$(id)`, newlines and unicode all arrive as literal bytes in the remote argv.
 *
 * The remote login shell must be a POSIX shell (sh, ksh, bash, zsh), as for root on FreeBSD 14+
 * and NetBSD. csh/tcsh read '!' and newlines inside single quotes differently; give such an
 * account /bin/sh (chsh -s /bin/sh) before managing the host with laggkit.
 */

/** Quote one word for POSIX sh. Safe for any string without NUL (which sh cannot carry). */
export function shQuote(word: string): string {
  if (word.includes('\0')) {
    throw new TypeError('a NUL byte cannot be passed in a shell argument');
  }
  // Plain words stay readable in logs; anything else is single-quoted.
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Build a remote command line from an argv list. The first element is the program. */
export function quoteArgv(argv: readonly string[]): string {
  if (argv.length === 0) throw new TypeError('an empty argv cannot be run');
  return argv.map(shQuote).join(' ');
}
