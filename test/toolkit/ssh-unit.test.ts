/**
 * SSH layer pieces that need no server: argv quoting checked against a real /bin/sh, known_hosts
 * parsing and matching checked against OpenSSH's own ssh-keygen (fingerprints, hashed names),
 * host strings, and the built-in ssh_config parser.
 */
import test from 'ava';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../src/cli/errors.js';
import { parseHostString, quoteArgv, resolveTarget, shQuote, fingerprintSha256, backupPathFor } from '../../src/ssh/index.js';
import { parseSshConfig } from '../../src/ssh/config.js';
import { hashHostName, hostFieldMatches, judgeHostKey, knownHostsName, parseKnownHosts, preferredHostKeyAlgorithms } from '../../src/ssh/known-hosts.js';
import { testNeeding } from '../support/require.js';

/** Run a quoted command line through the local sh and return what printf received. */
function throughSh(argv: string[]): string {
  return execFileSync('/bin/sh', ['-c', quoteArgv(['printf', '%s\\0', ...argv])], { encoding: 'utf8' });
}

test('quoteArgv: sh sees exactly the argv given (property, real /bin/sh)', (t) => {
  const hostile = ['a b', "'", "it's", '$(id)', '`id`', ';reboot', 'x\ny', '"', '\\', '*', '~root', '-n', '', '✓ ünï', '$HOME', '\t', '!', '#x', '{a,b}', '>f'];
  t.is(throughSh(hostile), hostile.map((h) => `${h}\0`).join(''));
  fc.assert(
    fc.property(
      fc.array(
        fc
          .string({ unit: fc.oneof(fc.string({ minLength: 1, maxLength: 1 }), fc.constantFrom("'", '"', '\\', '$', '`', '\n', '✓')), maxLength: 12 })
          .filter((s) => !s.includes('\0')),
        { minLength: 1, maxLength: 5 },
      ),
      (argv) => {
        return throughSh(argv) === argv.map((a) => `${a}\0`).join('');
      },
    ),
    { numRuns: 150 },
  );
  t.is(shQuote("it's"), `'it'\\''s'`);
  t.is(shQuote('em0'), 'em0');
  t.throws(() => shQuote('a\0b'), { instanceOf: TypeError });
  t.throws(() => quoteArgv([]), { instanceOf: TypeError });
});

test('host strings', (t) => {
  t.deepEqual(parseHostString('fbsd1'), { host: 'fbsd1' });
  t.deepEqual(parseHostString('admin@fbsd1:2222'), { user: 'admin', host: 'fbsd1', port: 2222 });
  t.deepEqual(parseHostString('ssh://root@10.0.0.1:22'), { user: 'root', host: '10.0.0.1', port: 22 });
  t.deepEqual(parseHostString('[::1]:2200'), { host: '::1', port: 2200 });
  t.deepEqual(parseHostString('fe80::1'), { host: 'fe80::1' });
  for (const bad of ['-oProxyCommand=sh', 'h:99999', 'a;b@host', 'host;reboot']) t.throws(() => parseHostString(bad), { instanceOf: UsageError }, bad);
});

test('built-in ssh_config parser: first value wins, IdentityFile accumulates, wildcards and negation', (t) => {
  const cfg = [
    'Host lab-*  !lab-skip',
    '  HostName 10.0.0.5',
    '  User admin',
    '  IdentityFile ~/.ssh/lab_ed25519',
    'Host lab-fbsd',
    '  HostName ignored.example',
    '  Port 2222',
    '  ProxyJump bastion',
    '  IdentityFile "~/.ssh/other key"',
    'Host *',
    '  User fallback',
    '  UserKnownHostsFile ~/.ssh/kh1 ~/.ssh/kh2',
  ].join('\n');
  t.deepEqual(parseSshConfig(cfg, 'lab-fbsd'), {
    hostname: '10.0.0.5',
    user: 'admin',
    port: 2222,
    identityFiles: ['~/.ssh/lab_ed25519', '~/.ssh/other key'],
    knownHostsFiles: ['~/.ssh/kh1', '~/.ssh/kh2'],
    proxyJump: 'bastion',
  });
  t.deepEqual(parseSshConfig(cfg, 'lab-skip'), { user: 'fallback', identityFiles: [], knownHostsFiles: ['~/.ssh/kh1', '~/.ssh/kh2'] });
});

