/**
 * npm run bench:api — the catalog's three reads (product page, category listing, search) against
 * baselines doing the same database work, in one run, on one machine:
 *   bare Fastify JSON route     the ceiling of the HTTP stack (no database)
 *   bare same-SQL routes        `pg` running the app's own statements for each read (captured from
 *                               the catalog repository at start, bench/baseline-server.ts), prepared,
 *                               rows sent as they come: the ceiling of that read's database work
 * and the app on PostgreSQL without and with the catalog cache, product detail without the cache
 * with the clickstream in Redis Streams (when Redis is reachable), and on PGlite without the cache.
 *
 * Every server runs at once (idle while another is measured). In each round, each read's sides
 * (its baselines and the app's configurations) are measured one after another in an order that
 * rotates every round, and every ratio is taken within the round; the table reports medians over
 * the rounds, each ratio with its spread (min–max), the Node CPU per request of each side (from
 * /proc: steadier than req/s on a shared machine), and the load average. The database is made for
 * the run (a unique name), analysed after seeding, and dropped at the end.
 *
 * Load: wrk (one thread; installed with apt when missing and root), else autocannon in this
 * process, which on a small machine caps the fastest routes and lowers their ratios (said at start).
 *
 * Settings: DATABASE_URL (admin URL of a PostgreSQL server; default postgres://postgres@127.0.0.1:5432/postgres),
 * REDIS_URL (default redis://127.0.0.1:6379),
 * BENCH_PRODUCTS (default 2000), BENCH_SECONDS per measurement (default 4, after a quarter of that unmeasured),
 * BENCH_ROUNDS (default 6), BENCH_CONNECTIONS (default 32). Prints a table and writes bench/results/api-*.json.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  type Catalog,
  chooseLoadGenerator,
  cpuUs,
  createRunDatabase,
  discover,
  freePort,
  type LoadResult,
  load,
  machine,
  median,
  pick,
  runNode,
  spread,
  sqlOnce,
  startNode,
  table,
  waitReady,
  writeResult,
} from './support.ts';

const adminUrl = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const PRODUCTS = Number(process.env['BENCH_PRODUCTS'] ?? 2000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 4);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 6);
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

async function prepare(label: string, env: Record<string, string>): Promise<void> {
  console.log(`\n[${label}] migrating and seeding ${PRODUCTS} products…`);
  await runNode(['bin/bazaar.js', 'migrate'], { ...env, LOG_LEVEL: 'warn' });
  await runNode(
    ['bin/bazaar.js', 'seed', '--products', String(PRODUCTS), '--sellers', '20', '--buyers', '0'],
    { ...env, LOG_LEVEL: 'warn' },
  );
}

/** The three catalog reads every side answers. */
type Kind = 'product' | 'listing' | 'search';
const KINDS: readonly Kind[] = ['product', 'listing', 'search'];

/** A server under test or a baseline, and the requests it answers. */
type Side = {
  db: string;
  cache: string;
  name: string;
  /** What it does per request, for the table. */
  does: string;
  base: string;
  path: () => string;
  /** The process whose CPU time is counted per request. */
  pid: number;
};

/** Starts the app (request logging off, LOG_LEVEL=warn, as in the baselines) and returns its three catalog reads. */
async function startApp(
  label: string,
  env: Record<string, string>,
  catalog: Catalog | undefined,
): Promise<{
  sides: (db: string, cache: string, does: string) => Record<Kind, Side>;
  catalog: Catalog;
  stop(): Promise<void>;
}> {
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
  const cat = catalog ?? (await discover(base));
  console.log(`[${label}] ${cat.ids.length} products, ${cat.categories.length} categories`);
  const pid = server.process.pid!;
  return {
    catalog: cat,
    sides: (db, cache, does) => ({
      product: {
        db,
        cache,
        name: 'GET /api/products/:id',
        does,
        base,
        pid,
        path: () => `/api/products/${pick(cat.ids)}`,
      },
      listing: {
        db,
        cache,
        name: 'GET /api/products?category=',
        does,
        base,
        pid,
        path: () => `/api/products?category=${pick(cat.categories).slug}`,
      },
      search: {
        db,
        cache,
        name: 'GET /api/products?q=',
        does,
        base,
        pid,
        path: () => `/api/products?q=${encodeURIComponent(pick(cat.words))}`,
      },
    }),
    stop: () => server.stop(),
  };
}

