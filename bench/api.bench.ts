/**
 * npm run bench:api — catalog read paths against two baselines, in one run, on one machine:
 *   bare Fastify JSON route  (the ceiling of the HTTP stack)
 *   bare `pg` PK lookup route (the ceiling of one database round trip)
 * and the app's GET /api/products/:id, GET /api/products?category=…, GET /api/products?q=…,
 * on PostgreSQL (when reachable) without and with the catalog cache, product detail without the
 * cache with the clickstream in Redis Streams (when Redis is reachable), and on PGlite without the
 * cache. Prints a table and writes bench/results/*.json.
 *
 * Every server runs at once (idle while another is measured); each round measures every app
 * target next to both baselines, ratios are taken within that triple, and the table reports
 * medians over the rounds.
 *
 * Load: wrk (one thread; installed with apt when missing and root), else autocannon in this
 * process, which on a small machine caps the fastest routes and lowers their ratios (said at start).
 *
 * Settings: DATABASE_URL (admin URL of a PostgreSQL server; default postgres://postgres@127.0.0.1:5432/postgres),
 * REDIS_URL (default redis://127.0.0.1:6379),
 * BENCH_PRODUCTS (default 2000), BENCH_SECONDS per measurement (default 4, after a quarter of that unmeasured), BENCH_ROUNDS (default 4),
 * BENCH_CONNECTIONS (default 32).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  chooseLoadGenerator,
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
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const PRODUCTS = Number(process.env['BENCH_PRODUCTS'] ?? 2000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 4);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 4);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 32);
const opts = { seconds: SECONDS, connections: CONNECTIONS };

async function redisReachable(): Promise<boolean> {
  const r = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000 });
  r.on('error', () => {});
  try {
    await r.connect();
    await r.ping();
    return true;
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

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

/** A server under test and the requests it answers. */
type Target = {
  db: string;
  cache: string;
  name: string;
  base: string;
  path: () => string;
  /** Which baseline its "vs bare pg" ratio is taken against (same round). */
  vsPg: boolean;
};

