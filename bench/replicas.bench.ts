/**
 * npm run bench:replicas — the same read-heavy mix (95% catalog reads, 5% product edits by a
 * signed-in seller) against a primary alone and against the primary + 2 streaming replicas, in
 * one run, on a topology made by `bazaar stack db --replicas 2` in a temporary folder. Both web
 * processes run at once (one idle while the other is measured); each round measures both, in an
 * order that alternates, and the ratio (replicas ÷ primary alone) is taken within the round.
 * Prints, as median (min–max) over the rounds: req/s, p99, the web process's CPU per request,
 * the share of catalog reads served by the primary (pg_stat_statements on every node), the
 * ratios, the load average; and the router's overhead per query versus a direct pool to the
 * same replica (alternated, once per round).
 * The app runs with CACHE=none: every catalog read reaches a database, which is what is measured.
 *
 * Settings: BENCH_PRODUCTS (default 2000), BENCH_SECONDS per measurement (default 8),
 * BENCH_ROUNDS (default 3), BENCH_CONNECTIONS (default 32), BENCH_QUERIES for the overhead loop
 * (default 5000).
 * Needs the PostgreSQL 15 server programs (the stack command installs them when missing).
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { createStack, stackEnvironment, stopStack } from '../ops/stack/stack-db.ts';
import { loadConfig } from '../src/config/config.ts';
import { createPlatform } from '../src/platform/platform.ts';
import { createPostgresSql } from '../src/platform/sql/postgres/postgres-sql.ts';
import { uuidv7 } from '../src/shared/ids.ts';
import {
  type Child,
  cpuUs,
  freePort,
  machine,
  median,
  pick,
  runNode,
  spread,
  startNode,
  table,
  waitReady,
  writeResult,
} from './support.ts';

const PRODUCTS = Number(process.env['BENCH_PRODUCTS'] ?? 2000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 8);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 32);
const QUERIES = Number(process.env['BENCH_QUERIES'] ?? 5000);
const WRITE_SHARE = 0.05;
const KITCHEN = '0190a8c0-0000-7000-8000-000000000101';

const log = (line: string) => console.log(`  ${line}`);

const parent = mkdtempSync(join(tmpdir(), 'bazaar-bench-replicas-'));
chmodSync(parent, 0o755);
const dir = join(parent, 'stack');
const basePort = 59000 + 10 * Math.floor(Math.random() * 40);
const ports = [basePort, basePort + 1, basePort + 2];

async function onNode<T extends pg.QueryResultRow>(port: number, text: string): Promise<T[]> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'bazaar' });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

/** Catalog reads (selects on catalog.products) per node since the last reset. */
async function catalogReads(): Promise<number[]> {
  return Promise.all(
    ports.map(async (p) => {
      const [row] = await onNode<{ n: number }>(
        p,
        `select coalesce(sum(calls), 0)::int as n from pg_stat_statements
          where query ilike 'select%' and query like '%"catalog"."products"%'`,
      );
      return row!.n;
    }),
  );
}

async function resetStatements(): Promise<void> {
  await Promise.all(ports.map((p) => onNode(p, 'select pg_stat_statements_reset()')));
}

type Measurement = {
  rps: number;
  p99: number;
  /** CPU of the web process per response, µs. */
  cpuUsPerRequest: number;
  errors: number;
  non2xx: number;
  /** Catalog reads by node: primary, replica 1, replica 2. */
  reads: number[];
  /** 1-minute load average when the run ended. */
  load: number;
};

/** A web process of one topology, started once and measured once per round. */
async function startWeb(env: Record<string, string>): Promise<{ base: string; server: Child }> {
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
      CACHE: 'none',
    },
    null,
  );
  const base = `http://127.0.0.1:${port}`;
  await waitReady(base);
  return { base, server };
}

