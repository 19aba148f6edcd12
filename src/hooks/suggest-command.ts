/**
 * "Did you mean" for a mistyped command when nobody can answer a prompt. @oclif/plugin-not-found
 * asks "Did you mean parse? (Y/n)" on a terminal; from a script or a pipe it only says the
 * command does not exist, so this hook names the closest command there.
 */
import type { Hook } from '@oclif/core';

/** Edit distance (insertions, deletions, substitutions), enough to rank a dozen command ids. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length] as number;
}

const hook: Hook<'command_not_found'> = async (opts) => {
  if (process.stdin.isTTY) return;
  const ids = opts.config.commands.filter((c) => !c.hidden).map((c) => c.id);
  const best = ids.map((id) => ({ id, d: distance(opts.id, id) })).sort((x, y) => x.d - y.d)[0];
  if (best === undefined || best.d > Math.max(2, Math.floor(opts.id.length / 2))) return;
  process.stderr.write(`Did you mean: ${opts.config.bin} ${best.id.replaceAll(':', ' ')}\n`);
};

export default hook;
