/** Demo data: believable, idempotent, resumable, consistent across domains, usable through the API. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { type SeedPhase, seedDemo, seedOnStart } from '../src/apps/seed.ts';
import { DEMO_PASSWORD } from '../src/apps/seed-data.ts';
import { createCatalogSeeder } from '../src/modules/catalog/index.ts';
import { createOrdersSeeder, type SeedOrder } from '../src/modules/orders/index.ts';
import { uuidv7 } from '../src/shared/ids.ts';
import { BACKENDS } from './support/engines.ts';
import { sessionCookie, startTestApp, type TestApp } from './support/test-app.ts';

type Row = Record<string, unknown>;

for (const backend of BACKENDS) {
  describe(`demo seed on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    const q = async <T = Row>(query: ReturnType<typeof sql>): Promise<T[]> =>
      (await query.execute(t.platform.sql.for('platform').write)).rows as T[];
    const stockById = async () =>
      new Map(
        (await q<{ id: string; stock: number }>(sql`select id, stock from catalog.products`)).map((r) => [
          r.id,
          Number(r.stock),
        ]),
      );
    /** Units of each product in orders that keep their stock (all but cancelled ones). */
    const orderedUnits = async () =>
      new Map(
        (
          await q<{ product_id: string; n: number }>(
            sql`select l.product_id, sum(l.quantity)::int as n from orders.order_lines l
                join orders.orders o on o.buyer_id = l.buyer_id and o.id = l.order_id
                where o.status <> 'cancelled' group by l.product_id`,
          )
        ).map((r) => [r.product_id, Number(r.n)]),
      );
    const login = async (email: string) => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/auth/login',
        payload: { email, password: DEMO_PASSWORD },
      });
      assert.equal(res.statusCode, 200, res.body);
      return { cookie: sessionCookie(res), user: res.json().user as { id: string; role: string } };
    };
    let initialStock: Map<string, number>;

    before(async () => {
      t = await startTestApp(backend);
    });
    after(() => t?.close());

    it('when seeded twice with the same totals, then the second run adds nothing', async () => {
      const progress: [SeedPhase, number, number][] = [];
      const first = await seedDemo(t.platform, t.config, {
        products: 120,
        sellers: 3,
        buyers: 2,
        onProgress: (phase, done, total) => progress.push([phase, done, total]),
      });
      assert.equal(first.sellers, 3);
      assert.equal(first.buyers, 2);
      assert.equal(first.productsAdded, 120);
      assert.equal(first.productsTotal, 120);
      assert.equal(first.ordersAdded, 0);
      assert.equal(first.phases.products.rows, 120);
      assert.deepEqual(progress.at(-1), ['products', 120, 120]);
      assert.deepEqual(progress[0], ['accounts', 0, 6]);
      const [stats] = await q<{ analysed: boolean }>(
        sql`select last_analyze is not null as analysed from pg_stat_user_tables
            where schemaname = 'catalog' and relname = 'products'`,
      );
      assert.equal(stats?.analysed, true, 'the planner has statistics for what was loaded');
      const second = await seedDemo(t.platform, t.config, { products: 120, sellers: 3, buyers: 2 });
      assert.equal(second.productsAdded, 0);
      assert.equal(second.productsTotal, 120);
      const more = await seedDemo(t.platform, t.config, {
        products: 150,
        sellers: 3,
        buyers: 2,
        batchSize: 7,
      });
      assert.equal(more.productsAdded, 30);
    });

    it('when a demo seller signs in, then their products are listed and published ones are public', async () => {
      const { cookie } = await login('seller1@bazaar.test');
      const mine = await t.app.inject({ url: '/api/seller/products?limit=100', headers: { cookie } });
      assert.equal(mine.statusCode, 200);
      assert.equal(mine.json().items.length, 50, '150 products over 3 sellers');
      const pub = await t.app.inject({ url: '/api/products?limit=100&sort=newest' });
      const items = pub.json().items as { title: string; priceMinor: number; createdAt: string }[];
      assert.equal(items.length, 100);
      assert.ok(items.every((p) => p.title.length > 10 && p.priceMinor > 0));
      const times = items.map((p) => Date.parse(p.createdAt));
      assert.deepEqual(
        [...times].sort((a, b) => b - a),
        times,
        'newest first',
      );
      const spanDays = (times[0]! - times.at(-1)!) / 86_400_000;
      assert.ok(spanDays > 20, `creation times spread over weeks (${spanDays.toFixed(1)} days)`);
    });

    it('when orders are seeded, then stock drops by exactly the units of orders not cancelled and never below zero', async () => {
      initialStock = await stockById();
      const report = await seedDemo(t.platform, t.config, {
        products: 150,
        sellers: 3,
        buyers: 6,
        orders: 140,
        batchSize: 40,
      });
      assert.equal(report.ordersAdded, 140);
      assert.equal(report.ordersTotal, 140);
      assert.equal(report.phases.orders.rows, 140);
      const stock = await stockById();
      const units = await orderedUnits();
      for (const [id, before] of initialStock) {
        assert.ok(stock.get(id)! >= 0, `stock of ${id} is negative`);
        assert.equal(stock.get(id), before - (units.get(id) ?? 0), `stock of ${id}`);
      }
      const again = await seedDemo(t.platform, t.config, {
        products: 150,
        sellers: 3,
        buyers: 6,
        orders: 140,
      });
      assert.equal(again.ordersAdded, 0, 'a rerun adds nothing');
      assert.deepEqual(await stockById(), stock, 'a rerun takes no stock');
    });

    it('when orders are seeded, then they mix states, snapshot real prices and the seller projection matches their lines', async () => {
      const states = await q<{ status: string; n: number }>(
        sql`select status, count(*)::int as n from orders.orders group by status`,
      );
      const byState = Object.fromEntries(states.map((s) => [s.status, Number(s.n)]));
      assert.ok(byState['delivered']! > 0 && byState['cancelled']! > 0, JSON.stringify(byState));
      assert.ok(Object.keys(byState).length >= 3, JSON.stringify(byState));
      const badPrices = await q(
        sql`select 1 from orders.order_lines l where not exists (select 1 from catalog.products p
            where p.id = l.product_id and p.price_minor = l.price_minor and p.seller_id = l.seller_id
            and p.title = l.title)`,
      );
      assert.equal(badPrices.length, 0, 'every line snapshots its product');
      const totals = await q(
        sql`select o.id from orders.orders o join orders.order_lines l on l.buyer_id = o.buyer_id and l.order_id = o.id
            group by o.id, o.total_minor, o.item_count
            having o.total_minor <> sum(l.price_minor * l.quantity) or o.item_count <> sum(l.quantity)`,
      );
      assert.equal(totals.length, 0, 'totals add up');
      // One projection row per (order, seller of its lines), with that seller's lines and the order's state.
      const mismatched = await q(
        sql`with parts as (
              select l.buyer_id, l.order_id, l.seller_id, sum(l.price_minor * l.quantity) as subtotal,
                     count(*) as lines, o.status
              from orders.order_lines l join orders.orders o on o.buyer_id = l.buyer_id and o.id = l.order_id
              group by l.buyer_id, l.order_id, l.seller_id, o.status)
            select 1 from parts p full join orders.seller_orders s
              on s.seller_id = p.seller_id and s.order_id = p.order_id
            where s.order_id is null or p.order_id is null or s.buyer_id <> p.buyer_id
               or s.subtotal_minor <> p.subtotal or jsonb_array_length(s.lines) <> p.lines or s.status <> p.status`,
      );
      assert.equal(mismatched.length, 0, 'seller_orders matches the lines');
      const times = await q(
        sql`select 1 from orders.orders where placed_at > now()
            or (status in ('shipped', 'delivered') and (shipped_at is null or shipped_at < placed_at))
            or (status = 'delivered' and (delivered_at is null or delivered_at < shipped_at))
            or (status = 'cancelled' and (cancelled_at is null or stock_released_at is null))
            or (status = 'placed' and (shipped_at is not null or cancelled_at is not null))`,
      );
      assert.equal(times.length, 0, 'timestamps fit the states');
    });

    it('when a seeded buyer signs in, then GET /api/orders lists exactly their orders, newest first', async () => {
      const { cookie, user } = await login('buyer1@bazaar.test');
      const [mine] = await q<{ n: number }>(
        sql`select count(*)::int as n from orders.orders where buyer_id = ${user.id}`,
      );
      assert.ok(Number(mine!.n) > 0, 'buyer1 has orders');
      const res = await t.app.inject({ url: '/api/orders?limit=100', headers: { cookie } });
      assert.equal(res.statusCode, 200);
      const items = res.json().items as { id: string; placedAt: string; lines: unknown[] }[];
      assert.equal(items.length, Number(mine!.n));
      assert.ok(items.every((o) => o.lines.length > 0));
      const placed = items.map((o) => Date.parse(o.placedAt));
      assert.deepEqual(
        [...placed].sort((a, b) => b - a),
        placed,
        'ids follow placing times',
      );
    });

    it('when a buyer cancels a seeded order, then its stock comes back once (the seeded reservation is real)', async () => {
      const [order] = await q<{ id: string; buyer_id: string }>(
        sql`select id, buyer_id from orders.orders where status = 'placed' order by id limit 1`,
      );
      assert.ok(order, 'a placed order exists');
      const [{ email }] = (await q<{ email: string }>(
        sql`select email from users.users where id = ${order.buyer_id}`,
      )) as [{ email: string }];
      const { cookie } = await login(email);
      const lines = await q<{ product_id: string; quantity: number }>(
        sql`select product_id, quantity from orders.order_lines where buyer_id = ${order.buyer_id} and order_id = ${order.id}`,
      );
      const before = await stockById();
      for (let i = 0; i < 2; i++) {
        const res: { statusCode: number; body: string } = await t.app.inject({
          method: 'POST',
          url: `/api/orders/${order.id}/cancel`,
          headers: { cookie },
        });
        assert.equal(res.statusCode, 200, res.body);
      }
      const afterCancel = await stockById();
      for (const l of lines)
        assert.equal(afterCancel.get(l.product_id), before.get(l.product_id)! + l.quantity);
      const units = await orderedUnits();
      for (const [id, initial] of initialStock)
        assert.equal(afterCancel.get(id), initial - (units.get(id) ?? 0));
    });

    it('when a batch fails after its stock is reserved, then running it again places each order once', async () => {
      const stock = createCatalogSeeder(t.platform);
      const [buyer] = await q<{ id: string }>(
        sql`select id from users.users where email = 'buyer2@bazaar.test'`,
      );
      const products = await stock.listInStockProductIds(undefined, 3);
      const batch: SeedOrder[] = products.map((productId, i) => ({
        key: `crash-${i}`,
        buyerId: buyer!.id,
        lines: [{ productId, quantity: 1 }],
        placedAt: new Date(Date.now() - 3_600_000),
        status: 'placed',
        stepMs: 60_000,
      }));
      const before = await stockById();
      const ordersBefore = await createOrdersSeeder(t.platform).countOrders([buyer!.id]);
      const failing = createOrdersSeeder(t.platform, {
        stock,
        faults: {
          seedBatch: () => {
            throw new Error('crash before the orders commit');
          },
        },
      });
      await assert.rejects(failing.seedOrders(batch), /crash before the orders commit/);
      const held = await stockById();
      for (const id of products) assert.equal(held.get(id), before.get(id)! - 1, 'the reservation committed');
      assert.equal(
        await createOrdersSeeder(t.platform).countOrders([buyer!.id]),
        ordersBefore,
        'no order yet',
      );

      const orders = createOrdersSeeder(t.platform, { stock });
      const resumed = await orders.seedOrders(batch);
      assert.deepEqual(
        { created: resumed.created, existing: resumed.existing, skipped: resumed.skipped },
        { created: 3, existing: 0, skipped: 0 },
      );
      const again = await orders.seedOrders(batch);
      assert.deepEqual({ created: again.created, existing: again.existing }, { created: 0, existing: 3 });
      const afterAll = await stockById();
      for (const id of products) assert.equal(afterAll.get(id), before.get(id)! - 1, 'stock taken once');
      assert.equal(await orders.countOrders([buyer!.id]), ordersBefore + 3);
      const states = await q<{ state: string }>(
        sql`select r.state from catalog.stock_reservations r join orders.orders o on o.id = r.id
            where o.buyer_id = ${buyer!.id}`,
      );
      assert.ok(states.length > 0 && states.every((s) => s.state !== 'held'), 'reservations confirmed');
    });

    it('when every line of an order is sold out, then no order is placed and no stock is taken', async () => {
      const stock = createCatalogSeeder(t.platform);
      const [buyer] = await q<{ id: string }>(
        sql`select id from users.users where email = 'buyer2@bazaar.test'`,
      );
      const [product] = await q<{ id: string; stock: number }>(
        sql`select id, stock from catalog.products where stock between 1 and 50 order by id limit 1`,
      );
      const orders = createOrdersSeeder(t.platform, { stock });
      const result = await orders.seedOrders([
        {
          key: 'too-many',
          buyerId: buyer!.id,
          lines: [{ productId: product!.id, quantity: Number(product!.stock) + 1 }],
          placedAt: new Date(),
          status: 'placed',
          stepMs: 1000,
        },
      ]);
      assert.deepEqual(
        { created: result.created, skipped: result.skipped, soldOut: result.soldOut },
        { created: 0, skipped: 1, soldOut: [product!.id] },
      );
      assert.equal((await stockById()).get(product!.id), Number(product!.stock));
      const keys = await q(sql`select 1 from orders.idempotency_keys where key = 'too-many'`);
      assert.equal(keys.length, 0, 'the claim was dropped');
    });
  });

  describe(`start-up seeding on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend);
    });
    after(() => t?.close());

    it('when a seller lists a product after the first start, then two restarts and a CLI seed with photos and orders leave it without a photo, and demo orders leave a real seller’s product alone', async () => {
      const q = async <T = Row>(query: ReturnType<typeof sql>): Promise<T[]> =>
        (await query.execute(t.platform.sql.for('platform').write)).rows as T[];
      const small = { products: 6, sellers: 2, buyers: 1, photos: 3 };
      const first = await seedOnStart(t.platform, t.config, small);
      assert.equal(first?.productsAdded, 6, 'an empty catalog gets the demo data');
      assert.equal(first?.photosAdded, 3);

      // The README's own example: seller1 signs in and lists a speckled mug.
      const signIn = await t.app.inject({
        method: 'POST',
        url: '/api/auth/login',
        payload: { email: 'seller1@bazaar.test', password: DEMO_PASSWORD },
      });
      const mug = await t.app.inject({
        method: 'POST',
        url: '/api/products',
        headers: { cookie: sessionCookie(signIn) },
        payload: {
          categoryId: '0190a8c0-0000-7000-8000-000000000101',
          title: 'Speckled mug',
          priceMinor: 2400,
          stock: 5,
          status: 'published',
        },
      });
      assert.equal(mug.statusCode, 201, mug.body);
      const mugId = mug.json().id as string;
      // And a seller who is no demo account lists a bowl.
      const real = await t.platform.sessions.create({ userId: uuidv7(), data: { role: 'seller' } });
      const bowl = await t.app.inject({
        method: 'POST',
        url: '/api/products',
        headers: { cookie: `bazaar_session=${real.id}` },
        payload: {
          categoryId: '0190a8c0-0000-7000-8000-000000000101',
          title: 'Glazed bowl',
          priceMinor: 3100,
          stock: 5,
          status: 'published',
        },
      });
      assert.equal(bowl.statusCode, 201, bowl.body);
      const bowlId = bowl.json().id as string;

      for (const restart of [1, 2]) {
        assert.equal(
          await seedOnStart(t.platform, t.config, small),
          undefined,
          `restart ${restart} seeds nothing`,
        );
      }
      const cli = await seedDemo(t.platform, t.config, { ...small, products: 8, orders: 5 });
      assert.deepEqual(
        [cli.productsAdded, cli.photosAdded, cli.ordersAdded],
        [0, 0, 5],
        'a seed that adds no product adds no photo',
      );
      const [bowlNow] = await q<{ stock: number }>(
        sql`select stock from catalog.products where id = ${bowlId}`,
      );
      assert.equal(bowlNow!.stock, 5, 'demo orders take no stock from a real seller’s product');
      const bowlLines = await q(sql`select 1 from orders.order_lines where product_id = ${bowlId}`);
      assert.equal(bowlLines.length, 0, 'and no demo order holds it');

      const photos = await q<{ product_id: string }>(sql`select product_id from media.photos`);
      assert.equal(photos.length, 3);
      assert.ok(
        !photos.some((p) => [mugId, bowlId].includes(p.product_id)),
        'the mug and the bowl have no photo',
      );
      const [count] = await q<{ n: number }>(sql`select count(*)::int as n from catalog.products`);
      assert.equal(count!.n, 8, 'six demo products, the mug and the bowl');
    });
  });
}
