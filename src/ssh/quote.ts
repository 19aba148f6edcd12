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

/**
 * The rule `laggkit lab ssh` follows for what comes after the guest name, chosen so both habits
 * users bring from ssh work: ONE word is a shell command line, run as written (`-- 'dmesg | tail'`
 * pipes, as `ssh host 'dmesg | tail'` does); SEVERAL words are an argv, each quoted (`-- touch
 * 'a b'` makes one file, where ssh would make two).
 */
export function commandLineOf(words: readonly string[]): string {
  return words.length === 1 ? (words[0] as string) : quoteArgv(words);
}
