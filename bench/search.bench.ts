/**
 * npm run bench:search — full-text search at catalog scale: p50/p99 per query class at a fixed
 * number of connections, for the app (CACHE=none, so every search reaches the database) and for
 * the same SQL run bare (bench/baseline-server.ts `sql`: the app's own search statement, captured
 * from the catalog repository, run with `pg` and rows sent as they come).
 *
 * Query classes, from the vocabulary of src/apps/seed-data.ts (titles "<adjective> <material>
 * <noun> in <colour>", descriptions repeating them plus one of a few stock sentences):
 *   broad       one word in 10–25 % of products (a material, a colour, a stock sentence's word)
 *   narrow      one noun of one category group, 1–3 %
 *   multi-word  two or three words, correlated (a colour's two words) or not
 *   prefix      a last word of 3–5 letters, matched as a prefix
 *   short       a last word of 1–2 letters: a prefix after other words (two letters) or left out
 *               (one); alone, a whole word
 *   no match    words no product has
 * Before the load, each query runs once under EXPLAIN (ANALYZE, BUFFERS): the table gives each
 * class's largest execution time and shared buffers touched, the work a query does whatever the
 * machine's load (compare 100,000 with BENCH_PRODUCTS=400000 to see how it grows).
 *
 * Each round measures every class's two sides one after another (order rotating per round); the
 * table reports medians over the rounds. Load: wrk when installed, else autocannon (support.ts).
 *
 * Settings: DATABASE_URL (admin URL of a PostgreSQL server; default postgres://postgres@127.0.0.1:5432/postgres),
 * BENCH_DATABASE_URL (a database to reuse: migrated and topped up to BENCH_PRODUCTS, never dropped;
 * otherwise a database of the run's own, dropped at the end), BENCH_PRODUCTS (default 100000),
 * BENCH_SECONDS per measurement (default 5, after a quarter of that unmeasured), BENCH_ROUNDS
 * (default 2), BENCH_CONNECTIONS (default 8), BENCH_TARGET_P99_MS (default 25). Prints a table and
 * writes bench/results/search-*.json.
 */
import { loadavg } from 'node:os';
import {
  chooseLoadGenerator,
  createRunDatabase,
  freePort,
  type LoadResult,
  load,
  machine,
  median,
  pick,
  runNode,
  sqlOnce,
  startNode,
  table,
  waitReady,
  writeResult,
} from './support.ts';

const adminUrl = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const reuseUrl = process.env['BENCH_DATABASE_URL'];
const PRODUCTS = Number(process.env['BENCH_PRODUCTS'] ?? 100_000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 8);
const TARGET_P99_MS = Number(process.env['BENCH_TARGET_P99_MS'] ?? 25);

const CLASSES: readonly { name: string; queries: readonly string[] }[] = [
  { name: 'broad', queries: ['gift', 'wool', 'oak', 'sand', 'ocean', 'batches', 'plastic', 'card'] },
  { name: 'narrow', queries: ['mug', 'cookbook', 'teapot', 'kite', 'atlas', 'webcam', 'scarf', 'tent'] },
  {
    name: 'multi-word',
    queries: [
      'ocean blue',
      'forest green',
      'handmade oak',
      'charcoal leather',
      'vintage wool scarf',
      'linen tote bag',
    ],
  },
  { name: 'prefix', queries: ['woo', 'cook', 'terra', 'oak mu', 'ocean bl', 'handmade wal'] },
  { name: 'short', queries: ['w', 'mu', 'oak m', 'ocean b', 'vintage wo', 'tea p'] },
  { name: 'no match', queries: ['zebra', 'xylophone', 'quantum flux', 'oak zebra', 'zzq'] },
];

/** The database searched: BENCH_DATABASE_URL, or one of this run's own (a unique name), dropped at the end. */
async function database(): Promise<{ url: string; drop(): Promise<void> }> {
  if (reuseUrl) return { url: reuseUrl, drop: async () => {} };
  return createRunDatabase(adminUrl, 'search');
}

type Side = { name: string; base: string; path: (q: string) => string };
type Measured = LoadResult & { load1: number };
type Work = { query: string; tsquery: string | null; executionMs: number; sharedBuffers: number };