type Measured = LoadResult & { cpuUsPerRequest: number; load1: number };

console.log(
  `bench:api on ${machine()}; ${ROUNDS} rounds of ${SECONDS}s per side, ${CONNECTIONS} connections`,
);
const generator = await chooseLoadGenerator();
const stops: (() => Promise<void>)[] = [];
/** Per kind: the sides measured together in each round, baselines first. */
const groups = new Map<Kind, Side[]>(KINDS.map((k) => [k, []]));
const baselines = new Map<Kind, { json: Side; same?: Side }>();
try {
  const jsonServer = await startNode(['bench/baseline-server.ts', 'json'], {}, /listening (\d+)/);
  stops.push(() => jsonServer.stop());
  for (const kind of KINDS) {
    const json: Side = {
      db: '-',
      cache: '-',
      name: 'bare Fastify JSON route',
      does: 'a fixed product-sized object, no database',
      base: `http://127.0.0.1:${jsonServer.match[1]}`,
      path: () => `/bench/${crypto.randomUUID()}`, // a path of the length of a product's
      pid: jsonServer.process.pid!,
    };
    baselines.set(kind, { json });
    groups.get(kind)!.push(json);
  }

  let catalog: Catalog | undefined;
  if (await postgresReachable()) {
    const database = await createRunDatabase(adminUrl, 'api');
    stops.push(database.drop);
    const url = database.url;
    await prepare('postgres', { DATABASE_URL: url });
    // Bulk-loaded tables have no planner statistics until autovacuum gets to them.
    await sqlOnce(url, 'analyze');

    const sqlServer = await startNode(['bench/baseline-server.ts', 'sql', url], {}, /listening (\d+)/);
    stops.push(() => sqlServer.stop());
    console.log(
      `bare same-SQL routes run these statements, prepared:\n${sqlServer.output().replace(/listening \d+\n?/, '')}`,
    );
    const sqlBase = `http://127.0.0.1:${sqlServer.match[1]}`;

    // CACHE=none: every read reaches the database, as in the bare routes; CACHE=memory: the
    // catalog cache in front (nothing writes meanwhile).
    // REDIS_URL empty: sessions and kv on PostgreSQL, whatever this process was given.
    const none = await startApp(
      'postgres, cache none',
      { DATABASE_URL: url, REDIS_URL: '', CACHE: 'none' },
      undefined,
    );
    stops.push(none.stop);
    catalog = none.catalog;
    const cat = catalog;
    const same: Record<Kind, Side> = {
      product: {
        db: 'postgres',
        cache: '-',
        name: 'bare same-SQL product route',
        does: "the product page's statement, prepared; the row as JSON",
        base: sqlBase,
        path: () => `/bench/product/${pick(cat.ids)}`,
        pid: sqlServer.process.pid!,
      },
      listing: {
        db: 'postgres',
        cache: '-',
        name: 'bare same-SQL listing route',
        does: "a category listing's first-page statement, prepared; the rows as JSON",
        base: sqlBase,
        path: () => {
          const c = pick(cat.categories);
          return `/bench/listing/${c.scope}/${c.id}`;
        },
        pid: sqlServer.process.pid!,
      },
      search: {
        db: 'postgres',
        cache: '-',
        name: 'bare same-SQL search route',
        does: "a search's first-page statement (relevance), prepared; the rows as JSON",
        base: sqlBase,
        path: () => `/bench/search?q=${encodeURIComponent(pick(cat.words))}`,
        pid: sqlServer.process.pid!,
      },
    };
    for (const kind of KINDS) {
      baselines.get(kind)!.same = same[kind];
      groups.get(kind)!.push(same[kind]);
    }
    const noneSides = none.sides(
      'postgres',
      'none',
      'the app: session check, validation, query, mapping, clickstream record',
    );
    const memory = await startApp(
      'postgres, cache memory',
      { DATABASE_URL: url, REDIS_URL: '', CACHE: 'memory' },
      catalog,
    );
    stops.push(memory.stop);
    const memorySides = memory.sides(
      'postgres',
      'memory',
      'the app, answered from its memory cache when warm',
    );
    for (const kind of KINDS) groups.get(kind)!.push(noneSides[kind], memorySides[kind]);
    // Product detail once more without the cache, its clickstream in Redis Streams instead of the
    // primary (STREAM_STORE=redis, as the fleet runs): how much of the uncached cost is that write.
    if (await redisReachable()) {
      const streamPrefix = `bazaar-bench-${process.pid}:stream:`;
      const app = await startApp(
        'postgres, cache none, clickstream in Redis',
        {
          DATABASE_URL: url,
          CACHE: 'none',
          REDIS_URL: redisUrl,
          STREAM_STORE: 'redis',
          STREAM_PREFIX: streamPrefix,
        },
        catalog,
      );
      // No worker rolls this stream up: remove what the run appended (after the app, which
      // flushes its last batch as it stops; stops run in reverse).
      stops.push(async () => {
        const r = new Redis(redisUrl);
        await r.del(`${streamPrefix}clickstream`);
        r.disconnect();
      });
      stops.push(app.stop);
      groups
        .get('product')!
        .push(
          app.sides('postgres', 'none, stream redis', 'as cache none, the clickstream appended to Redis')
            .product,
        );
    } else {
      console.log(`Redis at ${redisUrl} is not reachable: the clickstream-in-Redis row is skipped.`);
    }
  } else {
    console.log(`PostgreSQL at ${adminUrl} is not reachable: PostgreSQL rows skipped.`);
  }

  const dir = await mkdtemp(join(tmpdir(), 'bazaar-bench-'));
  stops.push(() => rm(dir, { recursive: true, force: true }));
  // Empty values unset what this process was given: the embedded side must not reach PostgreSQL or Redis.
  const embedded = { DATA_DIR: dir, DATABASE_URL: '', REDIS_URL: '' };
  await prepare('pglite', embedded);
  const lite = await startApp('pglite, cache none', { ...embedded, CACHE: 'none' }, undefined);
  stops.splice(stops.length - 1, 0, lite.stop); // stop the app before removing its directory
  const liteSides = lite.sides('pglite', 'none', 'the app on its embedded database (counted in its CPU)');
  for (const kind of KINDS) groups.get(kind)!.push(liteSides[kind]);

  // Rounds: each kind's sides are measured one after another (baselines with them), in an order
  // that rotates every round, and every ratio is taken within one round: a shared machine's speed
  // drifts within a minute, so only measurements close in time compare. The table gives medians
  // over the rounds, each ratio with its spread.
  const runs = new Map<Side, Measured[]>();
  const measure = async (side: Side): Promise<Measured> => {
    let cpuAtStart = 0;
    const r = await load(side.name, side.base, side.path, {
      ...opts,
      onMeasuredRun: () => {
        cpuAtStart = cpuUs(side.pid);
      },
    });
    const m = {
      ...r,
      cpuUsPerRequest: (cpuUs(side.pid) - cpuAtStart) / Math.max(1, r.responses),
      load1: loadavg()[0]!,
    };
    if (!runs.has(side)) runs.set(side, []);
    runs.get(side)!.push(m);
    return m;
  };
  type Ratios = { vsJson: number[]; vsSame: number[]; cpuVsSame: number[]; vsProduct: number[] };
  const ratios = new Map<Side, Ratios>();
  const ratiosOf = (side: Side): Ratios => {
    if (!ratios.has(side)) ratios.set(side, { vsJson: [], vsSame: [], cpuVsSame: [], vsProduct: [] });
    return ratios.get(side)!;
  };
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`round ${round}/${ROUNDS}… (load ${loadavg()[0]!.toFixed(2)})`);
    const thisRound = new Map<Side, Measured>();
    for (const kind of KINDS) {
      const sides = groups.get(kind)!;
      const shift = round % sides.length;
      for (const side of [...sides.slice(shift), ...sides.slice(0, shift)])
        thisRound.set(side, await measure(side));
    }
    const sameProduct = baselines.get('product')!.same;
    for (const kind of KINDS) {
      const { json, same } = baselines.get(kind)!;
      for (const side of groups.get(kind)!) {
        const r = thisRound.get(side)!;
        const x = ratiosOf(side);
        x.vsJson.push(r.rps / thisRound.get(json)!.rps);
        if (same && side !== json && side.db === 'postgres') {
          x.vsSame.push(r.rps / thisRound.get(same)!.rps);
          x.cpuVsSame.push(r.cpuUsPerRequest / thisRound.get(same)!.cpuUsPerRequest);
        }
        if (sameProduct && side !== json && kind !== 'product' && side.db === 'postgres') {
          x.vsProduct.push(r.rps / thisRound.get(sameProduct)!.rps);
        }
      }
    }
  }

  const headers = [
    'database',
    'cache',
    'route',
    'what it does per request',
    'req/s',
    'p99 ms',
    'Node CPU µs/req',
    'vs bare Fastify',
    'vs same SQL bare (req/s)',
    'Node CPU / same SQL bare',
    'vs bare product statement (req/s)',
    'errors',
    'load avg',
  ];
  const rows = KINDS.flatMap((kind) =>
    groups.get(kind)!.map((side) => {
      const rs = runs.get(side)!;
      const x = ratiosOf(side);
      return [
        side.db,
        side.cache,
        side.name,
        side.does,
        Math.round(median(rs.map((r) => r.rps))),
        Number(median(rs.map((r) => r.p99)).toFixed(1)),
        Math.round(median(rs.map((r) => r.cpuUsPerRequest))),
        side === baselines.get(kind)!.json ? '1.00' : spread(x.vsJson),
        side === baselines.get(kind)!.same ? '1.00' : spread(x.vsSame),
        side === baselines.get(kind)!.same ? '1.00' : spread(x.cpuVsSame),
        spread(x.vsProduct),
        rs.reduce((n, r) => n + r.errors + r.non2xx, 0),
        `${Math.min(...rs.map((r) => r.load1)).toFixed(1)}–${Math.max(...rs.map((r) => r.load1)).toFixed(1)}`,
      ];
    }),
  );
  console.log(`\n${table(headers, rows)}`);
  console.log(
    '\nreq/s, p99 and CPU: medians over the rounds; ratios: median (min–max) of the per-round ratios, ' +
      'each taken between sides measured in the same round. Node CPU counts the serving process only ' +
      '(PostgreSQL not included; PGlite, embedded, is). Same-SQL ratios are for PostgreSQL sides.',
  );
  const file = await writeResult('api', {
    machine: machine(),
    products: PRODUCTS,
    seconds: SECONDS,
    rounds: ROUNDS,
    connections: CONNECTIONS,
    loadGenerator: generator,
    rows: rows.map((r) => Object.fromEntries(headers.map((h, i) => [h, r[i]]))),
    sides: KINDS.flatMap((kind) =>
      groups.get(kind)!.map((side) => ({
        kind,
        db: side.db,
        cache: side.cache,
        route: side.name,
        does: side.does,
        runs: runs.get(side),
        ratios: ratiosOf(side),
      })),
    ),
  });
  console.log(`\nwritten ${file}`);
} finally {
  for (const stop of stops.reverse()) await stop();
}
