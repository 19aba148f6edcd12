/**
 * The output contract every command shares (src/cli/base-command.ts), checked on the built CLI
 * for every command found in dist/commands: --help works; a bad flag is a usage error (exit 2)
 * with the {ok:false,error:{code,message,suggestion}} envelope on stdout under --json and a
 * human message on stderr otherwise; and a `--json` after `--` belongs to a remote command, not
 * to laggkit.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'run.js');
const commandsDir = path.join(root, 'dist', 'commands');

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', input: '', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Command ids (e.g. "lab link") from the compiled command files. */
function commandIds(dir = commandsDir, prefix: string[] = []): string[] {
  const ids: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) ids.push(...commandIds(p, [...prefix, name]));
    else if (name.endsWith('.js')) ids.push([...prefix, name.slice(0, -3)].join(' '));
  }
  return ids;
}

test.before(() => {
  if (!existsSync(commandsDir)) throw new Error('dist/commands is missing: run npm run build first');
});

test('laggkit --help lists the topics and commands', (t) => {
  const r = cli(['--help']);
  t.is(r.code, 0);
  for (const word of ['TOPICS', 'conf', 'lab', 'parse']) t.true(r.stdout.includes(word), `--help lacks ${word}`);
});

test('every command has --help and --json, and a bad flag is a usage error (exit 2)', (t) => {
  const ids = commandIds();
  t.true(ids.length >= 10, `found only ${ids.length} commands`);
  for (const id of ids) {
    const words = id.split(' ');
    const help = cli([...words, '--help']);
    t.is(help.code, 0, `${id} --help`);
    t.true(help.stdout.includes('--json'), `${id} --help does not offer --json`);

    const json = cli([...words, '--json', '--no-such-flag-xyz']);
    t.is(json.code, 2, `${id} --json --no-such-flag-xyz exit code`);
    const doc = JSON.parse(json.stdout) as { ok: boolean; error: { code: string; message: string; suggestion?: string } };
    t.false(doc.ok, id);
    t.is(doc.error.code, 'E_USAGE', id);
    t.true(doc.error.message.includes('no-such-flag-xyz'), `${id}: message names the bad flag`);
    t.is(typeof doc.error.suggestion, 'string', id);

    const human = cli([...words, '--no-such-flag-xyz']);
    t.is(human.code, 2, `${id} human exit code`);
    t.is(human.stdout, '', `${id}: errors never go to stdout in human mode`);
    t.regex(human.stderr, /^laggkit: .*no-such-flag-xyz/m, id);
  }
});

test('a --json after "--" belongs to the remote command, not to laggkit', (t) => {
  // exec without --host fails before connecting; the failure must be rendered for humans,
  // because the only --json on the line is part of the remote argv.
  const r = cli(['exec', '--', 'ifconfig', '--json']);
  t.is(r.code, 2);
  t.is(r.stdout, '');
  t.regex(r.stderr, /host/);
});

test('every command that runs commands on a host takes the shared SSH flags', (t) => {
  for (const id of ['exec', 'deploy', 'undeploy', 'status', 'conf get', 'conf set', 'conf unset']) {
    const help = cli([...id.split(' '), '--help']);
    t.is(help.code, 0, id);
    for (const flag of ['--host', '--ssh-config', '-i, --identity', '--trust-new-host-key', '--become=<option>', 'sudo|doas'])
      t.true(help.stdout.includes(flag), `${id} --help lacks ${flag}`);
  }
});

test('a mistyped command or topic names the closest one, with no terminal to prompt on', (t) => {
  const typo = cli(['pars']);
  t.is(typo.code, 127);
  t.regex(typo.stderr, /Did you mean: laggkit parse\n/);
  const inTopic = cli(['conf', 'gett']);
  t.regex(inTopic.stderr, /Did you mean: laggkit conf get\n/);
  const nothingClose = cli(['xyzzyplugh']);
  t.not(nothingClose.code, 0);
  t.false(nothingClose.stderr.includes('Did you mean'), nothingClose.stderr);
});
