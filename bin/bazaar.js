#!/usr/bin/env node
// The `bazaar` command (package.json "bin"). Plain JavaScript so that an old Node gets a clear
// message; the CLI itself is TypeScript run through Node's type stripping.
import * as nodeModule from 'node:module';
import '../scripts/check-node.js';

// The CLI's modules are kept type-stripped and compiled in Node's compile cache for later runs.
nodeModule.enableCompileCache();

await import('../src/apps/cli.ts');
