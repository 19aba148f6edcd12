/**
 * Golden tests of the ifconfig parser: every fixture in test/fixtures/ifconfig/*.txt (the
 * examples from the reference documents verbatim, plus realistic FreeBSD 7-15, NetBSD 10, INtime
 * and laggctl outputs) is parsed and compared in full with its .json model. Regenerate after a
 * deliberate model change with LAGGKIT_UPDATE_GOLDEN=1 and review the diff.
 */
import test from 'ava';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseIfconfig } from '../../src/ifconfig/index.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'ifconfig');
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.txt'))
  .sort();
const update = process.env.LAGGKIT_UPDATE_GOLDEN === '1';

test('the fixture set covers the seeds and every dialect', (t) => {
  for (const prefix of ['seed-', 'freebsd7', 'freebsd8', 'freebsd9', 'freebsd13', 'freebsd14', 'freebsd15', 'netbsd10', 'intime', 'laggctl']) {
    t.true(
      fixtures.some((f) => f.startsWith(prefix)),
      `a fixture starting with ${prefix}`,
    );
  }
});

for (const name of fixtures) {
  test(`golden: ${name}`, (t) => {
    const text = readFileSync(path.join(dir, name), 'utf8');
    const model = parseIfconfig(text, { os: 'auto' });
    const goldenPath = path.join(dir, name.replace(/\.txt$/, '.json'));
    if (update) writeFileSync(goldenPath, `${JSON.stringify(model, null, 2)}\n`);
    const expected: unknown = JSON.parse(readFileSync(goldenPath, 'utf8'));
    t.deepEqual(JSON.parse(JSON.stringify(model)), expected);
  });
}
