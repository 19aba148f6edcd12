/**
 * deploy connects again, once, when its connection drops before the probe finished (nothing
 * on the host has changed yet), and gives up with a lost connection (exit 4) when the second
 * one drops too. The drops are real: the hosts are network namespaces running OpenSSH's sshd,
 * whose sessions find a `uname` of this test first on their PATH (sshd's SetEnv). That uname
 * kills the sshd process serving its own session, as a host dropping a fresh connection does,
 * the first time it runs ("once") or every time ("always"), and writes a line for each drop.
 */
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { missingPrerequisites, testNeeding } from '../support/require.js';
import { checkExit, cli } from './support/cli.js';
import { startNetnsHosts, type NetnsHosts } from './support/netns-hosts.js';

const needs = { root: true, tools: ['ip', 'unshare', 'nsenter', '/usr/sbin/sshd', 'ssh-keygen'] };
const LINKS = ['drc0', 'drc1'];

// Outside the namespaces' private /tmp, so the sessions and this test see the same files.
const fake = fs.mkdtempSync(path.join(os.homedir(), '.cache', 'laggkit-test-drop-'));
const MODE = path.join(fake, 'mode');
const DROPS = path.join(fake, 'drops');
const realUname = ['/usr/bin/uname', '/bin/uname'].find((p) => fs.existsSync(p)) ?? '/bin/uname';
fs.writeFileSync(
  path.join(fake, 'uname'),
  `#!/bin/sh
mode=$(cat ${MODE})
if [ "$mode" = always ] || { [ "$mode" = once ] && [ ! -s ${DROPS} ]; }; then
  echo drop >> ${DROPS}
  # the nearest sshd above this process serves this session: killing it drops the connection
  p=$$
  while [ "$p" -gt 1 ]; do
    p=$(awk '{print $4}' /proc/$p/stat)
    if [ "$(cat /proc/$p/comm)" = sshd ]; then kill -9 "$p"; sleep 5; exit 1; fi
  done
fi
exec ${realUname} "$@"
`,
  { mode: 0o755 },
);

let lab: NetnsHosts | undefined;
test.before(async () => {
  if (missingPrerequisites(needs).length > 0) return; // each test says what is missing
  try {
    lab = await startNetnsHosts(`r${process.pid % 10000}`, LINKS, {
      sshdConfig: [`SetEnv PATH=${fake}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`],
    });
  } catch (err) {
    process.stderr.write(`the sshd hosts did not start: ${(err as Error).message}\n`);
  }
});
test.after.always(async () => {
  await lab?.stop();
  fs.rmSync(fake, { recursive: true, force: true });
});

/** A dry-run deploy to host a, with the fake uname in `mode`; returns the run and the drops. */
async function deployWithDrops(mode: 'once' | 'always') {
  if (!lab) throw new Error('the sshd hosts did not start (see the log above)');
  fs.writeFileSync(MODE, mode);
  fs.writeFileSync(DROPS, '');
  const args = ['deploy', '--ssh-config', lab.sshConfig, '-i', lab.clientKey, '--host', 'a', '--laggproto', 'failover'];
  const r = await cli([...args, ...LINKS.flatMap((l) => ['--laggport', l]), '--dry-run', '--json']);
  const drops = fs.readFileSync(DROPS, 'utf8').split('\n').filter(Boolean).length;
  return { r, drops };
}

testNeeding(test.serial, 'a connection dropped during the probe: deploy connects again, once, and goes on', needs, async (t) => {
  const { r, drops } = await deployWithDrops('once');
  checkExit(t, r, 0, 'deploy --dry-run after one drop');
  t.is(drops, 1, 'the first session was dropped');
  t.true(r.json?.ok, r.stdout);
  t.regex(r.stderr, /"event":"reconnect","detail":"[^"]*before anything changed: connecting again"/);
  // the result is the second attempt's alone: one probe, then the plan it made
  t.deepEqual(
    r.json?.result?.steps?.map((s: { step: string }) => s.step),
    ['probe', 'plan'],
  );
  t.is(r.json?.result?.plan?.aggregates?.[0]?.name, 'laggkit0');
  t.is((r.stderr.match(/"step":"probe"/g) ?? []).length, 1, 'the dropped attempt never finished its probe');
});

testNeeding(test.serial, 'dropped again on the second connection: deploy stops with a lost connection (exit 4)', needs, async (t) => {
  const { r, drops } = await deployWithDrops('always');
  checkExit(t, r, 4, 'deploy --dry-run with every session dropped');
  t.is(drops, 2, 'one retry, not more');
  t.is(r.json?.error?.code, 'E_SSH_LOST', r.stdout);
  t.is((r.stderr.match(/"event":"reconnect"/g) ?? []).length, 1);
});
