/**
 * The SSH layer against a real OpenSSH server started by the suite (support/sshd.ts): logins
 * with a key file and through ssh-agent, argv quoting of hostile values, SFTP uploads and
 * atomic writes, every host key verdict, ssh_config aliases, ProxyJump and command timeouts.
 */
import test from 'ava';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { connect, connectHost, resolveTarget, SshError, RemoteCommandError, RemoteFileError } from '../../src/ssh/index.js';
import type { ConnectOptions } from '../../src/ssh/index.js';
import { missingPrerequisites, testNeeding } from '../support/require.js';
import { SSHD_TOOLS, startSshd, type Sshd } from './support/sshd.js';

const NEEDS = { tools: SSHD_TOOLS };
const usable = missingPrerequisites(NEEDS).length === 0;
let sshd: Sshd;
let n = 0;

test.before(async () => {
  if (usable) sshd = await startSshd('ssh');
});
test.after.always(async () => {
  await sshd?.stop();
});

/** A fresh known_hosts path and ssh_config for one test; no agent unless asked. */
function setup(alias: string, knownHosts: string[], extra: string[] = []): { config: string; knownHostsFile: string; opts: ConnectOptions } {
  const knownHostsFile = join(sshd.dir, `known_hosts_${alias}_${n++}`);
  if (knownHosts.length > 0) writeFileSync(knownHostsFile, knownHosts.join('\n') + '\n');
  const config = sshd.writeSshConfig(alias, knownHostsFile, extra);
  return { config, knownHostsFile, opts: { configFile: config, agentSocket: '', readyTimeoutMs: 15_000 } };
}

function fingerprintOf(pubLine: string, dir: string): string {
  const f = join(dir, `fp_${n++}.pub`);
  writeFileSync(f, pubLine + '\n');
  return execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', f], { encoding: 'utf8' }).split(/\s+/)[1] ?? '';
}

testNeeding(test, 'logs in with an identity file and runs a command', NEEDS, async (t) => {
  const { opts } = setup('keyfile', [sshd.knownHostsLine()]);
  const s = await connectHost('keyfile', opts);
  try {
    const r = await s.exec(['id', '-un']);
    t.is(r.code, 0);
    t.is(r.stdout.trim(), sshd.user);
    t.is(s.target.port, sshd.port);
  } finally {
    await s.close();
  }
});

testNeeding(test, 'hostile arguments arrive byte for byte', NEEDS, async (t) => {
  const { opts } = setup('hostile', [sshd.knownHostsLine()]);
  const s = await connectHost('hostile', opts);
  const values = [
    'a b',
    "'",
    "it's",
    '$(id)',
    '`id`',
    ';reboot',
    'em0;reboot',
    'line1\nline2',
    '"quoted"',
    '\\',
    '*',
    '~',
    '-n',
    '',
    'ünïcødé ✓ 日本',
    '$HOME',
    'a\tb',
    '!x',
    '&&',
    '|',
    '>x',
    "''\"'\"",
  ];
  try {
    for (const v of values) {
      const r = await s.exec(['printf', '%s', v]);
      t.is(r.stdout, v, `value ${JSON.stringify(v)}`);
    }
    // All of them at once in one argv, counted by the remote shell.
    const r = await s.exec(['sh', '-c', 'printf "%s\\n" "$#"', 'sh', ...values]);
    t.is(r.stdout.trim(), String(values.length));
    // The '>x' value must not have created a file, nor ';reboot' run anything. A redirection
    // would land in the remote command's working directory (the login home), not in ours.
    const remoteCwd = (await s.exec(['pwd'])).stdout.trim();
    t.true(remoteCwd.startsWith('/'), `remote working directory: ${remoteCwd}`);
    t.false(existsSync(join(remoteCwd, 'x')), `no file x in ${remoteCwd}`);
  } finally {
    await s.close();
  }
});

