/**
 * npm run bench:api — catalog read paths against two baselines, in one run, on one machine:
 *   bare Fastify JSON route  (the ceiling of the HTTP stack)
 *   bare `pg` PK lookup route (the ceiling of one database round trip)
 * and the app's GET /api/products/:id, GET /api/products?category=…, GET /api/products?q=…,
 * on PostgreSQL (when reachable) without and with the catalog cache, and on PGlite without it. Prints a table and writes bench/results/*.json.
 *
 * Settings: DATABASE_URL (admin URL of a PostgreSQL server; default postgres://postgres@127.0.0.1:5432/postgres),
 * BENCH_PRODUCTS (default 2000), BENCH_SECONDS per measurement (default 10), BENCH_CONNECTIONS (default 32).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  freePort,
  type LoadResult,
  load,
  machine,
  pick,
  runNode,
  startNode,
  table,
  waitReady,
  writeResult,
} from './support.ts';

const adminUrl = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PRODUCTS = Number(process.env['BENCH_PRODUCTS'] ?? 2000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 32);
const opts = { seconds: SECONDS, connections: CONNECTIONS };

async function postgresReachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

async function recreateDatabase(name: string): Promise<string> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  await c.query(`drop database if exists ${name} with (force)`);
  await c.query(`create database ${name}`);
  await c.end();
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

type Catalog = { ids: string[]; categories: string[]; words: string[] };

/** Ids, category slugs and title words, read through the public API like any client. */
async function discover(base: string): Promise<Catalog> {
  const ids: string[] = [];
  const words = new Set<string>();
  let cursor: string | null = null;
  do {
    const res = await fetch(`${base}/api/products?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
    if (!res.ok) throw new Error(`listing failed: ${res.status} ${await res.text()}`);
    const page = (await res.json()) as { items: { id: string; title: string }[]; nextCursor: string | null };
    for (const p of page.items) {
      ids.push(p.id);
      for (const w of p.title.toLowerCase().split(/[^a-z]+/)) if (w.length >= 4) words.add(w);
    }
    cursor = page.nextCursor;
  } while (cursor && ids.length < 5000);
  const tree = (await (await fetch(`${base}/api/categories`)).json()) as {
    slug: string;
    children: { slug: string }[];
  }[];
  const categories = tree.flatMap((c) => [c.slug, ...c.children.map((x) => x.slug)]);
  return { ids, categories, words: [...words] };
}

async function prepare(label: string, env: Record<string, string>): Promise<void> {
  console.log(`\n[${label}] migrating and seeding ${PRODUCTS} products…`);
  await runNode(['bin/bazaar.js', 'migrate'], { ...env, LOG_LEVEL: 'warn' });
  await runNode(
    ['bin/bazaar.js', 'seed', '--products', String(PRODUCTS), '--sellers', '20', '--buyers', '0'],
    {
      ...env,
      LOG_LEVEL: 'warn',
    },
  );
}

/** The app's three catalog reads; request logging is off (LOG_LEVEL=warn), as in the baselines. */
async function measureApp(label: string, env: Record<string, string>): Promise<LoadResult[]> {
  const port = await freePort();
  const server = await startNode(
    ['src/apps/web.ts'],
    {
      ...env,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      SEED: 'false',
      MIGRATE_ON_START: 'false',
      SERVE_WEB: 'false',
    },
    null,
  );
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitReady(base);
    const cat = await discover(base);
    console.log(
      `[${label}] ${cat.ids.length} products, ${cat.categories.length} categories; ${SECONDS}s per route…`,
    );
    return [
      await load('GET /api/products/:id', base, () => `/api/products/${pick(cat.ids)}`, opts),
      await load(
        'GET /api/products?category=',
        base,
        () => `/api/products?category=${pick(cat.categories)}`,
        opts,
      ),
      await load(
        'GET /api/products?q=',
        base,
        () => `/api/products?q=${encodeURIComponent(pick(cat.words))}`,
        opts,
      ),
    ];
  } finally {
    await server.stop();
  }
}

const headers = ['database', 'cache', 'route', 'req/s', 'p99 ms', 'vs bare Fastify', 'vs bare pg', 'errors'];
const rows: (string | number)[][] = [];
const row = (db: string, cache: string, r: LoadResult, json: LoadResult, base: LoadResult | undefined) => [
  db,
  cache,
  r.name,
  Math.round(r.rps),
  r.p99,
  (r.rps / json.rps).toFixed(2),
  base ? (r.rps / base.rps).toFixed(2) : 'n/a',
  r.errors + r.non2xx,
];

console.log(`bench:api on ${machine()}`);
const jsonServer = await startNode(['bench/baseline-server.ts', 'json'], {}, /listening (\d+)/);
const json = await load(
  'bare Fastify JSON route',
  `http://127.0.0.1:${jsonServer.match[1]}`,
  () => '/bench/x',
  opts,
);
await jsonServer.stop();
rows.push(row('-', '-', json, json, undefined));

let pgBaseline: LoadResult | undefined;
if (await postgresReachable()) {
  const url = await recreateDatabase('bazaar_bench');
  await prepare('postgres', { DATABASE_URL: url });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const ids = (await client.query<{ id: string }>('select id from catalog.products')).rows.map((r) => r.id);
  await client.end();
  const pgServer = await startNode(['bench/baseline-server.ts', 'pg', url], {}, /listening (\d+)/);
  pgBaseline = await load(
    'bare pg PK lookup route',
    `http://127.0.0.1:${pgServer.match[1]}`,
    () => `/bench/${pick(ids)}`,
    opts,
  );
  await pgServer.stop();
  rows.push(row('postgres', '-', pgBaseline, json, pgBaseline));
  // CACHE=none: every read is a database round trip, like the baseline (the foundation's target:
  // detail >= 0.8 of bare pg); CACHE=memory: the catalog cache in front (nothing writes meanwhile).
  for (const cache of ['none', 'memory']) {
    for (const r of await measureApp(`postgres, cache ${cache}`, { DATABASE_URL: url, CACHE: cache }))
      rows.push(row('postgres', cache, r, json, pgBaseline));
  }
} else {
  console.log(`PostgreSQL at ${adminUrl} is not reachable: PostgreSQL rows skipped.`);
}

const dir = await mkdtemp(join(tmpdir(), 'bazaar-bench-'));
try {
  await prepare('pglite', { DATA_DIR: dir });
  for (const r of await measureApp('pglite, cache none', { DATA_DIR: dir, CACHE: 'none' }))
    rows.push(row('pglite', 'none', r, json, pgBaseline));
} finally {
  await rm(dir, { recursive: true, force: true });
}

console.log(`\n${table(headers, rows)}`);
const file = await writeResult('api', {
  machine: machine(),
  products: PRODUCTS,
  seconds: SECONDS,
  connections: CONNECTIONS,
  rows: rows.map((r) => Object.fromEntries(headers.map((h, i) => [h, r[i]]))),
});
console.log(`\nwritten ${file}`);
