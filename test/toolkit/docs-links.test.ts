/**
 * Every relative link in the project's Markdown pages (README.md, ARCHITECTURE.md and the
 * folders' READMEs) points at a file that exists in the repository.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const pages = execFileSync('git', ['ls-files', '*.md'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);

test('Markdown pages link only to files that exist', (t) => {
  t.true(pages.includes('README.md') && pages.includes('ARCHITECTURE.md'), pages.join(' '));
  const broken: string[] = [];
  for (const page of pages) {
    const text = readFileSync(path.join(root, page), 'utf8');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (target === undefined || /^[a-z]+:|^#/.test(target)) continue;
      const file = path.resolve(root, path.dirname(page), target.split('#')[0] as string);
      if (!existsSync(file)) broken.push(`${page} -> ${target}`);
    }
  }
  t.deepEqual(broken, []);
});