async function measureMix(
  web: { base: string; server: Child },
  ids: readonly string[],
  own: readonly string[],
  cookie: string,
): Promise<Measurement> {
  const run = (seconds: number) =>
    autocannon({
      url: web.base,
      connections: CONNECTIONS,
      duration: seconds,
      requests: [
        {
          setupRequest: (req) => {
            if (Math.random() < WRITE_SHARE) {
              return {
                ...req,
                method: 'PATCH',
                path: `/api/products/${pick(own)}`,
                headers: { cookie, 'content-type': 'application/json' },
                body: JSON.stringify({ priceMinor: 1000 + Math.floor(Math.random() * 9000) }),
              };
            }
            const path = Math.random() < 0.7 ? `/api/products/${pick(ids)}` : `/api/products?limit=20`;
            return { ...req, method: 'GET', path, headers: {}, body: undefined as unknown as string };
          },
        },
      ],
    });
  await run(Math.max(1, Math.round(SECONDS / 4)));
  await resetStatements();
  const pid = web.server.process.pid!;
  const cpuAtStart = cpuUs(pid);
  const r = await run(SECONDS);
  const cpu = cpuUs(pid) - cpuAtStart;
  return {
    rps: r.requests.average,
    p99: r.latency.p99,
    cpuUsPerRequest: cpu / Math.max(1, r.requests.total),
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    reads: await catalogReads(),
    load: loadavg()[0]!,
  };
}

/** Mean µs per PK lookup: a direct Kysely pool to replica1 versus the router's read handle. */
async function routerOverhead(
  env: Record<string, string>,
  id: string,
): Promise<{ directUs: number; routerUs: number }> {
  const replicaUrl = env['DATABASE_REPLICA_URLS']!.split(',')[0]!;
  const direct = new Kysely<unknown>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: replicaUrl, max: 2 }) }),
  });
  const routed = await createPostgresSql({
    url: env['DATABASE_URL']!,
    poolSize: 2,
    replicas: {
      urls: [replicaUrl],
      poolSize: 2,
      policy: 'least-lag',
      maxLagMs: 10_000,
      checkIntervalMs: 1000,
    },
  });
  const read = routed.for<unknown>('catalog').read;
  const lookup = (db: Kysely<unknown>) =>
    sql`select id, title from catalog.products where id = ${id}`.execute(db);
  const time = async (db: Kysely<unknown>) => {
    for (let i = 0; i < 500; i++) await lookup(db);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < QUERIES; i++) await lookup(db);
    return Number(process.hrtime.bigint() - t0) / 1000 / QUERIES;
  };
  try {
    // Alternate to spread drift over both.
    const d1 = await time(direct);
    const r1 = await time(read as unknown as Kysely<unknown>);
    const d2 = await time(direct);
    const r2 = await time(read as unknown as Kysely<unknown>);
    return { directUs: (d1 + d2) / 2, routerUs: (r1 + r2) / 2 };
  } finally {
    await direct.destroy();
    await routed.close();
  }
}