testNeeding(test, 'a ProxyCommand is refused, never bypassed', { tools: ['ssh'] }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'laggkit-sshunit-'));
  try {
    const cfg = join(dir, 'config');
    writeFileSync(cfg, 'Host behind\n  ProxyCommand nc -X 5 -x proxy:1080 %h %p\n');
    for (const noSshClient of [false, true]) {
      const err = await t.throwsAsync(resolveTarget('behind', { configFile: cfg, noSshClient }), { instanceOf: UsageError });
      t.is(err?.code, 'E_SSH_PROXYCOMMAND');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('known_hosts parsing: markers, patterns, hashed names, bad lines ignored', (t) => {
  const key = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 1)]);
  const other = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 2)]);
  const b64 = key.toString('base64');
  const salt = Buffer.alloc(20, 7);
  const text = [
    '# comment',
    `fbsd1,10.0.0.1 ssh-ed25519 ${b64} comment here`,
    `${hashHostName('[fbsd2]:2222', salt)} ssh-ed25519 ${b64}`,
    `@cert-authority *.lab ssh-ed25519 ${b64}`,
    `@revoked fbsd3 ssh-ed25519 ${b64}`,
    `fbsd3 ssh-ed25519 ${b64}`,
    `broken ssh-rsa ${b64}`,
    'garbage',
    `@unknown-marker fbsd1 ssh-ed25519 ${b64}`,
  ].join('\r\n');
  const entries = parseKnownHosts(text, 'kh');
  t.deepEqual(
    entries.map((e) => [e.line, e.marker]),
    [
      [2, null],
      [3, null],
      [4, 'cert-authority'],
      [5, 'revoked'],
      [6, null],
    ],
  );
  t.is(judgeHostKey(entries, 'fbsd1', 22, key).status, 'trusted');
  t.is(judgeHostKey(entries, '10.0.0.1', 22, key).status, 'trusted');
  t.is(judgeHostKey(entries, 'fbsd1', 22, other).status, 'changed');
  t.is(judgeHostKey(entries, 'fbsd2', 2222, key).status, 'trusted');
  t.is(judgeHostKey(entries, 'fbsd2', 22, key).status, 'unknown');
  t.is(judgeHostKey(entries, 'x.lab', 22, key).status, 'unknown', 'a CA line never trusts a plain key');
  t.is(judgeHostKey(entries, 'fbsd3', 22, key).status, 'revoked');
  t.is(knownHostsName('h', 22), 'h');
  t.is(knownHostsName('h', 2222), '[h]:2222');
  t.true(hostFieldMatches('*.example,!bad.example', 'good.example'));
  t.false(hostFieldMatches('*.example,!bad.example', 'bad.example'));
  t.deepEqual(
    preferredHostKeyAlgorithms(
      parseKnownHosts(`h ssh-rsa ${Buffer.concat([Buffer.from([0, 0, 0, 7]), Buffer.from('ssh-rsa'), Buffer.alloc(8)]).toString('base64')}`, 'k'),
      'h',
      22,
    ).slice(0, 3),
    ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
  );
});

testNeeding(test, 'fingerprints and hashed names agree with ssh-keygen', { tools: ['ssh-keygen'] }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'laggkit-sshunit-'));
  try {
    for (const type of ['ed25519', 'ecdsa', 'rsa']) {
      const f = join(dir, `k_${type}`);
      execFileSync('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-f', f], { stdio: 'ignore' });
      const pub = readFileSync(`${f}.pub`, 'utf8').split(' ');
      const blob = Buffer.from(pub[1] ?? '', 'base64');
      const theirs = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${f}.pub`], { encoding: 'utf8' }).split(' ')[1];
      t.is(fingerprintSha256(blob), theirs ?? '', String(type));
      // ssh-keygen -H hashes a known_hosts file; our matcher must find the host in it.
      const kh = join(dir, `kh_${type}`);
      writeFileSync(kh, `[fbsd.lab]:2222 ${pub[0]} ${pub[1]}\n`);
      execFileSync('ssh-keygen', ['-H', '-f', kh], { stdio: 'ignore' });
      const entries = parseKnownHosts(readFileSync(kh, 'utf8'), kh);
      t.is(entries.length, 1);
      t.is(judgeHostKey(entries, 'fbsd.lab', 2222, blob).status, 'trusted', String(type));
      t.is(judgeHostKey(entries, 'fbsd.lab', 22, blob).status, 'unknown', String(type));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('backup names are timestamped in UTC', (t) => {
  t.is(backupPathFor('/etc/rc.conf', new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678))), '/etc/rc.conf.laggkit-20260102T030405Z');
});