testNeeding(test, 'a failing command is reported with its status when check is set', NEEDS, async (t) => {
  const { opts } = setup('check', [sshd.knownHostsLine()]);
  const s = await connectHost('check', opts);
  try {
    const plain = await s.exec(['sh', '-c', 'echo oops >&2; exit 3']);
    t.is(plain.code, 3);
    t.is(plain.stderr.trim(), 'oops');
    const err = await t.throwsAsync(s.exec(['sh', '-c', 'echo oops >&2; exit 3'], { check: true }), { instanceOf: RemoteCommandError });
    t.is(err?.code, 'E_REMOTE_COMMAND');
    t.is(err?.exitStatus, 3);
    t.regex(err?.message ?? '', /exit status 3: oops/);
    const withInput = await s.exec(['cat'], { stdin: 'from stdin\n' });
    t.is(withInput.stdout, 'from stdin\n');
  } finally {
    await s.close();
  }
});

testNeeding(test, 'logs in through ssh-agent when no identity file exists', { tools: [...SSHD_TOOLS, 'ssh-agent', 'ssh-add'] }, async (t) => {
  const sock = join(sshd.dir, `agent_${n++}.sock`);
  const agent: ChildProcess = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    execFileSync('ssh-add', [sshd.clientKey], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
    const { config } = setup('agent', [sshd.knownHostsLine()]);
    // Point IdentityFile at nothing: only the agent can log us in.
    writeFileSync(config, readFileSync(config, 'utf8').replace(/IdentityFile .*/, `IdentityFile ${join(sshd.dir, 'no-such-key')}`));
    const s = await connectHost('agent', { configFile: config, agentSocket: sock });
    try {
      t.is((await s.exec(['id', '-un'])).stdout.trim(), sshd.user);
    } finally {
      await s.close();
    }
    // And without the agent the same config has no key at all.
    const err = await t.throwsAsync(connectHost('agent', { configFile: config, agentSocket: '' }), { instanceOf: SshError });
    t.is(err?.code, 'E_SSH_NO_KEYS');
  } finally {
    agent.kill('SIGTERM');
  }
});

testNeeding(test, 'an encrypted key needs its passphrase', NEEDS, async (t) => {
  const key = join(sshd.dir, `enc_key_${n++}`);
  copyFileSync(sshd.clientKey, key);
  chmodSync(key, 0o600);
  execFileSync('ssh-keygen', ['-q', '-p', '-P', '', '-N', 'sesame', '-f', key], { stdio: 'ignore' });
  const { config } = setup('enc', [sshd.knownHostsLine()]);
  writeFileSync(config, readFileSync(config, 'utf8').replace(/IdentityFile .*/, `IdentityFile ${key}`));
  const err = await t.throwsAsync(connectHost('enc', { configFile: config, agentSocket: '' }), { instanceOf: SshError });
  t.is(err?.code, 'E_SSH_KEY_ENCRYPTED');
  t.true(err?.message.includes(key));
  const s = await connectHost('enc', { configFile: config, agentSocket: '', passphrase: 'sesame' });
  t.is((await s.exec(['true'])).code, 0);
  await s.close();
});

testNeeding(test, 'SFTP uploads a directory tree keeping modes and symlinks', NEEDS, async (t) => {
  const { opts } = setup('upload', [sshd.knownHostsLine()]);
  const local = join(sshd.dir, `tree_${n++}`);
  mkdirSync(join(local, 'sub', 'deeper'), { recursive: true });
  writeFileSync(join(local, 'plain.txt'), 'plain\n');
  writeFileSync(join(local, 'run.sh'), '#!/bin/sh\necho hi\n');
  writeFileSync(join(local, 'sub', 'secret'), 'k');
  writeFileSync(join(local, 'sub', 'deeper', 'big.bin'), Buffer.alloc(300_000, 7));
  chmodSync(join(local, 'plain.txt'), 0o644);
  chmodSync(join(local, 'run.sh'), 0o755);
  chmodSync(join(local, 'sub', 'secret'), 0o600);
  chmodSync(join(local, 'sub'), 0o750);
  symlinkSync('plain.txt', join(local, 'link'));
  const remote = join(sshd.dir, `uploaded_${n++}`, 'tree');
  const s = await connectHost('upload', opts);
  try {
    const r = await s.uploadTree(local, remote);
    t.deepEqual(r, { files: 4, directories: 3, symlinks: 1 });
  } finally {
    await s.close();
  }
  const mode = (p: string) => statSync(join(remote, p)).mode & 0o7777;
  t.is(mode('plain.txt'), 0o644);
  t.is(mode('run.sh'), 0o755);
  t.is(mode('sub/secret'), 0o600);
  t.is(mode('sub'), 0o750);
  t.is(readFileSync(join(remote, 'sub', 'deeper', 'big.bin')).length, 300_000);
  t.true(lstatSync(join(remote, 'link')).isSymbolicLink());
  t.is(readlinkSync(join(remote, 'link')), 'plain.txt');
  t.is(readFileSync(join(remote, 'run.sh'), 'utf8'), '#!/bin/sh\necho hi\n');
});

