/**
 * Property tests of the ifconfig parser (fast-check):
 * - arbitrary text (ASCII, full Unicode, binary) and arbitrary mixes of real fixture lines,
 *   truncated and re-indented, never make it throw anything but ParseError;
 * - a garbage line inserted anywhere into a real output is never dropped: it shows up in an
 *   `unknown` list with its line number;
 * - parse(renderFreebsd(model)) gives the model back, for every fixture and for generated models.
 * Plus the typed-error cases with their codes and line numbers, and the --os override.
 */
import test from 'ava';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { LaggkitError, ParseError, UsageError } from '../../src/cli/errors.js';
import { isHeader } from '../../src/ifconfig/fields.js';
import { parseIfconfig, renderFreebsd, type IfconfigModel, type IfInterface, type OsOption } from '../../src/ifconfig/index.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'ifconfig');
const fixtureNames = readdirSync(dir)
  .filter((f) => f.endsWith('.txt'))
  .sort();
const fixtures = new Map(fixtureNames.map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]));
const fragments = [...new Set([...fixtures.values()].flatMap((t) => t.split('\n')))];

/** Parse, accepting only a model or a ParseError; anything else fails the property. */
function parseOrParseError(text: string, os: OsOption = 'auto'): IfconfigModel | ParseError {
  try {
    return parseIfconfig(text, { os });
  } catch (err) {
    if (err instanceof ParseError) return err;
    throw err;
  }
}

test('arbitrary strings only ever raise ParseError', (t) => {
  for (const unit of ['grapheme-ascii', 'grapheme', 'binary'] as const) {
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 400 }), fc.constantFrom<OsOption>('auto', 'freebsd', 'netbsd'), (s, os) => {
        parseOrParseError(s, os);
      }),
      { numRuns: 400 },
    );
  }
  t.pass();
});

const mutatedFragment = fc
  .tuple(fc.constantFrom(...fragments), fc.nat(), fc.constantFrom('', '\t', '\t\t', '\t\t\t', '    ', ' '))
  .map(([line, cut, indent]) => (cut % 3 === 0 ? indent + line.trim().slice(0, cut % (line.length + 1)) : cut % 3 === 1 ? indent + line.trim() : line));

test('mixes of real ifconfig lines parse, failing (with ParseError) only when no line is a header', (t) => {
  let parsed = 0;
  fc.assert(
    fc.property(fc.array(mutatedFragment, { maxLength: 60 }), fc.constantFrom('\n', '\r\n'), (lines, eol) => {
      const text = lines.join(eol);
      const result = parseOrParseError(text);
      if (!(result instanceof ParseError)) parsed++;
      if (result instanceof ParseError) {
        // Only structural failures: no header at all.
        if (result.code !== 'E_IFCONFIG_NO_INTERFACE') throw new Error(`unexpected ${result.code}`);
        if (lines.some((l) => isHeader(l.trim()))) throw new Error('rejected text that has a header');
      }
    }),
    { numRuns: 1500 },
  );
  t.true(parsed > 100, `most mixes contain a header and parse (${parsed})`);
});

function allUnknown(model: IfconfigModel): Array<{ line: number; text: string }> {
  return [...model.unknown, ...model.interfaces.flatMap((i) => i.unknown)];
}

test('a garbage line inserted anywhere in real output is kept as unknown with its line number', (t) => {
  const garbage = fc.array(fc.stringMatching(/^[a-z0-9]{1,8}$/), { minLength: 1, maxLength: 4 }).map((words) => `%% ${words.join(' ')}`);
  fc.assert(
    fc.property(fc.constantFrom(...fixtureNames), fc.nat(), garbage, fc.constantFrom('', '\t', '\t\t', '\t\t\t'), (name, pos, junk, indent) => {
      const lines = (fixtures.get(name) ?? '').replace(/\n$/, '').split('\n');
      const at = pos % (lines.length + 1);
      lines.splice(at, 0, indent + junk);
      const model = parseIfconfig(`${lines.join('\n')}\n`);
      return allUnknown(model).some((u) => u.line === at + 1 && u.text === junk);
    }),
    { numRuns: 1000 },
  );
  t.pass();
});

/** What the FreeBSD layout can express: drop positions, printed text and NetBSD-only detail. */
function comparable(model: IfconfigModel): unknown {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (['line', 'raw', 'unknown', 'netbsd', 'priority', 'partnerState'].includes(k)) continue;
      out[k] = strip(v);
    }
    return out;
  };
  return model.interfaces.map((i: IfInterface) => {
    const copy = strip(i) as { lagg?: { ports: Array<{ lacp?: Record<string, unknown> }> } };
    for (const p of copy.lagg?.ports ?? []) {
      if (p.lacp) {
        delete p.lacp.partner;
        if (Object.keys(p.lacp).length === 0) delete p.lacp;
      }
    }
    return copy;
  });
}

for (const name of fixtureNames) {
  test(`round trip parse(render(model)) for ${name}`, (t) => {
    const model = parseIfconfig(fixtures.get(name) ?? '');
    const text = renderFreebsd(model);
    const again = parseIfconfig(text, { os: 'freebsd' });
    t.deepEqual(comparable(again), comparable(model));
    t.is(renderFreebsd(again), text, 'rendering is stable');
    t.deepEqual(allUnknown(again), [], 'rendered text is fully understood');
  });
}

