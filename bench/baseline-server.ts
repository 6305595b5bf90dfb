/**
 * Baseline servers for bench/api.bench.ts and bench/cache.bench.ts, on the same Node and machine as the app:
 *   node bench/baseline-server.ts json            a bare Fastify route returning a fixed product-sized JSON
 *   node bench/baseline-server.ts lookup <file>   a bare Fastify route answering, for each id in <file> (one
 *                                                 per line), its own product-sized JSON made once at start,
 *                                                 looked up in a Map (what a catalog-sized cache costs, alone)
 *   node bench/baseline-server.ts sql <url>       bare Fastify routes running the app's own catalog SQL with
 *                                                 `pg`, each as a named prepared statement, rows sent as they
 *                                                 come (no mapping, no hooks, no cache, no clickstream):
 *       GET /bench/product/:id                    the product page's statement
 *       GET /bench/listing/:scope/:categoryId     a category listing's first page (scope: top | child)
 *       GET /bench/search?q=                      a search's first page (relevance order); sent unnamed,
 *                                                 planned per query as the app sends it (its best plan
 *                                                 depends on the words: a generic plan cannot know them)
 *       GET /bench/search/explain?q=              that statement under EXPLAIN (ANALYZE, BUFFERS): its
 *                                                 execution time and shared buffers touched
 *   node bench/baseline-server.ts ready <url>     a bare Fastify + `pg` process with a `/readyz` that asks the
 *                                                 database `select 1` (what a process's start-up is set against)
 * The statements are captured at start from src/modules/catalog/catalog.repo.ts (its functions run
 * once against a Kysely that records instead of sending), so a change to the app's SQL changes the
 * baseline's with it. Prints `listening <port>` when ready, then one line per statement.
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import pg from 'pg';

const [mode, url] = process.argv.slice(2);
const app = Fastify({ logger: false });

const product = {
  id: '01935b8e-7c1a-7000-8000-000000000000',
  sellerId: '01935b8e-7c1a-7000-8000-000000000001',
  categoryId: '01935b8e-7c1a-7000-8000-000000000002',
  title: 'Hand-thrown stoneware mug, speckled glaze',
  description: 'A sturdy mug for long mornings. '.repeat(6),
  priceMinor: 2400,
  currency: 'USD',
  stock: 12,
  attributes: { colour: 'sand', capacityMl: 350 },
  status: 'published',
  createdAt: new Date().toISOString(),
  updatedAt: new Date().toISOString(),
};

if (mode === 'json') {
  app.get('/bench/:id', async () => product);
} else if (mode === 'lookup' && url) {
  const ids = readFileSync(url, 'utf8').split('\n').filter(Boolean);
  const bodies = new Map(ids.map((id, n) => [id, JSON.stringify({ ...product, id, stock: n % 20 })]));
  app.get<{ Params: { id: string } }>('/bench/:id', (request, reply) => {
    const body = bodies.get(request.params.id);
    if (body === undefined) return reply.code(404).send({ error: 'not found' });
    return reply.type('application/json; charset=utf-8').send(body);
  });
} else if (mode === 'sql' && url) {
  // Loaded here: the other modes (a start-up baseline among them) must not pay for the app's code.
  const { captured, FIRST_PAGE_ROWS, SLOT, repo, toPrefixTsQuery } = await import('./captured-sql.ts');
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  const statement = (name: string, query: Awaited<ReturnType<typeof captured>>, prepared = true) => {
    console.log(`${name}: ${query.sql.replace(/\s+/g, ' ')}`);
    if (!query.parameters.includes(SLOT)) throw new Error(`${name}: the request's value is not a parameter`);
    return async (value: string, prefix = '') => {
      const values = query.parameters.map((p) => (p === SLOT ? value : p));
      const text = prefix + query.sql;
      return (await pool.query(prepared && !prefix ? { name, text, values } : { text, values })).rows;
    };
  };
  const byId = statement('product', await captured((db) => repo.findProduct(db, SLOT)));
  const listing = {
    top: statement(
      'listing_top',
      await captured((db) =>
        repo.listProducts(
          db,
          { status: 'published', topCategoryId: SLOT },
          'newest',
          undefined,
          FIRST_PAGE_ROWS,
        ),
      ),
    ),
    child: statement(
      'listing_child',
      await captured((db) =>
        repo.listProducts(
          db,
          { status: 'published', categoryId: SLOT },
          'newest',
          undefined,
          FIRST_PAGE_ROWS,
        ),
      ),
    ),
  };
  const search = statement(
    'search',
    await captured((db) =>
      repo.listProducts(db, { status: 'published', tsquery: SLOT }, 'relevance', undefined, FIRST_PAGE_ROWS),
    ),
    false,
  );
  app.get<{ Params: { id: string } }>('/bench/product/:id', async (request, reply) => {
    const [row] = await byId(request.params.id);
    return row ?? reply.code(404).send({ error: 'not found' });
  });
  app.get<{ Params: { scope: 'top' | 'child'; id: string } }>(
    '/bench/listing/:scope/:id',
    async (request) => ({ items: await listing[request.params.scope](request.params.id) }),
  );
  app.get<{ Querystring: { q: string } }>('/bench/search', async (request) => {
    const tsquery = toPrefixTsQuery(request.query.q);
    return { items: tsquery === null ? [] : await search(tsquery) };
  });
  app.get<{ Querystring: { q: string } }>('/bench/search/explain', async (request) => {
    const tsquery = toPrefixTsQuery(request.query.q);
    if (tsquery === null) return { tsquery, executionMs: 0, sharedBuffers: 0 };
    const [row] = await search(tsquery, 'explain (analyze, buffers, format json) ');
    const [plan] = (row as { 'QUERY PLAN': { 'Execution Time': number; Plan: Record<string, number> }[] })[
      'QUERY PLAN'
    ];
    const buffers = (n: Record<string, number>) =>
      (n['Shared Hit Blocks'] ?? 0) + (n['Shared Read Blocks'] ?? 0);
    return { tsquery, executionMs: plan!['Execution Time'], sharedBuffers: buffers(plan!.Plan) };
  });
} else if (mode === 'ready' && url) {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  app.get('/readyz', async () => {
    await pool.query('select 1');
    return { status: 'ready' };
  });
} else {
  console.error(
    'usage: node bench/baseline-server.ts json | lookup <ids-file> | sql <postgres-url> | ready <postgres-url>',
  );
  process.exit(2);
}

await app.listen({ host: '127.0.0.1', port: Number(process.env['PORT'] ?? 0) });
const address = app.server.address();
console.log(`listening ${typeof address === 'object' && address ? address.port : 0}`);
