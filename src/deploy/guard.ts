/**
 * The on-host rollback guard. Before any step that can cut the management path, deploy writes
 * two shell programs into <stateDir>/guard on the host and starts the first one detached from
 * the SSH session (its own session via setsid, or daemon(8) on the BSDs):
 *
 *   guard.sh     sleeps TIMEOUT seconds, then -- unless a confirmation renamed `armed` to
 *                `confirmed` meanwhile -- renames `armed` to `fired` and runs restore.sh,
 *                appending what it did to `log`. `guard.sh now REASON` fires at once.
 *   restore.sh   the adapter's commands that put the host back: destroy what was created,
 *                return ports and addresses, restore saved config files, unload the module if
 *                it was not loaded before.
 *
 * Both the guard and a confirmation race for the one rename of `armed`, which is atomic, so
 * exactly one of them wins. A confirmation is run over a *new* SSH connection: if deploy can
 * open one, the management path survived.
 */
import { shQuote } from '../ssh/index.js';
import type { RemoteHost } from '../targets/host.js';

export const guardDir = (stateDir: string) => `${stateDir}/guard`;

export function guardScript(stateDir: string, timeoutSec: number, hostLabel: string, token: string): string {
  const d = shQuote(guardDir(stateDir));
  return `#!/bin/sh
# laggkit rollback guard for ${hostLabel.replace(/[^A-Za-z0-9@._:-]/g, '?')}, armed by laggkit deploy.
# Unless a confirmation renames armed to confirmed within ${timeoutSec} s, restore.sh runs and
# its trace is appended to log. Run "sh guard.sh now REASON" to roll back at once.
# It acts only on its own arming (the token in armed): a guard left from an earlier deploy
# can never fire a later one.
trap '' HUP INT PIPE
d=${d}
if [ "$1" = now ]; then
  reason="$2"
else
  echo $$ > "$d/pid"
  sleep ${timeoutSec}
  reason="no confirmation within ${timeoutSec} s (the management path may have been cut)"
fi
[ "$(cat "$d/armed" 2>/dev/null)" = ${token} ] || exit 0
mv "$d/armed" "$d/fired" 2>/dev/null || exit 0
printf '%s\\n' "$reason" > "$d/fired"
# Fired now: the sleeping guard has nothing left to do.
if [ "$1" = now ]; then
  pid=$(cat "$d/pid" 2>/dev/null)
  [ -n "$pid" ] && { kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null; }
fi
# A configuration still running (deploy runs it detached) would undo the rollback behind its
# back, starting what restore.sh has just stopped: its whole process group goes first.
cpid=$(cat "$d/../configure.pid" 2>/dev/null)
if [ -n "$cpid" ]; then
  kill -TERM -- "-$cpid" 2>/dev/null || kill -TERM "$cpid" 2>/dev/null
  n=0; while kill -0 "$cpid" 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
fi
{
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) rolling back: $reason"
  sh -x "$d/restore.sh"
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) rolled back (restore exit $?)"
} >> "$d/log" 2>&1
echo done > "$d/restored"
`;
}

/** Start a program detached from the SSH session, so a cut connection cannot stop it. */
export function detached(argv: string): string {
  return `if command -v setsid >/dev/null 2>&1; then setsid ${argv} </dev/null >/dev/null 2>&1 &
elif command -v daemon >/dev/null 2>&1; then daemon -f ${argv}
else nohup ${argv} </dev/null >/dev/null 2>&1 & fi`;
}

