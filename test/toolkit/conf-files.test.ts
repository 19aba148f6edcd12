/**
 * The conf service on real files under a temporary root (what `--root DIR` does): loader.conf
 * resolution across drop-ins and loader.conf.local, rc.conf.local shadowing, dry-run diffs,
 * atomic writes with timestamped backups, re-read verification, idempotence, and refusal of
 * broken files and hostile values with nothing written.
 */
import test from 'ava';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParseError, UsageError } from '../../src/cli/errors.js';
import { confEdit, confGet, LocalFiles, validateRequest } from '../../src/conf/index.js';

const roots: string[] = [];
test.after.always(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function makeRoot(files: Record<string, string>): { root: string; fs: LocalFiles; read(p: string): string; list(dir: string): string[] } {
  const root = mkdtempSync(join(tmpdir(), 'laggkit-conf-'));
  roots.push(root);
  for (const d of ['boot/loader.conf.d', 'etc']) mkdirSync(join(root, d), { recursive: true });
  for (const [p, text] of Object.entries(files)) writeFileSync(join(root, p), text);
  return { root, fs: new LocalFiles(root), read: (p) => readFileSync(join(root, p), 'utf8'), list: (d) => readdirSync(join(root, d)).sort() };
}

const fixture = (name: string) => readFileSync(join(process.cwd(), 'test', 'fixtures', 'conf', name), 'utf8');

test('loader values resolve across loader.conf, loader.conf.d and loader.conf.local', async (t) => {
  const r = makeRoot({
    'boot/loader.conf': 'if_lagg_load="YES"\nkern.x="1"\n',
    'boot/loader.conf.d/10-lagg.conf': 'if_lagg_load="NO"\n',
    'boot/loader.conf.d/20-other.conf': 'kern.y="2"\n',
    'boot/loader.conf.d/README': 'if_lagg_load="IGNORED: not a .conf"\n',
    'boot/loader.conf.local': 'kern.x="local"\n',
  });
  const lagg = await confGet(r.fs, 'loader', 'if_lagg_load');
  t.is(lagg.value, 'NO');
  t.deepEqual(lagg.origins, [{ path: join(r.root, 'boot/loader.conf.d/10-lagg.conf'), line: 1 }]);
  t.is((await confGet(r.fs, 'loader', 'kern.x')).value, 'local');
  t.is((await confGet(r.fs, 'loader', 'nothing_here')).value, null);
  // set edits the file that holds the effective assignment (the drop-in), nothing else.
  const res = await confEdit(r.fs, 'set', { kind: 'loader', key: 'if_lagg_load', value: 'YES' });
  t.true(res.changed);
  t.deepEqual(
    res.files.map((f) => f.path),
    [join(r.root, 'boot/loader.conf.d/10-lagg.conf')],
  );
  t.is(r.read('boot/loader.conf.d/10-lagg.conf'), 'if_lagg_load="YES"\n');
  t.is(r.read('boot/loader.conf'), 'if_lagg_load="YES"\nkern.x="1"\n');
  // A new key goes to loader.conf itself.
  await confEdit(r.fs, 'set', { kind: 'loader', key: 'if_laggkit_load', value: 'YES' });
  t.is(r.read('boot/loader.conf'), 'if_lagg_load="YES"\nkern.x="1"\nif_laggkit_load="YES"\n');
  // unset removes every assignment in every file.
  const un = await confEdit(r.fs, 'unset', { kind: 'loader', key: 'kern.x' });
  t.is(un.files.length, 2);
  t.is(un.value, null);
  t.is(r.read('boot/loader.conf.local'), '');
  t.false(r.read('boot/loader.conf').includes('kern.x'));
});

test('dry run prints a unified diff and writes nothing', async (t) => {
  const r = makeRoot({ 'etc/rc.conf': fixture('handbook-lacp-rc.conf') });
  const res = await confEdit(r.fs, 'set', { kind: 'rc', key: 'cloned_interfaces', value: 'laggkit0', list: 'add', dryRun: true });
  t.true(res.changed);
  t.true(res.dryRun);
  t.is(res.value, 'lagg0 laggkit0');
  const diff = res.files[0]?.diff ?? '';
  t.regex(diff, /^--- .*rc\.conf\tcurrent$/m);
  t.regex(diff, /^\+\+\+ .*rc\.conf\tlaggkit$/m);
  t.regex(diff, /^-cloned_interfaces="lagg0"$/m);
  t.regex(diff, /^\+cloned_interfaces="lagg0 laggkit0"$/m);
  t.is(r.read('etc/rc.conf'), fixture('handbook-lacp-rc.conf'));
  t.deepEqual(r.list('etc'), ['rc.conf']);
});

test('a write is atomic, keeps the mode, leaves a timestamped backup; a second call changes nothing', async (t) => {
  const r = makeRoot({ 'etc/rc.conf': fixture('freebsd-14-rc.conf') });
  chmodSync(join(r.root, 'etc/rc.conf'), 0o640);
  const res = await confEdit(r.fs, 'set', { kind: 'rc', key: 'ifconfig_laggkit0', value: 'laggproto lacp laggport vtnet1 laggport vtnet2 up' });
  t.true(res.changed);
  const backup = res.files[0]?.backupPath ?? '';
  t.regex(backup, /\/etc\/rc\.conf\.laggkit-\d{8}T\d{6}Z$/);
  t.is(readFileSync(backup, 'utf8'), fixture('freebsd-14-rc.conf'));
  t.is(r.read('etc/rc.conf'), fixture('freebsd-14-rc.conf') + 'ifconfig_laggkit0="laggproto lacp laggport vtnet1 laggport vtnet2 up"\n');
  t.is(statSync(join(r.root, 'etc/rc.conf')).mode & 0o777, 0o640);
  t.is(r.list('etc').length, 2, 'the file and one backup, no temp files');
  const again = await confEdit(r.fs, 'set', { kind: 'rc', key: 'ifconfig_laggkit0', value: 'laggproto lacp laggport vtnet1 laggport vtnet2 up' });
  t.false(again.changed);
  t.deepEqual(again.files, []);
  t.is(r.list('etc').length, 2, 'no second backup');
  // Lists: add, add again (unchanged), remove keeps the rest and the quoting.
  await confEdit(r.fs, 'set', { kind: 'rc', key: 'kld_list', value: 'if_laggkit', list: 'add' });
  t.is((await confGet(r.fs, 'rc', 'kld_list')).value, 'i915kms vmm if_laggkit');
  t.false((await confEdit(r.fs, 'set', { kind: 'rc', key: 'kld_list', value: 'if_laggkit', list: 'add' })).changed);
  await confEdit(r.fs, 'unset', { kind: 'rc', key: 'kld_list', value: 'vmm', list: 'remove' });
  t.true(r.read('etc/rc.conf').includes('\nkld_list="i915kms if_laggkit"\n'));
});

test('rc.conf.local shadows rc.conf and is where its keys are edited', async (t) => {
  const r = makeRoot({ 'etc/rc.conf': 'cloned_interfaces="lagg0"\n', 'etc/rc.conf.local': 'cloned_interfaces="lagg1"\n' });
  t.is((await confGet(r.fs, 'rc', 'cloned_interfaces')).value, 'lagg1');
  await confEdit(r.fs, 'set', { kind: 'rc', key: 'cloned_interfaces', value: 'laggkit0', list: 'add' });
  t.is(r.read('etc/rc.conf.local'), 'cloned_interfaces="lagg1 laggkit0"\n');
  t.is(r.read('etc/rc.conf'), 'cloned_interfaces="lagg0"\n');
});

test('a broken file is refused with file and line, and nothing is written', async (t) => {
  const broken = 'hostname="ok"\nifconfig_em0="inet 10.0.0.1\n';
  const r = makeRoot({ 'etc/rc.conf': broken });
  const err = await t.throwsAsync(confEdit(r.fs, 'set', { kind: 'rc', key: 'x', value: 'y' }), { instanceOf: ParseError });
  t.is(err?.code, 'E_CONF_PARSE');
  t.true(err?.message.includes(`${join(r.root, 'etc/rc.conf')}:2`));
  t.is(r.read('etc/rc.conf'), broken);
  t.deepEqual(r.list('etc'), ['rc.conf']);
});

test('a list written with shell expansion is not rewritten', async (t) => {
  const r = makeRoot({ 'etc/rc.conf': 'kld_list="${kld_list} if_lagg"\n' });
  const err = await t.throwsAsync(confEdit(r.fs, 'set', { kind: 'rc', key: 'kld_list', value: 'x', list: 'add' }), { instanceOf: UsageError });
  t.is(err?.code, 'E_CONF_EXPANSION');
  t.is(r.read('etc/rc.conf'), 'kld_list="${kld_list} if_lagg"\n');
});

test('NetBSD ifconfig.IF and modules.conf through the service', async (t) => {
  const r = makeRoot({ 'etc/modules.conf': fixture('netbsd-modules.conf') });
  // A new ifconfig.IF file is created.
  await confEdit(r.fs, 'set', { kind: 'ifconfig.laggkit0', key: 'create' });
  await confEdit(r.fs, 'set', { kind: 'ifconfig.laggkit0', key: 'laggproto', value: 'lacp' });
  await confEdit(r.fs, 'set', { kind: 'ifconfig.laggkit0', key: 'laggport', value: 'wm0', list: 'add' });
  await confEdit(r.fs, 'set', { kind: 'ifconfig.laggkit0', key: 'laggport', value: 'wm1', list: 'add' });
  await confEdit(r.fs, 'set', { kind: 'ifconfig.laggkit0', key: 'up' });
  t.is(r.read('etc/ifconfig.laggkit0'), 'create\nlaggproto lacp\nlaggport wm0\nlaggport wm1\nup\n');
  t.deepEqual((await confGet(r.fs, 'ifconfig.laggkit0', 'laggport')).values, ['wm0', 'wm1']);
  await confEdit(r.fs, 'set', { kind: 'ifconfig.laggkit0', key: 'laggproto', value: 'failover' });
  await confEdit(r.fs, 'unset', { kind: 'ifconfig.laggkit0', key: 'laggport', value: 'wm0' });
  t.is(r.read('etc/ifconfig.laggkit0'), 'create\nlaggproto failover\nlaggport wm1\nup\n');
  t.false((await confEdit(r.fs, 'set', { kind: 'ifconfig.laggkit0', key: 'up' })).changed);
  await confEdit(r.fs, 'set', { kind: 'modules', key: 'if_laggkit' });
  t.is(r.read('etc/modules.conf'), fixture('netbsd-modules.conf') + 'if_laggkit\n');
  t.is((await confGet(r.fs, 'modules', 'ipl')).value, '-f');
});

test('hostile values are refused before anything is read', (t) => {
  const cases: [op: 'set' | 'unset', req: { kind: string; key: string; value?: string; list?: 'add' | 'remove' }, code: string][] = [
    ['set', { kind: 'ifconfig.em0;reboot', key: 'up' }, 'E_BAD_IFNAME'],
    ['set', { kind: 'ifconfig.$(id)', key: 'up' }, 'E_BAD_IFNAME'],
    ['set', { kind: 'ifconfig.averyveryverylongif0', key: 'up' }, 'E_BAD_IFNAME'],
    ['set', { kind: 'ifconfig.lagg0', key: '!reboot' }, 'E_BAD_KEY'],
    ['set', { kind: 'ifconfig.lagg0', key: 'laggport', value: 'em0;reboot' }, 'E_BAD_VALUE'],
    ['set', { kind: 'ifconfig.lagg0', key: 'inet', value: '$(id)' }, 'E_BAD_VALUE'],
    ['set', { kind: 'rc', key: 'x', value: 'a\nreboot' }, 'E_BAD_VALUE'],
    ['set', { kind: 'rc', key: 'x', value: 'a\0b' }, 'E_BAD_VALUE'],
    ['set', { kind: 'rc', key: '$(id)', value: 'x' }, 'E_BAD_KEY'],
    ['set', { kind: 'rc', key: 'kern.x', value: 'x' }, 'E_BAD_KEY'],
    ['set', { kind: 'rc', key: 'cloned_interfaces', value: 'a b', list: 'add' }, 'E_BAD_VALUE'],
    ['set', { kind: 'modules', key: 'if_lagg;reboot' }, 'E_BAD_MODULE'],
    ['set', { kind: 'passwd', key: 'root', value: 'x' }, 'E_BAD_KIND'],
    ['set', { kind: 'rc', key: 'x' }, 'E_USAGE'],
  ];
  for (const [op, req, code] of cases) {
    const err = t.throws(() => validateRequest(op, req), { instanceOf: UsageError }, JSON.stringify(req));
    t.is(err?.code, code, JSON.stringify(req));
  }
  // A value with a double quote is fine: it is quoted, not refused.
  t.notThrows(() => validateRequest('set', { kind: 'rc', key: 'motd', value: 'say "hi"' }));
});

test('a failed write in a multi-file edit puts the files already written back', async (t) => {
  const r = makeRoot({
    'boot/loader.conf': 'kern.x="1"\n',
    'boot/loader.conf.local': 'kern.x="2"\n',
  });
  // Real files; only the second write is made to fail, as a full disk would.
  class FailSecond extends LocalFiles {
    writes = 0;
    override async write(path: string, content: string) {
      if (++this.writes === 2) throw new Error('disk full (simulated by the test)');
      return super.write(path, content);
    }
  }
  const fs = new FailSecond(r.root);
  await t.throwsAsync(confEdit(fs, 'unset', { kind: 'loader', key: 'kern.x' }), { message: /disk full/ });
  t.is(r.read('boot/loader.conf'), 'kern.x="1"\n');
  t.is(r.read('boot/loader.conf.local'), 'kern.x="2"\n');
});

test('a file that is not UTF-8 is refused with its line, not silently re-encoded', async (t) => {
  const r = makeRoot({});
  const bytes = Buffer.concat([Buffer.from('hostname="x"\n# caf'), Buffer.from([0xe9]), Buffer.from(' latin-1 comment\n')]);
  writeFileSync(join(r.root, 'etc/rc.conf'), bytes);
  const err = await t.throwsAsync(confEdit(r.fs, 'set', { kind: 'rc', key: 'x', value: 'y' }), { instanceOf: ParseError });
  t.is(err?.code, 'E_CONF_ENCODING');
  t.is(err?.line, 2);
  t.true(readFileSync(join(r.root, 'etc/rc.conf')).equals(bytes));
});

test('a config file that is a symbolic link is not replaced', async (t) => {
  const r = makeRoot({ 'etc/rc.conf.real': 'x="1"\n' });
  symlinkSync('rc.conf.real', join(r.root, 'etc/rc.conf'));
  const err = await t.throwsAsync(confEdit(r.fs, 'set', { kind: 'rc', key: 'x', value: '2' }));
  t.is((err as { code?: string } | undefined)?.code, 'E_CONF_SYMLINK');
  t.true(lstatSync(join(r.root, 'etc/rc.conf')).isSymbolicLink());
  t.is(r.read('etc/rc.conf.real'), 'x="1"\n');
});

test('--file writes a loader.conf.d drop-in; an overridden write is refused before writing', async (t) => {
  const r = makeRoot({ 'boot/loader.conf': 'zfs_load="YES"\n', 'boot/loader.conf.local': 'if_lagg_load="NO"\n' });
  const res = await confEdit(r.fs, 'set', { kind: 'loader', key: 'if_laggkit_load', value: 'YES', file: '/boot/loader.conf.d/laggkit.conf' });
  t.true(res.changed);
  t.is(r.read('boot/loader.conf.d/laggkit.conf'), 'if_laggkit_load="YES"\n');
  t.is(r.read('boot/loader.conf'), 'zfs_load="YES"\n');
  t.deepEqual((await confGet(r.fs, 'loader', 'if_laggkit_load')).origins, [{ path: join(r.root, 'boot/loader.conf.d/laggkit.conf'), line: 1 }]);
  // loader.conf.local is read last: a drop-in cannot override it.
  const err = await t.throwsAsync(confEdit(r.fs, 'set', { kind: 'loader', key: 'if_lagg_load', value: 'YES', file: '/boot/loader.conf.d/laggkit.conf' }), {
    instanceOf: UsageError,
  });
  t.is(err?.code, 'E_CONF_SHADOWED');
  t.true(err?.message.includes(`${join(r.root, 'boot/loader.conf.local')}:1`));
  t.is(r.read('boot/loader.conf.d/laggkit.conf'), 'if_laggkit_load="YES"\n');
  t.deepEqual(r.list('boot/loader.conf.d'), ['laggkit.conf']);
  for (const file of ['/etc/passwd', '/boot/loader.conf.d/../x.conf', 'boot/loader.conf', '/boot/loader.conf.d/x.txt']) {
    const bad = t.throws(() => validateRequest('set', { kind: 'loader', key: 'k', value: 'v', file }), { instanceOf: UsageError });
    t.is(bad?.code, 'E_BAD_PATH', file);
  }
});

test('a missing directory is named, and nothing is written', async (t) => {
  const r = makeRoot({});
  rmSync(join(r.root, 'boot/loader.conf.d'), { recursive: true });
  const err = await t.throwsAsync(confEdit(r.fs, 'set', { kind: 'loader', key: 'if_laggkit_load', value: 'YES', file: '/boot/loader.conf.d/laggkit.conf' }));
  t.is((err as { code?: string } | undefined)?.code, 'E_CONF_NO_DIR');
  t.true(err?.message.includes(join(r.root, 'boot/loader.conf.d')));
  t.deepEqual(r.list('boot'), []);
});
