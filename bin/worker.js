#!/usr/bin/env node
// `npm run worker`: src/apps/worker.ts behind Node's compile cache. Plain JavaScript, so that the
// cache is on before any TypeScript is read: later starts take every module type-stripped and
// compiled from the cache and never load the type stripper (tens of MB, tens of ms).
import * as nodeModule from 'node:module';
import '../scripts/check-node.js';

nodeModule.enableCompileCache();

await import('../src/apps/worker.ts');
