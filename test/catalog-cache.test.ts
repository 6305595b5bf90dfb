/**
 * The catalog's cache-aside over HTTP, counted with the per-request counters
 * (EXPOSE_COUNTERS=true: `x-db-queries`, `x-cache`): a cached product page costs no query, an
 * edit is visible at once on the writing instance, a cold key under 100 concurrent reads is
 * loaded once, drafts never reach anonymous readers through the cache, stock taken by checkout
 * shows at once, and with the database unreachable a cached page is served stale. On PGlite and
 * PostgreSQL, each with the memory cache and (when REDIS_URL answers) memory + Redis. Then two
 * web instances on one PostgreSQL and one Redis, each with its own memory tier, and a worker
 * with its own: an edit through A reaches B through the invalidation bus.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import pino from 'pino';
import { MODULES } from '../src/apps/modules.ts';
import { type Config, loadConfig } from '../src/config/config.ts';
import { buildApp } from '../src/http/app.ts';
import { createCatalogService, type Product } from '../src/modules/catalog/index.ts';
import { createPlatform, type Platform } from '../src/platform/platform.ts';
import { uuidv7 } from '../src/shared/ids.ts';
import { BACKENDS, type Backend, postgres, redis } from './support/engines.ts';
import { redisForTest } from './support/redis.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';
import { startTestWorker } from './support/worker.ts';

const KITCHEN = '0190a8c0-0000-7000-8000-000000000101';
const FICTION = '0190a8c0-0000-7000-8000-000000000401';

type Who = Readonly<{ userId: string; cookie: string }>;
type Injectable = Pick<TestApp, 'app' | 'platform'>;
type Response = Awaited<ReturnType<TestApp['app']['inject']>>;

const queries = (res: Response): number => Number(res.headers['x-db-queries']);
const cacheOutcome = (res: Response): string => String(res.headers['x-cache']);

async function signIn(t: Injectable, role: 'buyer' | 'seller' | 'admin'): Promise<Who> {
  const userId = uuidv7();
  const s = await t.platform.sessions.create({ userId, data: { role } });
  return { userId, cookie: `bazaar_session=${s.id}` };
}

/**
 * The read-your-writes cookie each app last set: the test acts as one client, so its anonymous
 * reads after its own writes carry it too, as a browser would (it only matters with replicas).
 */
const rwCookie = new WeakMap<object, string>();

async function request(
  t: Injectable,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  who?: Who,
  payload?: unknown,
): Promise<Response> {
  const cookie = [who?.cookie, rwCookie.get(t)].filter(Boolean).join('; ');
  const res = await t.app.inject({
    method,
    url,
    headers: cookie ? { cookie } : {},
    ...(payload !== undefined ? { payload: payload as object } : {}),
  });
  const rw = res.cookies.find((c) => c.name === 'bazaar_rw');
  if (rw) rwCookie.set(t, `bazaar_rw=${rw.value}`);
  return res;
}