testNeeding(test, 'writeFileAtomic replaces a file, keeps its mode and a timestamped backup', NEEDS, async (t) => {
  const { opts } = setup('atomic', [sshd.knownHostsLine()]);
  const dir = join(sshd.dir, `atomic_${n++}`);
  mkdirSync(dir);
  const file = join(dir, 'rc.conf');
  writeFileSync(file, 'old="1"\n');
  chmodSync(file, 0o600);
  const s = await connectHost('atomic', opts);
  try {
    const r = await s.writeFileAtomic(file, 'new="2"\n', { backup: true });
    t.is(readFileSync(file, 'utf8'), 'new="2"\n');
    t.is(statSync(file).mode & 0o777, 0o600);
    t.regex(r.backupPath ?? '', /\/rc\.conf\.laggkit-\d{8}T\d{6}Z$/);
    t.is(readFileSync(r.backupPath ?? '', 'utf8'), 'old="1"\n');
    t.deepEqual((await s.readFile(file)).toString(), 'new="2"\n');
    // A second write in the same second gets its own backup, never overwriting the first.
    const r2 = await s.writeFileAtomic(file, 'third\n', { backup: true });
    t.not(r2.backupPath, r.backupPath);
    t.is(readFileSync(r2.backupPath ?? '', 'utf8'), 'new="2"\n');
    // New file: no backup, explicit mode; no temp files left behind.
    const fresh = await s.writeFileAtomic(join(dir, 'fresh'), 'x', { backup: true, mode: 0o640 });
    t.is(fresh.backupPath, null);
    t.is(statSync(join(dir, 'fresh')).mode & 0o777, 0o640);
    t.deepEqual(
      readdirSync(dir).filter((f) => f.includes('tmp')),
      [],
    );
    t.deepEqual(await s.listDir(dir), readdirSync(dir).sort());
    t.is(await s.stat(join(dir, 'nope')), null);
    const missing = await t.throwsAsync(s.readFile(join(dir, 'nope')), { instanceOf: RemoteFileError });
    t.is(missing?.code, 'E_REMOTE_NOT_FOUND');
    symlinkSync('rc.conf', join(dir, 'link.conf'));
    const link = await t.throwsAsync(s.writeFileAtomic(join(dir, 'link.conf'), 'x'), { instanceOf: RemoteFileError });
    t.is(link?.code, 'E_REMOTE_SYMLINK');
    t.true(lstatSync(join(dir, 'link.conf')).isSymbolicLink());
  } finally {
    await s.close();
  }
});

testNeeding(test, 'an unknown host key is refused with its SHA256 fingerprint', NEEDS, async (t) => {
  const { opts, knownHostsFile } = setup('unknown', []);
  const err = await t.throwsAsync(connectHost('unknown', opts), { instanceOf: SshError });
  t.is(err?.code, 'E_SSH_UNKNOWN_HOST');
  t.is(err?.exitCode, 4);
  t.true(err?.message.includes(fingerprintOf(sshd.hostPub(), sshd.dir)), err?.message);
  t.regex(err?.suggestion ?? '', /--trust-new-host-key/);
  t.false(existsSync(knownHostsFile));
});

testNeeding(test, 'the trust flag appends the key; the next connection needs no flag', NEEDS, async (t) => {
  const { opts, knownHostsFile } = setup('trust', []);
  const s = await connectHost('trust', { ...opts, trustNewHostKey: true });
  await s.close();
  const lines = readFileSync(knownHostsFile, 'utf8').trim().split('\n');
  t.is(lines.length, 1);
  t.is(lines[0], sshd.knownHostsLine());
  const again = await connectHost('trust', opts);
  t.is((await again.exec(['true'])).code, 0);
  await again.close();
  // OpenSSH itself accepts the line we wrote.
  const out = execFileSync('ssh-keygen', ['-F', `[127.0.0.1]:${sshd.port}`, '-f', knownHostsFile], { encoding: 'utf8' });
  t.regex(out, /Host \[127\.0\.0\.1\]:\d+ found/);
});

