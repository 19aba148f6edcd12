#!/usr/bin/env node
/**
 * npm run bench:laggd: laggd against Open vSwitch (see bench/laggd/bench.ts). The benchmark is
 * TypeScript that reuses the laggd test rig, so it runs through tsx; this wrapper only builds
 * kmod/posix first and passes the exit status on. Needs root (network namespaces).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
if (process.getuid?.() !== 0) {
  console.error('bench:laggd needs root (it creates network namespaces); run it with sudo');
  process.exit(2);
}
const make = spawnSync('make', ['-s', '-C', 'kmod/posix'], { cwd: root, stdio: 'inherit' });
if (make.status !== 0) console.error('bench:laggd: kmod/posix did not build; only the Open vSwitch figures will be measured');
const run = spawnSync(process.execPath, ['--import=tsx', path.join(root, 'bench', 'laggd', 'bench.ts')], { cwd: root, stdio: 'inherit' });
process.exit(run.status ?? 1);
