/**
 * `laggkit parse` as users run it: the built CLI (node bin/run.js, after `npm run build`) with
 * ifconfig text on stdin. Checks the {ok,result|error} envelope, the human table, and the
 * documented exit codes (0 ok, 2 usage, 3 parse), including empty stdin.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixtures = path.join(root, 'test', 'fixtures', 'ifconfig');
const built = path.join(root, 'dist', 'commands', 'parse.js');

function laggkit(args: string[], input: string | Buffer): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(root, 'bin', 'run.js'), 'parse', ...args], {
    cwd: root,
    input,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const fixture = (name: string): string => readFileSync(path.join(fixtures, name), 'utf8');

test.before(() => {
  if (!existsSync(built)) throw new Error(`${built} is missing: run \`npm run build\` first`);
});

test('--json prints one {ok:true,result} document equal to the golden model', (t) => {
  const r = laggkit(['--json'], fixture('seed-handbook-lacp.txt'));
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trim().split('\n').length, 1, 'exactly one JSON line on stdout');
  const doc = JSON.parse(r.stdout) as { ok: boolean; result: unknown };
  t.true(doc.ok);
  t.deepEqual(doc.result, JSON.parse(fixture('seed-handbook-lacp.json')));
});

test('--os netbsd is honoured and recorded', (t) => {
  const r = laggkit(['--os', 'netbsd', '--json'], fixture('netbsd10-lacp-v.txt'));
  t.is(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { result: { dialect: { requested: string; dialect: string }; interfaces: Array<{ name: string }> } };
  t.deepEqual(doc.result.dialect.requested, 'netbsd');
  t.deepEqual(doc.result.dialect.dialect, 'netbsd');
  t.deepEqual(
    doc.result.interfaces.map((i) => i.name),
    ['wm0', 'wm1', 'lagg0', 'lo0'],
  );
});

test('human output is a table of interfaces and lagg ports with LACP state', (t) => {
  const r = laggkit([], fixture('freebsd14-vtnet-lacp-v.txt'));
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^INTERFACE\s+FLAGS\s+MTU/m);
  t.regex(r.stdout, /^lagg0\s+UP,BROADCAST.*\s1500\s+58:9c:fc:10:ff:e0\s+10\.77\.0\.2\/24\s+active\s+lacp l2,l3,l4 \(3 ports\)$/m);
  t.regex(r.stdout, /^ {2}vtnet1\s+-\s+ACTIVE,COLLECTING,DISTRIBUTING\s+ACTIVITY,TIMEOUT,AGGREGATION,SYNC,COLLECTING,DISTRIBUTING\s/m);
  t.regex(r.stdout, /^ {2}vtnet3\s+-\s+-\s+ACTIVITY,TIMEOUT,AGGREGATION,DEFAULTED\s/m);
  t.regex(r.stdout, /^dialect: freebsd \(freebsd\): detected freebsd/m);
  t.false(r.stdout.includes('\u001b['), 'no colour codes when piped');
});

test('human output says how many lines were kept as unknown', (t) => {
  const r = laggkit([], fixture('freebsd14-unknown-lines.txt'));
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^12 line\(s\) not understood were kept as unknown \(see --json\)$/m);
});

test('a bad --os value is a usage error (exit 2) naming the value', (t) => {
  const json = laggkit(['--os', 'solaris', '--json'], fixture('seed-handbook-lacp.txt'));
  t.is(json.code, 2);
  const doc = JSON.parse(json.stdout) as { ok: boolean; error: { code: string; message: string; suggestion: string } };
  t.false(doc.ok);
  t.is(doc.error.code, 'E_USAGE_OS');
  t.regex(doc.error.message, /solaris/);
  t.regex(doc.error.suggestion, /freebsd/);

  const human = laggkit(['--os', 'solaris'], fixture('seed-handbook-lacp.txt'));
  t.is(human.code, 2);
  t.is(human.stdout, '');
  t.regex(human.stderr, /solaris/);
});

test('empty stdin is a parse error (exit 3)', (t) => {
  const json = laggkit(['--json'], '');
  t.is(json.code, 3);
  const doc = JSON.parse(json.stdout) as { ok: boolean; error: { code: string } };
  t.false(doc.ok);
  t.is(doc.error.code, 'E_IFCONFIG_EMPTY');

  const human = laggkit([], '');
  t.is(human.code, 3);
  t.regex(human.stderr, /empty/);
});

test('text without interface headers and binary input are parse errors (exit 3) with a line', (t) => {
  const noHeader = laggkit(['--json'], '\tether 00:11:22:33:44:55\n');
  t.is(noHeader.code, 3);
  const doc = JSON.parse(noHeader.stdout) as { error: { code: string; message: string } };
  t.is(doc.error.code, 'E_IFCONFIG_NO_INTERFACE');
  t.regex(doc.error.message, /line 1/);

  const binary = laggkit(['--json'], Buffer.from([0x6c, 0x61, 0x0a, 0x00, 0xff, 0xfe, 0x0a]));
  t.is(binary.code, 3);
  const bdoc = JSON.parse(binary.stdout) as { error: { code: string; message: string } };
  t.is(bdoc.error.code, 'E_IFCONFIG_BINARY');
  t.regex(bdoc.error.message, /line 2/);
});

/** `laggkit parse` as oclif runs it, without bin/run.js's framework-free path (parse-direct.ts). */
function throughOclif(args: string[], input: string): { code: number | null; stdout: string } {
  const script = `const { execute } = await import('@oclif/core/execute'); await execute({ dir: ${JSON.stringify(path.join(root, 'bin', 'run.js'))}, args: ${JSON.stringify(['parse', ...args])} });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    input,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout };
}

test('the framework-free parse path writes exactly what the oclif command writes', (t) => {
  for (const [name, args] of [
    ['freebsd14-vtnet-lacp-v.txt', []],
    ['freebsd14-vtnet-lacp-v.txt', ['--json']],
    ['netbsd10-lacp-v.txt', ['--os=netbsd', '--json']],
    ['seed-handbook-lacp.txt', ['--os', 'freebsd']],
  ] as const) {
    const direct = laggkit([...args], fixture(name));
    const oclif = throughOclif([...args], fixture(name));
    t.is(direct.code, 0, `${name} ${args.join(' ')}: ${direct.stderr}`);
    t.is(oclif.code, 0);
    t.is(direct.stdout, oclif.stdout, `${name} ${args.join(' ')}`);
  }
});