testNeeding(test, 'with HashKnownHosts the trusted key is recorded under a hashed name', NEEDS, async (t) => {
  const { opts, knownHostsFile } = setup('hashtrust', [], ['  HashKnownHosts yes']);
  await (await connectHost('hashtrust', { ...opts, trustNewHostKey: true })).close();
  const text = readFileSync(knownHostsFile, 'utf8');
  t.regex(text, /^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+ ssh-ed25519 /);
  t.false(text.includes('127.0.0.1'));
  // OpenSSH finds the host in it, and so do we.
  t.regex(execFileSync('ssh-keygen', ['-F', `[127.0.0.1]:${sshd.port}`, '-f', knownHostsFile], { encoding: 'utf8' }), /found/);
  await (await connectHost('hashtrust', opts)).close();
});

testNeeding(test, 'a changed host key is refused even with the trust flag', NEEDS, async (t) => {
  const other = await startSshd('sshchg');
  try {
    const knownHostsFile = join(other.dir, 'known_hosts');
    writeFileSync(knownHostsFile, other.knownHostsLine() + '\n');
    const config = other.writeSshConfig('chg', knownHostsFile);
    const opts = { configFile: config, agentSocket: '' };
    await (await connectHost('chg', opts)).close();
    await other.regenerateHostKeys();
    for (const trust of [false, true]) {
      const err = await t.throwsAsync(connectHost('chg', { ...opts, trustNewHostKey: trust }), { instanceOf: SshError });
      t.is(err?.code, 'E_SSH_HOST_KEY_CHANGED');
      t.true(err?.message.includes(fingerprintOf(other.hostPub(), other.dir)), err?.message);
      t.regex(err?.suggestion ?? '', /ssh-keygen -R/);
    }
    t.is(readFileSync(knownHostsFile, 'utf8').trim().split('\n').length, 1, 'known_hosts untouched');
  } finally {
    await other.stop();
  }
});

testNeeding(test, 'a revoked host key is refused', NEEDS, async (t) => {
  const { opts } = setup('revoked', [`@revoked * ${sshd.hostPub()}`, sshd.knownHostsLine()]);
  const err = await t.throwsAsync(connectHost('revoked', { ...opts, trustNewHostKey: true }), { instanceOf: SshError });
  t.is(err?.code, 'E_SSH_HOST_KEY_REVOKED');
  t.true(err?.message.includes(fingerprintOf(sshd.hostPub(), sshd.dir)));
});

testNeeding(test, 'a hashed known_hosts entry (ssh-keygen -H) is accepted', NEEDS, async (t) => {
  const { opts, knownHostsFile } = setup('hashed', [sshd.knownHostsLine()]);
  execFileSync('ssh-keygen', ['-H', '-f', knownHostsFile], { stdio: 'ignore' });
  const text = readFileSync(knownHostsFile, 'utf8');
  t.regex(text, /^\|1\|/);
  t.false(text.includes('127.0.0.1'));
  const s = await connectHost('hashed', opts);
  t.is((await s.exec(['true'])).code, 0);
  await s.close();
});

testNeeding(test, 'host patterns: wildcard [host]:port entries match, other ports and negations do not', NEEDS, async (t) => {
  const ok = setup('wild', [`[127.0.0.*]:${sshd.port} ${sshd.hostPub()}`]);
  await (await connectHost('wild', ok.opts)).close();
  const wrongPort = setup('wrongport', [`[127.0.0.1]:${sshd.port + 1},127.0.0.1 ${sshd.hostPub()}`]);
  t.is((await t.throwsAsync(connectHost('wrongport', wrongPort.opts), { instanceOf: SshError }))?.code, 'E_SSH_UNKNOWN_HOST');
  const negated = setup('negated', [`[127.0.0.*]:${sshd.port},![127.0.0.1]:${sshd.port} ${sshd.hostPub()}`]);
  t.is((await t.throwsAsync(connectHost('negated', negated.opts), { instanceOf: SshError }))?.code, 'E_SSH_UNKNOWN_HOST');
});

