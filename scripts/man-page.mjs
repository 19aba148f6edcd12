#!/usr/bin/env node
/**
 * laggkit(1), generated from the command definitions (oclif's view of dist/commands: ids,
 * summaries, flags with their fixed values and defaults, arguments, examples) and from the exit
 * code table in dist/cli/errors.js, so the manual cannot drift from the CLI.
 *
 *   node scripts/man-page.mjs           rewrite kmod/freebsd/laggkit.1 (after npm run build)
 *   node scripts/man-page.mjs --check   exit 1 when the page is not what the commands say
 *
 * The .Dd date is kept while the body is unchanged, so regenerating is idempotent.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Config, settings } from '@oclif/core';

// The manual describes the compiled CLI in dist/, as bin/run.js runs it.
settings.enableAutoTranspile = false;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const manPagePath = path.join(root, 'kmod', 'freebsd', 'laggkit.1');

/** Text for an mdoc text line: backslashes escaped, no line starting as a request. */
function text(s) {
  return s
    .replace(/\\/g, '\\e')
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
}

/** One sentence per line, as mdoc wants; every description ends as a sentence. */
function sentences(s) {
  const t = s.trim();
  return text((/[.!?:]$/.test(t) || t === '' ? t : `${t}.`).replace(/\.\s+(?=[A-Z(`'"])/g, '.\n'));
}

function flagItem(name, f) {
  const head = [f.char ? `Fl ${f.char} ,` : '', `Fl -${name}`];
  if (f.type === 'option') head.push(f.options ? `Ar ${f.options.join(' | ')}` : 'Ar value');
  const lines = [`.It ${head.filter(Boolean).join(' ')}`, sentences(f.summary ?? f.description ?? '')];
  const notes = [];
  if (f.multiple) notes.push('May be repeated.');
  if (f.allowNo) notes.push(`--no-${name} turns it off.`);
  if (f.default !== undefined && f.default !== false && typeof f.default !== 'function') notes.push(`Default: ${f.default}.`);
  if (f.exclusive?.length) notes.push(`Not with ${f.exclusive.map((e) => `--${e}`).join(', ')}.`);
  if (notes.length) lines.push(text(notes.join(' ')));
  return lines;
}

function commandSection(bin, c) {
  const words = c.id.split(':');
  const argNames = Object.entries(c.args ?? {}).map(([n, a]) => (a.required ? `Ar ${n}` : `Op Ar ${n}`));
  const out = [`.Ss ${words.join(' ')}`, `.Nm ${bin}`, `.Cm ${words.join(' ')}`, ...argNames.map((a) => `.${a}`)];
  if (c.strict === false) out.push('.Op Fl -', '.Op Ar argv ...');
  out.push('.Op Ar flags', '.Pp', sentences(c.summary ?? c.description ?? ''));
  if (c.summary && c.description) out.push('.Pp', sentences(c.description));
  const args = Object.entries(c.args ?? {});
  const flags = Object.entries(c.flags ?? {}).filter(([, f]) => !f.hidden);
  if (args.length || flags.length) {
    out.push('.Bl -tag -width Ds');
    for (const [n, a] of args) out.push(`.It Ar ${n}`, sentences(a.description ?? ''));
    for (const [n, f] of flags) out.push(...flagItem(n, f));
    out.push('.El');
  }
  const examples = (c.examples ?? []).map((e) => (typeof e === 'string' ? e : e.command)).map((e) => e.replace(/<%= config\.bin %>/g, bin));
  if (examples.length) out.push('.Pp', 'Examples:', '.Bd -literal -offset indent', ...examples.map(text), '.Ed');
  return out;
}

export async function renderManPage({ date } = {}) {
  const config = await Config.load(root);
  const { EXIT_CODES } = await import(pathToFileURL(path.join(root, 'dist', 'cli', 'errors.js')).href);
  const bin = config.bin;
  const commands = config.commands.filter((c) => c.pluginName === config.name && !c.hidden).sort((a, b) => a.id.localeCompare(b.id));
  const exitMeaning = {
    ok: 'Success.',
    internal: 'An internal error: a bug in laggkit.',
    usage: 'Usage: a bad flag, argument or value (including hostile interface names).',
    parse: 'Parse: input text (ifconfig output, a config file) could not be understood.',
    ssh: 'SSH: connection, authentication, or an unknown, changed or revoked host key.',
    remote: 'A remote or local command failed, or a file could not be written and verified.',
    environment: 'Environment: a required tool, privilege or device is missing.',
    lab: 'Lab: a VM operation failed.',
    rolledBack: 'Deploy: a step failed and the host was rolled back.',
    notSet: 'conf get: the key is not set.',
  };
  const body = [
    '.Dt LAGGKIT 1',
    '.Os',
    '.Sh NAME',
    '.Nm laggkit',
    `.Nd ${text(config.pjson.description.replace(/^Portable link aggregation/, 'portable link aggregation'))}`,
    '.Sh SYNOPSIS',
    '.Nm',
    '.Ar command',
    '.Op Ar arguments',
    '.Op Ar flags',
    '.Nm',
    '.Cm help',
    '.Op Ar command',
    '.Nm',
    '.Fl -version',
    '.Sh DESCRIPTION',
    '.Nm',
    'builds, loads, configures, persists, tests and observes link aggregation on FreeBSD, NetBSD and Linux hosts over SSH, with the',
    '.Xr laggkit 4',
    'kernel module and laggd.',
    'Host keys are verified against known_hosts; remote commands are argument lists quoted by one function.',
    '.Pp',
    'Every command takes',
    '.Fl -help',
    'and',
    '.Fl -json .',
    'With',
    '.Fl -json ,',
    'standard output carries exactly one JSON document:',
    '.Bd -literal -offset indent',
    '{"ok": true, "result": ...}',
    '{"ok": false, "error": {"code": ..., "message": ..., "suggestion": ...}}',
    '.Ed',
    'Human output goes to standard output, diagnostics to standard error.',
    '.Pp',
    '.Nm',
    '.Cm autocomplete',
    '.Op Cm bash | zsh',
    'prints how to enable shell completion; a mistyped command gets a suggestion.',
    '.Sh COMMANDS',
    ...commands.flatMap((c) => commandSection(bin, c)),
    '.Sh ENVIRONMENT',
    '.Bl -tag -width Ds',
    '.It Ev NO_COLOR',
    'When set, output has no colour (neither has output that is not a terminal).',
    '.El',
    '.Sh EXIT STATUS',
    '.Bl -tag -width Ds',
    ...Object.entries(EXIT_CODES).flatMap(([name, code]) => [`.It ${code}`, text(exitMeaning[name] ?? name)]),
    '.El',
    '.Sh SEE ALSO',
    '.Xr ssh 1 ,',
    '.Xr agr 4 ,',
    '.Xr lagg 4 ,',
    '.Xr laggkit 4 ,',
    '.Xr loader.conf 5 ,',
    '.Xr rc.conf 5 ,',
    '.Xr ssh_config 5 ,',
    '.Xr ifconfig 8',
    '.Sh CAVEATS',
    '.Cm e2e',
    'on NetBSD guests',
    '.Pq Fl -guest Cm netbsd',
    'or two NetBSD hosts',
    '.Pq Fl -target Cm host',
    "drives laggkit.kmod with NetBSD's own lagg words and compares it with",
    '.Xr lagg 4',
    'or, with',
    '.Fl -stock Cm agr ,',
    'with',
    '.Xr agr 4 ,',
    "which has LACP only: its runs of other protocols, and what NetBSD's drivers lack (roundrobin and broadcast in",
    '.Xr lagg 4 ,',
    'a short LACP timeout in either) are reported skipped with the reason.',
    "NetBSD's vioif(4) reports no link speed, so LACP cases over virtio members are skipped on NetBSD; they run on the e1000 (wm) links.",
    '.Fl -target Cm self',
    'has no NetBSD flavour: NetBSD has no network stack per jail, and it says so.',
    'The NetBSD snippets are checked against NetBSD 10 output recorded in the test fixtures and against stand-ins;',
    'laggkit.kmod has not yet run on a NetBSD kernel, and the NetBSD lab test runs only where',
    '.Ev LAGGKIT_NETBSD_IMAGE',
    'names a NetBSD 10 image, otherwise it is reported skipped.',
    '',
  ].join('\n');
  const header = '.\\"\n.\\" laggkit(1), generated by scripts/man-page.mjs from the command definitions: do not edit.\n.\\"\n';
  return `${header}.Dd ${date}\n${body}`;
}

function mdocDate(d) {
  return `${d.toLocaleString('en-US', { month: 'long', timeZone: 'UTC' })} ${d.getUTCDate()}, ${d.getUTCFullYear()}`;
}

/** The page as it should be: the current file's date when only the date would differ. */
export async function expectedManPage() {
  let current = '';
  try {
    current = readFileSync(manPagePath, 'utf8');
  } catch {
    /* first generation */
  }
  const oldDate = /^\.Dd (.+)$/m.exec(current)?.[1];
  if (oldDate) {
    const same = await renderManPage({ date: oldDate });
    if (same === current) return { current, expected: same };
  }
  return { current, expected: await renderManPage({ date: mdocDate(new Date()) }) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { current, expected } = await expectedManPage();
  if (process.argv.includes('--check')) {
    if (current !== expected) {
      console.error(`${path.relative(root, manPagePath)} is out of date: run npm run build && node scripts/man-page.mjs`);
      process.exit(1);
    }
  } else if (current !== expected) {
    writeFileSync(manPagePath, expected);
  }
}
