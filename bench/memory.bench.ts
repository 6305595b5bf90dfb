/**
 * npm run bench:memory — resident memory (RSS) of each configuration idle and under a read mix,
 * in one run, on one machine:
 *   bare Fastify + pg       bench/baseline-server.ts `ready`: one route asking PostgreSQL `select 1`,
 *                           loaded with that route (the floor of a Node HTTP + pg process)
 *   web on PostgreSQL       `npm start` (bin/web.js) with DATABASE_URL, loaded with the mix
 *   web embedded            `npm start` on PGlite with an existing data directory (the worker in-process),
 *                           loaded with the mix
 * The mix: product pages, category listings and searches in equal parts, over the seeded catalog
 * (GETs only, as a visitor browses; the catalog cache on, as configured by default).
 * Every round starts each side afresh, in an order that rotates every round: its RSS 2 s after
 * readiness (idle), its peak since spawn at that moment (start-up peak), then the highest RSS
 * sampled every 100 ms during BENCH_SECONDS of load (loaded). Figures are median (min–max) over the
 * rounds; ratios to the bare process are taken within each round. Both web sides run with
 * SERVE_WEB=false and LOG_LEVEL=warn and share a compile cache made for the run, filled before
 * the rounds (bench:startup times the empty-cache start).
 *
 * Load: wrk (one thread) when installed, else autocannon in this process (bench/support.ts).
 * Settings: DATABASE_URL (admin URL of a PostgreSQL server; default postgres://postgres@127.0.0.1:5432/postgres),
 * BENCH_PRODUCTS (default 2000), BENCH_SECONDS of load per side (default 10), BENCH_ROUNDS (default 3),
 * BENCH_CONNECTIONS (default 32). The database and the data directory are made for the run and
 * removed at the end. Prints a table and writes bench/results/memory-*.json.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Catalog,
  chooseLoadGenerator,
  createRunDatabase,
  discover,
  freePort,
  load,
  machine,
  memoryMb,
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
const PRODUCTS = Number(process.env['BENCH_PRODUCTS'] ?? 2000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 32);
/** How long after readiness the idle RSS is read. */
const IDLE_MS = 2000;
const SAMPLE_MS = 100;

type Side = {
  name: string;
  does: string;
  args: string[];
  env: Record<string, string>;
  /** The requests of its load, given what discover() found (the web sides). */
  paths: (catalog: Catalog) => () => string;
};
type Round = {
  idleMb: number;
  startPeakMb: number;
  loadedMb: number;
  rps: number;
  non2xx: number;
  errors: number;
  load1: number;
};

const mix =
  (c: Catalog): (() => string) =>
  () => {
    const r = Math.random();
    if (r < 1 / 3) return `/api/products/${pick(c.ids)}`;
    if (r < 2 / 3) return `/api/products?category=${pick(c.categories).slug}`;
    return `/api/products?q=${encodeURIComponent(pick(c.words))}`;
  };

/** Starts `side`, reads its idle memory, loads it while sampling RSS, stops it. */
async function measure(side: Side, catalog: Catalog): Promise<Round> {
  const port = await freePort();
  const server = await startNode(side.args, { ...side.env, PORT: String(port) }, null);
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitReady(base);
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const pid = server.process.pid!;
    const idle = memoryMb(pid);
    let loadedMb = idle.rss;
    const sampler = setInterval(() => {
      loadedMb = Math.max(loadedMb, memoryMb(pid).rss);
    }, SAMPLE_MS);
    try {
      const r = await load(side.name, base, side.paths(catalog), {
        seconds: SECONDS,
        connections: CONNECTIONS,
        warmupSeconds: 0,
      });
      loadedMb = Math.max(loadedMb, memoryMb(pid).rss);
      return {
        idleMb: idle.rss,
        startPeakMb: idle.peak,
        loadedMb,
        rps: r.rps,
        non2xx: r.non2xx,
        errors: r.errors,
        load1: loadavg()[0]!,
      };
    } finally {
      clearInterval(sampler);
    }
  } finally {
    await server.stop();
  }
}

