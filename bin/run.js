#!/usr/bin/env node
// laggkit entry point: runs the compiled commands in dist/ (npm run build), never the
// TypeScript sources (oclif would transpile them when NODE_ENV is test or development).
//
// Two runs skip oclif, whose loading costs more than starting node: `laggkit --version`,
// answered in oclif's own format (scripts call it to probe for laggkit), and the plain case of
// `laggkit parse`, a filter in pipelines (dist/cli/parse-direct.js says which case that is).
import { readFileSync } from 'node:fs';

async function ranWithoutOclif(args) {
  if (args.length === 1 && args[0] === '--version') {
    const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    process.stdout.write(`${pjson.name}/${pjson.version} ${process.platform}-${process.arch} node-${process.version}\n`);
    return true;
  }
  if (args[0] === 'parse') return (await import('../dist/cli/parse-direct.js')).parseDirect(args.slice(1));
  return false;
}

if (!(await ranWithoutOclif(process.argv.slice(2)))) {
  // Node 22.1+ keeps V8's compiled code of every module on disk between runs; most of a
  // command's start-up is compiling oclif. Older Node has no such call and starts as before.
  const { default: mod } = await import('node:module');
  mod.enableCompileCache?.();
  // oclif's subpath entries, not its index: the index loads every part of the framework
  // (help, ux, logger, ...) where a command like `parse` needs a third of it.
  const [{ execute }, { settings }] = await Promise.all([import('@oclif/core/execute'), import('@oclif/core/settings')]);
  settings.enableAutoTranspile = false;
  await execute({ dir: import.meta.url });
}
