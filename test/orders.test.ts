/**
 * Orders over HTTP on every SQL backend: checkout from the cart, the buyer's orders (own only,
 * newest first, keyset pages), cancel (stock back once), sellers' view and shipping of
 * multi-seller orders, delivery, and bad input that must be a 4xx problem and change nothing.
 * Users are sessions made directly; carts are filled through the cart API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { Product } from '../src/modules/catalog/index.ts';
import type { Order, OrderPage, SellerOrder, SellerOrderPage } from '../src/modules/orders/index.ts';
import { uuidv7 } from '../src/shared/ids.ts';
import { BACKENDS } from './support/engines.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

const KITCHEN = '0190a8c0-0000-7000-8000-000000000101';

type Who = Readonly<{ userId: string; cookie: string }>;
type Res = { statusCode: number; headers: Record<string, unknown>; body: string; json(): unknown };

for (const backend of BACKENDS) {
  describe(`orders on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend);
    });
    after(async () => {
      await t?.close();
    });

    async function signIn(role: 'buyer' | 'seller'): Promise<Who> {
      const userId = uuidv7();
      const s = await t.platform.sessions.create({ userId, data: { role } });
      return { userId, cookie: `bazaar_session=${s.id}` };
    }

    function request(
      method: 'GET' | 'POST' | 'PUT',
      url: string,
      who?: Who,
      options: { payload?: object; headers?: Record<string, string> } = {},
    ): Promise<Res> {
      return t.app.inject({
        method,
        url,
        headers: { ...(who ? { cookie: who.cookie } : {}), ...options.headers },
        ...(options.payload !== undefined ? { payload: options.payload } : {}),
      });
    }

    async function product(seller: Who, body: Record<string, unknown> = {}): Promise<Product> {
      const res = await request('POST', '/api/products', seller, {
        payload: {
          categoryId: KITCHEN,
          title: 'Bowl',
          priceMinor: 1500,
          stock: 10,
          status: 'published',
          ...body,
        },
      });
      assert.equal(res.statusCode, 201, res.body);
      return res.json() as Product;
    }

    async function fillCart(who: Who, lines: readonly [Product, number][]) {
      for (const [p, quantity] of lines) {
        const res = await request('PUT', `/api/cart/items/${p.id}`, who, { payload: { quantity } });
        assert.equal(res.statusCode, 200, res.body);
      }
    }

    const checkout = (who: Who | undefined, key?: string) =>
      request('POST', '/api/orders', who, { headers: key === undefined ? {} : { 'idempotency-key': key } });

    async function order(who: Who, lines: readonly [Product, number][]): Promise<Order> {
      await fillCart(who, lines);
      const res = await checkout(who, uuidv7());
      assert.equal(res.statusCode, 201, res.body);
      return res.json() as Order;
    }

    const q = async <R>(query: ReturnType<typeof sql<R>>) =>
      (await query.execute(t.platform.sql.for('orders').write)).rows;

    async function stockOf(id: string): Promise<number> {
      const [row] = await q(sql<{ stock: number }>`select stock from catalog.products where id = ${id}`);
      return row!.stock;
    }

    async function events(type: string, orderId: string) {
      return q(sql<{ key: string; payload: Record<string, unknown> }>`select key, payload from orders.outbox
        where type = ${type} and payload->>'orderId' = ${orderId} order by id`);
    }

    function problem(res: Res, status: number, code?: string) {
      assert.equal(res.statusCode, status, res.body);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      const body = JSON.parse(res.body) as { code: string; detail: string };
      if (code) assert.equal(body.code, code);
      return body;
    }

    describe('checkout', () => {
      it('when a buyer checks out a cart, then 201 with the price snapshot, totals, an order.placed event and an emptied cart', async () => {
        const s1 = await signIn('seller');
        const s2 = await signIn('seller');
        const a = await product(s1, { title: 'Bowl', priceMinor: 1500, stock: 10 });
        const b = await product(s2, { title: 'Spoon', priceMinor: 250, stock: 10 });
        const buyer = await signIn('buyer');
        await fillCart(buyer, [
          [a, 2],
          [b, 3],
        ]);
        const res = await checkout(buyer, 'first-order');
        assert.equal(res.statusCode, 201, res.body);
        const o = res.json() as Order;
        assert.equal(res.headers['location'], `/api/orders/${o.id}`);
        assert.equal(res.headers['cache-control'], 'private, no-store');
        assert.deepEqual(
          {
            status: o.status,
            buyerId: o.buyerId,
            currency: o.currency,
            total: o.totalMinor,
            items: o.itemCount,
          },
          { status: 'placed', buyerId: buyer.userId, currency: 'USD', total: 2 * 1500 + 3 * 250, items: 5 },
        );
        const lines = [...o.lines].sort((x, y) => x.priceMinor - y.priceMinor);
        assert.deepEqual(lines, [
          {
            productId: b.id,
            sellerId: s2.userId,
            title: 'Spoon',
            priceMinor: 250,
            quantity: 3,
            lineTotalMinor: 750,
            shippedAt: null,
          },
          {
            productId: a.id,
            sellerId: s1.userId,
            title: 'Bowl',
            priceMinor: 1500,
            quantity: 2,
            lineTotalMinor: 3000,
            shippedAt: null,
          },
        ]);
        assert.deepEqual([await stockOf(a.id), await stockOf(b.id)], [8, 7]);
        const cart = (await request('GET', '/api/cart', buyer)).json() as { items: unknown[] };
        assert.deepEqual(cart.items, []);

        const placed = await events('order.placed', o.id);
        assert.equal(placed.length, 1);
        assert.equal(placed[0]!.key, buyer.userId);
        assert.deepEqual(placed[0]!.payload['totalMinor'], 3750);
        assert.equal((placed[0]!.payload['lines'] as unknown[]).length, 2);

        // A price change later does not touch the order.
        const patched = await t.app.inject({
          method: 'PATCH',
          url: `/api/products/${a.id}`,
          headers: { cookie: s1.cookie },
          payload: { priceMinor: 9999 },
        });
        assert.equal(patched.statusCode, 200);
        const again = (await request('GET', `/api/orders/${o.id}`, buyer)).json() as Order;
        assert.deepEqual(again, o);
      });

      it('when the Idempotency-Key is missing, overlong or has other characters, then 400 and nothing happens', async () => {
        const seller = await signIn('seller');
        const p = await product(seller, { stock: 3 });
        const buyer = await signIn('buyer');
        await fillCart(buyer, [[p, 1]]);
        problem(await checkout(buyer), 400, 'INVALID_INPUT');
        problem(await checkout(buyer, 'k'.repeat(101)), 400, 'INVALID_INPUT');
        problem(await checkout(buyer, 'has space'), 400, 'INVALID_INPUT');
        problem(await checkout(buyer, ''), 400, 'INVALID_INPUT');
        assert.equal(await stockOf(p.id), 3);
        const [keys] = await q(
          sql<{
            n: number;
          }>`select count(*)::int as n from orders.idempotency_keys where buyer_id = ${buyer.userId}`,
        );
        assert.equal(keys!.n, 0);
        assert.equal(
          ((await request('GET', '/api/cart', buyer)).json() as { items: unknown[] }).items.length,
          1,
        );
        assert.equal((await checkout(buyer, 'k'.repeat(100))).statusCode, 201, '100 characters is fine');
      });

      it('when nobody is signed in, then 401', async () => {
        problem(await checkout(undefined, 'anon'), 401, 'UNAUTHENTICATED');
      });
    });

    describe("the buyer's orders", () => {
      it('when a buyer lists orders, then only their own, newest first, in keyset pages', async () => {
        const seller = await signIn('seller');
        const p = await product(seller, { stock: 50 });
        const buyer = await signIn('buyer');
        const other = await signIn('buyer');
        const mine: Order[] = [];
        for (let i = 0; i < 3; i++) mine.push(await order(buyer, [[p, i + 1]]));
        await order(other, [[p, 1]]);

        const first = (await request('GET', '/api/orders?limit=2', buyer)).json() as OrderPage;
        assert.deepEqual(
          first.items.map((o) => o.id),
          [mine[2]!.id, mine[1]!.id],
        );
        assert.ok(first.nextCursor);
        const second = (
          await request('GET', `/api/orders?limit=2&cursor=${first.nextCursor}`, buyer)
        ).json() as OrderPage;
        assert.deepEqual(
          second.items.map((o) => o.id),
          [mine[0]!.id],
        );
        assert.equal(second.nextCursor, null);
        assert.deepEqual(second.items[0], mine[0]);
        problem(await request('GET', '/api/orders?cursor=nope', buyer), 400, 'INVALID_INPUT');
        problem(await request('GET', '/api/orders?limit=101', buyer), 400, 'INVALID_INPUT');
        problem(await request('GET', '/api/orders'), 401);
      });

      it("when a buyer asks for someone else's order, then 404, for reading, cancelling and delivering alike", async () => {
        const seller = await signIn('seller');
        const p = await product(seller, { stock: 5 });
        const owner = await signIn('buyer');
        const o = await order(owner, [[p, 1]]);
        const stranger = await signIn('buyer');
        problem(await request('GET', `/api/orders/${o.id}`, stranger), 404, 'NOT_FOUND');
        problem(await request('POST', `/api/orders/${o.id}/cancel`, stranger), 404, 'NOT_FOUND');
        problem(await request('POST', `/api/orders/${o.id}/deliver`, stranger), 404, 'NOT_FOUND');
        problem(await request('GET', `/api/orders/${uuidv7()}`, owner), 404, 'NOT_FOUND');
        problem(await request('GET', '/api/orders/not-a-uuid', owner), 400, 'INVALID_INPUT');
        assert.equal(((await request('GET', `/api/orders/${o.id}`, owner)).json() as Order).status, 'placed');
        assert.equal(await stockOf(p.id), 4);
      });

      it('when a buyer cancels twice, then the stock comes back exactly once and one order.cancelled is written', async () => {
        const seller = await signIn('seller');
        const p = await product(seller, { stock: 5 });
        const buyer = await signIn('buyer');
        const o = await order(buyer, [[p, 2]]);
        assert.equal(await stockOf(p.id), 3);

        const results = await Promise.all([
          request('POST', `/api/orders/${o.id}/cancel`, buyer),
          request('POST', `/api/orders/${o.id}/cancel`, buyer),
        ]);
        for (const r of results) {
          assert.equal(r.statusCode, 200, r.body);
          assert.equal((r.json() as Order).status, 'cancelled');
        }
        const third = await request('POST', `/api/orders/${o.id}/cancel`, buyer);
        assert.equal(third.statusCode, 200);
        assert.ok((third.json() as Order).cancelledAt);
        assert.equal(await stockOf(p.id), 5, 'released once');
        const cancelled = await events('order.cancelled', o.id);
        assert.equal(cancelled.length, 1);
        assert.equal(cancelled[0]!.key, buyer.userId);
        problem(await request('POST', `/api/orders/${o.id}/deliver`, buyer), 409, 'CONFLICT');
      });
    });

    describe('sellers', () => {
      it('when an order holds two sellers’ products, then each sees and ships only their lines, and the order ships when both have', async () => {
        const s1 = await signIn('seller');
        const s2 = await signIn('seller');
        const outsider = await signIn('seller');
        const a = await product(s1, { title: 'Vase', priceMinor: 4000 });
        const b = await product(s2, { title: 'Rug', priceMinor: 9000 });
        const buyer = await signIn('buyer');
        const o = await order(buyer, [
          [a, 1],
          [b, 2],
        ]);

        const list = (await request('GET', '/api/seller/orders', s1)).json() as SellerOrderPage;
        assert.equal(list.items.length, 1);
        assert.deepEqual(list.items[0], {
          orderId: o.id,
          buyerId: buyer.userId,
          status: 'placed',
          currency: 'USD',
          subtotalMinor: 4000,
          lines: [{ productId: a.id, title: 'Vase', priceMinor: 4000, quantity: 1 }],
          placedAt: o.placedAt,
          shippedAt: null,
        });
        assert.deepEqual((await request('GET', '/api/seller/orders', outsider)).json(), {
          items: [],
          nextCursor: null,
        });
        problem(await request('POST', `/api/seller/orders/${o.id}/ship`, outsider), 404, 'NOT_FOUND');
        problem(await request('POST', `/api/seller/orders/${o.id}/ship`, buyer), 403, 'FORBIDDEN');
        problem(await request('GET', '/api/seller/orders', buyer), 403, 'FORBIDDEN');

        const shipped1 = await request('POST', `/api/seller/orders/${o.id}/ship`, s1);
        assert.equal(shipped1.statusCode, 200, shipped1.body);
        assert.equal((shipped1.json() as SellerOrder).status, 'shipped');
        let now = (await request('GET', `/api/orders/${o.id}`, buyer)).json() as Order;
        assert.equal(now.status, 'placed', 'one seller of two has shipped');
        assert.ok(now.lines.find((l) => l.productId === a.id)?.shippedAt);
        assert.equal(now.lines.find((l) => l.productId === b.id)?.shippedAt, null);
        problem(await request('POST', `/api/orders/${o.id}/cancel`, buyer), 409, 'CONFLICT');

        assert.equal(
          (await request('POST', `/api/seller/orders/${o.id}/ship`, s1)).statusCode,
          200,
          'again: same',
        );
        assert.equal((await request('POST', `/api/seller/orders/${o.id}/ship`, s2)).statusCode, 200);
        now = (await request('GET', `/api/orders/${o.id}`, buyer)).json() as Order;
        assert.equal(now.status, 'shipped');
        assert.ok(now.shippedAt);
        const shippedEvents = await events('order.shipped', o.id);
        assert.deepEqual(
          shippedEvents.map((e) => [e.payload['sellerId'], e.payload['orderShipped'], e.key]),
          [
            [s1.userId, false, buyer.userId],
            [s2.userId, true, buyer.userId],
          ],
        );
        const cancel = problem(await request('POST', `/api/orders/${o.id}/cancel`, buyer), 409, 'CONFLICT');
        assert.match(cancel.detail, /shipped/);
        assert.equal(await stockOf(a.id), 9, 'a refused cancel releases nothing');

        const delivered = await request('POST', `/api/orders/${o.id}/deliver`, buyer);
        assert.equal(delivered.statusCode, 200, delivered.body);
        assert.equal((delivered.json() as Order).status, 'delivered');
        assert.equal((await request('POST', `/api/orders/${o.id}/deliver`, buyer)).statusCode, 200);
        assert.equal((await events('order.delivered', o.id)).length, 1);
        const s2List = (
          await request('GET', '/api/seller/orders?status=delivered', s2)
        ).json() as SellerOrderPage;
        assert.deepEqual(
          s2List.items.map((x) => x.orderId),
          [o.id],
        );
      });

      it('when a seller ships a cancelled order, then 409 and nothing changes', async () => {
        const seller = await signIn('seller');
        const p = await product(seller, { stock: 5 });
        const buyer = await signIn('buyer');
        const o = await order(buyer, [[p, 1]]);
        assert.equal((await request('POST', `/api/orders/${o.id}/cancel`, buyer)).statusCode, 200);
        problem(await request('POST', `/api/seller/orders/${o.id}/ship`, seller), 409, 'CONFLICT');
        assert.equal(
          ((await request('GET', `/api/orders/${o.id}`, buyer)).json() as Order).status,
          'cancelled',
        );
        assert.equal((await events('order.shipped', o.id)).length, 0);
        const list = (await request('GET', '/api/seller/orders', seller)).json() as SellerOrderPage;
        assert.equal(list.items[0]?.status, 'cancelled');
      });

      it('when a seller pages through their orders, then newest first without repeats', async () => {
        const seller = await signIn('seller');
        const p = await product(seller, { stock: 20 });
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) ids.push((await order(await signIn('buyer'), [[p, 1]])).id);
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const page: SellerOrderPage = (
            await request('GET', `/api/seller/orders?limit=2${cursor ? `&cursor=${cursor}` : ''}`, seller)
          ).json() as SellerOrderPage;
          seen.push(...page.items.map((x) => x.orderId));
          cursor = page.nextCursor;
        } while (cursor);
        assert.deepEqual(seen, [...ids].reverse());
      });
    });

    it('when the repository queries a buyer-owned table, then every query names buyer_id (the shard key)', async () => {
      // A static check of the repository: each query builder on orders, order_lines or
      // idempotency_keys carries a buyer_id condition or value.
      const { readFile } = await import('node:fs/promises');
      const text = await readFile(new URL('../src/modules/orders/orders.repo.ts', import.meta.url), 'utf8');
      const queries = text
        .split(/\n(?=export )/)
        .filter((f) => /'(orders|order_lines|idempotency_keys)'/.test(f));
      assert.ok(queries.length >= 8);
      for (const f of queries) assert.match(f, /buyer_id/, f.slice(0, 120));
    });
  });
}
