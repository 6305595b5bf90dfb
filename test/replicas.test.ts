/**
 * The whole app on a real primary + 2 replicas made by `bazaar stack db` with a 2 s apply delay:
 * anonymous catalog reads land on the replicas only (router counters and the servers'
 * pg_stat_statements agree), writes on the primary only; a seller reads back every edit at once
 * (read-your-writes) while an anonymous reader may see the old version; an event's consumer
 * reads the change that emitted it (the job carries the primary's WAL position); a replica
 * stopped under load fails no read and rejoins when started.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createStack, stackEnvironment, startNodeByName, stopStack } from '../ops/stack/stack-db.ts';
import type { Consumer } from '../src/platform/events/events.ts';
import { newReadContext, runInReadContext } from '../src/platform/sql/router/read-context.ts';
import type { ReplicaRouter } from '../src/platform/sql/router/replica-router.ts';
import { routerOf } from '../src/platform/sql/router/replicated-sql.ts';
import { uuidv7 } from '../src/shared/ids.ts';
import { replicasCaughtUp, startTestApp, type TestApp } from './support/test-app.ts';
import { startTestWorker } from './support/worker.ts';

const pgSkip = existsSync('/usr/lib/postgresql/15/bin/initdb')
  ? undefined
  : 'PostgreSQL server programs are absent (apt-get install postgresql-15)';
if (pgSkip && process.env['BAZAAR_REQUIRE_ENGINES'] === '1')
  throw new Error(`BAZAAR_REQUIRE_ENGINES=1 but ${pgSkip}`);

const KITCHEN = '0190a8c0-0000-7000-8000-000000000101';
const DELAY_MS = 2000;
const quiet = () => {};

describe('read replicas with read-your-writes', { skip: pgSkip }, () => {
  const parent = mkdtempSync(join(tmpdir(), 'bazaar-replicas-test-'));
  chmodSync(parent, 0o755);
  const dir = join(parent, 'stack');
  // Below the ephemeral port range (32768-60999), so no outgoing socket can hold these ports.
  const basePort = 27600 + 10 * Math.floor(Math.random() * 40);
  const ports = [basePort, basePort + 1, basePort + 2];
  let t: TestApp;
  let router: ReplicaRouter;

  before(async () => {
    const manifest = await createStack(
      { replicas: 2, standby: false, delayMs: DELAY_MS, dir, basePort, fast: true },
      quiet,
    );
    const env = stackEnvironment(manifest);
    t = await startTestApp(
      {
        name: 'postgres',
        skip: undefined,
        createDatabase: async () => ({ url: env.DATABASE_URL, drop: async () => {} }),
      },
      {
        DATABASE_REPLICA_URLS: env.DATABASE_REPLICA_URLS!,
        REPLICA_MAX_LAG_MS: '10000',
        REPLICA_CHECK_INTERVAL: '200ms',
        DATABASE_REPLICA_POOL_SIZE: '4',
      },
    );
    router = routerOf(t.platform.sql)!;
    await caughtUp();
  });
  after(async () => {
    await t?.close().catch(() => {});
    await stopStack({ dir, remove: true }, quiet).catch(() => {});
    rmSync(parent, { recursive: true, force: true });
  });

  /**
   * Empties the catalog's cache, so that the next catalog request reads the database (through the
   * router) instead of an entry a previous request filled: these tests are about where reads go.
   */
  async function uncached(productIds: readonly string[] = []): Promise<void> {
    await t.platform.cache.deleteByTag(['listings', 'search']);
    for (const id of productIds) await t.platform.cache.delete(`product:${id.toLowerCase()}`);
  }

  /** Waits until both replicas are healthy and have replayed everything written so far. */
  const caughtUp = () => replicasCaughtUp(t);

  async function onNode<T extends pg.QueryResultRow>(port: number, text: string): Promise<T[]> {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'bazaar' });
    await c.connect();
    try {
      return (await c.query<T>(text)).rows;
    } finally {
      await c.end();
    }
  }

  /** Calls of statements touching catalog.products on one server, by kind. */
  async function productStatements(port: number): Promise<{ selects: number; writes: number }> {
    const [row] = await onNode<{ selects: number; writes: number }>(
      port,
      `select coalesce(sum(calls) filter (where query ilike 'select%'), 0)::int as selects,
              coalesce(sum(calls) filter (where query ~* '^(insert|update|delete)'), 0)::int as writes
         from pg_stat_statements where query like '%"catalog"."products"%'`,
    );
    return row!;
  }

  async function seller(): Promise<{ userId: string; cookie: string }> {
    const userId = uuidv7();
    const s = await t.platform.sessions.create({ userId, data: { role: 'seller' } });
    return { userId, cookie: `bazaar_session=${s.id}` };
  }

  function cookieOf(res: { cookies: { name: string; value: string }[] }, name: string): string | undefined {
    const c = res.cookies.find((x) => x.name === name);
    return c ? `${c.name}=${c.value}` : undefined;
  }

  it('when anonymous visitors browse the catalog, then every catalog read runs on a replica and writes only on the primary', async () => {
    const who = await seller();
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/products',
      headers: { cookie: who.cookie },
      payload: { categoryId: KITCHEN, title: 'Replica mug', priceMinor: 900, status: 'published' },
    });
    assert.equal(created.statusCode, 201, created.body);
    const id = created.json<{ id: string }>().id;
    await caughtUp();
    for (const port of ports) await onNode(port, 'select pg_stat_statements_reset()');
    const before = structuredClone(router.counters);

    for (let i = 0; i < 40; i++) {
      await uncached();
      const list = await t.app.inject({ url: `/api/products?category=${KITCHEN}` });
      assert.equal(list.statusCode, 200, list.body);
      await uncached([id]);
      const one = await t.app.inject({ url: `/api/products/${id}` });
      assert.equal(one.statusCode, 200, one.body);
    }

    const [primary, r1, r2] = await Promise.all(ports.map(productStatements));
    assert.equal(primary!.selects, 0, 'the primary served no catalog read');
    assert.ok(r1!.selects + r2!.selects >= 80, `replicas served the reads (${r1!.selects} + ${r2!.selects})`);
    assert.ok(r1!.selects > 0 && r2!.selects > 0, 'both replicas took reads');
    assert.equal(r1!.writes + r2!.writes, 0);
    assert.ok(router.counters.queries.replica - before.queries.replica >= 80);
    assert.equal(router.counters.fallbacks - before.fallbacks, 0);

    const edit = await t.app.inject({
      method: 'PATCH',
      url: `/api/products/${id}`,
      headers: { cookie: who.cookie },
      payload: { title: 'Replica mug, blue' },
    });
    assert.equal(edit.statusCode, 200, edit.body);
    assert.ok((await productStatements(ports[0]!)).writes >= 1, 'the write ran on the primary');
  });

  it(`when a seller edits a product with replicas ${DELAY_MS} ms behind, then they read every edit back at once (100 of 100) while anonymous readers may see the old one`, async () => {
    const who = await seller();
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/products',
      headers: { cookie: who.cookie },
      payload: { categoryId: KITCHEN, title: 'Edit 0', priceMinor: 500, status: 'published' },
    });
    assert.equal(created.statusCode, 201, created.body);
    const id = created.json<{ id: string }>().id;
    let rw: string | undefined = cookieOf(created, 'bazaar_rw');
    assert.ok(rw, 'a write sets the read-your-writes cookie');
    const hitsBefore = router.counters.stickinessHits;
    let staleForAnonymous = 0;
    for (let i = 1; i <= 100; i++) {
      const sent: string = `${who.cookie}; ${rw}`;
      const edit = await t.app.inject({
        method: 'PATCH',
        url: `/api/products/${id}`,
        headers: { cookie: sent },
        payload: { title: `Edit ${i}` },
      });
      assert.equal(edit.statusCode, 200, edit.body);
      rw = cookieOf(edit, 'bazaar_rw') ?? rw;
      const latest: string = `${who.cookie}; ${rw}`;
      const mine = await t.app.inject({
        url: `/api/products?seller=${who.userId}`,
        headers: { cookie: latest },
      });
      assert.equal(mine.statusCode, 200, mine.body);
      const titles = mine.json<{ items: { id: string; title: string }[] }>().items.map((p) => p.title);
      assert.deepEqual(titles, [`Edit ${i}`], `try ${i}: the seller sees their edit`);
      await uncached();
      const anonymous = await t.app.inject({ url: `/api/products?seller=${who.userId}` });
      const seen = anonymous.json<{ items: { title: string }[] }>().items.map((p) => p.title);
      if (seen[0] !== `Edit ${i}`) staleForAnonymous++;
    }
    assert.ok(staleForAnonymous > 0, 'anonymous readers saw the replicas’ older version at least once');
    assert.ok(router.counters.stickinessHits - hitsBefore >= 100);

    await caughtUp();
    await uncached();
    const anonymous = await t.app.inject({ url: `/api/products?seller=${who.userId}` });
    assert.deepEqual(
      anonymous.json<{ items: { title: string }[] }>().items.map((p) => p.title),
      ['Edit 100'],
      'after the delay everyone agrees',
    );
  });

  it(`when a product is edited with replicas ${DELAY_MS} ms behind, then the event's consumer reads the edit (the job carries the WAL position)`, async () => {
    const who = await seller();
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/products',
      headers: { cookie: who.cookie },
      payload: { categoryId: KITCHEN, title: 'Event 0', priceMinor: 700, status: 'published' },
    });
    assert.equal(created.statusCode, 201, created.body);
    const id = created.json<{ id: string }>().id;
    type CatalogDb = { products: { id: string; title: string } };
    const catalog = t.platform.sql.for<CatalogDb>('catalog').read;
    const readTitle = async () =>
      (await catalog.selectFrom('products').select('title').where('id', '=', id).executeTakeFirst())?.title;
    const seen: { expected: string; got: string | undefined; withoutPosition: string | undefined }[] = [];
    let stickiness = 0;
    const probe: Consumer = {
      name: 'test.read-after-event',
      types: ['product.updated'],
      async handle(event) {
        const { productId, title } = event.payload as { productId: string; title: string };
        if (productId !== id) return;
        const hits = router.counters.stickinessHits;
        const got = await readTitle();
        stickiness += router.counters.stickinessHits - hits;
        // The same read without the job's position: what a consumer saw before.
        const withoutPosition = await runInReadContext(newReadContext(), readTitle);
        seen.push({ expected: title, got, withoutPosition });
      },
    };
    const worker = await startTestWorker(t, { modules: false, consumers: [probe] });
    try {
      for (let i = 1; i <= 5; i++) {
        const edit = await t.app.inject({
          method: 'PATCH',
          url: `/api/products/${id}`,
          headers: { cookie: who.cookie },
          payload: { title: `Event ${i}` },
        });
        assert.equal(edit.statusCode, 200, edit.body);
        await worker.drain();
      }
    } finally {
      await worker.stop();
    }
    assert.equal(seen.length, 5, JSON.stringify(seen));
    for (const s of seen) assert.equal(s.got, s.expected, `the consumer read ${s.got}, not ${s.expected}`);
    assert.ok(
      seen.some((s) => s.withoutPosition !== s.expected),
      'without the position, a replica served an older title at least once',
    );
    assert.ok(stickiness >= 1, 'reads went to the primary while the replicas had not replayed the edit');
  });

  it('when a replica stops under load, then no read fails, and it rejoins when started', async () => {
    await caughtUp();
    const retriesBefore = router.counters.retries;
    let failed = 0;
    let done = 0;
    const worker = async () => {
      while (done < 300) {
        done++;
        await uncached();
        const res = await t.app.inject({ url: `/api/products?category=${KITCHEN}` });
        if (res.statusCode !== 200) failed++;
      }
    };
    const load = Promise.all([worker(), worker(), worker(), worker()]);
    await new Promise((r) => setTimeout(r, 150));
    await stopStack({ dir, node: 'replica1' }, quiet);
    await load;
    assert.equal(failed, 0, 'no read failed');
    assert.equal(router.status().find((n) => n.name === 'replica1')!.healthy, false);

    await startNodeByName(dir, 'replica1', quiet);
    await caughtUp();
    assert.equal(router.status().find((n) => n.name === 'replica1')!.healthy, true, 'replica1 is back in');
    // Least-lag routing prefers replica2 while replica1's measured lag is still higher after its
    // restart, so "serves reads again" is a matter of a few polls, not of the next request.
    const before = router.counters.byNode['replica1'] ?? 0;
    const end = Date.now() + 10_000;
    while ((router.counters.byNode['replica1'] ?? 0) === before && Date.now() < end) {
      await uncached();
      await t.app.inject({ url: `/api/products?category=${KITCHEN}` });
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok((router.counters.byNode['replica1'] ?? 0) > before, 'replica1 serves reads again within 10 s');
    assert.ok(router.counters.retries >= retriesBefore);
  });

  it('when /readyz is asked, then it reports each node with its role and lag', async () => {
    const res = await t.app.inject({ url: '/readyz' });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json<{
      nodes: { name: string; role: string; lagMs: number | null; healthy: boolean }[];
    }>();
    assert.deepEqual(
      body.nodes.map((n) => [n.name, n.role]),
      [
        ['primary', 'primary'],
        ['replica1', 'replica'],
        ['replica2', 'replica'],
      ],
    );
    assert.ok(body.nodes.every((n) => typeof n.lagMs === 'number'));
  });
});
