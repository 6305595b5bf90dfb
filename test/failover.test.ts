/**
 * Failover survival on a real primary + synchronous standby + 1 replica made by `bazaar stack db`:
 * the app runs in-process with DATABASE_URL = primary and DATABASE_FAILOVER_URLS = standby; a
 * stream of checkouts with idempotency keys runs while the primary is killed (`pg_ctl stop -m
 * immediate`) and the standby promoted. Clients retry a key after a 503/409 like real ones.
 * Every acknowledged order exists exactly once on the new primary, unacknowledged keys exist at
 * most once, the stock went down by exactly the ordered quantity, and writes succeed again
 * within 10 s of the promotion, with no restart. The measured gap is printed.
 * The promotion leaves the replica pointed at the dead primary: the router takes it out as "not
 * following the primary"; `repoint` makes it follow the new primary, whose writes it then
 * replays, and the router puts it back. A second drill promotes a replica that is behind the
 * other one: the other replica cannot follow the new timeline, and `repoint` clones it again.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  createStack,
  promote,
  repoint,
  stackEnvironment,
  startNodeByName,
  stopStack,
} from '../ops/stack/stack-db.ts';
import type { Product } from '../src/modules/catalog/index.ts';
import type { ReplicaRouter } from '../src/platform/sql/router/replica-router.ts';
import { routerOf } from '../src/platform/sql/router/replicated-sql.ts';
import { uuidv7 } from '../src/shared/ids.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

const pgSkip = existsSync('/usr/lib/postgresql/15/bin/initdb')
  ? undefined
  : 'PostgreSQL server programs are absent (apt-get install postgresql-15)';
if (pgSkip && process.env['BAZAAR_REQUIRE_ENGINES'] === '1')
  throw new Error(`BAZAAR_REQUIRE_ENGINES=1 but ${pgSkip}`);

const KITCHEN = '0190a8c0-0000-7000-8000-000000000101';
const STOCK = 10_000;
const BUYERS = 120;
const WORKERS = 4;
/** How long a client keeps retrying one key (covers the checkout lease of a saga cut off mid-way). */
const KEY_PATIENCE_MS = 45_000;
const quiet = () => {};

type Who = Readonly<{ userId: string; cookie: string }>;
type Outcome = { buyer: Who; key: string; acked: boolean; orderId?: string; last: number; tries: number };

