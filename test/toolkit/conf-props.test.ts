/**
 * Property tests of the config models with fast-check: generated rc.conf/loader.conf and
 * ifconfig.IF files print back byte for byte, arbitrary text either round-trips or fails with a
 * typed ParseError, set-then-get returns the value, a second identical set changes nothing, and
 * an edit changes no other line.
 */
import test from 'ava';
import fc from 'fast-check';
import { ParseError } from '../../src/cli/errors.js';
import {
  listAdd,
  listElements,
  listRemove,
  parseShVars,
  parseWordLines,
  printShVars,
  printWordLines,
  setShVar,
  setWordLine,
  unsetShVar,
} from '../../src/conf/index.js';

const key = fc.stringMatching(/^[a-z_][a-z0-9_]{0,12}$/);
const printable = fc.string({ unit: fc.constantFrom(...'abcXYZ019 _-./:,=@"\'$`\\#;*?~!()<>|&{}é✓\t'.split('')), maxLength: 24 });
const eol = fc.constantFrom('\n', '\r\n');
const space = fc.constantFrom('', ' ', '  ', '\t');

const assignmentLine = fc
  .tuple(
    space,
    key,
    fc.constantFrom('"', "'", ''),
    fc.string({ unit: fc.constantFrom(...'abc019_-./:,= '.split('')), maxLength: 16 }),
    space,
    fc.option(fc.string({ maxLength: 12 }).map((c) => `# ${c.replace(/[\r\n]/g, '')}`)),
  )
  .map(([lead, k, q, v, sp, comment]) => {
    const value = q === '' ? v.replace(/\s/g, '') : q === "'" ? v : v;
    return `${lead}${k}=${q}${value}${q}${comment === null ? '' : `${sp || ' '}${comment}`}`;
  });
const commentLine = fc.string({ maxLength: 20 }).map((s) => `#${s.replace(/[\r\n]/g, '')}`);
const otherLine = fc.string({ unit: fc.constantFrom(...'abc =[]./-$;'.split('')), maxLength: 20 });
const shFile = fc
  .tuple(fc.array(fc.oneof(assignmentLine, commentLine, otherLine, fc.constant('')), { maxLength: 15 }), eol, fc.boolean())
  .map(([lines, e, finalNl]) => lines.join(e) + (finalNl && lines.length > 0 ? e : ''));

test('generated shell-variable files round-trip byte for byte', (t) => {
  fc.assert(
    fc.property(shFile, (text) => printShVars(parseShVars(text, 'f')) === text),
    { numRuns: 500 },
  );
  t.pass();
});

test('arbitrary text either round-trips or is a typed ParseError', (t) => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (text) => {
      try {
        return printShVars(parseShVars(text, 'f')) === text;
      } catch (err) {
        return err instanceof ParseError && err.code === 'E_CONF_PARSE';
      }
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (text) => printWordLines(parseWordLines(text, 'f')) === text),
    { numRuns: 500 },
  );
  t.pass();
});

function effective(text: string, k: string): string | undefined {
  const mine = parseShVars(text, 'f').lines.filter((l) => l.assign?.key === k);
  return mine[mine.length - 1]?.assign?.value;
}

test('set then get returns the value; set twice equals set once; other lines untouched', (t) => {
  fc.assert(
    fc.property(shFile, key, printable, (text, k, v) => {
      const once = printShVars(setShVar(parseShVars(text, 'f'), k, v));
      const twice = printShVars(setShVar(parseShVars(once, 'f'), k, v));
      if (effective(once, k) !== v || twice !== once) return false;
      // Every line that is not an assignment of k is unchanged (appends only add at the end).
      const before = parseShVars(text, 'f')
        .lines.filter((l) => l.assign?.key !== k)
        .map((l) => l.text);
      const after = parseShVars(once, 'f')
        .lines.filter((l) => l.assign?.key !== k)
        .map((l) => l.text);
      return JSON.stringify(before) === JSON.stringify(after);
    }),
    { numRuns: 500 },
  );
  t.pass();
});

test('unset removes the key and nothing else', (t) => {
  fc.assert(
    fc.property(shFile, key, (text, k) => {
      const out = printShVars(unsetShVar(parseShVars(text, 'f'), k));
      if (effective(out, k) !== undefined) return false;
      const keep = (s: string) =>
        parseShVars(s, 'f')
          .lines.filter((l) => l.assign?.key !== k)
          .map((l) => l.text);
      return JSON.stringify(keep(text)) === JSON.stringify(keep(out));
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('list add then remove restores the elements', (t) => {
  const elem = fc.stringMatching(/^[a-z]{1,6}[0-9]$/);
  fc.assert(
    fc.property(fc.array(elem, { maxLength: 6 }), elem, (elems, e) => {
      const value = [...new Set(elems)].filter((x) => x !== e).join(' ');
      const added = listAdd(value, e);
      if (!listElements(added).includes(e) || listAdd(added, e) !== added) return false;
      return listRemove(added, e) === value;
    }),
  );
  t.pass();
});

test('ifconfig.IF: set is idempotent and leaves other lines alone', (t) => {
  const word = fc.stringMatching(/^[a-z0-9]{1,6}$/);
  const line = fc.oneof(
    fc.tuple(word, fc.array(word, { maxLength: 3 })).map(([k, v]) => [k, ...v].join(' ')),
    fc.string({ maxLength: 10 }).map((c) => `# ${c.replace(/[\r\n]/g, '')}`),
    fc.constant(''),
  );
  fc.assert(
    fc.property(fc.array(line, { maxLength: 10 }), word, fc.array(word, { maxLength: 3 }), (lines, k, v) => {
      const text = lines.join('\n') + (lines.length ? '\n' : '');
      const value = v.join(' ');
      const once = printWordLines(setWordLine(parseWordLines(text, 'f'), k, value));
      const twice = printWordLines(setWordLine(parseWordLines(once, 'f'), k, value));
      const mine = parseWordLines(once, 'f').lines.filter((l) => l.key === k);
      const others = (s: string) =>
        parseWordLines(s, 'f')
          .lines.filter((l) => l.key !== k)
          .map((l) => l.text);
      return twice === once && mine.length === 1 && mine[0]?.value === value && JSON.stringify(others(text)) === JSON.stringify(others(once));
    }),
    { numRuns: 300 },
  );
  t.pass();
});
