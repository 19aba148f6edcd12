/**
 * The interactive path (src/ssh/interactive.ts) hands a target to the system OpenSSH client.
 * Against a real sshd it must carry a command's words intact, and it must be exactly as strict
 * about host keys as laggkit's own sessions: an unknown key is refused, never added.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { openSshArgs } from '../../src/ssh/index.js';
import type { SshTarget } from '../../src/ssh/index.js';
import { missingPrerequisites, testNeeding } from '../support/require.js';
import { SSHD_TOOLS, startSshd, type Sshd } from './support/sshd.js';

const NEEDS = { tools: [...SSHD_TOOLS, 'ssh'] };
let sshd: Sshd | undefined;

test.before(async () => {
  if (missingPrerequisites(NEEDS).length === 0) sshd = await startSshd('sshinteractive');
});
test.after.always(async () => {
  await sshd?.stop();
});

function targetFor(d: Sshd, knownHosts: string): SshTarget {
  return { alias: 'interactive', host: '127.0.0.1', port: d.port, user: d.user, identityFiles: [d.clientKey], knownHostsFiles: [knownHosts], jumps: [] };
}

testNeeding(test, 'the system ssh client runs a command with hostile words intact, host key verified', NEEDS, (t) => {
  const d = sshd!;
  const known = path.join(d.dir, 'interactive_known_hosts');
  fs.writeFileSync(known, d.knownHostsLine() + '\n');
  const words = ['a b', "it's", '$(id)', ';reboot', '--json'];
  const r = spawnSync('ssh', openSshArgs(targetFor(d, known), ['printf', '%s|', ...words], { agent: false }), { encoding: 'utf8', input: '' });
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout, words.map((w) => `${w}|`).join(''));
});

testNeeding(test, 'one argument is a shell command line (a pipeline runs), several are words (a space stays inside one)', NEEDS, (t) => {
  const d = sshd!;
  const known = path.join(d.dir, 'interactive_known_hosts');
  fs.writeFileSync(known, d.knownHostsLine() + '\n');
  const line = spawnSync('ssh', openSshArgs(targetFor(d, known), ['printf "%s\\n" a b | wc -l'], { agent: false }), { encoding: 'utf8', input: '' });
  t.is(line.status, 0, line.stderr);
  t.is(line.stdout.trim(), '2');
  const words = spawnSync('ssh', openSshArgs(targetFor(d, known), ['printf', '[%s]', 'x | wc -l'], { agent: false }), { encoding: 'utf8', input: '' });
  t.is(words.stdout, '[x | wc -l]');
});

testNeeding(test, 'an unknown host key is refused and not added to known_hosts', NEEDS, (t) => {
  const d = sshd!;
  const known = path.join(d.dir, 'empty_known_hosts');
  fs.writeFileSync(known, '');
  const r = spawnSync('ssh', openSshArgs(targetFor(d, known), ['true'], { agent: false }), { encoding: 'utf8', input: '' });
  t.is(r.status, 255);
  t.regex(r.stderr, /Host key verification failed/);
  t.is(fs.readFileSync(known, 'utf8'), '');
});

test('a ProxyJump target is refused rather than verified less', (t) => {
  const hop = { alias: 'jump', host: 'jump.example', port: 22, user: 'u', identityFiles: [], knownHostsFiles: ['/k'] };
  const e = t.throws(() => openSshArgs({ ...hop, alias: 'final', host: 'final.example', jumps: [hop] }, []));
  t.is((e as { code?: string }).code, 'E_SSH_INTERACTIVE_JUMP');
});

test('a login has a terminal; a command is one quoted argument after --', (t) => {
  const target: SshTarget = { alias: 'x', host: 'h', port: 2222, user: 'u', identityFiles: ['/id'], knownHostsFiles: ['/kh'], jumps: [] };
  const login = openSshArgs(target);
  t.true(login.includes('-t'));
  t.is(login.at(-1), 'u@h');
  const cmd = openSshArgs(target, ['echo', 'a b']);
  t.false(cmd.includes('-t'));
  t.deepEqual(cmd.slice(-2), ['--', "echo 'a b'"]);
  t.true(cmd.includes('StrictHostKeyChecking=yes'));
  // One word is a command line as written (ssh's habit), so a pipeline stays a pipeline.
  t.deepEqual(openSshArgs(target, ['dmesg | tail -5']).slice(-2), ['--', 'dmesg | tail -5']);
  t.true(openSshArgs(target, [], { agent: false }).includes('IdentityAgent=none'));
  t.false(login.includes('IdentityAgent=none'));
});
