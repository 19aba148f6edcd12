/**
 * The lossless config models: every fixture (stock FreeBSD loader.conf/rc.conf shapes, the seed
 * documents' rc.conf lines, CRLF, no final newline, mixed quoting, NetBSD ifconfig.IF and
 * modules.conf) prints back byte for byte, and each edit touches only its target line.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ParseError } from '../../src/cli/errors.js';
import {
  addWordLine,
  listAdd,
  listRemove,
  parseShVars,
  parseWordLines,
  printShVars,
  printWordLines,
  quoteShValue,
  removeWordLines,
  setShVar,
  setWordLine,
  unsetShVar,
} from '../../src/conf/index.js';

const FIXTURES = join(process.cwd(), 'test', 'fixtures', 'conf');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const isWords = (name: string) => name.includes('ifconfig.') || name.includes('modules');
const shFixtures = readdirSync(FIXTURES).filter((n) => !isWords(n));
const wordFixtures = readdirSync(FIXTURES).filter(isWords);

test('every fixture round-trips byte for byte', (t) => {
  t.true(shFixtures.length >= 9 && wordFixtures.length >= 3);
  for (const name of shFixtures) t.is(printShVars(parseShVars(fixture(name), name)), fixture(name), name);
  for (const name of wordFixtures) t.is(printWordLines(parseWordLines(fixture(name), name)), fixture(name), name);
});

function rcValue(text: string, key: string): string | undefined {
  const lines = parseShVars(text, 'f').lines.filter((l) => l.assign?.key === key);
  return lines[lines.length - 1]?.assign?.value;
}

test('values are unquoted the way sh reads them', (t) => {
  const mixed = fixture('mixed-quoting-rc.conf');
  t.is(rcValue(mixed, 'hostname'), 'router.example');
  t.is(rcValue(mixed, 'sshd_enable'), 'YES');
  t.is(rcValue(mixed, 'gateway_enable'), 'YES');
  t.is(rcValue(mixed, 'PATH'), '/sbin:/bin');
  t.is(rcValue(mixed, 'ifconfig_em0_alias0'), 'inet 10.0.0.2/32');
  t.is(rcValue(mixed, 'motd'), 'It\'s "quoted" and costs $5');
  t.is(rcValue(mixed, 'dhclient_flags'), '');
  t.is(rcValue(mixed, 'cloned_interfaces'), 'lagg0\n  vlan10', 'a quoted value may span lines');
  t.is(rcValue(mixed, 'sshd_flags'), '-o ListenAddress=0.0.0.0');
  // Shell code is kept but not understood as an assignment.
  t.is(rcValue(mixed, 'firewall_script'), undefined);
  t.is(rcValue(mixed, 'kld_list'), '${kld_list} if_lagg');
  t.true(parseShVars(mixed, 'f').lines.find((l) => l.assign?.key === 'kld_list')?.assign?.expands);
  t.is(rcValue(fixture('freebsd-loader-commented.conf'), 'if_lagg_load'), 'YES');
  t.is(rcValue(fixture('freebsd-loader-commented.conf'), 'console'), 'comconsole,vidconsole');
  t.is(rcValue(fixture('freebsd-loader-commented.conf'), 'loader_logo'), 'none');
  t.is(rcValue(fixture('crlf-rc.conf'), 'cloned_interfaces'), 'lagg0');
  t.is(rcValue(fixture('howto-comments-rc.conf'), 'ifconfig_bce0'), undefined, 'curly quotes are not sh quotes');
});

test('set rewrites only the effective line, keeping quote style and trailing comment', (t) => {
  const text = fixture('freebsd-loader-commented.conf');
  const out = printShVars(setShVar(parseShVars(text, 'f'), 'if_lagg_load', 'NO'));
  const a = text.split('\n');
  const b = out.split('\n');
  t.is(a.length, b.length);
  const changed = a.map((l, i) => (l === b[i] ? -1 : i)).filter((i) => i >= 0);
  t.deepEqual(changed, [7]);
  t.is(b[7], 'if_lagg_load="NO"   # from the how-to: echo \'if_lagg_load="YES"\' >> /boot/loader.conf');
  t.is(b[6], '#if_lagg_load="YES"', 'the commented line is untouched');
  // Single quotes and bare values keep their style when they can.
  const sq = printShVars(setShVar(parseShVars(text, 'f'), 'beastie_disable', 'NO'));
  t.true(sq.includes("beastie_disable='NO'\n"));
  const bare = printShVars(setShVar(parseShVars(text, 'f'), 'loader_logo', 'orb'));
  t.true(bare.includes('\nloader_logo=orb\n'));
  const bareToQuoted = printShVars(setShVar(parseShVars(text, 'f'), 'loader_logo', 'two words'));
  t.true(bareToQuoted.includes('\nloader_logo="two words"\n'));
  const tabbed = printShVars(setShVar(parseShVars(fixture('mixed-quoting-rc.conf'), 'f'), 'gateway_enable', 'NO'));
  t.true(tabbed.includes('\tgateway_enable="NO"\t# tab-indented, tab before comment\n'));
});

test('last assignment wins and is the one edited', (t) => {
  const text = 'a="1"\nb="x"\na="2"\n';
  t.is(rcValue(text, 'a'), '2');
  t.is(printShVars(setShVar(parseShVars(text, 'f'), 'a', '3')), 'a="1"\nb="x"\na="3"\n');
  t.is(printShVars(unsetShVar(parseShVars(text, 'f'), 'a')), 'b="x"\n');
});

test("set appends when absent, in the file's line-ending style", (t) => {
  t.is(printShVars(setShVar(parseShVars(fixture('crlf-rc.conf'), 'f'), 'if_laggkit_load', 'YES')), fixture('crlf-rc.conf') + 'if_laggkit_load="YES"\r\n');
  t.is(printShVars(setShVar(parseShVars(fixture('no-final-newline-rc.conf'), 'f'), 'x', 'y')), fixture('no-final-newline-rc.conf') + '\nx="y"');
  t.is(printShVars(setShVar(parseShVars('', 'f'), 'x', 'y')), 'x="y"\n');
  t.is(printShVars(unsetShVar(parseShVars(fixture('no-final-newline-rc.conf'), 'f'), 'cloned_interfaces')), '# no final newline\nsshd_enable="YES"');
});

test('values with quotes, dollars and backslashes are quoted safely', (t) => {
  for (const v of ['a"b', "it's", '$(reboot)', '`id`', 'back\\slash', '"', "'", '${x}', 'a b']) {
    const text = printShVars(setShVar(parseShVars('k="old"\n', 'f'), 'k', v));
    t.is(rcValue(text, 'k'), v, v);
    t.is(text.split('\n').length, 2, 'still one line');
  }
  t.deepEqual(quoteShValue("it's", "'"), { text: '"it\'s"', quote: '"' });
  t.deepEqual(quoteShValue('$x', ''), { text: '"\\$x"', quote: '"' });
});

test('list add/remove keeps the other elements and their spacing', (t) => {
  t.is(listAdd('lagg0', 'laggkit0'), 'lagg0 laggkit0');
  t.is(listAdd('', 'laggkit0'), 'laggkit0');
  t.is(listAdd('lagg0 laggkit0', 'laggkit0'), 'lagg0 laggkit0');
  t.is(listRemove('lagg0 laggkit0 vlan10', 'laggkit0'), 'lagg0 vlan10');
  t.is(listRemove('laggkit0 lagg0', 'laggkit0'), 'lagg0');
  t.is(listRemove('lagg0  laggkit0', 'laggkit0'), 'lagg0');
  t.is(listRemove('lagg0', 'laggkit0'), 'lagg0');
  t.is(listRemove('laggkit0', 'laggkit0'), '');
  t.is(listRemove('laggkit00 laggkit0', 'laggkit0'), 'laggkit00', 'whole elements only');
});

test('a broken file is a ParseError naming file and line', (t) => {
  const err = t.throws(() => parseShVars('a="1"\n# ok\nb="unterminated\nc=3\n', '/etc/rc.conf'), { instanceOf: ParseError });
  t.is(err?.code, 'E_CONF_PARSE');
  t.is(err?.line, 3);
  t.regex(err?.message ?? '', /^\/etc\/rc\.conf:3: unterminated quote/);
  t.throws(() => parseShVars("x='open\n", 'f'), { instanceOf: ParseError });
});

test('ifconfig.IF lines: set replaces, --add adds next to its kin, remove drops one line', (t) => {
  const text = fixture('netbsd-ifconfig.lagg0');
  const f = parseWordLines(text, 'f');
  t.deepEqual(
    f.lines.filter((l) => l.key === 'laggport').map((l) => l.value),
    ['wm0 pri 1000', 'wm1 pri 2000'],
  );
  const proto = printWordLines(setWordLine(f, 'laggproto', 'lacp'));
  t.is(proto, text.replace('laggproto failover', 'laggproto lacp'));
  t.is(setWordLine(f, 'laggproto', 'failover'), f, 'unchanged when already so');
  const added = printWordLines(addWordLine(f, 'laggport', 'wm2 pri 3000'));
  t.is(added, text.replace('laggport wm1 pri 2000\n', 'laggport wm1 pri 2000\nlaggport wm2 pri 3000\n'));
  t.is(addWordLine(f, 'laggport', 'wm0 pri 1000'), f);
  t.is(printWordLines(removeWordLines(f, 'laggport', 'wm0 pri 1000')), text.replace('laggport wm0 pri 1000\n', ''));
  t.is(printWordLines(setWordLine(parseWordLines('', 'f'), 'up', '')), 'up\n');
  // The shell-command line and the trailing comment of wm0's file survive an edit elsewhere.
  const wm0 = fixture('netbsd-ifconfig.wm0');
  t.is(printWordLines(setWordLine(parseWordLines(wm0, 'f'), 'mtu', '9000')), wm0 + 'mtu 9000\n');
});

test('modules.conf: one module per line with optional arguments', (t) => {
  const text = fixture('netbsd-modules.conf');
  const f = parseWordLines(text, 'f');
  t.is(f.lines.find((l) => l.key === 'ipl')?.value, '-f');
  t.is(
    f.lines.find((l) => l.key === 'acpiverbose'),
    undefined,
    'commented out',
  );
  t.is(printWordLines(setWordLine(f, 'if_laggkit', '')), text + 'if_laggkit\n');
  t.is(printWordLines(removeWordLines(f, 'zfs')), text.replace('zfs\n', ''));
});