describe('failover: primary killed, standby promoted, during checkouts', { skip: pgSkip }, () => {
  const parent = mkdtempSync(join(tmpdir(), 'bazaar-failover-test-'));
  chmodSync(parent, 0o755);
  const dir = join(parent, 'stack');
  // Below the ephemeral port range (32768-60999), so no outgoing socket can hold these ports.
  const basePort = 28100 + 10 * Math.floor(Math.random() * 40);
  const standbyPort = basePort + 2;
  let t: TestApp;
  let router: ReplicaRouter;

  before(async () => {
    const manifest = await createStack(
      { replicas: 1, standby: true, delayMs: 0, dir, basePort, fast: true },
      quiet,
    );
    const env = stackEnvironment(manifest);
    assert.ok(env.DATABASE_FAILOVER_URLS?.includes(`:${standbyPort}/`), JSON.stringify(env));
    t = await startTestApp(
      {
        name: 'postgres',
        skip: undefined,
        createDatabase: async () => ({ url: env.DATABASE_URL, drop: async () => {} }),
      },
      {
        DATABASE_FAILOVER_URLS: env.DATABASE_FAILOVER_URLS!,
        DATABASE_REPLICA_URLS: env.DATABASE_REPLICA_URLS!,
        REPLICA_CHECK_INTERVAL: '200ms',
        REPLICA_MAX_LAG_MS: '5000',
        DATABASE_REPLICA_POOL_SIZE: '4',
      },
    );
    router = routerOf(t.platform.sql)!;
  });
  after(async () => {
    await t?.close().catch(() => {});
    await stopStack({ dir, remove: true }, quiet).catch(() => {});
    rmSync(parent, { recursive: true, force: true });
  });

  async function onNode<T extends pg.QueryResultRow>(
    port: number,
    text: string,
    values: unknown[] = [],
  ): Promise<T[]> {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'bazaar' });
    await c.connect();
    try {
      return (await c.query<T>(text, values)).rows;
    } finally {
      await c.end();
    }
  }

  async function signIn(role: 'buyer' | 'seller'): Promise<Who> {
    const userId = uuidv7();
    const s = await t.platform.sessions.create({ userId, data: { role } });
    return { userId, cookie: `bazaar_session=${s.id}` };
  }

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('keeps every acknowledged order exactly once and serves writes again within 10 s', async () => {
    const seller = await signIn('seller');
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/products',
      headers: { cookie: seller.cookie },
      payload: {
        categoryId: KITCHEN,
        title: 'Failover bowl',
        priceMinor: 1500,
        stock: STOCK,
        status: 'published',
      },
    });
    assert.equal(created.statusCode, 201, created.body);
    const product = created.json() as Product;

    const buyers: Who[] = [];
    for (let i = 0; i < BUYERS; i++) {
      const b = await signIn('buyer');
      const res = await t.app.inject({
        method: 'PUT',
        url: `/api/cart/items/${product.id}`,
        headers: { cookie: b.cookie },
        payload: { quantity: 1 },
      });
      assert.equal(res.statusCode, 200, res.body);
      buyers.push(b);
    }
    await sleep(500); // the replica replays the carts

    const outcomes: Outcome[] = buyers.map((buyer) => ({
      buyer,
      key: uuidv7(),
      acked: false,
      last: 0,
      tries: 0,
    }));
    let killedAt = 0;
    let promotedAt = 0;
    let firstSuccessAfterKill = 0;
    const statuses = new Map<number, number>();

    let longest = 0;
    /** From the kill on, a plain (non-idempotent) write every 50 ms until one succeeds: its time. */
    async function writeProbe(who: Who): Promise<number> {
      for (;;) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/api/products',
          headers: { cookie: who.cookie },
          payload: { categoryId: KITCHEN, title: 'Probe', priceMinor: 100, stock: 1, status: 'draft' },
        });
        if (res.statusCode === 201) return Date.now();
        assert.equal(res.statusCode, 503, res.body);
        assert.ok(res.headers['retry-after'], 'a 503 carries Retry-After');
        if (Date.now() - killedAt > 30_000) throw new Error('no write succeeded within 30 s of the kill');
        await sleep(50);
      }
    }

    async function drive(o: Outcome): Promise<void> {
      const giveUp = Date.now() + KEY_PATIENCE_MS;
      for (;;) {
        o.tries++;
        const began = Date.now();
        const res = await t.app.inject({
          method: 'POST',
          url: '/api/orders',
          headers: { cookie: o.buyer.cookie, 'idempotency-key': o.key },
        });
        longest = Math.max(longest, Date.now() - began);
        o.last = res.statusCode;
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        if (res.statusCode === 201 || res.statusCode === 200) {
          o.acked = true;
          o.orderId = (res.json() as { id: string }).id;
          if (killedAt > 0 && firstSuccessAfterKill === 0) firstSuccessAfterKill = Date.now();
          return;
        }
        assert.ok([503, 409].includes(res.statusCode), `unexpected ${res.statusCode}: ${res.body}`);
        if (res.statusCode === 503) assert.ok(res.headers['retry-after'], 'a 503 carries Retry-After');
        if (Date.now() > giveUp) return;
        await sleep(200);
      }
    }

    let next = 0;
    const workers = Array.from({ length: WORKERS }, async () => {
      while (next < outcomes.length) await drive(outcomes[next++]!);
    });

    // Mid-stream: kill the primary, promote the standby.
    while (outcomes.filter((o) => o.acked).length < BUYERS / 4) await sleep(20);
    killedAt = Date.now();
    await stopStack({ dir, node: 'primary', mode: 'immediate' }, quiet);
    await promote(dir, 'standby', quiet, { repoint: false });
    promotedAt = Date.now();
    const probe = writeProbe(seller);
    await Promise.all(workers);
    const firstWrite = await probe;

    const gapFromPromotion = firstWrite - promotedAt;
    const gapFromKill = firstSuccessAfterKill - killedAt;
    const ackedCount = outcomes.filter((o) => o.acked).length;
    console.log(
      `failover: promote took ${promotedAt - killedAt} ms; first non-idempotent write (new product) ${firstWrite - killedAt} ms after the kill, ` +
        `${gapFromPromotion} ms after the promotion; first acknowledged checkout ${gapFromKill} ms after the kill; ` +
        `longest checkout request ${longest} ms; ${ackedCount}/${BUYERS} acknowledged; statuses ${JSON.stringify(Object.fromEntries(statuses))}; ` +
        `counters ${JSON.stringify({ failovers: router.counters.failovers, transactionRetries: router.counters.transactionRetries, resolutions: router.counters.primaryResolutions })}`,
    );
    assert.ok(firstSuccessAfterKill > 0, 'no checkout succeeded after the failover');
    assert.ok(gapFromPromotion <= 10_000, `writes came back ${gapFromPromotion} ms after the promotion`);
    assert.ok(router.counters.failovers >= 1);
    const primary = router.status()[0]!;
    assert.equal(primary.host, `127.0.0.1:${standbyPort}`);

    // On the new primary: acknowledged orders exactly once, the others at most once.
    const rows = await onNode<{ buyer_id: string; id: string; item_count: number }>(
      standbyPort,
      'select buyer_id, id, item_count from orders.orders where buyer_id = any($1::uuid[])',
      [buyers.map((b) => b.userId)],
    );
    const byBuyer = new Map<string, string[]>();
    for (const r of rows) byBuyer.set(r.buyer_id, [...(byBuyer.get(r.buyer_id) ?? []), r.id]);
    for (const o of outcomes) {
      const ids = byBuyer.get(o.buyer.userId) ?? [];
      if (o.acked) assert.deepEqual(ids, [o.orderId], `acknowledged order of ${o.key}`);
      else {
        assert.ok(ids.length <= 1, `key ${o.key} made ${ids.length} orders`);
        assert.ok([503, 409].includes(o.last), `unacknowledged key ended with ${o.last}`);
      }
    }
    const ordered = rows.reduce((n, r) => n + r.item_count, 0);
    const [stock] = await onNode<{ stock: number }>(
      standbyPort,
      'select stock from catalog.products where id = $1',
      [product.id],
    );
    assert.equal(STOCK - stock!.stock, ordered, 'stock went down by exactly the ordered quantity');

    // /readyz names the new primary.
    const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 200, ready.body);
    const nodes = (ready.json() as { nodes: { role: string; host?: string }[] }).nodes;
    assert.equal(nodes.find((n) => n.role === 'primary')?.host, `127.0.0.1:${standbyPort}`);
  });

  it('when the replica still follows the dead primary, then it serves no reads; once repointed, then it replays the new primary and serves again', async () => {
    const replicaPort = basePort + 1;
    await until(async () => {
      await router.refresh();
      return /not following the primary/.test(replicaStatus().reason ?? '');
    }, 'the router to take the replica out');
    assert.equal(replicaStatus().healthy, false);

    const followers = await repoint(dir, undefined, quiet);
    assert.deepEqual(followers, ['replica1']);
    await onNode(standbyPort, 'create table public.repoint_probe (v int)');
    await onNode(standbyPort, 'insert into public.repoint_probe values (7)');
    await until(async () => {
      const rows = await onNode<{ v: number }>(replicaPort, 'select v from public.repoint_probe').catch(
        () => [],
      );
      return rows[0]?.v === 7;
    }, "the new primary's write to reach the replica");
    await until(async () => {
      await router.refresh();
      return replicaStatus().healthy;
    }, 'the router to put the replica back');
    const before = router.counters.byNode['replica1'] ?? 0;
    const list = await t.app.inject({ url: `/api/products?category=${KITCHEN}` });
    assert.equal(list.statusCode, 200, list.body);
    assert.ok((router.counters.byNode['replica1'] ?? 0) > before, 'the catalog read ran on the replica');
  });

  function replicaStatus() {
    return router.status().find((n) => n.name === 'replica1')!;
  }

  async function until(check: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end)
        throw new Error(`timed out waiting for ${what}: ${JSON.stringify(router.status())}`);
      await sleep(100);
    }
  }
});

