#!/usr/bin/env node
/**
 * The house style, checked or applied:
 *
 *   node scripts/lint.mjs          check: Biome (TypeScript/JavaScript lint and format) and
 *                                  clang-format 19 (C, .clang-format) over the tracked files;
 *                                  exits 1 on any difference or lint error (npm test runs this)
 *   node scripts/lint.mjs --fix    rewrite the files in the house style (npm run format)
 *
 * clang-format is pinned to major version 19 because other versions format the same code
 * differently; setup.sh installs clang-format-19.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fix = process.argv.includes('--fix');
const biome = path.join(root, 'node_modules', '.bin', 'biome');

function clangFormat() {
  for (const name of ['clang-format-19', 'clang-format']) {
    const r = spawnSync(name, ['--version'], { encoding: 'utf8' });
    if (r.status === 0 && /version 19\./.test(r.stdout)) return name;
  }
  return undefined;
}

let failed = 0;
// Findings below warning level (style hints) are not shown; colour only for a terminal.
const biomeOpts = ['--diagnostic-level=warn', ...(process.stdout.isTTY && process.env.NO_COLOR === undefined ? [] : ['--colors=off'])];
const b = spawnSync(biome, fix ? ['check', '--write', ...biomeOpts, '.'] : ['ci', ...biomeOpts, '.'], { cwd: root, stdio: 'inherit' });
if (b.status !== 0) failed++;

const cf = clangFormat();
const cFiles = execFileSync('git', ['ls-files', '*.c', '*.h'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);
if (cf === undefined) {
  console.error('lint: clang-format 19 is missing (apt-get install clang-format-19, or npm run setup)');
  failed++;
} else {
  const c = spawnSync(cf, fix ? ['-i', ...cFiles] : ['--dry-run', '-Werror', ...cFiles], { cwd: root, stdio: 'inherit' });
  if (c.status !== 0) failed++;
  else if (!fix) console.log(`clang-format: ${cFiles.length} C files in the house style`);
}
process.exit(failed === 0 ? 0 : 1);