testNeeding(test, 'an @cert-authority line never trusts a plain host key', NEEDS, async (t) => {
  const { opts } = setup('ca', [`@cert-authority [127.0.0.1]:${sshd.port} ${sshd.hostPub()}`]);
  const err = await t.throwsAsync(connectHost('ca', opts), { instanceOf: SshError });
  t.is(err?.code, 'E_SSH_UNKNOWN_HOST');
});

testNeeding(test, 'a host known only by another key type is asked for that type', NEEDS, async (t) => {
  // known_hosts has only the ECDSA key; the server also offers ed25519, which it prefers.
  const { opts } = setup('ecdsaonly', [sshd.knownHostsLine('ecdsa')]);
  const s = await connectHost('ecdsaonly', opts);
  t.is((await s.exec(['true'])).code, 0);
  await s.close();
});

testNeeding(test, 'RSA host keys and ECDSA/RSA client keys work too', NEEDS, async (t) => {
  for (const [hostType, clientType] of [
    ['rsa', 'ecdsa'],
    ['ecdsa', 'rsa'],
  ] as const) {
    const other = await startSshd(`sshkt${hostType}`, { hostKeyTypes: [hostType], clientKeyType: clientType });
    try {
      const kh = join(other.dir, 'known_hosts');
      writeFileSync(kh, other.knownHostsLine() + '\n');
      const s = await connectHost('kt', { configFile: other.writeSshConfig('kt', kh), agentSocket: '' });
      t.is((await s.exec(['printf', '%s', hostType])).stdout, hostType);
      await s.close();
    } finally {
      await other.stop();
    }
  }
});

testNeeding(test, 'ssh_config aliases resolve the same through ssh -G and the built-in parser', NEEDS, async (t) => {
  const { config, opts, knownHostsFile } = setup('aliased', [sshd.knownHostsLine()]);
  const viaSsh = await resolveTarget('aliased', { configFile: config });
  const viaParser = await resolveTarget('aliased', { configFile: config, noSshClient: true });
  for (const target of [viaSsh, viaParser]) {
    t.is(target.host, '127.0.0.1');
    t.is(target.port, sshd.port);
    t.is(target.user, sshd.user);
    t.true(target.identityFiles.includes(sshd.clientKey));
    t.is(target.knownHostsFiles[0], knownHostsFile);
    t.deepEqual(target.jumps, []);
  }
  const s = await connect(viaParser, opts);
  t.is((await s.exec(['printf', '%s', 'via alias'])).stdout, 'via alias');
  await s.close();
});

testNeeding(test, 'ProxyJump goes through the jump host, verifying each hop', NEEDS, async (t) => {
  // DEBUG1 makes the jump host log each forwarded channel with its destination.
  const jump = await startSshd('sshjump', { logLevel: 'DEBUG1' });
  try {
    const knownHostsFile = join(jump.dir, 'known_hosts');
    writeFileSync(knownHostsFile, `${jump.knownHostsLine()}\n${sshd.knownHostsLine()}\n`);
    const config = join(jump.dir, 'ssh_config');
    const hostBlock = (alias: string, s: Sshd, extra: string[] = []) =>
      [
        `Host ${alias}`,
        '  HostName 127.0.0.1',
        `  Port ${s.port}`,
        `  User ${s.user}`,
        `  IdentityFile ${s.clientKey}`,
        `  UserKnownHostsFile ${knownHostsFile}`,
        ...extra,
      ].join('\n');
    writeFileSync(config, [hostBlock('inner', sshd, ['  ProxyJump jumphost']), hostBlock('jumphost', jump), ''].join('\n'));
    const resolved = await resolveTarget('inner', { configFile: config });
    t.is(resolved.jumps.length, 1);
    t.is(resolved.jumps[0]?.port, jump.port);
    const s = await connectHost('inner', { configFile: config, agentSocket: '' });
    try {
      const r = await s.exec(['sh', '-c', 'printf %s "$SSH_CONNECTION"']);
      // SSH_CONNECTION = client-ip client-port server-ip server-port: we reached the inner port.
      t.is(r.stdout.split(' ')[3], String(sshd.port));
    } finally {
      await s.close();
    }
    // The jump host logged the forwarded channel to the inner server's port.
    t.regex(jump.log(), new RegExp(`direct_tcpip: .*target 127\\.0\\.0\\.1 port ${sshd.port}`));
    // The inner hop's key is verified under its own name: remove it and the connection fails.
    writeFileSync(knownHostsFile, `${jump.knownHostsLine()}\n`);
    const err = await t.throwsAsync(connectHost('inner', { configFile: config, agentSocket: '' }), { instanceOf: SshError });
    t.is(err?.code, 'E_SSH_UNKNOWN_HOST');
    t.true(err?.message.includes(`[127.0.0.1]:${sshd.port}`));
    // And the jump host's key too.
    writeFileSync(knownHostsFile, `${sshd.knownHostsLine()}\n`);
    const errJump = await t.throwsAsync(connectHost('inner', { configFile: config, agentSocket: '' }), { instanceOf: SshError });
    t.true(errJump?.message.includes(`[127.0.0.1]:${jump.port}`));
  } finally {
    await jump.stop();
  }
});

