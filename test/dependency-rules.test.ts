/**
 * The dependency rules of docs/architecture.md are Biome rules in biome.json (noImportCycles,
 * and noRestrictedImports per folder). This suite runs Biome with the project's own biome.json on
 * a small tree that breaks each rule once, beside imports the rules allow, and checks that exactly
 * the violations are reported, each with its file, line and rule, so a change to the
 * configuration that silences a rule fails here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIOME = join(ROOT, 'node_modules', '.bin', 'biome');

/** Each file: its lines. A line ending in `// ✗ <rule>` must be reported with that rule, no other line. */
const TREE: Record<string, readonly string[]> = {
  'src/platform/cache/cache.ts': [
    "import type { WebModule } from '../../modules/module.ts'; // ✗ noRestrictedImports",
    "import type { ApiApp } from '../../http/api-app.ts'; // ✗ noRestrictedImports",
    "import type { FastifyInstance } from 'fastify'; // ✗ noRestrictedImports",
    "import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'; // ✗ noRestrictedImports",
    "import type { Session } from '../sessions/sessions.ts';",
    "import { AppError } from '../../shared/errors.ts';",
    'export type Uses = [WebModule, ApiApp, FastifyInstance, TypeBoxTypeProvider, Session, AppError];',
  ],
  'src/platform/sessions/sessions.ts': ['export type Session = { id: string };'],
  'src/shared/errors.ts': [
    "import type { Config } from '../config/config.ts'; // ✗ noRestrictedImports",
    "import { isUuid } from './ids.ts';",
    'export class AppError extends Error {}',
    'export type Uses = [Config, typeof isUuid];',
  ],
  'src/shared/ids.ts': ['export const isUuid = (s: string): boolean => s.length === 36;'],
  'src/config/config.ts': ['export type Config = { port: number };'],
  'src/http/api-app.ts': ['export type ApiApp = { get(path: string): void };'],
  'src/http/app.ts': [
    "import type { WebModule } from '../modules/module.ts';",
    "import { ordersModule } from '../modules/orders/index.ts';",
    "import { createOrdersService } from '../modules/orders/orders.service.ts'; // ✗ noRestrictedImports",
    'export const uses = [ordersModule, createOrdersService] as const;',
    'export type Uses = WebModule;',
  ],
  'src/modules/module.ts': [
    "import type { ApiApp } from '../http/api-app.ts';",
    "import type { Config } from '../config/config.ts';",
    'export type WebModule = { name: string; routes?: (app: ApiApp, config: Config) => void };',
  ],
  'src/modules/catalog/index.ts': [
    "export { createCatalogService } from './catalog.service.ts';",
    "export type { Product } from './catalog.repo.ts';",
  ],
  'src/modules/catalog/catalog.service.ts': ['export const createCatalogService = () => ({});'],
  'src/modules/catalog/catalog.repo.ts': ['export type Product = { id: string };'],
  'src/modules/orders/index.ts': [
    "import type { WebModule } from '../module.ts';",
    "import { ordersRoutes } from './orders.routes.ts';",
    "export const ordersModule: WebModule = { name: 'orders', routes: (app) => ordersRoutes(app) };",
    "export { createOrdersService } from './orders.service.ts';",
  ],
  'src/modules/orders/orders.routes.ts': [
    "import type { ApiApp } from '../../http/api-app.ts';",
    "import type { FastifyReply } from 'fastify';",
    "import type { Product } from '../catalog/catalog.repo.ts'; // ✗ noRestrictedImports",
    'export const ordersRoutes = (app: ApiApp): void => app.get("/api/orders");',
    'export type Uses = [FastifyReply, Product];',
  ],
  'src/modules/orders/orders.service.ts': [
    "import { createCatalogService } from '../catalog/index.ts';",
    "import type { Product } from '../catalog/catalog.repo.ts'; // ✗ noRestrictedImports",
    "import { createCatalogService as again } from '../../modules/catalog/catalog.service.ts'; // ✗ noRestrictedImports",
    "import type { ApiApp } from '../../http/api-app.ts'; // ✗ noRestrictedImports",
    "import type { FastifyRequest } from 'fastify'; // ✗ noRestrictedImports",
    "import { AppError } from '../../shared/errors.ts';",
    "import type { Session } from '../../platform/sessions/sessions.ts';",
    "import { lines } from './orders.repo.ts';",
    "export const createOrdersService = () => ({ createCatalogService, again, AppError, lines, repo: () => import('../catalog/catalog.repo.ts') }); // ✗ noRestrictedImports",
    'export type Uses = [Product, ApiApp, FastifyRequest, Session];',
  ],
  // A circle of type-only imports counts too.
  'src/modules/orders/orders.repo.ts': [
    "import type { Order } from './orders.schema.ts'; // ✗ noImportCycles",
    'export const lines = (o: Order): number => o.lines;',
  ],
  'src/modules/orders/orders.schema.ts': [
    "import type { lines } from './orders.repo.ts'; // ✗ noImportCycles",
    'export type Order = { lines: number; count?: typeof lines };',
  ],
};

type Finding = Readonly<{ file: string; line: number; rule: string }>;

const key = (f: Finding): string => `${f.file}:${f.line} ${f.rule}`;

describe('dependency rules (biome.json)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bazaar-deps-'));
    await copyFile(join(ROOT, 'biome.json'), join(dir, 'biome.json'));
    for (const [file, lines] of Object.entries(TREE)) {
      await mkdir(dirname(join(dir, file)), { recursive: true });
      await writeFile(join(dir, file), `${lines.join('\n')}\n`);
    }
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('when a tree breaks each rule once, then Biome reports exactly those imports, by file, line and rule', () => {
    const run = spawnSync(
      BIOME,
      ['lint', '--reporter=github', '--max-diagnostics=1000', '--vcs-enabled=false', 'src'],
      { cwd: dir, encoding: 'utf8' },
    );
    assert.equal(run.status, 1, `biome should fail:\n${run.stdout}${run.stderr}`);
    const found: Finding[] = [];
    for (const m of run.stdout.matchAll(/^::error title=lint\/\w+\/(\w+),file=([^,]+),line=(\d+),.*$/gm)) {
      const rule = m[1]!;
      if (rule !== 'noRestrictedImports' && rule !== 'noImportCycles') continue;
      found.push({ file: m[2]!.slice(dir.length + 1), line: Number(m[3]), rule });
    }
    const expected: Finding[] = Object.entries(TREE).flatMap(([file, lines]) =>
      lines.flatMap((text, i) => {
        const rule = /\/\/ ✗ (\w+)$/.exec(text)?.[1];
        return rule ? [{ file, line: i + 1, rule }] : [];
      }),
    );
    assert.deepEqual([...new Set(found.map(key))].sort(), expected.map(key).sort());
  });

  it('when a refusal is reported, then its message names the rule it breaks', () => {
    const run = spawnSync(BIOME, ['lint', '--max-diagnostics=1000', '--vcs-enabled=false', 'src'], {
      cwd: dir,
      encoding: 'utf8',
    });
    const text = run.stdout + run.stderr;
    for (const message of [
      'src/platform imports no module, nothing of src/http and no Fastify',
      'src/shared imports nothing of ours outside src/shared',
      'Code outside a module imports it only through its index.ts',
      'A module imports another module only through its index.ts',
      'In a module only *.routes.ts files import src/http or Fastify',
    ]) {
      assert.ok(text.includes(message), `missing: ${message}`);
    }
    // The default reporter shows the offending import itself.
    assert.ok(text.includes("from '../catalog/catalog.repo.ts'"));
  });
});
