/** Human output of conf edits, shared by `conf set` and `conf unset`. */
import type { ConfEditResult } from './edit.js';

export function renderEdit(r: ConfEditResult, log: (line: string) => void): void {
  if (!r.changed) {
    log(`unchanged: ${r.kind} ${r.key} is already ${r.value === null ? 'unset' : JSON.stringify(r.value)} (${r.where})`);
    return;
  }
  if (r.dryRun) {
    for (const f of r.files) log(f.diff.replace(/\n$/, ''));
    log(`dry run: nothing written; ${r.kind} ${r.key} would become ${r.value === null ? 'unset' : JSON.stringify(r.value)}`);
    return;
  }
  for (const f of r.files) log(`wrote ${f.path}${f.backupPath ? ` (backup: ${f.backupPath})` : ' (new file)'}`);
  log(`${r.kind} ${r.key} is now ${r.value === null ? 'unset' : JSON.stringify(r.value)}`);
}