console.log(
  `bench:search on ${machine()}; ${PRODUCTS} products, ${ROUNDS} rounds of ${SECONDS}s per side, ` +
    `${CONNECTIONS} connections, target p99 ≤ ${TARGET_P99_MS} ms`,
);
const generator = await chooseLoadGenerator();
const stops: (() => Promise<void>)[] = [];
try {
  const db = await database();
  stops.push(db.drop);
  const env = { DATABASE_URL: db.url, LOG_LEVEL: 'warn' };
  console.log(`migrating and seeding up to ${PRODUCTS} products…`);
  await runNode(['bin/bazaar.js', 'migrate'], env);
  await runNode(
    ['bin/bazaar.js', 'seed', '--products', String(PRODUCTS), '--sellers', '50', '--buyers', '0'],
    env,
  );
  // Bulk-loaded tables have no planner statistics, and the GIN index holds the bulk load in its
  // pending list until a vacuum merges it: what autovacuum would do on a live shop.
  await sqlOnce(db.url, 'vacuum analyze catalog.products');
  const { rows } = await sqlOnce(db.url, 'select count(*)::int as n from catalog.products');
  const products = (rows[0] as { n: number }).n;

  const bare = await startNode(['bench/baseline-server.ts', 'sql', db.url], {}, /listening (\d+)/);
  stops.push(() => bare.stop());
  const bareBase = `http://127.0.0.1:${bare.match[1]}`;
  console.log(`the bare side runs: ${/^search: .*$/m.exec(bare.output())?.[0] ?? '?'}`);

  const port = await freePort();
  const app = await startNode(
    ['src/apps/web.ts'],
    {
      ...env,
      PORT: String(port),
      CACHE: 'none',
      SEED: 'false',
      MIGRATE_ON_START: 'false',
      SERVE_WEB: 'false',
    },
    null,
  );
  stops.push(() => app.stop());
  const appBase = `http://127.0.0.1:${port}`;
  await waitReady(appBase);

  const sides: Side[] = [
    { name: 'app (CACHE=none)', base: appBase, path: (q) => `/api/products?q=${encodeURIComponent(q)}` },
    { name: 'same SQL bare', base: bareBase, path: (q) => `/bench/search?q=${encodeURIComponent(q)}` },
  ];

  // The work of each query, alone (the second run of each: the first warms its pages).
  const work = new Map<string, Work[]>();
  for (const c of CLASSES) {
    const list: Work[] = [];
    for (const query of c.queries) {
      const url = `${bareBase}/bench/search/explain?q=${encodeURIComponent(query)}`;
      await fetch(url);
      list.push({ query, ...((await (await fetch(url)).json()) as Omit<Work, 'query'>) });
    }
    work.set(c.name, list);
    const results = await (await fetch(`${appBase}${sides[0]!.path(c.queries[0]!)}`)).json();
    console.log(
      `${c.name}: ${list.map((w) => `${w.query} → ${w.tsquery} (${w.executionMs.toFixed(1)} ms, ${w.sharedBuffers} buffers)`).join('; ')}` +
        ` — "${c.queries[0]}" answers ${(results as { items: unknown[] }).items.length} items`,
    );
  }

  const runs = new Map<string, Measured[]>();
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`round ${round}/${ROUNDS}… (load ${loadavg()[0]!.toFixed(2)})`);
    for (const c of CLASSES) {
      const order = round % 2 ? sides : [...sides].reverse();
      for (const side of order) {
        const r = await load(`${c.name} ${side.name}`, side.base, () => side.path(pick(c.queries)), {
          seconds: SECONDS,
          connections: CONNECTIONS,
        });
        const key = `${c.name}|${side.name}`;
        if (!runs.has(key)) runs.set(key, []);
        runs.get(key)!.push({ ...r, load1: loadavg()[0]! });
      }
    }
  }

  const headers = [
    'class',
    'queries',
    'app p50 ms',
    'app p99 ms',
    'app req/s',
    'bare p50 ms',
    'bare p99 ms',
    'bare req/s',
    `app p99 ≤ ${TARGET_P99_MS} ms`,
    'max execution ms (alone)',
    'max shared buffers',
    'errors',
    'load avg',
  ];
  const rowsOut = CLASSES.map((c) => {
    const [a, b] = sides.map((s) => runs.get(`${c.name}|${s.name}`)!);
    const m = (rs: Measured[], f: (r: Measured) => number) => median(rs.map(f));
    const w = work.get(c.name)!;
    const all = [...a!, ...b!];
    return [
      c.name,
      c.queries.join(', '),
      m(a!, (r) => r.p50).toFixed(1),
      m(a!, (r) => r.p99).toFixed(1),
      Math.round(m(a!, (r) => r.rps)),
      m(b!, (r) => r.p50).toFixed(1),
      m(b!, (r) => r.p99).toFixed(1),
      Math.round(m(b!, (r) => r.rps)),
      m(a!, (r) => r.p99) <= TARGET_P99_MS ? 'yes' : 'no',
      Math.max(...w.map((x) => x.executionMs)).toFixed(1),
      Math.max(...w.map((x) => x.sharedBuffers)),
      all.reduce((n, r) => n + r.errors + r.non2xx, 0),
      `${Math.min(...all.map((r) => r.load1)).toFixed(1)}–${Math.max(...all.map((r) => r.load1)).toFixed(1)}`,
    ];
  });
  console.log(`\n${table(headers, rowsOut)}`);
  console.log(
    `\n${products} products, ${CONNECTIONS} connections; p50, p99 and req/s: medians over ${ROUNDS} rounds. ` +
      'Execution time and buffers: each query once, alone, under EXPLAIN (ANALYZE, BUFFERS).',
  );
  const file = await writeResult('search', {
    machine: machine(),
    products,
    seconds: SECONDS,
    rounds: ROUNDS,
    connections: CONNECTIONS,
    targetP99Ms: TARGET_P99_MS,
    loadGenerator: generator,
    rows: rowsOut.map((r) => Object.fromEntries(headers.map((h, i) => [h, r[i]]))),
    work: Object.fromEntries(work),
    runs: Object.fromEntries(runs),
  });
  console.log(`\nwritten ${file}`);
} finally {
  for (const stop of stops.reverse()) await stop();
}
