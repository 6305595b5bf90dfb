/**
 * Baseline servers for bench/api.bench.ts and bench/cache.bench.ts, on the same Node and machine as the app:
 *   node bench/baseline-server.ts json            a bare Fastify route returning a fixed product-sized JSON
 *   node bench/baseline-server.ts lookup <file>   a bare Fastify route answering, for each id in <file> (one
 *                                                 per line), its own product-sized JSON made once at start,
 *                                                 looked up in a Map (what a catalog-sized cache costs, alone)
 *   node bench/baseline-server.ts pg <url>        a bare Fastify route doing one `pg` primary-key lookup
 * Prints `listening <port>` when ready.
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
} else if (mode === 'pg' && url) {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  app.get<{ Params: { id: string } }>('/bench/:id', async (request, reply) => {
    const { rows } = await pool.query('select * from catalog.products where id = $1', [request.params.id]);
    if (rows.length === 0) return reply.code(404).send({ error: 'not found' });
    return rows[0];
  });
} else {
  console.error('usage: node bench/baseline-server.ts json | lookup <ids-file> | pg <postgres-url>');
  process.exit(2);
}

await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
console.log(`listening ${typeof address === 'object' && address ? address.port : 0}`);