testNeeding(test, 'a command that outlives its timeout is killed with a typed error', NEEDS, async (t) => {
  const { opts } = setup('timeout', [sshd.knownHostsLine()]);
  const s = await connectHost('timeout', opts);
  const marker = `97.${process.pid}`;
  try {
    const err = await t.throwsAsync(s.exec(['sleep', marker], { timeoutMs: 1000 }), { instanceOf: RemoteCommandError });
    t.is(err?.code, 'E_REMOTE_TIMEOUT');
    t.is(err?.exitCode, 5);
    // The session is still usable after a timeout.
    t.is((await s.exec(['printf', 'alive'])).stdout, 'alive');
    // A whole process tree dies, not only the first process.
    await t.throwsAsync(s.exec(['sh', '-c', `sleep ${marker}1 & sleep ${marker}2; wait`], { timeoutMs: 1000 }));
  } finally {
    await s.close();
  }
  let left = '';
  for (let i = 0; i < 40; i++) {
    left = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes(`sleep ${marker}`))
      .join('\n');
    if (left === '') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.is(left, '', 'no remote sleep process survives');
});

testNeeding(test, 'a command on a connection that goes dead fails with E_SSH_LOST instead of waiting forever', NEEDS, async (t) => {
  const { opts } = setup('frozen', [sshd.knownHostsLine()]);
  const s = await connectHost('frozen', { ...opts, keepaliveIntervalMs: 500 });
  let sessionPid = '';
  try {
    // The shell's parent is the sshd process serving this connection. Stopped, it holds the
    // socket open and answers nothing: a cut link, as a deploy that took the management NIC
    // makes one. Only the keepalives can tell, and the waiting command must learn it.
    const running = s.exec(['sh', '-c', 'echo $PPID >&2; sleep 120'], {
      onStderr: (d) => {
        sessionPid = d.toString().trim();
        execFileSync('kill', ['-STOP', sessionPid]);
      },
    });
    const err = await t.throwsAsync(running, { instanceOf: SshError });
    t.is(err?.code, 'E_SSH_LOST');
    await t.throwsAsync(s.exec(['true']), { instanceOf: SshError, message: /was lost/ });
  } finally {
    if (sessionPid) execFileSync('kill', ['-KILL', sessionPid]);
    await s.close();
  }
});

testNeeding(test, 'a command with a timeout on a link gone silent fails with E_SSH_LOST before the keepalives would tell', NEEDS, async (t) => {
  const { opts } = setup('silent-open', [sshd.knownHostsLine()]);
  // Keepalives far too slow to be what notices: only the command's own deadline can.
  const s = await connectHost('silent-open', { ...opts, keepaliveIntervalMs: 600_000 });
  const sessionPid = (await s.exec(['sh', '-c', 'echo $PPID'])).stdout.trim();
  try {
    execFileSync('kill', ['-STOP', sessionPid]);
    // The channel open is never answered, so the command's own timer never starts.
    const err = await t.throwsAsync(s.exec(['true'], { timeoutMs: 1000 }), { instanceOf: SshError });
    t.is(err?.code, 'E_SSH_LOST');
    t.regex(err?.message ?? '', /gone silent/);
  } finally {
    execFileSync('kill', ['-KILL', sessionPid]);
    await s.close();
  }
});