/** Starts the app (request logging off, LOG_LEVEL=warn, as in the baselines) and returns its three catalog reads. */
async function startApp(
  label: string,
  env: Record<string, string>,
): Promise<{ targets: (db: string, cache: string) => Target[]; stop(): Promise<void> }> {
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
  await waitReady(base);
  const cat = await discover(base);
  console.log(`[${label}] ${cat.ids.length} products, ${cat.categories.length} categories`);
  return {
    targets: (db, cache) => [
      {
        db,
        cache,
        name: 'GET /api/products/:id',
        base,
        path: () => `/api/products/${pick(cat.ids)}`,
        vsPg: true,
      },
      {
        db,
        cache,
        name: 'GET /api/products?category=',
        base,
        path: () => `/api/products?category=${pick(cat.categories)}`,
        vsPg: true,
      },
      {
        db,
        cache,
        name: 'GET /api/products?q=',
        base,
        path: () => `/api/products?q=${encodeURIComponent(pick(cat.words))}`,
        vsPg: true,
      },
    ],
    stop: () => server.stop(),
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

console.log(`bench:api on ${machine()}; ${ROUNDS} rounds of ${SECONDS}s per target`);
const generator = await chooseLoadGenerator();
const stops: (() => Promise<void>)[] = [];
const targets: Target[] = [];
try {
  const jsonServer = await startNode(['bench/baseline-server.ts', 'json'], {}, /listening (\d+)/);
  stops.push(() => jsonServer.stop());
  const json: Target = {
    db: '-',
    cache: '-',
    name: 'bare Fastify JSON route',
    base: `http://127.0.0.1:${jsonServer.match[1]}`,
    path: () => `/bench/${crypto.randomUUID()}`, // a path of the length of a product's
    vsPg: false,
  };
  targets.push(json);

  let pgBaseline: Target | undefined;
  if (await postgresReachable()) {
    const url = await recreateDatabase('bazaar_bench');
    await prepare('postgres', { DATABASE_URL: url });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const ids = (await client.query<{ id: string }>('select id from catalog.products')).rows.map((r) => r.id);
    await client.end();
    const pgServer = await startNode(['bench/baseline-server.ts', 'pg', url], {}, /listening (\d+)/);
    stops.push(() => pgServer.stop());
    pgBaseline = {
      db: 'postgres',
      cache: '-',
      name: 'bare pg PK lookup route',
      base: `http://127.0.0.1:${pgServer.match[1]}`,
      path: () => `/bench/${pick(ids)}`,
      vsPg: false,
    };
    targets.push(pgBaseline);
    // CACHE=none: every read is a database round trip, like the baseline (the foundation's target:
    // detail >= 0.8 of bare pg); CACHE=memory: the catalog cache in front (nothing writes meanwhile).
    for (const cache of ['none', 'memory']) {
      const app = await startApp(`postgres, cache ${cache}`, { DATABASE_URL: url, CACHE: cache });
      stops.push(app.stop);
      targets.push(...app.targets('postgres', cache));
    }
    // Product detail once more without the cache, its clickstream in Redis Streams instead of the
    // primary (STREAM_STORE=redis, as the fleet runs): how much of the uncached cost is that write.
    if (await redisReachable()) {
      const app = await startApp('postgres, cache none, clickstream in Redis', {
        DATABASE_URL: url,
        CACHE: 'none',
        REDIS_URL: redisUrl,
        STREAM_STORE: 'redis',
        STREAM_PREFIX: 'bazaar-bench:stream:',
      });
      // No worker rolls this stream up: remove what the run appended (after the app, which
      // flushes its last batch as it stops; stops run in reverse).
      stops.push(async () => {
        const r = new Redis(redisUrl);
        await r.del('bazaar-bench:stream:clickstream');
        r.disconnect();
      });
      stops.push(app.stop);
      targets.push(app.targets('postgres', 'none, stream redis')[0]!);
    } else {
      console.log(`Redis at ${redisUrl} is not reachable: the clickstream-in-Redis row is skipped.`);
    }
  } else {
    console.log(`PostgreSQL at ${adminUrl} is not reachable: PostgreSQL rows skipped.`);
  }

  const dir = await mkdtemp(join(tmpdir(), 'bazaar-bench-'));
  stops.push(() => rm(dir, { recursive: true, force: true }));
  await prepare('pglite', { DATA_DIR: dir });
  const lite = await startApp('pglite, cache none', { DATA_DIR: dir, CACHE: 'none' });
  stops.splice(stops.length - 1, 0, lite.stop); // stop the app before removing its directory
  targets.push(...lite.targets('pglite', 'none'));

  // Rounds: each app target is measured next to the two baselines (after them in odd rounds,
  // before them in even ones), and its ratios come from that triple: a shared machine's speed drifts within a minute, so only adjacent measurements
  // compare. The table gives medians over the rounds.
  const runs = new Map<Target, LoadResult[]>(targets.map((t) => [t, []]));
  const vsJson = new Map<Target, number[]>(targets.map((t) => [t, []]));
  const vsPg = new Map<Target, number[]>(targets.map((t) => [t, []]));
  const measure = async (t: Target) => {
    const r = await load(t.name, t.base, t.path, opts);
    runs.get(t)!.push(r);
    return r;
  };
  const subjects = targets.filter((t) => t !== json && t !== pgBaseline);
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`round ${round}/${ROUNDS}…`);
    for (const t of subjects) {
      // Odd rounds: baselines first; even rounds: the app first (no order bias in the median).
      const first = round % 2 === 1;
      const r0 = first ? undefined : await measure(t);
      const j = await measure(json);
      const b = pgBaseline ? await measure(pgBaseline) : undefined;
      const r = r0 ?? (await measure(t));
      vsJson.get(t)!.push(r.rps / j.rps);
      if (b) {
        vsPg.get(t)!.push(r.rps / b.rps);
        vsJson.get(pgBaseline!)!.push(b.rps / j.rps);
      }
      vsJson.get(json)!.push(1);
      if (b) vsPg.get(pgBaseline!)!.push(1);
    }
  }

  const headers = [
    'database',
    'cache',
    'route',
    'req/s',
    'p99 ms',
    'vs bare Fastify',
    'vs bare pg',
    'vs bare pg, rounds',
    'errors',
  ];
  const rows = targets.map((t) => {
    const rs = runs.get(t)!;
    const pgRatios = vsPg.get(t)!;
    const withPg = pgBaseline !== undefined && (t.vsPg || t === pgBaseline);
    return [
      t.db,
      t.cache,
      t.name,
      Math.round(median(rs.map((r) => r.rps))),
      Number(median(rs.map((r) => r.p99)).toFixed(1)),
      median(vsJson.get(t)!).toFixed(2),
      withPg ? median(pgRatios).toFixed(2) : 'n/a',
      withPg && t !== pgBaseline ? pgRatios.map((x) => x.toFixed(2)).join(' ') : '',
      rs.reduce((n, r) => n + r.errors + r.non2xx, 0),
    ];
  });
  console.log(`\n${table(headers, rows)}`);
  console.log('\nreq/s and p99: medians over the rounds; ratios: medians of the per-round ratios.');
  const file = await writeResult('api', {
    machine: machine(),
    products: PRODUCTS,
    seconds: SECONDS,
    rounds: ROUNDS,
    connections: CONNECTIONS,
    loadGenerator: generator,
    rows: rows.map((r) => Object.fromEntries(headers.map((h, i) => [h, r[i]]))),
    runs: targets.map((t) => ({ db: t.db, cache: t.cache, route: t.name, runs: runs.get(t) })),
  });
  console.log(`\nwritten ${file}`);
} finally {
  for (const stop of stops.reverse()) await stop();
}
