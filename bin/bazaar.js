#!/usr/bin/env node
// The `bazaar` command (package.json "bin"). Plain JavaScript so that an old Node gets a clear
// message; the CLI itself is TypeScript run through Node's type stripping.
import '../scripts/check-node.js';

await import('../src/apps/cli.ts');
