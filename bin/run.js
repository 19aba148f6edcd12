#!/usr/bin/env node
// laggkit entry point: runs the compiled commands in dist/ (npm run build), never the
// TypeScript sources (oclif would transpile them when NODE_ENV is test or development).
import { execute, settings } from '@oclif/core';

settings.enableAutoTranspile = false;
await execute({ dir: import.meta.url });