describe('repoint after promoting a replica that was behind the other one', { skip: pgSkip }, () => {
  const parent = mkdtempSync(join(tmpdir(), 'bazaar-repoint-test-'));
  chmodSync(parent, 0o755);
  const dir = join(parent, 'stack');
  // Ports 29200-29399 (test/pgbouncer.test.ts has 29000-29199).
  const basePort = 29200 + 10 * Math.floor(Math.random() * 20);

  before(async () => {
    await createStack({ replicas: 2, standby: false, delayMs: 0, dir, basePort, fast: true }, quiet);
  });
  after(async () => {
    await stopStack({ dir, remove: true }, quiet).catch(() => {});
    rmSync(parent, { recursive: true, force: true });
  });

  async function count(port: number): Promise<number | undefined> {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'bazaar' });
    c.on('error', () => {});
    try {
      await c.connect();
      const { rows } = await c.query<{ n: number }>('select count(*)::int as n from public.d');
      return rows[0]!.n;
    } catch {
      return undefined;
    } finally {
      await c.end().catch(() => {});
    }
  }

  async function exec(port: number, text: string): Promise<void> {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'bazaar' });
    await c.connect();
    try {
      await c.query(text);
    } finally {
      await c.end();
    }
  }

  async function until(check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('when the other replica replayed WAL the promoted one never got, then repoint clones it again and it follows', async () => {
    const [primary, replica1, replica2] = [basePort, basePort + 1, basePort + 2];
    await exec(primary, 'create table public.d (v int)');
    await until(
      async () => (await count(replica1)) === 0 && (await count(replica2)) === 0,
      'the table on both',
    );
    await stopStack({ dir, node: 'replica1' }, quiet);
    await exec(primary, 'insert into public.d select generate_series(1, 1000)');
    await until(async () => (await count(replica2)) === 1000, 'replica2 to replay the rows');
    await stopStack({ dir, node: 'primary', mode: 'immediate' }, quiet);
    await startNodeByName(dir, 'replica1', quiet);

    const log: string[] = [];
    await promote(dir, 'replica1', (line) => log.push(line));
    assert.ok(
      log.some((l) => /replica2 does not stream .* cloning it again/.test(l)),
      `replica2 was cloned again:\n${log.join('\n')}`,
    );
    await exec(replica1, 'insert into public.d values (-1)');
    await until(async () => (await count(replica2)) === 1, "replica2 to hold exactly the new primary's rows");
  });
});