const word = fc.stringMatching(/^[A-Z][A-Z0-9_]{0,10}$/);
const bits = fc.record({ value: fc.nat({ max: 0xffffff }), names: fc.array(word, { maxLength: 5 }) }).map((b) => ({ ...b, raw: '' }));
const mac = fc.array(fc.nat({ max: 255 }), { minLength: 6, maxLength: 6 }).map((b) => b.map((x) => x.toString(16).padStart(2, '0')).join(':'));
const ifname = fc.stringMatching(/^[a-z]{1,6}[0-9]{1,2}$/);
const peer = fc.record({
  systemPriority: fc.nat({ max: 0xffff }),
  systemMac: mac,
  key: fc.nat({ max: 0xffff }),
  portPriority: fc.nat({ max: 0xffff }),
  portNumber: fc.nat({ max: 0xffff }),
});
const port = fc.record(
  {
    line: fc.constant(0),
    name: ifname,
    flags: bits,
    lacp: fc.record({ actorState: bits, id: fc.record({ actor: peer, partner: peer }) }, { requiredKeys: [] }),
  },
  { requiredKeys: ['line', 'name', 'flags'] },
);
const ipv4 = fc.ipV4();
const generatedInterface = fc.record({
  line: fc.constant(0),
  name: ifname,
  flags: bits,
  metric: fc.nat({ max: 100 }),
  mtu: fc.integer({ min: 68, max: 65535 }),
  ether: mac,
  inet: fc.array(
    fc.record({ line: fc.constant(0), address: ipv4, prefixLength: fc.integer({ min: 0, max: 32 }), broadcast: ipv4 }).map((a) => {
      const mask = a.prefixLength === 0 ? 0 : (0xffffffff << (32 - a.prefixLength)) >>> 0;
      const netmask = [24, 16, 8, 0].map((s) => (mask >>> s) & 0xff).join('.');
      return { ...a, netmaskRaw: `0x${mask.toString(16).padStart(8, '0')}`, netmask };
    }),
    { maxLength: 3 },
  ),
  inet6: fc.constant<IfInterface['inet6']>([]),
  groups: fc.array(fc.stringMatching(/^[a-z]{1,8}$/), { maxLength: 3 }),
  status: fc.constantFrom('active', 'no carrier'),
  lagg: fc.record({
    line: fc.constant(0),
    proto: fc.constantFrom('lacp', 'failover', 'loadbalance', 'roundrobin', 'broadcast', 'none'),
    hash: fc.subarray(['l2', 'l3', 'l4'], { minLength: 1 }),
    ports: fc.array(port, { maxLength: 4 }),
  }),
  other: fc.constant<IfInterface['other']>([]),
  unknown: fc.constant<IfInterface['unknown']>([]),
});

test('generated models survive render and parse unchanged', (t) => {
  fc.assert(
    fc.property(fc.array(generatedInterface, { minLength: 1, maxLength: 4 }), (interfaces) => {
      const model: { interfaces: IfInterface[] } = { interfaces };
      const back = parseIfconfig(renderFreebsd(model), { os: 'freebsd' });
      const expected = comparable({ dialect: back.dialect, unknown: [], interfaces: model.interfaces });
      return isDeepStrictEqual(comparable(back), expected) && allUnknown(back).length === 0;
    }),
    { numRuns: 300 },
  );
  t.pass();
});

function parseError(t: import('ava').ExecutionContext, text: string): ParseError {
  const err = t.throws(() => parseIfconfig(text), { instanceOf: ParseError });
  return err as ParseError;
}

test('structurally impossible input raises typed ParseErrors with line numbers', (t) => {
  const indented = parseError(t, '\n\tether 00:11:22:33:44:55\n\tstatus: active\n');
  t.is(indented.code, 'E_IFCONFIG_NO_INTERFACE');
  t.is(indented.line, 2);
  t.regex(indented.message, /line 2/);
  t.is(indented.exitCode, 3);

  const prose = parseError(t, 'ifconfig: interface lagg9 does not exist\n');
  t.is(prose.code, 'E_IFCONFIG_NO_INTERFACE');
  t.is(prose.line, 1);

  const binary = parseError(t, 'lagg0: flags=8843<UP> metric 0 mtu 1500\n\tether 00:11:22:33:44:55\n\u0000\u0001\u0002junk\n');
  t.is(binary.code, 'E_IFCONFIG_BINARY');
  t.is(binary.line, 3);
});

test('empty and blank input parse to a model with no interfaces', (t) => {
  for (const text of ['', '\n\n', '  \t \n']) {
    const model = parseIfconfig(text);
    t.deepEqual(model.interfaces, []);
    t.deepEqual(model.unknown, []);
  }
});

test('an unknown os value is a usage error naming it', (t) => {
  const err = t.throws(() => parseIfconfig('', { os: 'openbsd' as OsOption }), { instanceOf: UsageError });
  t.true(err instanceof LaggkitError);
  t.regex(err?.message ?? '', /openbsd/);
});

test('--os forces the dialect and records that the text looked otherwise', (t) => {
  const text = fixtures.get('netbsd10-failover.txt') ?? '';
  const auto = parseIfconfig(text);
  const forced = parseIfconfig(text, { os: 'freebsd' });
  t.is(auto.dialect.dialect, 'netbsd');
  t.is(forced.dialect.dialect, 'freebsd');
  t.is(forced.dialect.requested, 'freebsd');
  t.regex(forced.dialect.reason, /requested with --os freebsd \(the text looks like netbsd\)/);
  t.deepEqual(forced.interfaces, auto.interfaces, 'both grammars are accepted whatever the label');
});

test('the header column anchors indentation, so indented pastes parse the same', (t) => {
  const text = fixtures.get('freebsd14-vtnet-lacp-v.txt') ?? '';
  const indented = text
    .split('\n')
    .map((l) => (l === '' ? l : `    ${l}`))
    .join('\n');
  t.deepEqual(comparable(parseIfconfig(indented)), comparable(parseIfconfig(text)));
});
