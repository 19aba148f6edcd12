/**
 * `laggkit exec` through the built CLI against the suite's real sshd: hostile argv arrives
 * intact, host keys are enforced with exit code 4, a failing remote command exits 5, and a
 * timed-out command is killed.
 */
import test from 'ava';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  t.deepEqual(JSON.parse(json.stdout), {
    ok: true,
    result: {
      host: 'execbox',
      argv: ['sh', '-c', 'echo out; echo err >&2'],
      command: "sh -c 'echo out; echo err >&2'",
      code: 0,
      stdout: 'out\n',
      stderr: 'err\n',
    },
  });
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

testNeeding(test, 'laggkit exec passes stdin through and streams output as it arrives', NEEDS, async (t) => {
  t.true(built, 'run npm run build first');
  const s = sshd as Sshd;
  const kh = join(s.dir, 'kh_stream');
  writeFileSync(kh, `${s.knownHostsLine()}\n`);
  const base = ['exec', '--host', 'streambox', '--ssh-config', s.writeSshConfig('streambox', kh)];
  // `printf x | laggkit exec -- cat`, as with ssh.
  const piped = spawnSync(process.execPath, [BIN, ...base, '--', 'cat'], {
    input: 'x\0y\n',
    encoding: 'utf8',
    env: { ...process.env, SSH_AUTH_SOCK: '' },
    timeout: 60_000,
  });
  t.is(piped.status, 0, piped.stderr);
  t.is(piped.stdout, 'x\0y\n');
  // The first line must reach us while the remote command still waits for its stdin.
  const child = spawn(process.execPath, [BIN, ...base, '--', 'sh', '-c', 'echo first; echo to-stderr >&2; read line; echo "second $line"'], {
    env: { ...process.env, SSH_AUTH_SOCK: '' },
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out === 'first\n') child.stdin.end('go\n');
      if (out.includes('second')) resolve();
    });
    // 'close', not 'exit': the process may end before its last stdout chunk has been read.
    child.on('close', (code) => (out.includes('second') ? resolve() : reject(new Error(`exit ${code} before the streamed line: ${out} ${err}`))));
  });
  const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', resolve)));
  t.is(code, 0, err);
  t.is(out, 'first\nsecond go\n');
  t.is(err, 'to-stderr\n');
  // A failing command's stderr is shown once (streamed), and laggkit exits 5.
  const failing = laggkit([...base, '--', 'sh', '-c', 'echo nope >&2; exit 3']);
  t.is(failing.code, 5);
  t.regex(failing.stderr, /^nope\nlaggkit: .* exited with status 3\n/, failing.stderr);
});

testNeeding(test, 'a host without an SFTP subsystem: exec and conf work, the key given with -i', NEEDS, async (t) => {
  t.true(built, 'run npm run build first');
  const bare = await startSshd('nosftp', { sftp: false });
  try {
    const kh = join(bare.dir, 'kh');
    writeFileSync(kh, `${bare.knownHostsLine()}\n`);
    // No IdentityFile in the config: the key comes from -i only.
    const config = join(bare.dir, 'ssh_config');
    writeFileSync(config, `Host bare\n  HostName 127.0.0.1\n  Port ${bare.port}\n  User ${bare.user}\n  UserKnownHostsFile ${kh}\n`);
    const ssh = ['--host', 'bare', '--ssh-config', config];
    const noKey = laggkit(['exec', ...ssh, '--json', '--', 'true']);
    t.is(noKey.code, 4, noKey.stdout);
    const withKey = [...ssh, '-i', bare.clientKey];
    const hello = laggkit(['exec', ...withKey, '--', 'echo', 'hello']);
    t.is(hello.code, 0, hello.stderr);
    t.is(hello.stdout, 'hello\n');
    const remoteRoot = join(bare.dir, 'image');
    mkdirSync(join(remoteRoot, 'etc'), { recursive: true });
    writeFileSync(join(remoteRoot, 'etc', 'rc.conf'), '# keep me\nhostname="h"\n');
    const where = [...withKey, '--root', remoteRoot, '--json'];
    const set = laggkit(['conf', 'set', 'rc', 'cloned_interfaces', 'laggkit0', '--add', ...where]);
    t.is(set.code, 0, set.stdout + set.stderr);
    t.is(readFileSync(join(remoteRoot, 'etc', 'rc.conf'), 'utf8'), '# keep me\nhostname="h"\ncloned_interfaces="laggkit0"\n');
    const backups = readdirSync(join(remoteRoot, 'etc')).filter((f) => f.startsWith('rc.conf.laggkit-'));
    t.is(backups.length, 1);
    t.is(readFileSync(join(remoteRoot, 'etc', backups[0] as string), 'utf8'), '# keep me\nhostname="h"\n');
    const get = laggkit(['conf', 'get', 'rc', 'cloned_interfaces', ...where]);
    t.is(JSON.parse(get.stdout).result.value, 'laggkit0');
    t.false(bare.log().includes('subsystem request for sftp'), 'laggkit asked for SFTP');
  } finally {
    await bare.stop();
  }
});