async function main(): Promise<void> {
  console.log(`bench:replicas on ${machine()}: ${SECONDS}s per mix, ${CONNECTIONS} connections`);
  const manifest = await createStack(
    { replicas: 2, standby: false, delayMs: 0, dir, basePort, fast: true },
    log,
  );
  try {
    const env = stackEnvironment(manifest);
    const primaryOnly = { DATABASE_URL: env['DATABASE_URL']! };
    const withReplicas = {
      ...primaryOnly,
      DATABASE_REPLICA_URLS: env['DATABASE_REPLICA_URLS']!,
      REPLICA_MAX_LAG_MS: '2000',
    };
    console.log(`seeding ${PRODUCTS} products…`);
    await runNode(['bin/bazaar.js', 'migrate'], { ...primaryOnly, LOG_LEVEL: 'warn' });
    await runNode(
      ['bin/bazaar.js', 'seed', '--products', String(PRODUCTS), '--sellers', '20', '--buyers', '0'],
      {
        ...primaryOnly,
        LOG_LEVEL: 'warn',
      },
    );

    // A seller with 20 products of their own: the writes edit them.
    const platform = await createPlatform(loadConfig({ ...primaryOnly, LOG_LEVEL: 'warn' }), {
      processName: 'bench',
    });
    const userId = uuidv7();
    const session = await platform.sessions.create({ userId, data: { role: 'seller' } });
    await platform.close();
    const cookie = `bazaar_session=${session.id}`;
    const port = await freePort();
    const seedServer = await startNode(
      ['src/apps/web.ts'],
      { ...primaryOnly, PORT: String(port), LOG_LEVEL: 'warn', SEED: 'false', MIGRATE_ON_START: 'false' },
      null,
    );
    const base = `http://127.0.0.1:${port}`;
    const own: string[] = [];
    try {
      await waitReady(base);
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`${base}/api/products`, {
          method: 'POST',
          headers: { cookie, 'content-type': 'application/json' },
          body: JSON.stringify({
            categoryId: KITCHEN,
            title: `Bench bowl ${i}`,
            priceMinor: 1500,
            stock: 100,
            status: 'published',
          }),
        });
        if (res.status !== 201) throw new Error(`creating a product: ${res.status} ${await res.text()}`);
        own.push(((await res.json()) as { id: string }).id);
      }
    } finally {
      await seedServer.stop();
    }
    const ids = (
      await onNode<{ id: string }>(ports[0]!, `select id from catalog.products where status = 'published'`)
    ).map((r) => r.id);

    const topologies = [
      { label: 'primary only', web: await startWeb(primaryOnly), runs: [] as Measurement[] },
      { label: 'primary + 2 replicas', web: await startWeb(withReplicas), runs: [] as Measurement[] },
    ];
    const overheads: { directUs: number; routerUs: number }[] = [];
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        const order = round % 2 === 1 ? topologies : [...topologies].reverse();
        for (const t of order) {
          const m = await measureMix(t.web, ids, own, cookie);
          t.runs.push(m);
          console.log(
            `round ${round}/${ROUNDS} [${t.label}] ${Math.round(m.rps)} req/s, ${Math.round(m.cpuUsPerRequest)} µs CPU/req, ` +
              `catalog reads by node ${m.reads.join(' / ')} (load ${m.load.toFixed(2)})`,
          );
        }
        overheads.push(await routerOverhead(withReplicas, ids[0]!));
      }
    } finally {
      for (const t of topologies) await t.web.server.stop();
    }

    const share = (reads: number[]) => {
      const total = reads.reduce((a, b) => a + b, 0);
      return total === 0 ? 0 : reads[0]! / total;
    };
    const [alone, replicated] = topologies as [(typeof topologies)[0], (typeof topologies)[0]];
    const perRound = (f: (a: Measurement, r: Measurement) => number) =>
      alone.runs.map((a, i) => f(a, replicated.runs[i]!));
    const col = (runs: Measurement[], f: (m: Measurement) => number, digits = 0) =>
      spread(runs.map(f), digits);
    console.log(
      `\n${table(
        [
          'topology',
          'req/s',
          'p99 ms',
          'web CPU µs/req',
          'req/s vs primary only (per round)',
          'CPU/req vs primary only (per round)',
          'catalog reads on primary',
          'errors',
          'non-2xx',
          'load avg',
        ],
        topologies.map((t) => [
          t.label,
          col(t.runs, (m) => m.rps),
          col(t.runs, (m) => m.p99),
          col(t.runs, (m) => m.cpuUsPerRequest),
          t === alone ? '1.00' : spread(perRound((a, r) => r.rps / a.rps)),
          t === alone ? '1.00' : spread(perRound((a, r) => r.cpuUsPerRequest / a.cpuUsPerRequest)),
          `${(median(t.runs.map((m) => share(m.reads))) * 100).toFixed(1)}%`,
          t.runs.reduce((n, m) => n + m.errors, 0),
          t.runs.reduce((n, m) => n + m.non2xx, 0),
          `${Math.min(...t.runs.map((m) => m.load)).toFixed(1)}–${Math.max(...t.runs.map((m) => m.load)).toFixed(1)}`,
        ]),
      )}`,
    );
    console.log(
      `\nmedian (min–max) over ${ROUNDS} rounds; ratios are taken within each round. The mix: 70% product pages, ` +
        `25% first page of the newest listing, 5% price edits by a seller, ${CONNECTIONS} connections (autocannon, in this process).`,
    );
    const direct = overheads.map((o) => o.directUs);
    const router = overheads.map((o) => o.routerUs);
    console.log(
      `router overhead per query: direct pool ${spread(direct, 1)} µs, router ${spread(router, 1)} µs ` +
        `(+${spread(
          overheads.map((o) => o.routerUs - o.directUs),
          1,
        )} µs) over ${QUERIES} sequential PK lookups on replica1, per round`,
    );
    const file = await writeResult('replicas', {
      machine: machine(),
      settings: {
        products: PRODUCTS,
        seconds: SECONDS,
        rounds: ROUNDS,
        connections: CONNECTIONS,
        writeShare: WRITE_SHARE,
      },
      topologies: topologies.map((t) => ({
        label: t.label,
        runs: t.runs.map((m) => ({ ...m, primaryReadShare: share(m.reads) })),
      })),
      overheads,
    });
    console.log(`wrote ${file}`);
  } finally {
    await stopStack({ dir, remove: true }, () => {}).catch(() => {});
    rmSync(parent, { recursive: true, force: true });
  }
}

await main();