console.log(
  `bench:memory on ${machine()}; ${ROUNDS} rounds of ${SECONDS}s load per side, ${CONNECTIONS} connections`,
);
await chooseLoadGenerator();
const database = await createRunDatabase(adminUrl, 'memory');
const dir = await mkdtemp(join(tmpdir(), 'bazaar-bench-memory-'));
const compileCache = await mkdtemp(join(tmpdir(), 'bazaar-bench-compile-cache-'));
try {
  // Empty values unset what this process was given (a DATABASE_URL, a REDIS_URL): each side gets only its own.
  const quiet = { LOG_LEVEL: 'warn', DATABASE_URL: '', REDIS_URL: '' };
  const seed = ['seed', '--products', String(PRODUCTS), '--sellers', '20', '--buyers', '0'];
  console.log(`migrating and seeding ${PRODUCTS} products into PostgreSQL and into a PGlite data directory…`);
  await runNode(['bin/bazaar.js', 'migrate'], { ...quiet, DATABASE_URL: database.url });
  await runNode(['bin/bazaar.js', ...seed], { ...quiet, DATABASE_URL: database.url });
  // Bulk-loaded tables have no planner statistics until autovacuum gets to them.
  await sqlOnce(database.url, 'analyze');
  await runNode(['bin/bazaar.js', ...seed], { ...quiet, DATA_DIR: dir });

  const web = { ...quiet, SEED: 'false', SERVE_WEB: 'false', NODE_COMPILE_CACHE: compileCache };
  const sides: Side[] = [
    {
      name: 'bare Fastify + pg',
      does: 'Fastify, a pg pool; load: /readyz (select 1)',
      args: ['bench/baseline-server.ts', 'ready', database.url],
      env: {},
      paths: () => () => '/readyz',
    },
    {
      name: 'web on PostgreSQL',
      does: 'npm start with DATABASE_URL; load: the mix',
      args: ['bin/web.js'],
      env: { ...web, DATABASE_URL: database.url },
      paths: mix,
    },
    {
      name: 'web embedded (PGlite)',
      does: 'npm start on a PGlite data directory, the worker in-process; load: the mix',
      args: ['bin/web.js'],
      env: { ...web, DATA_DIR: dir },
      paths: mix,
    },
  ];

  // One start of each web side fills the compile cache and finds its catalog (both databases
  // are seeded alike but with ids of their own).
  const catalogs = new Map<Side, Catalog>();
  for (const side of sides.slice(1)) {
    const port = await freePort();
    const server = await startNode(side.args, { ...side.env, PORT: String(port) }, null);
    try {
      await waitReady(`http://127.0.0.1:${port}`);
      catalogs.set(side, await discover(`http://127.0.0.1:${port}`));
    } finally {
      await server.stop();
    }
  }

  const rounds = new Map<Side, Round[]>(sides.map((s) => [s, []]));
  const idleRatios = new Map<Side, number[]>(sides.map((s) => [s, []]));
  const loadedRatios = new Map<Side, number[]>(sides.map((s) => [s, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    const shift = round % sides.length;
    const order = [...sides.slice(shift), ...sides.slice(0, shift)];
    const thisRound = new Map<Side, Round>();
    for (const side of order) {
      const r = await measure(side, catalogs.get(side) ?? { ids: [], categories: [], words: [] });
      thisRound.set(side, r);
      rounds.get(side)!.push(r);
    }
    const bare = thisRound.get(sides[0]!)!;
    for (const side of sides) {
      idleRatios.get(side)!.push(thisRound.get(side)!.idleMb / bare.idleMb);
      loadedRatios.get(side)!.push(thisRound.get(side)!.loadedMb / bare.loadedMb);
    }
    console.log(
      `round ${round}/${ROUNDS}: ${sides
        .map((s) => {
          const r = thisRound.get(s)!;
          return `${s.name} idle ${Math.round(r.idleMb)} MB, loaded ${Math.round(r.loadedMb)} MB (${Math.round(r.rps)} req/s)`;
        })
        .join('; ')} (load ${loadavg()[0]!.toFixed(2)})`,
    );
  }

  const headers = [
    'process',
    'what it does',
    'idle RSS MB',
    'idle vs bare',
    'start-up peak MB',
    'loaded peak RSS MB',
    'loaded vs bare',
    'req/s',
    'non-2xx / errors',
    'load avg',
  ];
  const rows = sides.map((side) => {
    const rs = rounds.get(side)!;
    const isBare = side === sides[0];
    const of = (f: (r: Round) => number, digits = 0) => spread(rs.map(f), digits);
    return [
      side.name,
      side.does,
      of((r) => r.idleMb),
      isBare ? '1.00' : spread(idleRatios.get(side)!),
      of((r) => r.startPeakMb),
      of((r) => r.loadedMb),
      isBare ? '1.00' : spread(loadedRatios.get(side)!),
      of((r) => r.rps),
      `${rs.reduce((n, r) => n + r.non2xx, 0)} / ${rs.reduce((n, r) => n + r.errors, 0)}`,
      `${Math.min(...rs.map((r) => r.load1)).toFixed(1)}–${Math.max(...rs.map((r) => r.load1)).toFixed(1)}`,
    ];
  });
  console.log(`\n${table(headers, rows)}`);
  console.log('\nmedian (min–max) over the rounds; ratios are taken within each round.');
  const file = await writeResult('memory', {
    machine: machine(),
    rounds: ROUNDS,
    seconds: SECONDS,
    connections: CONNECTIONS,
    products: PRODUCTS,
    idleMs: IDLE_MS,
    sides: sides.map((side) => ({
      name: side.name,
      does: side.does,
      rounds: rounds.get(side),
      idleRatios: idleRatios.get(side),
      loadedRatios: loadedRatios.get(side),
    })),
  });
  console.log(`\nwritten ${file}`);
} finally {
  await database.drop();
  await rm(dir, { recursive: true, force: true });
  await rm(compileCache, { recursive: true, force: true });
}