async function createProduct(t: Injectable, who: Who, body: Record<string, unknown> = {}): Promise<Product> {
  const res = await request(t, 'POST', '/api/products', who, {
    categoryId: KITCHEN,
    title: `Cached mug ${uuidv7().slice(-8)}`,
    priceMinor: 1500,
    stock: 5,
    status: 'published',
    ...body,
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

async function patch(t: Injectable, who: Who, id: string, body: Record<string, unknown>): Promise<Product> {
  const res = await request(t, 'PATCH', `/api/products/${id}`, who, body);
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

const CACHES = [
  { name: 'memory', skip: undefined },
  { name: 'memory + redis', skip: redis.skip },
] as const;

for (const backend of BACKENDS) {
  for (const tier of CACHES) {
    describe(`catalog cache on ${backend.name}, ${tier.name}`, { skip: backend.skip ?? tier.skip }, () => {
      let t: TestApp;
      let teardownRedis: (() => Promise<void>) | undefined;
      before(async () => {
        const env: Record<string, string> = { EXPOSE_COUNTERS: 'true', CACHE: 'memory' };
        if (tier.name === 'memory + redis') {
          const r = await redisForTest();
          teardownRedis = r.teardown;
          Object.assign(env, { CACHE: 'redis', REDIS_URL: redis.url!, CACHE_PREFIX: r.prefix.slice(0, -1) });
        }
        t = await startTestApp(backend, env);
      });
      after(async () => {
        await t?.close();
        await teardownRedis?.();
      });

      it('when a product page is read twice, then the second read runs no database query', async () => {
        const seller = await signIn(t, 'seller');
        const p = await createProduct(t, seller);
        const before = t.platform.telemetry.counters();
        const first = await request(t, 'GET', `/api/products/${p.id}`);
        assert.equal(first.statusCode, 200, first.body);
        assert.equal(queries(first), 1);
        assert.equal(cacheOutcome(first), 'hit=0 miss=1 stale=0');
        const second = await request(t, 'GET', `/api/products/${p.id}`);
        assert.equal(second.statusCode, 200);
        assert.equal(queries(second), 0);
        assert.equal(cacheOutcome(second), 'hit=1 miss=0 stale=0');
        assert.deepEqual(second.json(), first.json());
        const now = t.platform.telemetry.counters();
        assert.equal(now.requests - before.requests, 2);
        assert.equal(now.dbQueries - before.dbQueries, 1);
        assert.equal((now.cache.loads['product'] ?? 0) - (before.cache.loads['product'] ?? 0), 1);
      });

      it('when listings, searches and the category tree are read twice, then the second reads run no query', async () => {
        const seller = await signIn(t, 'seller');
        await createProduct(t, seller, { title: 'Listable teapot' });
        for (const url of [
          '/api/categories',
          '/api/products?category=home-kitchen',
          `/api/products?category=${KITCHEN}&sort=price_asc`,
          `/api/products?seller=${seller.userId}`,
          '/api/products?q=listable',
        ]) {
          const first = await request(t, 'GET', url);
          assert.equal(first.statusCode, 200, `${url}: ${first.body}`);
          const second = await request(t, 'GET', url);
          assert.equal(queries(second), 0, url);
          assert.deepEqual(second.json(), first.json(), url);
        }
        const next = (await request(t, 'GET', '/api/products?limit=1')).json().nextCursor as string;
        const paged = await request(t, 'GET', `/api/products?limit=1&cursor=${encodeURIComponent(next)}`);
        assert.equal(paged.statusCode, 200);
        assert.ok(queries(paged) >= 1, 'pages after the first are not cached');
      });

      it('when the seller edits a product, then the next read on the same instance shows the edit', async () => {
        const seller = await signIn(t, 'seller');
        const p = await createProduct(t, seller, { title: 'Before edit' });
        const listed = async () =>
          (await request(t, 'GET', `/api/products?category=home-kitchen&seller=${seller.userId}`)).json()
            .items as Product[];
        assert.equal((await request(t, 'GET', `/api/products/${p.id}`)).json().title, 'Before edit');
        assert.deepEqual(
          (await listed()).map((x) => x.title),
          ['Before edit'],
        );

        await patch(t, seller, p.id, { title: 'After edit', priceMinor: 999 });
        const anonymous = await request(t, 'GET', `/api/products/${p.id}`);
        assert.equal(anonymous.json().title, 'After edit');
        assert.equal(anonymous.json().priceMinor, 999);
        assert.equal((await request(t, 'GET', `/api/products/${p.id}`, seller)).json().title, 'After edit');
        assert.deepEqual(
          (await listed()).map((x) => x.title),
          ['After edit'],
        );

        await patch(t, seller, p.id, { categoryId: FICTION });
        assert.deepEqual(await listed(), [], 'moved out of the kitchen listing');
        const books = await request(t, 'GET', `/api/products?category=books&seller=${seller.userId}`);
        assert.deepEqual(
          books.json().items.map((x: Product) => x.id),
          [p.id],
        );
      });

      it('when the cache holds an older copy, then anonymous readers get it from memory and its seller the current one from the primary', async () => {
        const seller = await signIn(t, 'seller');
        const p = await createProduct(t, seller, { title: 'Cached copy' });
        await request(t, 'GET', `/api/products/${p.id}`);
        // A service without a cache changes the row and invalidates nothing (no worker runs here).
        const uncached = createCatalogService({ sql: t.platform.sql, objects: t.platform.objects });
        await uncached.updateProduct({ userId: seller.userId, role: 'seller' }, p.id, {
          title: 'Current row',
        });

        const anonymous = await request(t, 'GET', `/api/products/${p.id}`);
        assert.equal(anonymous.json().title, 'Cached copy');
        assert.equal(cacheOutcome(anonymous), 'hit=1 miss=0 stale=0');
        assert.equal(queries(anonymous), 0);
        const owner = await request(t, 'GET', `/api/products/${p.id}`, seller);
        assert.equal(owner.json().title, 'Current row', 'the owner reads the primary, never the cache');
        const buyer = await signIn(t, 'buyer');
        const signedIn = await request(t, 'GET', `/api/products/${p.id}`, buyer);
        assert.equal(signedIn.json().title, 'Cached copy', 'anyone else with a session: the cached copy');
        assert.equal(cacheOutcome(signedIn), 'hit=1 miss=0 stale=0');
      });

      it('when 100 requests read a cold product at once, then the database loads it once', async () => {
        const seller = await signIn(t, 'seller');
        const p = await createProduct(t, seller);
        const loadsBefore = t.platform.cache.stats().loads['product'] ?? 0;
        const responses = await Promise.all(
          Array.from({ length: 100 }, () => request(t, 'GET', `/api/products/${p.id}`)),
        );
        assert.ok(responses.every((r) => r.statusCode === 200));
        assert.equal((t.platform.cache.stats().loads['product'] ?? 0) - loadsBefore, 1);
        assert.equal(
          responses.reduce((sum, r) => sum + queries(r), 0),
          1,
        );
      });

      it('when a product is a draft or unpublished, then no anonymous reader gets it from the cache', async () => {
        const seller = await signIn(t, 'seller');
        const word = `draftword${uuidv7().slice(-6)}`;
        const p = await createProduct(t, seller, { status: 'draft', title: `Secret ${word}` });
        const anonymous = () => request(t, 'GET', `/api/products/${p.id}`);
        const searched = async () =>
          ((await request(t, 'GET', `/api/products?q=${word}`)).json().items as Product[]).map((x) => x.id);

        assert.equal((await anonymous()).statusCode, 404);
        assert.equal((await request(t, 'GET', `/api/products/${p.id}`, seller)).statusCode, 200);
        const again = await anonymous();
        assert.equal(again.statusCode, 404, 'the owner read put nothing in the cache');
        assert.equal(again.json().code, 'NOT_FOUND');
        assert.equal(cacheOutcome(again), 'hit=1 miss=0 stale=0', 'a cached "not public" is one hit');
        assert.equal(queries(again), 0);
        const other = await signIn(t, 'seller');
        assert.equal((await request(t, 'GET', `/api/products/${p.id}`, other)).statusCode, 404);
        const own = await request(t, 'GET', '/api/seller/products', seller);
        assert.deepEqual(
          own.json().items.map((x: Product) => x.id),
          [p.id],
        );

        await patch(t, seller, p.id, { status: 'published' });
        assert.equal((await anonymous()).statusCode, 200);
        assert.deepEqual(await searched(), [p.id], 'published products are found (and cached)');

        await patch(t, seller, p.id, { status: 'draft' });
        assert.equal((await anonymous()).statusCode, 404);
        assert.deepEqual(await searched(), [], 'unpublishing drops cached searches');
        const listed = await request(t, 'GET', `/api/products?seller=${seller.userId}`);
        assert.deepEqual(listed.json().items, []);
        assert.equal((await request(t, 'GET', `/api/products/${p.id}`, seller)).json().status, 'draft');
      });

      it('when checkout takes or returns stock, then the product page shows it at once', async () => {
        const seller = await signIn(t, 'seller');
        const p = await createProduct(t, seller, { stock: 5 });
        const read = () => request(t, 'GET', `/api/products/${p.id}`);
        assert.equal((await read()).json().stock, 5);
        const catalog = createCatalogService(t.platform);
        const reservationId = uuidv7();
        const held = await catalog.reserveStock(reservationId, [{ productId: p.id, quantity: 2 }]);
        assert.equal(held.ok, true);
        // At once without replicas; with them, once the repeated delete follows the replicas.
        const taken = await until(read, (r) => r.json().stock === 3);
        if (t.config.databaseReplicaUrls.length === 0)
          assert.equal(cacheOutcome(taken), 'hit=0 miss=1 stale=0');
        await catalog.releaseStock(reservationId);
        await until(read, (r) => r.json().stock === 5);
      });

      it('when a product is deleted, then it is gone from its page and its listing', async () => {
        const seller = await signIn(t, 'seller');
        const p = await createProduct(t, seller);
        assert.equal((await request(t, 'GET', `/api/products/${p.id}`)).statusCode, 200);
        const listed = async () =>
          (await request(t, 'GET', `/api/products?seller=${seller.userId}`)).json().items as Product[];
        assert.equal((await listed()).length, 1);
        assert.equal((await request(t, 'DELETE', `/api/products/${p.id}`, seller)).statusCode, 204);
        assert.equal((await request(t, 'GET', `/api/products/${p.id}`)).statusCode, 404);
        assert.deepEqual(await listed(), []);
      });

      // Last: it takes the database away. (Replicas would still answer: the stack tests cover that.)
      it('when the database is unreachable, then a cached page is served stale within grace and an uncached one fails cleanly', {
        skip:
          backend.name === 'postgres' && process.env['DATABASE_REPLICA_URLS']
            ? 'replicas configured: they would still answer'
            : undefined,
      }, async (ctx) => {
        const seller = await signIn(t, 'seller');
        const cachedOne = await createProduct(t, seller, { title: 'Cached before the outage' });
        const uncached = await createProduct(t, seller);
        assert.equal((await request(t, 'GET', `/api/products/${cachedOne.id}`)).statusCode, 200);
        // Make the entry stale (as an expiry or an invalidation does); it stays within grace.
        await t.platform.cache.expire(`product:${cachedOne.id}`, { graceMs: 60_000 });

        const outage = await takeDatabaseAway(backend, t);
        try {
          const stale = await request(t, 'GET', `/api/products/${cachedOne.id}`);
          assert.equal(stale.statusCode, 200, stale.body);
          assert.equal(stale.json().title, 'Cached before the outage');
          assert.equal(cacheOutcome(stale), 'hit=0 miss=0 stale=1');
          assert.ok(t.platform.cache.stats().staleServed >= 1);

          const missing = await request(t, 'GET', `/api/products/${uncached.id}`);
          assert.ok(missing.statusCode >= 500, `${missing.statusCode} ${missing.body}`);
          if (backend.name === 'postgres') {
            // A server that refuses connections is "come back later", not a bug of ours.
            assert.equal(missing.statusCode, 503, missing.body);
            assert.equal(missing.json().code, 'UNAVAILABLE');
            assert.ok(Number(missing.headers['retry-after']) > 0, 'Retry-After is set');
          }
          assert.match(String(missing.headers['content-type']), /application\/problem\+json/);
          ctx.diagnostic(`uncached product during the outage: ${missing.statusCode} ${missing.json().code}`);
        } finally {
          await outage.restore();
        }
        if (outage.restorable) {
          const back = await request(t, 'GET', `/api/products/${uncached.id}`);
          assert.equal(back.statusCode, 200, `recovers when the database returns: ${back.body}`);
        }
      });
    });
  }
}

/**
 * Makes the app's database refuse it, for real: on PostgreSQL the database stops accepting
 * connections and its sessions are terminated (restored afterwards); on PGlite the embedded
 * database is closed (no way back: the suite's last test).
 */
async function takeDatabaseAway(
  backend: Backend,
  t: TestApp,
): Promise<{ restorable: boolean; restore(): Promise<void> }> {
  if (backend.name === 'pglite') {
    await t.platform.sql.close();
    return { restorable: false, restore: async () => {} };
  }
  const url = new URL(t.config.databaseUrl!);
  const name = url.pathname.slice(1);
  const admin = new pg.Client({ connectionString: process.env['DATABASE_URL'] });
  await admin.connect();
  await admin.query(`alter database ${name} allow_connections false`);
  await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [name]);
  return {
    restorable: true,
    async restore() {
      await admin.query(`alter database ${name} allow_connections true`);
      await admin.end();
    },
  };
}

/** Reads until `ok` holds and returns that response; fails after 1,000 reads (no timing asserted). */
async function until(read: () => Promise<Response>, ok: (res: Response) => boolean): Promise<Response> {
  for (let i = 0; i < 1000; i++) {
    const res = await read();
    if (ok(res)) return res;
    await sleep(5);
  }
  assert.fail('the expected response never came');
}

/** Reads until the product shows `title` (the bus delivers asynchronously) and returns that response. */
const firstShowing = (read: () => Promise<Response>, title: string) =>
  until(read, (res) => res.json().title === title);

describe('catalog cache across two web instances and a worker (PostgreSQL + Redis)', {
  skip: postgres.skip ?? redis.skip,
}, () => {
  type Instance = Readonly<{ app: TestApp['app']; platform: Platform; config: Config }>;
  const made: Instance[] = [];
  let a: Instance;
  let b: Instance;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let teardown: () => Promise<void>;

  before(async () => {
    const database = await postgres.createDatabase();
    const r = await redisForTest();
    const config = loadConfig({
      DATABASE_URL: database.url!,
      DATABASE_POOL_SIZE: '5',
      REDIS_URL: redis.url!,
      CACHE_PREFIX: r.prefix.slice(0, -1),
      EXPOSE_COUNTERS: 'true',
      LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'silent',
      SEED: 'false',
    });
    assert.equal(config.cache, 'redis', 'REDIS_URL alone selects the Redis tier');
    const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'silent' });
    const instance = async (processName: string): Promise<Instance> => {
      const platform = await createPlatform(config, { processName });
      const { app } = await buildApp({ config, platform, modules: MODULES, logger });
      await app.ready();
      const i = { app, platform, config };
      made.push(i);
      return i;
    };
    a = await instance('web-a');
    await a.platform.sql.migrate(MODULES.map((m) => m.migrations));
    b = await instance('web-b');
    const w = await instance('worker');
    worker = await startTestWorker({ ...w, close: async () => {} });
    teardown = async () => {
      await worker.stop();
      for (const i of made) {
        await i.app.close();
        await i.platform.close();
      }
      await database.drop();
      await r.teardown();
    };
    await sleep(100); // every instance subscribed to the bus
  });
  after(async () => {
    await teardown?.();
  });

  it('when a product is edited through instance A, then instance B drops its copy through the bus and shows the edit', async (ctx) => {
    const seller = await signIn(a, 'seller');
    const p = await createProduct(a, seller, { title: 'Two-instance mug' });
    const onB = () => request(b, 'GET', `/api/products/${p.id}`);
    await onB();
    const warm = await onB();
    assert.equal(cacheOutcome(warm), 'hit=1 miss=0 stale=0', 'B serves it from its memory tier');
    assert.equal(warm.json().title, 'Two-instance mug');

    await patch(a, seller, p.id, { title: 'Edited on A' });
    const answeredAt = performance.now();
    const seen = await firstShowing(onB, 'Edited on A');
    // Reported, not asserted: the bus delivers asynchronously and timings vary by machine.
    ctx.diagnostic(
      `instance B showed the edit ${(performance.now() - answeredAt).toFixed(1)} ms after A answered the PATCH`,
    );
    assert.equal(cacheOutcome(seen), 'hit=0 miss=1 stale=0', "B's memory copy was dropped by the bus");
    assert.equal(queries(seen), 1);

    await worker.drain();
    const afterDrain = await onB();
    assert.equal(afterDrain.json().title, 'Edited on A');
    assert.equal(cacheOutcome(await onB()), 'hit=1 miss=0 stale=0');
  });

  it('when a product changes without the writer invalidating, then the event consumer in the worker invalidates every instance', async () => {
    const seller = await signIn(a, 'seller');
    const p = await createProduct(a, seller, { title: 'Event-driven mug' });
    await worker.drain();
    const onA = () => request(a, 'GET', `/api/products/${p.id}`);
    const onB = () => request(b, 'GET', `/api/products/${p.id}`);
    for (const read of [onA, onB]) {
      await read();
      assert.equal(cacheOutcome(await read()), 'hit=1 miss=0 stale=0');
    }
    // A catalog service without a cache writes and emits the event but invalidates nothing
    // itself: only the worker's consumer (its own platform, its own memory tier) can.
    const uncached = createCatalogService({ sql: a.platform.sql, objects: a.platform.objects });
    await uncached.updateProduct({ userId: seller.userId, role: 'seller' }, p.id, {
      title: 'Changed behind the cache',
    });

    await worker.drain();
    const onAfterDrain = await firstShowing(onA, 'Changed behind the cache');
    assert.equal(
      cacheOutcome(onAfterDrain),
      'hit=0 miss=1 stale=0',
      "A's memory copy was dropped by the bus",
    );
    assert.equal(queries(onAfterDrain), 1);
    // B's copy was dropped too; A's load is in the Redis tier now, so B needs no query of its own.
    const onBAfterDrain = await firstShowing(onB, 'Changed behind the cache');
    assert.equal(onBAfterDrain.json().title, 'Changed behind the cache');
  });
});
