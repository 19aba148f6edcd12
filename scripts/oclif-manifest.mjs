#!/usr/bin/env node
/**
 * Writes oclif.manifest.json: every command's id, summary, flags and arguments, read from the
 * compiled commands in dist/. With it, oclif answers --version and --help and finds a command
 * without importing every command module (and through them ssh2, yaml, zod, ...) at start-up;
 * without it, each run of laggkit would load them all to learn what exists.
 *
 * Run by `npm run build` after tsc, so the manifest always matches dist/.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Plugin } from '@oclif/core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const plugin = new Plugin({ root, type: 'core', ignoreManifest: true, errorOnManifestCreate: true });
await plugin.load();
writeFileSync(path.join(root, 'oclif.manifest.json'), `${JSON.stringify(plugin.manifest, null, 2)}\n`);
