/**
 * The manual pages of the kernel modules (kmod/freebsd/laggkit.4, kmod/netbsd/laggkit.4),
 * checked by mandoc: no errors or warnings (style notes about cross-referenced pages this host
 * lacks are not problems), and each renders the sections and words a lagg(4) reader of that
 * system looks for.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { testNeeding } from '../support/require.js';

const kmod = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'kmod');
const common = ['failover', 'loadbalance', 'lacp', 'roundrobin', 'broadcast', 'none', 'laggport', 'rr_limit', 'use_flowid', 'flowid_shift', 'laggkit0'];
const pages = [
  { os: 'freebsd', words: [...common, 'lagghash', 'lacp_fast_timeout', 'lacp_strict', 'net.link.laggkit'] },
  {
    os: 'netbsd',
    words: [
      ...common,
      'laggportpri',
      'lagglacp',
      'maxports',
      'multi-linkspeed',
      'optimistic',
      'dumpdu',
      'stopdu',
      'rx-all',
      'modload',
      'modules.conf',
      'ifconfig.laggkit0',
      'net.laggkit',
      'status',
      'vmstat -e',
    ],
  },
];

for (const { os, words } of pages) {
  const page = path.join(kmod, os, 'laggkit.4');

  testNeeding(test, `${os} laggkit.4 lints clean with mandoc (no warning or error)`, { tools: ['mandoc'] }, (t) => {
    const r = spawnSync('mandoc', ['-Tlint', '-W', 'warning', page], { encoding: 'utf8' });
    t.is(r.stdout + r.stderr, '', 'mandoc reported problems');
    t.is(r.status, 0);
  });

  testNeeding(test, `${os} laggkit.4 renders every protocol, the ifconfig words and the sysctls`, { tools: ['mandoc'] }, (t) => {
    const r = spawnSync('mandoc', ['-Tutf8', page], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '100' } });
    t.is(r.status, 0, r.stderr);
    const text = r.stdout.replace(/.\x08/g, ''); // strip overstrike bold/underline
    for (const section of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'EXAMPLES', 'SEE ALSO']) t.regex(text, new RegExp(`^${section}`, 'm'), section);
    for (const word of words) t.true(text.includes(word), `${os} laggkit.4 does not mention ${word}`);
  });
}

const cliPage = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'kmod', 'freebsd', 'laggkit.1');

test('laggkit.1 is what the command definitions say (regenerate: npm run manpage)', async (t) => {
  const generator = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'man-page.mjs');
  const { expectedManPage } = (await import(generator)) as { expectedManPage(): Promise<{ current: string; expected: string }> };
  const { current, expected } = await expectedManPage();
  t.is(current, expected);
  for (const words of ['.Ss deploy', '.Ss conf get', '.Ss lab up', 'Fl -become Ar sudo | doas', '.Sh EXIT STATUS'])
    t.true(current.includes(words), `laggkit.1 lacks ${words}`);
});

testNeeding(test, 'laggkit.1 lints clean with mandoc (no warning or error)', { tools: ['mandoc'] }, (t) => {
  const r = spawnSync('mandoc', ['-Tlint', '-W', 'warning', cliPage], { encoding: 'utf8' });
  t.is(r.stdout + r.stderr, '', 'mandoc reported problems');
  t.is(r.status, 0);
});