testNeeding(test, 'closing a session whose connection the server already dropped ends, with nothing else pending in the process', NEEDS, async (t) => {
  // In a process of its own, as the CLI is: when close() waited for a 'close' event that had
  // already come, node found nothing pending and ended the CLI mid-await (exit 13).
  const { opts } = setup('dropped', [sshd.knownHostsLine()]);
  const session = new URL('../../src/ssh/index.js', import.meta.url).href;
  const script = [
    `const { connectHost } = await import(${JSON.stringify(session)});`,
    `const s = await connectHost('dropped', ${JSON.stringify(opts)});`,
    "const pid = (await s.exec(['sh', '-c', 'echo $PPID'])).stdout.trim();",
    "process.kill(Number(pid), 'SIGKILL');",
    "let code = 'none';",
    "for (let i = 0; i < 100; i++) { try { await s.exec(['true']); await new Promise((r) => setTimeout(r, 50)); } catch (err) { code = err.code; break; } }",
    'await s.close();',
    'process.stdout.write(`${code} closed\\n`);',
  ].join('\n');
  const r = spawnSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  t.is(r.status, 0, r.stderr);
  // A command on the dropped connection is a lost connection (exit 4), not ssh2's raw 'Not connected'.
  t.is(r.stdout, 'E_SSH_LOST closed\n');
});

testNeeding(test, 'connection failures are typed', NEEDS, async (t) => {
  const { opts, config } = setup('refused', [sshd.knownHostsLine()]);
  writeFileSync(config, readFileSync(config, 'utf8').replace(`Port ${sshd.port}`, 'Port 1'));
  const err = await t.throwsAsync(connectHost('refused', opts), { instanceOf: SshError });
  t.is(err?.code, 'E_SSH_CONNECT');
  const wrongKey = join(sshd.dir, `wrong_${n++}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', wrongKey], { stdio: 'ignore' });
  const denied = setup('denied', [sshd.knownHostsLine()]);
  writeFileSync(denied.config, readFileSync(denied.config, 'utf8').replace(/IdentityFile .*/, `IdentityFile ${wrongKey}`));
  const e2 = await t.throwsAsync(connectHost('denied', denied.opts), { instanceOf: SshError });
  t.is(e2?.code, 'E_SSH_AUTH');
});

test('a server that never speaks SSH hits the handshake timeout', async (t) => {
  const { createServer } = await import('node:net');
  const silent = createServer(() => {});
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  const port = (silent.address() as { port: number }).port;
  try {
    const target = {
      alias: 'silent',
      host: '127.0.0.1',
      port,
      user: 'nobody',
      identityFiles: [],
      knownHostsFiles: [join(tmpdir(), 'laggkit-no-such-known-hosts')],
      jumps: [],
    };
    // Without any key the connection is refused before a packet is sent...
    const err = await t.throwsAsync(connect(target, { readyTimeoutMs: 500, agentSocket: '' }), { instanceOf: SshError });
    t.is(err?.code, 'E_SSH_NO_KEYS');
    // ...with one, the handshake is attempted and times out.
    if (usable) {
      const err2 = await t.throwsAsync(connect({ ...target, identityFiles: [sshd.clientKey] }, { readyTimeoutMs: 500, agentSocket: '' }), {
        instanceOf: SshError,
      });
      t.is(err2?.code, 'E_SSH_TIMEOUT');
    }
  } finally {
    silent.close();
  }
});

testNeeding(test, 'ssh_config is found under an alternate home directory', NEEDS, async (t) => {
  const home = join(sshd.dir, `home_${n++}`);
  mkdirSync(join(home, '.ssh'), { recursive: true });
  const kh = join(home, '.ssh', 'known_hosts');
  writeFileSync(kh, sshd.knownHostsLine() + '\n');
  writeFileSync(
    join(home, '.ssh', 'config'),
    readFileSync(sshd.writeSshConfig('homealias', kh), 'utf8').replace(/UserKnownHostsFile .*/, 'UserKnownHostsFile ~/.ssh/known_hosts'),
  );
  for (const noSshClient of [false, true]) {
    const target = await resolveTarget('homealias', { homeDir: home, noSshClient });
    t.is(target.port, sshd.port);
    t.deepEqual(target.knownHostsFiles, [kh]);
    const s = await connect(target, { agentSocket: '' });
    t.is((await s.exec(['printf', 'home'])).stdout, 'home');
    await s.close();
  }
});
