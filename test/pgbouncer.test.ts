/**
 * The whole app behind a real PgBouncer in transaction mode, made by `bazaar stack db
 * --pgbouncer` with 3 server connections per pool and a client pool of 20: migrations (their
 * lock is transaction-level, so none is left behind on a pooled server connection), sign up,
 * login, product, cart, checkout, the worker's jobs (pg-boss through PgBouncer, its LISTEN on
 * the direct URL), 50 requests in flight at once; and, on the server side, proof that PgBouncer
 * was in the path and multiplexed: its admin console counts the transactions and never more
 * than 3 server connections, while it held more clients than that.
 * Skips when PostgreSQL's server programs or PgBouncer cannot be had (CI installs both).
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import {
  createStack,
  pgbouncerAdmin,
  type StackManifest,
  stackEnvironment,
  stackStatus,
  stopStack,
} from '../ops/stack/stack-db.ts';
import { MODULES } from '../src/apps/modules.ts';
import type { RunningWorker } from '../src/apps/worker-runtime.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';
import { startTestWorker } from './support/worker.ts';

const root = process.getuid?.() === 0;
const hasPgBouncer = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].some((f) => existsSync(f));
const skip: string | undefined = !existsSync('/usr/lib/postgresql/15/bin/initdb')
  ? 'PostgreSQL server programs are absent (apt-get install postgresql-15)'
  : !hasPgBouncer && !root
    ? 'PgBouncer is absent and cannot be installed without root (apt-get install pgbouncer)'
    : undefined;
if (skip && process.env['BAZAAR_REQUIRE_ENGINES'] === '1')
  throw new Error(`BAZAAR_REQUIRE_ENGINES=1 but ${skip}`);
if (skip) console.log(`# pgbouncer suite skipped: ${skip}`);

const SERVER_POOL = 3;
const CLIENT_POOL = 20;
const IN_FLIGHT = 50;
const quiet = () => {};
const json = { 'content-type': 'application/json' };

const cookieOf = (res: { cookies: { name: string; value: string }[] }): string => {
  const c = res.cookies.find((x) => x.name === 'bazaar_session');
  if (!c) throw new Error('no session cookie');
  return `bazaar_session=${c.value}`;
};

describe('the app behind PgBouncer in transaction mode', { skip }, () => {
  const parent = mkdtempSync(join(tmpdir(), 'bazaar-pgbouncer-test-'));
  chmodSync(parent, 0o755); // the postgres user must reach DIR
  const dir = join(parent, 'stack');
  const dataDir = join(parent, 'data');
  // Ports 29000-29199 (failover.test.ts's divergence drill has 29200-29399): primary P, PgBouncer P+1.
  const basePort = 29000 + 10 * Math.floor(Math.random() * 20);
  let manifest: StackManifest;
  let env: Record<string, string>;
  let t: TestApp;
  let worker: RunningWorker;

  before(async () => {
    manifest = await createStack(
      {
        replicas: 0,
        standby: false,
        delayMs: 0,
        dir,
        basePort,
        fast: true,
        pgbouncer: true,
        pgbouncerPoolSize: SERVER_POOL,
      },
      (line) => console.log(`# ${line}`),
    );
    env = stackEnvironment(manifest);
    t = await startTestApp(
      {
        name: 'postgres',
        skip: undefined,
        createDatabase: async () => ({ url: env['DATABASE_URL'], drop: async () => {} }),
      },
      {
        DATABASE_POOLER: env['DATABASE_POOLER']!,
        DATABASE_DIRECT_URL: env['DATABASE_DIRECT_URL']!,
        DATABASE_POOL_SIZE: String(CLIENT_POOL),
        DATA_DIR: dataDir,
        MAIL_TRANSPORT: 'file',
      },
    );
    worker = await startTestWorker(t);
  });
  after(async () => {
    await worker?.stop().catch(() => {});
    await t?.close().catch(() => {});
    await stopStack({ dir, remove: true }, quiet).catch(() => {});
    rmSync(parent, { recursive: true, force: true });
  });

  const admin = (command: string) => pgbouncerAdmin(manifest.pgbouncer!.port, command);

  async function onPrimary<T extends pg.QueryResultRow>(text: string): Promise<T[]> {
    const c = new pg.Client({ connectionString: env['DATABASE_DIRECT_URL'] });
    await c.connect();
    try {
      return (await c.query<T>(text)).rows;
    } finally {
      await c.end();
    }
  }

  /** PgBouncer's counters for the `bazaar` database. */
  async function bazaarStats(): Promise<{ xacts: number; queries: number }> {
    const row = (await admin('SHOW STATS')).find((r) => r['database'] === 'bazaar')!;
    return { xacts: Number(row['total_xact_count']), queries: Number(row['total_query_count']) };
  }

  it('when the stack is built with --pgbouncer, then the environment and status name it in transaction mode', async () => {
    assert.equal(env['DATABASE_POOLER'], 'pgbouncer-transaction');
    assert.ok(env['DATABASE_URL']!.includes(`:${manifest.pgbouncer!.port}/`), String(env['DATABASE_URL']));
    assert.ok(env['DATABASE_DIRECT_URL']!.includes(`:${basePort}/`), String(env['DATABASE_DIRECT_URL']));
    const states = await stackStatus(dir);
    const pooler = states.find((s) => s.name === 'pgbouncer');
    assert.equal(pooler?.role, 'pgbouncer');
    assert.ok(pooler?.pid);
    const config = await admin('SHOW CONFIG');
    const setting = (key: string) => config.find((r) => r['key'] === key)?.['value'];
    assert.equal(setting('pool_mode'), 'transaction');
    assert.equal(String(setting('default_pool_size')), String(SERVER_POOL));
  });

  it('when migrations ran through PgBouncer, then they are complete, again a no-op, and hold no advisory lock', async () => {
    const sets = MODULES.map((m) => m.migrations);
    assert.deepEqual(await t.platform.sql.pending(sets), []);
    const again = await Promise.all([t.platform.sql.migrate(sets), t.platform.sql.migrate(sets)]);
    assert.ok(again.flat().every((r) => r.applied.length === 0));
    const [locks] = await onPrimary<{ n: number }>(
      `select count(*)::int as n from pg_locks where locktype = 'advisory'`,
    );
    assert.equal(locks!.n, 0, 'an advisory lock outlived its migration');
    // The timeout PgBouncer would not let the client send is the database's.
    const { rows } = await sql<{ statement_timeout: string }>`show statement_timeout`.execute(
      t.platform.sql.for('platform').write,
    );
    assert.equal(rows[0]!.statement_timeout, '30s');
  });

  it('when a seller sells and a buyer checks out, then every step succeeds and the worker processes the jobs', async () => {
    const before = await bazaarStats();
    const seller = await t.app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      headers: json,
      payload: { email: 'kiln@example.com', password: 'a-long-password', name: 'Kiln', role: 'seller' },
    });
    assert.equal(seller.statusCode, 201, seller.body);
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      headers: json,
      payload: { email: 'kiln@example.com', password: 'a-long-password' },
    });
    assert.equal(login.statusCode, 200, login.body);
    const sellerCookie = cookieOf(login);
    const categories = (await t.app.inject({ url: '/api/categories' })).json();
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/products',
      headers: { ...json, cookie: sellerCookie },
      payload: {
        categoryId: categories[0].children[0].id,
        title: 'Pooled porcelain bowl',
        priceMinor: 3100,
        stock: 500,
        status: 'published',
      },
    });
    assert.equal(created.statusCode, 201, created.body);
    const product = created.json();

    const buyer = await t.app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      headers: json,
      payload: { email: 'grace@example.com', password: 'another-long-one', name: 'Grace', role: 'buyer' },
    });
    assert.equal(buyer.statusCode, 201, buyer.body);
    const buyerCookie = cookieOf(buyer);
    const put = await t.app.inject({
      method: 'PUT',
      url: `/api/cart/items/${product.id}`,
      headers: { ...json, cookie: buyerCookie },
      payload: { quantity: 3 },
    });
    assert.equal(put.statusCode, 200, put.body);
    const order = await t.app.inject({
      method: 'POST',
      url: '/api/orders',
      headers: { cookie: buyerCookie, 'idempotency-key': 'pgbouncer-1' },
    });
    assert.equal(order.statusCode, 201, order.body);
    const orderId = order.json().id as string;

    await worker.drain();
    const mails = (await readdir(join(dataDir, 'mail')).catch(() => [] as string[])).filter((f) =>
      f.endsWith('.eml'),
    );
    const texts = await Promise.all(mails.map((f) => readFile(join(dataDir, 'mail', f), 'utf8')));
    assert.ok(
      texts.some((m) => /^To:.*grace@example\.com/im.test(m) && m.includes(orderId)),
      'the order confirmation was mailed by the worker',
    );
    assert.ok(texts.some((m) => /^To:.*grace@example\.com/im.test(m) && /welcome/i.test(m)));
    const completed = await t.platform.jobs.list({ state: 'completed', limit: 100 });
    assert.ok(completed.length >= 3, `completed jobs: ${completed.length}`);

    const afterStats = await bazaarStats();
    assert.ok(afterStats.xacts - before.xacts >= 20, 'the requests and jobs went through PgBouncer');
    // pg-boss's LISTEN is the one session-pinned connection: it goes straight to the primary.
    const listeners = await onPrimary<{ query: string }>(
      `select query from pg_stat_activity where application_name like 'bazaar-%-jobs-listen'`,
    );
    assert.ok(
      listeners.some((l) => /^LISTEN/i.test(l.query)),
      JSON.stringify(listeners),
    );
  });

  it(`when ${IN_FLIGHT} requests are in flight at once, then all succeed over ${SERVER_POOL} server connections`, async () => {
    const seller = await t.app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      headers: json,
      payload: { email: 'wheel@example.com', password: 'a-long-password', name: 'Wheel', role: 'seller' },
    });
    const sellerCookie = cookieOf(seller);
    const categories = (await t.app.inject({ url: '/api/categories' })).json();
    const categoryId = categories[0].children[0].id as string;
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/products',
      headers: { ...json, cookie: sellerCookie },
      payload: { categoryId, title: 'Busy teapot', priceMinor: 4500, stock: 1000, status: 'published' },
    });
    const product = created.json();
    const before = await bazaarStats();

    let maxServers = 0;
    let maxClients = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const pools = (await admin('SHOW POOLS')).filter((r) => r['database'] === 'bazaar');
        const servers = pools.reduce(
          (n, r) =>
            n +
            Number(r['sv_active']) +
            Number(r['sv_idle']) +
            Number(r['sv_used']) +
            Number(r['sv_tested']) +
            Number(r['sv_login']),
          0,
        );
        const clients = pools.reduce((n, r) => n + Number(r['cl_active']) + Number(r['cl_waiting']), 0);
        maxServers = Math.max(maxServers, servers);
        maxClients = Math.max(maxClients, clients);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const requests = Array.from({ length: IN_FLIGHT }, (_, i) => {
      switch (i % 4) {
        case 0:
          return t.app.inject({ url: `/api/products/${product.id}` });
        case 1:
          return t.app.inject({ url: `/api/products?category=${categoryId}` });
        case 2:
          return t.app.inject({
            method: 'PUT',
            url: `/api/cart/items/${product.id}`,
            headers: json,
            payload: { quantity: 1 + (i % 5) },
          });
        default:
          return t.app.inject({
            method: 'POST',
            url: '/api/products',
            headers: { ...json, cookie: sellerCookie },
            payload: {
              categoryId,
              title: `Teapot ${i}`,
              priceMinor: 1000 + i,
              stock: 5,
              status: 'published',
            },
          });
      }
    });
    const responses = await Promise.all(requests);
    sampling = false;
    await sampler;

    const failed = responses.filter((r) => r.statusCode >= 300);
    assert.deepEqual(
      failed.map((r) => `${r.statusCode} ${r.body}`),
      [],
      'every request in flight succeeded',
    );
    const stats = await bazaarStats();
    assert.ok(
      stats.xacts - before.xacts >= IN_FLIGHT,
      `PgBouncer counted ${stats.xacts - before.xacts} transactions`,
    );
    assert.ok(maxServers <= SERVER_POOL, `PgBouncer opened ${maxServers} server connections`);
    assert.ok(maxClients > SERVER_POOL, `PgBouncer multiplexed ${maxClients} clients`);
    console.log(
      `# pgbouncer: ${IN_FLIGHT} requests in flight, up to ${maxClients} client connections on ${maxServers} server connections; ` +
        `${stats.xacts - before.xacts} transactions, ${stats.queries - before.queries} queries through PgBouncer`,
    );
  });
});