/** Write the guard and its restore program, then start it. Returns when it is running. */
export async function armGuard(host: RemoteHost, stateDir: string, timeoutSec: number, restore: string): Promise<void> {
  const g = guardDir(stateDir);
  const token = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  await host.run(['mkdir', '-p', g], { check: true });
  // A guard still sleeping from an earlier deploy goes first.
  await host.script(
    `pid=$(cat ${shQuote(`${g}/pid`)} 2>/dev/null); [ -n "$pid" ] && { kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null; }; true`,
  );
  await host.run(['rm', '-f', `${g}/armed`, `${g}/confirmed`, `${g}/fired`, `${g}/restored`, `${g}/pid`, `${stateDir}/configure.pid`], { check: true });
  await host.writeFile(`${g}/restore.sh`, `#!/bin/sh\n# laggkit: put ${host.name} back as it was before this deploy.\n${restore}\n`, 0o700);
  await host.writeFile(`${g}/guard.sh`, guardScript(stateDir, timeoutSec, host.name, token), 0o700);
  await host.script(
    `d=${shQuote(g)}; echo ${token} > "$d/armed"; echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) armed: ${timeoutSec} s to confirm" >> "$d/log"\n${detached(`sh ${shQuote(`${g}/guard.sh`)}`)}\nn=0; until [ -s "$d/pid" ]; do n=$((n + 1)); [ $n -gt 100 ] && { echo "the guard did not start" >&2; exit 1; }; sleep 0.1; done`,
    { check: true },
  );
}

export type ConfirmResult = { confirmed: true } | { confirmed: false; reason: string };

/** Disarm: win the rename, then stop the sleeping guard. */
export async function confirmGuard(host: RemoteHost, stateDir: string): Promise<ConfirmResult> {
  const d = shQuote(guardDir(stateDir));
  const r = await host.script(
    `d=${d}; if mv "$d/armed" "$d/confirmed" 2>/dev/null; then echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) confirmed" >> "$d/log"; pid=$(cat "$d/pid" 2>/dev/null); [ -n "$pid" ] && { kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null; }; echo LAGGKIT-CONFIRMED; else cat "$d/fired" 2>/dev/null || echo "the guard is not armed"; fi`,
  );
  if (r.stdout.includes('LAGGKIT-CONFIRMED')) return { confirmed: true };
  return { confirmed: false, reason: r.stdout.trim() || r.stderr.trim() };
}

/** Roll back now (a failed verify, an interrupted deploy); waits for restore.sh to finish. */
export async function fireGuard(host: RemoteHost, stateDir: string, reason: string, waitMs = 120_000): Promise<void> {
  const g = guardDir(stateDir);
  await host.script(`${detached(`sh ${shQuote(`${g}/guard.sh`)} now ${shQuote(reason)}`)}`, { check: true, timeoutMs: 15_000 });
  await waitRestored(host, stateDir, waitMs);
}

export async function waitRestored(host: RemoteHost, stateDir: string, waitMs: number): Promise<boolean> {
  const d = shQuote(guardDir(stateDir));
  const r = await host.script(
    `n=0; until [ -e ${d}/restored ] || [ -e ${d}/confirmed ]; do n=$((n + 1)); [ $n -gt ${Math.ceil(waitMs / 200)} ] && exit 1; sleep 0.2; done`,
    { timeoutMs: waitMs + 10_000 },
  );
  return r.code === 0;
}

/** The guard's state and the tail of its log, for status and for deploy's report. */
export async function guardReport(
  host: RemoteHost,
  stateDir: string,
): Promise<{ state: 'armed' | 'confirmed' | 'fired' | 'none'; reason?: string; log: string[] }> {
  const d = shQuote(guardDir(stateDir));
  const r = await host.script(
    `d=${d}; for s in armed fired confirmed; do [ -e "$d/$s" ] && { echo "state $s"; break; }; done; [ -e "$d/fired" ] && sed 's/^/reason /' "$d/fired"; [ -e "$d/log" ] && tail -n 40 "$d/log" | sed 's/^/log /'; true`,
  );
  const lines = r.stdout.split('\n');
  const state = (lines.find((l) => l.startsWith('state '))?.slice(6) ?? 'none') as 'armed' | 'confirmed' | 'fired' | 'none';
  const reason = lines.find((l) => l.startsWith('reason '))?.slice(7);
  return { state, ...(reason ? { reason } : {}), log: lines.filter((l) => l.startsWith('log ')).map((l) => l.slice(4)) };
}
