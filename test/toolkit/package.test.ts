/**
 * The CLI people install is the CLI the tests test: a copy of the working tree is packed with
 * `npm pack` (its prepack builds dist/ and the oclif manifest from scratch), the tarball is
 * installed into an empty prefix without dev dependencies, node-pty is taken away as npm does
 * when an optional dependency fails to build (no compiler), and the installed `laggkit` binary
 * runs every command's --help, parse on a fixture and conf on a temporary root.
 */
import test from 'ava';
import { execa } from 'execa';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const work = mkdtempSync(path.join(os.tmpdir(), 'laggkit-pack-'));
const prefix = path.join(work, 'prefix');
const installed = path.join(prefix, 'bin', 'laggkit');
let tarballFiles: string[] = [];

function run(cmd: string, args: string[], opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd ?? work,
    input: opts.input ?? '',
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    maxBuffer: 64 << 20,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, error: r.error };
}

function laggkit(args: string[], input = '') {
  // A PATH without the repository's node_modules/.bin: only what the install brought is found.
  return run(installed, args, { input, env: { PATH: `${path.join(prefix, 'bin')}:${path.dirname(process.execPath)}:/usr/bin:/bin` } });
}

/** npm, asynchronously, so ava's timeout stays in charge while it packs and installs. */
async function npm(args: string[], cwd: string) {
  const r = await execa('npm', args, { cwd, reject: false, env: { NO_COLOR: '1' } });
  if (r.exitCode !== 0) throw new Error(`npm ${args[0]} failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout;
}

test.before(async (t) => {
  t.timeout(10 * 60_000, 'npm pack and npm install of the tarball');
  // A fresh clone's view: the tracked kinds of files, none of the build output.
  const clone = path.join(work, 'clone');
  mkdirSync(clone);
  for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'README.md', 'LICENSE', 'bin', 'src', 'scripts', 'kmod', 'vm', 'e2e']) {
    cpSync(path.join(root, entry), path.join(clone, entry), {
      recursive: true,
      filter: (p) => !/(^|\/)(build|__pycache__)(\/|$)|\.(o|a|ko)$/.test(path.relative(root, p)),
    });
  }
  // prepack's tsc comes from the dev dependencies, as it does in a clone after npm ci.
  symlinkSync(path.join(root, 'node_modules'), path.join(clone, 'node_modules'));
  const pack = await npm(['pack', '--json', '--pack-destination', work, '--loglevel=error'], clone);
  const [info] = JSON.parse(pack) as Array<{ filename: string; files: Array<{ path: string }> }>;
  if (!info) throw new Error(`npm pack printed no tarball: ${pack}`);
  tarballFiles = info.files.map((f) => f.path).sort();
  await npm(
    [
      'install',
      '--global',
      '--prefix',
      prefix,
      '--omit=dev',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      path.join(work, info.filename),
    ],
    work,
  );
  rmSync(path.join(prefix, 'lib', 'node_modules', 'laggkit', 'node_modules', 'node-pty'), { recursive: true, force: true });
});

test.after.always(() => {
  rmSync(work, { recursive: true, force: true });
});

test('the tarball holds what runs and nothing of the tests or builds', (t) => {
  for (const f of [
    'LICENSE',
    'README.md',
    'bin/run.js',
    'oclif.manifest.json',
    'dist/commands/parse.js',
    'dist/commands/lab/up.js',
    'kmod/core/lk_core.c',
    'kmod/freebsd/Makefile',
    'kmod/posix/laggd.service',
    'kmod/freebsd/laggkit.1',
    'kmod/freebsd/laggkit.4',
    'vm/machines/linux.json',
    'e2e/scenarios/cable-pull.yaml',
  ]) {
    t.true(tarballFiles.includes(f), `the tarball lacks ${f}`);
  }
  const strays = tarballFiles.filter((f) => /^(test|bench|src|scripts)\/|\.map$|\.(o|a|ko|pyc)$|\/build\/|\/tests\//.test(f));
  t.deepEqual(strays, [], 'test, bench, source map or build files in the tarball');
});

test('the install brings no dev dependency, and the manual pages', (t) => {
  const modules = path.join(prefix, 'lib', 'node_modules', 'laggkit', 'node_modules');
  for (const dev of ['ava', 'typescript', 'tsx', '@biomejs', 'c8']) t.false(existsSync(path.join(modules, dev)), `${dev} was installed`);
  for (const dep of ['@oclif/core', 'ssh2', 'yaml', 'zod', 'diff', 'execa']) t.true(existsSync(path.join(modules, dep)), `${dep} was not installed`);
  const man = path.join(prefix, 'share', 'man');
  t.true(existsSync(path.join(man, 'man1', 'laggkit.1')), 'laggkit.1 not installed');
  t.true(existsSync(path.join(man, 'man4', 'laggkit.4')), 'laggkit.4 not installed');
});

test('the installed laggkit answers --version, help, every command --help and "did you mean"', (t) => {
  const version = laggkit(['--version']);
  t.is(version.code, 0, version.stderr);
  t.regex(version.stdout, /^laggkit\/0\.\d+\.\d+ /);
  const help = laggkit(['help']);
  t.is(help.code, 0, help.stderr);
  for (const word of ['conf', 'lab', 'deploy', 'parse', 'autocomplete']) t.true(help.stdout.includes(word), `help lacks ${word}`);
  const manifest = JSON.parse(readFileSync(path.join(prefix, 'lib', 'node_modules', 'laggkit', 'oclif.manifest.json'), 'utf8')) as {
    commands: Record<string, unknown>;
  };
  const ids = Object.keys(manifest.commands);
  t.true(ids.length >= 15, `the manifest has ${ids.length} commands`);
  const topics = [...new Set(ids.filter((id) => id.includes(':')).map((id) => id.split(':')[0] as string))];
  for (const words of [...topics.map((topic) => [topic]), ...ids.map((id) => id.split(':'))]) {
    const r = laggkit([...words, '--help']);
    t.is(r.code, 0, `${words.join(' ')} --help: ${r.stderr}`);
    t.true(r.stdout.includes('USAGE'), `${words.join(' ')} --help printed no usage`);
  }
  const typo = laggkit(['pars']);
  t.not(typo.code, 0);
  t.regex(typo.stderr + typo.stdout, /parse/, 'no suggestion for a mistyped command');
  const completion = laggkit(['autocomplete', 'bash']);
  t.is(completion.code, 0, completion.stderr);
});

test('the installed laggkit finds its e2e catalogue', (t) => {
  // The scenario files are data the command reads at run time, not code tsc compiles.
  const r = laggkit(['e2e', '--list']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^cable-pull\[lacp,virtio\+virtio\]/m);
  t.regex(r.stdout, /^lacp-converge/m);
});

test('the installed laggkit parses an ifconfig fixture', (t) => {
  const fixture = path.join(root, 'test', 'fixtures', 'ifconfig', 'freebsd14-vtnet-lacp-v.txt');
  const r = laggkit(['parse', '--json'], readFileSync(fixture, 'utf8'));
  t.is(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { ok: boolean; result: { interfaces: Array<{ name: string; lagg?: { proto?: string } }> } };
  t.true(doc.ok);
  t.true(
    doc.result.interfaces.some((i) => i.lagg?.proto === 'lacp'),
    'no lacp aggregate parsed',
  );
});

test('the installed laggkit edits rc.conf under a temporary root', (t) => {
  const rootDir = path.join(work, 'root');
  mkdirSync(path.join(rootDir, 'etc'), { recursive: true });
  const set = laggkit(['conf', 'set', 'rc', 'cloned_interfaces', 'laggkit0', '--add', '--root', rootDir]);
  t.is(set.code, 0, set.stderr);
  t.is(readFileSync(path.join(rootDir, 'etc', 'rc.conf'), 'utf8'), 'cloned_interfaces="laggkit0"\n');
  const get = laggkit(['conf', 'get', 'rc', 'cloned_interfaces', '--root', rootDir, '--json']);
  t.is(get.code, 0, get.stderr);
  t.is((JSON.parse(get.stdout) as { result: { value: string } }).result.value, 'laggkit0');
  t.deepEqual(readdirSync(path.join(rootDir, 'etc')), ['rc.conf']);
});
