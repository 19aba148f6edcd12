/**
 * `laggkit exec` through the built CLI against the suite's real sshd: hostile argv arrives
 * intact, host keys are enforced with exit code 4, a failing remote command exits 5, and a
 * timed-out command is killed.
 */
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { missingPrerequisites, testNeeding } from '../support/require.js';
import { SSHD_TOOLS, startSshd, type Sshd } from './support/sshd.js';

const NEEDS = { tools: SSHD_TOOLS };
const BIN = join(process.cwd(), 'bin', 'run.js');
const built = existsSync(join(process.cwd(), 'dist', 'commands', 'exec.js'));
let sshd: Sshd | undefined;

test.before(async () => {
  if (missingPrerequisites(NEEDS).length === 0) sshd = await startSshd('sshcli');
});
test.after.always(async () => {
  await sshd?.stop();
});

function laggkit(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, SSH_AUTH_SOCK: '', NO_COLOR: '1' }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

testNeeding(test, 'laggkit exec: trust, hostile argv, exit codes, timeout', NEEDS, (t) => {
  t.true(built, 'run npm run build first');
  const s = sshd as Sshd;
  const kh = join(s.dir, 'kh_exec');
  const config = s.writeSshConfig('execbox', kh);
  const base = ['exec', '--host', 'execbox', '--ssh-config', config];
  const unknown = laggkit([...base, '--json', '--', 'true']);
  t.is(unknown.code, 4);
  t.is(JSON.parse(unknown.stdout).error.code, 'E_SSH_UNKNOWN_HOST');
  const hostile = ['a b', "it's", '$(id)', ';reboot', 'x\ny', '✓'];
  const first = laggkit([...base, '--trust-new-host-key', '--', 'printf', '%s|', ...hostile]);
  t.is(first.code, 0, first.stderr);
  t.is(first.stdout, hostile.map((h) => `${h}|`).join(''));
  t.true(readFileSync(kh, 'utf8').includes(`[127.0.0.1]:${s.port}`));
  const json = laggkit([...base, '--json', '--', 'sh', '-c', 'echo out; echo err >&2']);
  t.deepEqual(JSON.parse(json.stdout), { ok: true, result: { host: 'execbox', argv: ['sh', '-c', 'echo out; echo err >&2'], command: "sh -c 'echo out; echo err >&2'", code: 0, stdout: 'out\n', stderr: 'err\n' } });
  const failing = laggkit([...base, '--json', '--', 'sh', '-c', 'echo nope >&2; exit 7']);
  t.is(failing.code, 5);
  t.regex(JSON.parse(failing.stdout).error.message, /status 7: nope/);
  const slow = laggkit([...base, '--timeout', '1', '--json', '--', 'sleep', '30']);
  t.is(slow.code, 5);
  t.is(JSON.parse(slow.stdout).error.code, 'E_REMOTE_TIMEOUT');
  const badTimeout = laggkit([...base, '--timeout', '0', '--', 'true']);
  t.is(badTimeout.code, 2);
  // A changed key (known_hosts holds another ed25519 key for this host) is refused even with
  // the trust flag, and known_hosts is left as it was.
  const other = join(s.dir, 'other_host_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other], { stdio: 'ignore' });
  const line = `[127.0.0.1]:${s.port} ${readFileSync(`${other}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`;
  writeFileSync(kh, line);
  const changed = laggkit([...base, '--trust-new-host-key', '--json', '--', 'true']);
  t.is(changed.code, 4);
  t.is(JSON.parse(changed.stdout).error.code, 'E_SSH_HOST_KEY_CHANGED');
  t.is(readFileSync(kh, 'utf8'), line);
});
