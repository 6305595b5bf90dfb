/**
 * Leaderboards from order events, on every SQL backend, against a known data set: orders placed
 * through HTTP checkouts (and one placed two weeks ago through the orders service's clock),
 * delivered to the `analytics.leaderboards` consumer by the real worker, then read through
 * `/api/leaderboards/products` and `/api/leaderboards/sellers`: ranks, units, titles, names,
 * `period=week|all`, `limit`, cancellations, a redelivered event, and bad input.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { RunningWorker } from '../src/apps/worker-runtime.ts';
import { isoWeek } from '../src/modules/analytics/index.ts';
import type { Product } from '../src/modules/catalog/index.ts';
import { createOrdersService, type Order } from '../src/modules/orders/index.ts';
import type { DomainEvent } from '../src/platform/events/events.ts';
import { uuidv7 } from '../src/shared/ids.ts';
import { BACKENDS } from './support/engines.ts';
import { replicasCaughtUp, sessionCookie, startTestApp, type TestApp } from './support/test-app.ts';
import { startTestWorker } from './support/worker.ts';

const KITCHEN = '0190a8c0-0000-7000-8000-000000000101';
const TWO_WEEKS_MS = 14 * 86_400_000;

type Who = Readonly<{ userId: string; cookie: string }>;
type Board = { period: string; items: Record<string, unknown>[] };

for (const backend of BACKENDS) {
  describe(`leaderboards on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    let worker: RunningWorker;
    before(async () => {
      t = await startTestApp(backend);
      worker = await startTestWorker(t);
    });
    after(async () => {
      await worker?.stop();
      await t?.close();
    });

    async function seller(name: string): Promise<Who> {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/auth/signup',
        payload: { email: `${uuidv7()}@example.com`, password: 'a-long-password', name, role: 'seller' },
      });
      assert.equal(res.statusCode, 201, res.body);
      return { userId: (res.json() as { user: { id: string } }).user.id, cookie: sessionCookie(res) };
    }

    async function buyer(): Promise<Who> {
      const userId = uuidv7();
      const s = await t.platform.sessions.create({ userId, data: { role: 'buyer' } });
      return { userId, cookie: `bazaar_session=${s.id}` };
    }

    async function product(owner: Who, title: string): Promise<Product> {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/products',
        headers: { cookie: owner.cookie },
        payload: { categoryId: KITCHEN, title, priceMinor: 1000, stock: 50, status: 'published' },
      });
      assert.equal(res.statusCode, 201, res.body);
      return res.json() as Product;
    }

    async function order(who: Who, lines: readonly [Product, number][]): Promise<Order> {
      for (const [p, quantity] of lines) {
        const res = await t.app.inject({
          method: 'PUT',
          url: `/api/cart/items/${p.id}`,
          headers: { cookie: who.cookie },
          payload: { quantity },
        });
        assert.equal(res.statusCode, 200, res.body);
      }
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/orders',
        headers: { cookie: who.cookie, 'idempotency-key': uuidv7() },
      });
      assert.equal(res.statusCode, 201, res.body);
      return res.json() as Order;
    }

    async function cancel(who: Who, id: string): Promise<void> {
      const res = await t.app.inject({
        method: 'POST',
        url: `/api/orders/${id}/cancel`,
        headers: { cookie: who.cookie },
      });
      assert.equal(res.statusCode, 200, res.body);
    }

    async function board(what: 'products' | 'sellers', query: string): Promise<Board> {
      await replicasCaughtUp(t);
      const res = await t.app.inject({ url: `/api/leaderboards/${what}?${query}` });
      assert.equal(res.statusCode, 200, res.body);
      return res.json() as Board;
    }

    const products = async (query: string) =>
      (await board('products', query)).items.map((i) => [i['rank'], i['title'], i['unitsSold']]);
    const sellers = async (query: string) =>
      (await board('sellers', query)).items.map((i) => [i['rank'], i['name'], i['unitsSold']]);

    it('when orders are placed this week and two weeks ago, then week and all-time boards rank them by units, and cancellations take back from the week of the order', async () => {
      const ann = await seller('Ann Anvils');
      const ben = await seller('Ben Benches');
      const anvil = await product(ann, 'Anvil');
      const bellows = await product(ann, 'Bellows');
      const chisel = await product(ben, 'Chisel');

      // This week: Anvil 4, Bellows 3, Chisel 2; one more order of Anvil ×2 is cancelled.
      await order(await buyer(), [
        [anvil, 4],
        [chisel, 1],
      ]);
      await order(await buyer(), [[bellows, 3]]);
      await order(await buyer(), [[chisel, 1]]);
      const regretful = await buyer();
      const cancelledNow = await order(regretful, [[anvil, 2]]);
      // Two weeks ago: Chisel ×6 (the orders service's clock set back; the rest is real).
      const early = await buyer();
      const twoWeeksAgo = new Date(Date.now() - TWO_WEEKS_MS);
      const old = await createOrdersService(t.platform, { now: () => twoWeeksAgo }).placeOrder(
        early.userId,
        'two-weeks-ago',
        [{ productId: chisel.id, quantity: 6 }],
      );
      assert.equal(old.created, true);
      await cancel(regretful, cancelledNow.id);
      await worker.drain();

      const week = await board('products', 'period=week');
      assert.equal(week.period, isoWeek(new Date()));
      assert.deepEqual(
        week.items.map((i) => [i['rank'], i['productId'], i['title'], i['unitsSold']]),
        [
          [1, anvil.id, 'Anvil', 4],
          [2, bellows.id, 'Bellows', 3],
          [3, chisel.id, 'Chisel', 2],
        ],
      );
      assert.deepEqual(await products('period=all'), [
        [1, 'Chisel', 8],
        [2, 'Anvil', 4],
        [3, 'Bellows', 3],
      ]);
      assert.equal((await board('products', 'period=all')).period, 'all');
      assert.deepEqual(await products('period=week&limit=2'), [
        [1, 'Anvil', 4],
        [2, 'Bellows', 3],
      ]);
      assert.deepEqual(await products(''), await products('period=week'), 'week is the default');

      const weekSellers = await board('sellers', 'period=week');
      assert.deepEqual(
        weekSellers.items.map((i) => [i['rank'], i['sellerId'], i['name'], i['unitsSold']]),
        [
          [1, ann.userId, 'Ann Anvils', 7],
          [2, ben.userId, 'Ben Benches', 2],
        ],
      );
      assert.deepEqual(await sellers('period=all'), [
        [1, 'Ben Benches', 8],
        [2, 'Ann Anvils', 7],
      ]);
      assert.deepEqual(await sellers('period=all&limit=1'), [[1, 'Ben Benches', 8]]);

      // The order of two weeks ago is cancelled now: all time loses its 6, this week keeps its 2.
      await cancel(early, old.order.id);
      await worker.drain();
      assert.deepEqual(await products('period=all'), [
        [1, 'Anvil', 4],
        [2, 'Bellows', 3],
        [3, 'Chisel', 2],
      ]);
      assert.deepEqual(await products('period=week'), [
        [1, 'Anvil', 4],
        [2, 'Bellows', 3],
        [3, 'Chisel', 2],
      ]);
      assert.deepEqual(await sellers('period=week'), [
        [1, 'Ann Anvils', 7],
        [2, 'Ben Benches', 2],
      ]);
      assert.deepEqual(await sellers('period=all'), [
        [1, 'Ann Anvils', 7],
        [2, 'Ben Benches', 2],
      ]);
    });

    it('when an order event is delivered again, then the boards count it once', async () => {
      const cara = await seller('Cara Crates');
      const crate = await product(cara, 'Crate');
      const o = await order(await buyer(), [[crate, 5]]);
      await worker.drain();
      const before = await products('period=all');

      const { rows } = await sql<{
        id: string;
        type: string;
        key: string | null;
        payload: Record<string, unknown>;
        occurred_at: Date;
      }>`select id, type, key, payload, occurred_at from orders.outbox
         where type = 'order.placed' and payload->>'orderId' = ${o.id}`.execute(
        t.platform.sql.for('orders').write,
      );
      assert.equal(rows.length, 1);
      const event: DomainEvent = {
        id: rows[0]!.id,
        type: rows[0]!.type,
        source: 'orders',
        key: rows[0]!.key,
        payload: rows[0]!.payload,
        occurredAt: rows[0]!.occurred_at.toISOString(),
      };
      await t.platform.events.publish([event]);
      await t.platform.jobs.send('analytics.leaderboards', { ...event });
      await worker.drain();

      assert.deepEqual(await products('period=all'), before);
      const all = await board('sellers', 'period=all');
      assert.equal(all.items.find((i) => i['sellerId'] === cara.userId)?.['unitsSold'], 5);
    });

    it('when the period, limit or another parameter is bad, then 400 problem+json', async () => {
      for (const what of ['products', 'sellers']) {
        for (const query of ['period=month', 'period=', 'limit=0', 'limit=101', 'limit=two', 'sort=asc']) {
          const res = await t.app.inject({ url: `/api/leaderboards/${what}?${query}` });
          assert.equal(res.statusCode, 400, `${what}?${query}: ${res.body}`);
          assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
          assert.equal((res.json() as { code: string }).code, 'INVALID_INPUT');
        }
      }
    });
  });
}
