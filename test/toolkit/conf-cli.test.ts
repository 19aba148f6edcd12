/**
 * `laggkit conf` as an operator runs it: the built CLI (node bin/run.js, after npm run build)
 * with --root on a temp directory and --host against the suite's real sshd. Checks the --json
 * envelope, the documented exit codes, dry-run output, and that hostile input fails before any
 * connection is attempted.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingPrerequisites, testNeeding } from '../support/require.js';
import { SSHD_TOOLS, startSshd, type Sshd } from './support/sshd.js';

const BIN = join(process.cwd(), 'bin', 'run.js');
const built = existsSync(join(process.cwd(), 'dist', 'commands', 'conf', 'set.js'));
const roots: string[] = [];

interface Envelope {
  ok: boolean;
  // biome-ignore lint/suspicious/noExplicitAny: each test reads the result shape it expects.
  result?: any;
  error?: { code: string; message: string; suggestion?: string };
}

function laggkit(args: string[]): { code: number | null; stdout: string; stderr: string; json: Envelope | undefined } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, SSH_AUTH_SOCK: '', NO_COLOR: '1' }, timeout: 60_000 });
  let json: Envelope | undefined;
  if (args.includes('--json')) json = JSON.parse(r.stdout);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json };
}

function makeRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'laggkit-confcli-'));
  roots.push(root);
  mkdirSync(join(root, 'etc'));
  mkdirSync(join(root, 'boot'));
  return root;
}

test.after.always(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

test.before((t) => {
  if (!built) t.log('dist/ is missing: run `npm run build` (npm run test:toolkit does it)');
});

test('set/get with --json: one envelope on stdout, exit 0, idempotent', (t) => {
  t.true(built, 'dist/ must be built');
  const root = makeRoot();
  writeFileSync(join(root, 'etc/rc.conf'), 'hostname="lab"\ncloned_interfaces="lagg0"\n');
  const set = laggkit(['conf', 'set', 'rc', 'cloned_interfaces', 'laggkit0', '--add', '--root', root, '--json']);
  t.is(set.code, 0, set.stderr);
  t.is(set.stdout.trim().split('\n').length, 1);
  t.is(set.json?.ok, true);
  t.is(set.json?.result.changed, true);
  t.is(set.json?.result.value, 'lagg0 laggkit0');
  t.regex(set.json?.result.files[0].backupPath, /rc\.conf\.laggkit-\d{8}T\d{6}Z$/);
  const again = laggkit(['conf', 'set', 'rc', 'cloned_interfaces', 'laggkit0', '--add', '--root', root, '--json']);
  t.is(again.json?.result.changed, false);
  t.is(readdirSync(join(root, 'etc')).length, 2, 'one file, one backup');
  const get = laggkit(['conf', 'get', 'rc', 'cloned_interfaces', '--root', root, '--json']);
  t.deepEqual(get.json, {
    ok: true,
    result: {
      kind: 'rc',
      key: 'cloned_interfaces',
      value: 'lagg0 laggkit0',
      values: ['lagg0 laggkit0'],
      origins: [{ path: join(root, 'etc/rc.conf'), line: 2 }],
      where: root,
    },
  });
  const human = laggkit(['conf', 'get', 'rc', 'cloned_interfaces', '--root', root]);
  t.is(human.stdout, `lagg0 laggkit0\n# set at ${join(root, 'etc/rc.conf')}:2\n`);
  // Unset: its own exit code (9), the envelope still says where laggkit looked.
  const unsetKey = laggkit(['conf', 'get', 'rc', 'ifconfig_laggkit0', '--root', root, '--json']);
  t.is(unsetKey.code, 9);
  t.is(unsetKey.json?.error?.code, 'E_CONF_NOT_SET');
  t.is(unsetKey.json?.result?.value, null);
  const unsetHuman = laggkit(['conf', 'get', 'rc', 'ifconfig_laggkit0', '--root', root]);
  t.is(unsetHuman.code, 9);
  t.is(unsetHuman.stdout, '');
  t.regex(unsetHuman.stderr, /^laggkit: ifconfig_laggkit0 is not set in rc/);
  const unset = laggkit(['conf', 'unset', 'rc', 'cloned_interfaces', 'lagg0', '--remove', '--root', root]);
  t.is(unset.code, 0);
  t.is(readFileSync(join(root, 'etc/rc.conf'), 'utf8'), 'hostname="lab"\ncloned_interfaces="laggkit0"\n');
});

test('dry run shows a unified diff and writes nothing', (t) => {
  t.true(built);
  const root = makeRoot();
  writeFileSync(join(root, 'boot/loader.conf'), 'zfs_load="YES"\n');
  const r = laggkit(['conf', 'set', 'loader', 'if_laggkit_load', 'YES', '--root', root, '--dry-run']);
  t.is(r.code, 0);
  t.regex(r.stdout, /^\+if_laggkit_load="YES"$/m);
  t.regex(r.stdout, /^@@ /m);
  t.regex(r.stdout, /dry run: nothing written/);
  t.is(readFileSync(join(root, 'boot/loader.conf'), 'utf8'), 'zfs_load="YES"\n');
  t.deepEqual(readdirSync(join(root, 'boot')), ['loader.conf']);
});

test('documented exit codes and error envelopes', (t) => {
  t.true(built);
  const root = makeRoot();
  writeFileSync(join(root, 'etc/rc.conf'), 'broken="oops\n');
  const parse = laggkit(['conf', 'set', 'rc', 'x', 'y', '--root', root, '--json']);
  t.is(parse.code, 3);
  t.is(parse.json?.ok, false);
  t.is(parse.json?.error?.code, 'E_CONF_PARSE');
  t.regex(parse.json?.error?.message ?? '', /rc\.conf:1/);
  t.truthy(parse.json?.error?.suggestion);
  t.is(readFileSync(join(root, 'etc/rc.conf'), 'utf8'), 'broken="oops\n');
  // Hostile interface name: refused (exit 2) before connecting to the port-1 host (which would be exit 4).
  const hostile = laggkit(['conf', 'set', 'ifconfig.em0;reboot', 'up', '--host', '127.0.0.1:1', '--json']);
  t.is(hostile.code, 2);
  t.is(hostile.json?.error?.code, 'E_BAD_IFNAME');
  t.true(hostile.json?.error?.message.includes('em0;reboot'));
  const hostileValue = laggkit(['conf', 'set', 'ifconfig.lagg0', 'laggport', '$(reboot)', '--host', '127.0.0.1:1']);
  t.is(hostileValue.code, 2);
  t.regex(hostileValue.stderr, /^laggkit: .*\$\(reboot\)/m);
  t.regex(hostileValue.stderr, /hint: /);
  // Flag combinations that mean nothing are refused, and nothing is written.
  for (const nonsense of [
    ['conf', 'unset', 'rc', 'cloned_interfaces', 'laggkit0', '--add', '--root', root],
    ['conf', 'unset', 'rc', 'cloned_interfaces', '--remove', '--root', root],
    ['conf', 'set', 'rc', 'cloned_interfaces', 'laggkit0', '--add', '--remove', '--root', root],
    ['conf', 'set', 'rc', 'cloned_interfaces', '--add', '--root', root],
    ['conf', 'set', 'rc', 'x', 'y', '--become', 'sudo', '--root', root],
    ['conf', 'get', 'rc', 'x', '--trust-new-host-key', '--root', root],
    ['conf', 'set', 'ifconfig.laggkit0', 'up', '--file', '/etc/rc.conf', '--root', root],
  ]) {
    const r = laggkit([...nonsense, '--json']);
    t.is(r.code, 2, nonsense.join(' '));
    t.is(r.json?.ok, false);
  }
  t.is(readFileSync(join(root, 'etc/rc.conf'), 'utf8'), 'broken="oops\n');
  const nowhere = laggkit(['conf', 'get', 'rc', 'x', '--json']);
  t.is(nowhere.code, 2);
  t.is(nowhere.json?.error?.code, 'E_USAGE');
  const badFlag = laggkit(['conf', 'get', 'rc', 'x', '--root', root, '--no-such-flag', '--json']);
  t.is(badFlag.code, 2);
  t.is(badFlag.json?.ok, false);
  const refused = laggkit(['conf', 'get', 'rc', 'x', '--host', '127.0.0.1:1', '--json']);
  t.is(refused.code, 4);
  t.true(['E_SSH_CONNECT', 'E_SSH_UNKNOWN_HOST', 'E_SSH_NO_KEYS'].includes(refused.json?.error?.code ?? ''), refused.stdout);
});

const NEEDS = { tools: SSHD_TOOLS };
let sshd: Sshd | undefined;
test.before(async () => {
  if (missingPrerequisites(NEEDS).length === 0) sshd = await startSshd('confcli');
});
test.after.always(async () => {
  await sshd?.stop();
});

testNeeding(test, '--host edits over SSH with backup and verification; host keys are enforced', NEEDS, async (t) => {
  t.true(built);
  const s = sshd as Sshd;
  const remoteRoot = join(s.dir, 'image');
  mkdirSync(join(remoteRoot, 'etc'), { recursive: true });
  writeFileSync(join(remoteRoot, 'etc/rc.conf'), readFileSync(join(process.cwd(), 'test/fixtures/conf/handbook-lacp-rc.conf')));
  const knownHosts = join(s.dir, 'known_hosts_cli');
  const config = s.writeSshConfig('labhost', knownHosts);
  const base = ['--host', 'labhost', '--ssh-config', config, '--root', remoteRoot, '--json'];
  // Unknown host key: refused with exit 4 and nothing written.
  const unknown = laggkit(['conf', 'set', 'rc', 'cloned_interfaces', 'laggkit0', '--add', ...base]);
  t.is(unknown.code, 4);
  t.is(unknown.json?.error?.code, 'E_SSH_UNKNOWN_HOST');
  t.regex(unknown.json?.error?.message ?? '', /SHA256:[A-Za-z0-9+/]{43}/);
  t.false(existsSync(knownHosts));
  // With the trust flag: the key is recorded and the edit goes through.
  const set = laggkit(['conf', 'set', 'rc', 'cloned_interfaces', 'laggkit0', '--add', '--trust-new-host-key', ...base]);
  t.is(set.code, 0, set.stdout + set.stderr);
  t.is(set.json?.result.value, 'lagg0 laggkit0');
  t.regex(set.json?.result.files[0].backupPath, new RegExp(`^${s.user}@labhost:.*/etc/rc\\.conf\\.laggkit-\\d{8}T\\d{6}Z$`));
  t.true(readFileSync(knownHosts, 'utf8').startsWith(`[127.0.0.1]:${s.port} `));
  t.true(readFileSync(join(remoteRoot, 'etc/rc.conf'), 'utf8').includes('cloned_interfaces="lagg0 laggkit0"\n'));
  // Next runs need no flag; identical call changes nothing; get reads it back.
  t.is(laggkit(['conf', 'set', 'rc', 'cloned_interfaces', 'laggkit0', '--add', ...base]).json?.result.changed, false);
  t.is(laggkit(['conf', 'get', 'rc', 'cloned_interfaces', ...base]).json?.result.value, 'lagg0 laggkit0');
  const dry = laggkit(['conf', 'set', 'ifconfig.laggkit0', 'laggproto', 'lacp', '--dry-run', ...base]);
  t.is(dry.json?.result.changed, true);
  t.false(existsSync(join(remoteRoot, 'etc/ifconfig.laggkit0')));
  t.is(laggkit(['conf', 'set', 'ifconfig.laggkit0', 'laggproto', 'lacp', ...base]).code, 0);
  t.is(readFileSync(join(remoteRoot, 'etc/ifconfig.laggkit0'), 'utf8'), 'laggproto lacp\n');
  t.is(readdirSync(join(remoteRoot, 'etc')).filter((f) => f.includes('tmp')).length, 0);
  // loader.conf.d drop-ins are listed on the host and resolved in loader order.
  mkdirSync(join(remoteRoot, 'boot', 'loader.conf.d'), { recursive: true });
  writeFileSync(join(remoteRoot, 'boot', 'loader.conf'), 'if_laggkit_load="NO"\n');
  writeFileSync(join(remoteRoot, 'boot', 'loader.conf.d', 'laggkit.conf'), 'if_laggkit_load="YES"\n');
  const loader = laggkit(['conf', 'get', 'loader', 'if_laggkit_load', ...base]);
  t.is(loader.json?.result.value, 'YES');
  t.is(loader.json?.result.origins[0].path, `${s.user}@labhost:${join(remoteRoot, 'boot', 'loader.conf.d', 'laggkit.conf')}`);
});
