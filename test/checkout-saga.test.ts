/**
 * The checkout saga on every SQL backend: no oversell under a race, one order per
 * Idempotency-Key under concurrency, and compensation when a step after the stock reservation
 * fails. Checkouts go through HTTP (cart filled through the cart API) where the test is about
 * what a client sees; the saga's failure points are driven through the orders service's test
 * seam (`faults`) and with lines passed directly.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { MODULES } from '../src/apps/modules.ts';
import { type RunningWorker, startWorker } from '../src/apps/worker-runtime.ts';
import { createCatalogService, type Product } from '../src/modules/catalog/index.ts';
import { type CheckoutFaults, createOrdersService, type Order } from '../src/modules/orders/index.ts';
import { AppError } from '../src/shared/errors.ts';
import { uuidv7 } from '../src/shared/ids.ts';
import { BACKENDS } from './support/engines.ts';
import { sessionCookie, startTestApp, type TestApp } from './support/test-app.ts';

const KITCHEN = '0190a8c0-0000-7000-8000-000000000101';

type Who = Readonly<{ userId: string; cookie: string }>;
type Res = { statusCode: number; headers: Record<string, unknown>; body: string; json(): unknown };

for (const backend of BACKENDS) {
  describe(`checkout saga on ${backend.name}`, { skip: backend.skip }, () => {
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

    async function product(seller: Who, body: Record<string, unknown> = {}): Promise<Product> {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/products',
        headers: { cookie: seller.cookie },
        payload: {
          categoryId: KITCHEN,
          title: 'Teapot',
          priceMinor: 3000,
          stock: 5,
          status: 'published',
          ...body,
        },
      });
      assert.equal(res.statusCode, 201, res.body);
      return res.json();
    }

    async function fillCart(who: Who, lines: readonly { productId: string; quantity: number }[]) {
      for (const line of lines) {
        const res = await t.app.inject({
          method: 'PUT',
          url: `/api/cart/items/${line.productId}`,
          headers: { cookie: who.cookie },
          payload: { quantity: line.quantity },
        });
        assert.ok(res.statusCode < 300, `cart: ${res.statusCode} ${res.body}`);
      }
    }

    function checkout(who: Who, key: string): Promise<Res> {
      return t.app.inject({
        method: 'POST',
        url: '/api/orders',
        headers: { cookie: who.cookie, 'idempotency-key': key },
      });
    }

    const q = async <R>(text: ReturnType<typeof sql<R>>) =>
      (await text.execute(t.platform.sql.for('orders').write)).rows;

    async function stockOf(id: string): Promise<number> {
      const [row] = await q(sql<{ stock: number }>`select stock from catalog.products where id = ${id}`);
      return row!.stock;
    }

    async function soldOf(id: string): Promise<{ orders: number; units: number }> {
      const [row] = await q(
        sql<{
          orders: number;
          units: number;
        }>`select count(*)::int as orders, coalesce(sum(quantity), 0)::int as units
          from orders.order_lines where product_id = ${id}`,
      );
      return row!;
    }

    async function placedEvents(productId: string): Promise<number> {
      const [row] = await q(
        sql<{ n: number }>`select count(*)::int as n from orders.outbox
          where type = 'order.placed' and payload->'lines' @> ${JSON.stringify([{ productId }])}::jsonb`,
      );
      return row!.n;
    }

    function problem(res: Res) {
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/, res.body);
      return JSON.parse(res.body) as { status: number; code: string; detail: string; [k: string]: unknown };
    }

    it('when 20 buyers race for the last 5 units, then exactly 5 orders, stock 0 and 15 get 409 OUT_OF_STOCK', async () => {
      const seller = await signIn('seller');
      const p = await product(seller, { stock: 5 });
      const buyers = await Promise.all(Array.from({ length: 20 }, () => signIn('buyer')));
      for (const b of buyers) await fillCart(b, [{ productId: p.id, quantity: 1 }]);

      const results = await Promise.all(buyers.map((b) => checkout(b, `race-${b.userId}`)));

      const ok = results.filter((r) => r.statusCode === 201);
      const refused = results.filter((r) => r.statusCode !== 201);
      assert.equal(ok.length, 5, results.map((r) => r.statusCode).join(','));
      for (const r of refused) {
        const pr = problem(r);
        assert.equal(pr.status, 409);
        assert.equal(pr.code, 'OUT_OF_STOCK');
        assert.deepEqual(pr['shortages'], [
          { productId: p.id, requested: 1, available: 0, reason: 'out_of_stock' },
        ]);
      }
      assert.equal(await stockOf(p.id), 0);
      assert.deepEqual(await soldOf(p.id), { orders: 5, units: 5 });
      assert.equal(await placedEvents(p.id), 5);
      const [held] = await q(
        sql<{
          n: number;
        }>`select count(*)::int as n from catalog.stock_reservations where state <> 'released'`,
      );
      assert.ok(held!.n >= 5);
      const [neg] = await q(
        sql<{ n: number }>`select count(*)::int as n from catalog.products where stock < 0`,
      );
      assert.equal(neg!.n, 0);
    });

    it('when one buyer sends the same key 10 times at once, then one order and every answer names it', async () => {
      const seller = await signIn('seller');
      const p = await product(seller, { stock: 50 });
      const buyer = await signIn('buyer');
      await fillCart(buyer, [{ productId: p.id, quantity: 2 }]);

      const results = await Promise.all(Array.from({ length: 10 }, () => checkout(buyer, 'same-key-10')));

      for (const r of results)
        assert.ok(r.statusCode === 201 || r.statusCode === 200, `${r.statusCode} ${r.body}`);
      assert.equal(results.filter((r) => r.statusCode === 201).length, 1, 'exactly one request created it');
      const ids = new Set(results.map((r) => (r.json() as Order).id));
      assert.equal(ids.size, 1);
      assert.deepEqual(await soldOf(p.id), { orders: 1, units: 2 });
      assert.equal(await stockOf(p.id), 48);
      assert.equal(await placedEvents(p.id), 1);

      const again = await checkout(buyer, 'same-key-10');
      assert.equal(again.statusCode, 200, 'a later retry (the cart is now empty) answers the same order');
      assert.equal((again.json() as Order).id, [...ids][0]);
    });

    it('when the same key comes with a different cart, then 422 IDEMPOTENCY_KEY_REUSED and nothing more is sold', async () => {
      const seller = await signIn('seller');
      const p = await product(seller, { stock: 10 });
      const buyer = await signIn('buyer');
      await fillCart(buyer, [{ productId: p.id, quantity: 1 }]);
      assert.equal((await checkout(buyer, 'reused')).statusCode, 201);
      await fillCart(buyer, [{ productId: p.id, quantity: 3 }]);
      const res = await checkout(buyer, 'reused');
      const pr = problem(res);
      assert.deepEqual([pr.status, pr.code], [422, 'IDEMPOTENCY_KEY_REUSED']);
      assert.equal(await stockOf(p.id), 9);
      assert.equal((await checkout(buyer, 'a-new-key')).statusCode, 201, 'a new key places the new cart');
      assert.equal(await stockOf(p.id), 6);
    });

    it('when creating the order fails after the reservation, then the stock is back, no order, no order.placed, and a retry works', async () => {
      const seller = await signIn('seller');
      const p = await product(seller, { stock: 4 });
      const buyer = uuidv7();
      const errors: string[] = [];
      let fail = true;
      const orders = createOrdersService(t.platform, {
        faults: {
          createOrder: () => {
            if (fail) throw new Error('injected: orders database refused the insert');
          },
        },
        onError: (_err, step) => errors.push(step),
      });

      await assert.rejects(
        orders.placeOrder(buyer, 'saga-fail', [{ productId: p.id, quantity: 3 }]),
        /injected/,
      );

      assert.equal(await stockOf(p.id), 4, 'stock restored');
      assert.deepEqual(await soldOf(p.id), { orders: 0, units: 0 });
      assert.equal(await placedEvents(p.id), 0);
      const [orderRows] = await q(
        sql<{ n: number }>`select count(*)::int as n from orders.orders where buyer_id = ${buyer}`,
      );
      assert.equal(orderRows!.n, 0);
      const keys = await q(
        sql<{ key: string }>`select key from orders.idempotency_keys where buyer_id = ${buyer}`,
      );
      assert.deepEqual(keys, [], 'the key is free again');
      const reservations = await q(sql<{ state: string }>`select state from catalog.stock_reservations
        where lines @> ${JSON.stringify([{ productId: p.id }])}::jsonb`);
      assert.deepEqual(
        reservations.map((r) => r.state),
        ['released'],
      );
      assert.deepEqual(errors, []);

      fail = false;
      const placed = await orders.placeOrder(buyer, 'saga-fail', [{ productId: p.id, quantity: 3 }]);
      assert.equal(placed.created, true);
      assert.equal(await stockOf(p.id), 1);
      assert.equal(await placedEvents(p.id), 1);
    });

    it('when the release in a compensation fails, then the key stays compensating and a retry after the lease finishes it', async () => {
      const seller = await signIn('seller');
      const p = await product(seller, { stock: 2 });
      const buyer = uuidv7();
      const catalog = createCatalogService(t.platform);
      let releaseFails = true;
      const stock = {
        reserveStock: catalog.reserveStock,
        confirmReservation: catalog.confirmReservation,
        listHeldReservations: catalog.listHeldReservations,
        releaseStock: async (id: string) => {
          if (releaseFails) throw new Error('injected: catalog unreachable');
          return catalog.releaseStock(id);
        },
      };
      let failCreate = true;
      const orders = createOrdersService(t.platform, {
        stock,
        leaseMs: 50,
        faults: {
          createOrder: () => {
            if (failCreate) throw new Error('injected: create failed');
          },
        },
      });
      await assert.rejects(
        orders.placeOrder(buyer, 'comp', [{ productId: p.id, quantity: 2 }]),
        /create failed/,
      );
      assert.equal(await stockOf(p.id), 0, 'still held: the release failed');
      const [key] = await q(
        sql<{
          state: string;
        }>`select state from orders.idempotency_keys where buyer_id = ${buyer} and key = 'comp'`,
      );
      assert.equal(key?.state, 'compensating');

      releaseFails = false;
      failCreate = false;
      await new Promise((r) => setTimeout(r, 80));
      const placed = await orders.placeOrder(buyer, 'comp', [{ productId: p.id, quantity: 2 }]);
      assert.equal(placed.created, true, 'the retry released the old hold, then placed afresh');
      assert.equal(await stockOf(p.id), 0);
      assert.deepEqual(await soldOf(p.id), { orders: 1, units: 2 });
      const states = await q(sql<{ state: string }>`select state from catalog.stock_reservations
        where lines @> ${JSON.stringify([{ productId: p.id }])}::jsonb order by id`);
      assert.deepEqual(
        states.map((s) => s.state),
        ['released', 'committed'],
      );
    });

    it('when a checkout holder died mid-saga, then a retry after its lease takes over with the same order id', async () => {
      const seller = await signIn('seller');
      const p = await product(seller, { stock: 3 });
      const buyer = uuidv7();
      const catalog = createCatalogService(t.platform);
      // The first holder reserved, then "died" (its request never finished): simulated by a
      // stock service whose reserve succeeds and then never returns.
      const stuck = createOrdersService(t.platform, {
        leaseMs: 50,
        stock: {
          ...catalog,
          reserveStock: async (id, lines, holder) => {
            await catalog.reserveStock(id, lines, holder);
            return new Promise(() => {});
          },
        },
      });
      void stuck.placeOrder(buyer, 'died', [{ productId: p.id, quantity: 1 }]);
      await new Promise((r) => setTimeout(r, 120));
      assert.equal(await stockOf(p.id), 2, 'held by the dead holder');

      const orders = createOrdersService(t.platform, { leaseMs: 50 });
      const placed = await orders.placeOrder(buyer, 'died', [{ productId: p.id, quantity: 1 }]);
      assert.equal(placed.created, true);
      assert.equal(await stockOf(p.id), 2, 'the same reservation became the order: nothing taken twice');
      const [key] = await q(
        sql<{ order_id: string }>`select order_id from orders.idempotency_keys where buyer_id = ${buyer}`,
      );
      assert.equal(placed.order.id, key!.order_id);
    });

    it('when a product in the cart was deleted meanwhile, then 409 PRODUCT_UNAVAILABLE and nothing is reserved', async () => {
      const seller = await signIn('seller');
      const keep = await product(seller, { stock: 5 });
      const gone = await product(seller, { stock: 5 });
      const buyer = await signIn('buyer');
      await fillCart(buyer, [
        { productId: keep.id, quantity: 1 },
        { productId: gone.id, quantity: 1 },
      ]);
      const del = await t.app.inject({
        method: 'DELETE',
        url: `/api/products/${gone.id}`,
        headers: { cookie: seller.cookie },
      });
      assert.equal(del.statusCode, 204);
      const pr = problem(await checkout(buyer, 'deleted-meanwhile'));
      assert.deepEqual([pr.status, pr.code], [409, 'PRODUCT_UNAVAILABLE']);
      assert.match(pr.detail, new RegExp(gone.id));
      assert.equal(await stockOf(keep.id), 5, 'nothing reserved');
      const [keys] = await q(
        sql<{
          n: number;
        }>`select count(*)::int as n from orders.idempotency_keys where buyer_id = ${buyer.userId}`,
      );
      assert.equal(keys!.n, 0);
    });

    it('when the cart mixes currencies, then 422 MIXED_CURRENCIES and the stock is back', async () => {
      const seller = await signIn('seller');
      const usd = await product(seller, { stock: 5 });
      const eur = await product(seller, { stock: 5, currency: 'EUR' });
      const orders = createOrdersService(t.platform);
      const buyer = uuidv7();
      await assert.rejects(
        orders.placeOrder(buyer, 'mixed', [
          { productId: usd.id, quantity: 1 },
          { productId: eur.id, quantity: 1 },
        ]),
        (err: unknown) => err instanceof AppError && err.code === 'MIXED_CURRENCIES',
      );
      assert.deepEqual([await stockOf(usd.id), await stockOf(eur.id)], [5, 5]);
    });

    it('when a seller checks out a cart holding their own product, then 422 OWN_PRODUCT, nothing is sold and the stock is back', async () => {
      const email = `own-${uuidv7()}@bazaar.test`;
      const password = 'own-product-password';
      const signup = await t.app.inject({
        method: 'POST',
        url: '/api/auth/signup',
        payload: { email, password, name: 'Own Seller', role: 'seller' },
      });
      assert.equal(signup.statusCode, 201, signup.body);
      const seller = { userId: signup.json().user.id as string, cookie: sessionCookie(signup) };
      const mine = await product(seller, { stock: 4 });
      const other = await product(await signIn('seller'), { stock: 4 });
      await t.app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie: seller.cookie } });
      // Signed out, the seller fills an anonymous cart; signing in merges it into theirs.
      const anon = await t.app.inject({
        method: 'PUT',
        url: `/api/cart/items/${mine.id}`,
        payload: { quantity: 2 },
      });
      assert.equal(anon.statusCode, 200, anon.body);
      const anonCookie = sessionCookie(anon);
      await fillCart({ userId: '', cookie: anonCookie }, [{ productId: other.id, quantity: 1 }]);
      const login = await t.app.inject({
        method: 'POST',
        url: '/api/auth/login',
        payload: { email, password },
        headers: { cookie: anonCookie },
      });
      assert.equal(login.statusCode, 200, login.body);
      const signedIn = { userId: seller.userId, cookie: sessionCookie(login) };
      const cart = await t.app.inject({ url: '/api/cart', headers: { cookie: signedIn.cookie } });
      assert.equal(cart.json().items.length, 2, 'the merged cart holds the own product');

      const pr = problem(await checkout(signedIn, 'own-product'));
      assert.deepEqual([pr.status, pr.code, pr['productIds']], [422, 'OWN_PRODUCT', [mine.id]]);
      assert.deepEqual([await stockOf(mine.id), await stockOf(other.id)], [4, 4], 'the stock is back');
      assert.deepEqual(await soldOf(mine.id), { orders: 0, units: 0 });
      assert.equal(await placedEvents(mine.id), 0, 'no order.placed: nothing reaches the leaderboards');

      const orders = createOrdersService(t.platform);
      await assert.rejects(
        orders.placeOrder(seller.userId, 'own-direct', [{ productId: mine.id, quantity: 1 }]),
        (err: unknown) => err instanceof AppError && err.code === 'OWN_PRODUCT',
      );
      assert.equal(await stockOf(mine.id), 4);
    });

    it('when the cart is empty, then 422 CART_EMPTY', async () => {
      const orders = createOrdersService(t.platform);
      await assert.rejects(
        orders.placeOrder(uuidv7(), 'empty', []),
        (err: unknown) => err instanceof AppError && err.code === 'CART_EMPTY',
      );
      const buyer = await signIn('buyer');
      const pr = problem(await checkout(buyer, 'empty-http'));
      assert.deepEqual([pr.status, pr.code], [422, 'CART_EMPTY']);
    });

    describe('a process killed at each step of the saga', () => {
      const LEASE = 60;
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      type Point = 'claimed' | 'reserved' | 'placed' | 'compensating';
      /** Faults that stop the saga for good at `point` (the process died there); resolves `reached` when it gets there. */
      function killAt(point: Point): { faults: CheckoutFaults; reached: Promise<void> } {
        let arrive!: () => void;
        const reached = new Promise<void>((r) => {
          arrive = r;
        });
        const die = () => {
          arrive();
          return new Promise<void>(() => {});
        };
        const faults: CheckoutFaults =
          point === 'compensating'
            ? {
                createOrder: () => {
                  throw new Error('injected: the orders insert failed');
                },
                compensating: die,
              }
            : { [point]: die };
        return { faults, reached };
      }

      async function heldFor(productId: string): Promise<number> {
        const [row] = await q(sql<{ n: number }>`select count(*)::int as n from catalog.stock_reservations
          where state = 'held' and lines @> ${JSON.stringify([{ productId }])}::jsonb`);
        return row!.n;
      }

      async function settled(productId: string, ordered: number) {
        assert.equal(await stockOf(productId), 5 - ordered, 'stock = initial − ordered');
        assert.deepEqual(await soldOf(productId), { orders: ordered > 0 ? 1 : 0, units: ordered });
        assert.equal(await heldFor(productId), 0, 'no reservation stays held');
      }

      const points: Point[] = ['claimed', 'reserved', 'placed', 'compensating'];
      for (const point of points) {
        for (const retry of [true, false]) {
          it(`when the process dies at ${point} and the buyer ${retry ? 'retries after the lease' : 'never retries'}, then stock = initial − ordered and no reservation stays held`, async () => {
            const seller = await signIn('seller');
            const p = await product(seller, { stock: 5 });
            const buyer = uuidv7();
            const key = `killed-${point}-${retry}`;
            const lines = [{ productId: p.id, quantity: 2 }];
            const { faults, reached } = killAt(point);
            const dying = createOrdersService(t.platform, { leaseMs: LEASE, faults });
            void dying.placeOrder(buyer, key, lines).catch(() => {});
            await reached;
            await sleep(LEASE + 40);

            const restarted = createOrdersService(t.platform, { leaseMs: LEASE });
            let ordered = point === 'placed' ? 2 : 0;
            if (retry) {
              const placed = await restarted.placeOrder(buyer, key, lines);
              assert.equal(
                placed.created,
                point !== 'placed',
                'a new order unless the dead one had committed',
              );
              ordered = 2;
            } else {
              const done = await restarted.reconcileCheckouts();
              assert.equal(done.failed, 0);
            }
            await settled(p.id, ordered);
            await restarted.reconcileCheckouts();
            await settled(p.id, ordered);
          });
        }
      }

      it('when the order was cancelled and the cancel died before the release, then the reconciliation puts the stock back once', async () => {
        const seller = await signIn('seller');
        const p = await product(seller, { stock: 5 });
        const buyer = uuidv7();
        const { faults, reached } = killAt('placed');
        void createOrdersService(t.platform, { leaseMs: LEASE, faults })
          .placeOrder(buyer, 'cancel-cut', [{ productId: p.id, quantity: 2 }])
          .catch(() => {});
        await reached;
        const catalog = createCatalogService(t.platform);
        const cutCancel = createOrdersService(t.platform, {
          leaseMs: LEASE,
          stock: {
            ...catalog,
            releaseStock: async () => {
              throw new Error('injected: the process died before the release');
            },
          },
        });
        const [key] = await q(
          sql<{ order_id: string }>`select order_id from orders.idempotency_keys where buyer_id = ${buyer}`,
        );
        await assert.rejects(
          cutCancel.cancelOrder({ userId: buyer, role: 'buyer' }, key!.order_id),
          /injected/,
        );
        assert.equal(await stockOf(p.id), 3, 'the cancelled order still holds its units');
        await sleep(LEASE + 40);

        const orders = createOrdersService(t.platform, { leaseMs: LEASE });
        await orders.reconcileCheckouts();
        await orders.reconcileCheckouts();
        assert.equal(await stockOf(p.id), 5);
        assert.equal(await heldFor(p.id), 0);
        const [order] = await q(sql<{ status: string; released: boolean }>`select status,
          stock_released_at is not null as released from orders.orders where buyer_id = ${buyer}`);
        assert.deepEqual({ ...order }, { status: 'cancelled', released: true });
      });

      it('when a hold has no checkout key at all, then the reconciliation releases it, and leaves fresh holds alone', async () => {
        const seller = await signIn('seller');
        const p = await product(seller, { stock: 5 });
        const catalog = createCatalogService(t.platform);
        const orphan = uuidv7();
        const fresh = uuidv7();
        await catalog.reserveStock(orphan, [{ productId: p.id, quantity: 1 }], uuidv7());
        await sleep(5);
        const between = Date.now();
        await sleep(5);
        await catalog.reserveStock(fresh, [{ productId: p.id, quantity: 2 }], uuidv7());
        // The pass runs one lease after `between`: the orphan is older than the lease, the fresh hold is not.
        const done = await createOrdersService(t.platform, {
          leaseMs: LEASE,
          now: () => new Date(between + LEASE),
        }).reconcileCheckouts();
        assert.ok(done.released >= 1);
        assert.equal(await stockOf(p.id), 3, 'the orphan came back; the fresh hold (within the lease) stays');
        const states = await q(sql<{
          id: string;
          state: string;
        }>`select id, state from catalog.stock_reservations
          where id in (${orphan}, ${fresh}) order by id`);
        assert.deepEqual(
          states.map((r) => r.state),
          ['released', 'held'],
        );
      });
    });

    describe('the worker', () => {
      let w: TestApp;
      let worker: RunningWorker | undefined;
      const lines: { fields: Record<string, unknown>; msg: string }[] = [];
      before(async () => {
        w = await startTestApp(backend, { CHECKOUT_LEASE: '100ms', CHECKOUT_RECONCILE_INTERVAL: '100ms' });
      });
      after(async () => {
        await worker?.stop({ graceMs: 1000 });
        await w?.close();
      });

      it('when checkouts died after their order and before it, then the worker confirms the one, releases the other and logs it', async () => {
        const seller = uuidv7();
        const catalog = createCatalogService(w.platform);
        const made = await catalog.createProduct(
          { userId: seller, role: 'seller' },
          { categoryId: KITCHEN, title: 'Jug', priceMinor: 900, stock: 5, status: 'published' },
        );
        for (const point of ['placed', 'reserved'] as const) {
          const dying = createOrdersService(w.platform, {
            leaseMs: 100,
            faults: { [point]: () => new Promise<void>(() => {}) },
          });
          void dying.placeOrder(uuidv7(), `worker-${point}`, [{ productId: made.id, quantity: 2 }]);
        }
        const held = async () =>
          (
            await sql<{ n: number }>`select count(*)::int as n from catalog.stock_reservations
              where state = 'held' and lines @> ${JSON.stringify([{ productId: made.id }])}::jsonb`.execute(
              w.platform.sql.for('catalog').write,
            )
          ).rows[0]!.n;
        for (let i = 0; i < 100 && (await held()) < 2; i++) await new Promise((r) => setTimeout(r, 20));
        assert.equal(await held(), 2, 'both checkouts hold stock when they die');

        worker = await startWorker({
          config: w.config,
          platform: w.platform,
          modules: MODULES,
          log: {
            info: (fields, msg) => lines.push({ fields: fields as Record<string, unknown>, msg }),
            error: (fields, msg) => lines.push({ fields: fields as Record<string, unknown>, msg }),
          },
          relayIntervalMs: 100,
        });
        for (let i = 0; i < 250 && (await held()) > 0; i++) await new Promise((r) => setTimeout(r, 20));
        assert.equal(await held(), 0, 'no hold left');
        const [p] = (
          await sql<{ stock: number }>`select stock from catalog.products where id = ${made.id}`.execute(
            w.platform.sql.for('catalog').write,
          )
        ).rows;
        assert.equal(p!.stock, 3, 'the placed order keeps its 2 units; the other 2 came back');
        // The task logs what it did once its whole pass is over, which may be after the holds are gone.
        const reconciled = () =>
          lines
            .filter((l) => l.fields['task'] === 'orders.reconcile-checkouts')
            .reduce(
              (sum, l) => [sum[0]! + Number(l.fields['confirmed']), sum[1]! + Number(l.fields['released'])],
              [0, 0],
            );
        for (let i = 0; i < 250 && reconciled().join() !== '1,1'; i++)
          await new Promise((r) => setTimeout(r, 20));
        assert.deepEqual(reconciled(), [1, 1], JSON.stringify(lines));
      });
    });

    describe('catalog stock reservations', () => {
      it('when a reservation is repeated, released twice and reserved again, then stock moves exactly once each way', async () => {
        const seller = await signIn('seller');
        const p = await product(seller, { stock: 10, priceMinor: 1234 });
        const catalog = createCatalogService(t.platform);
        const id = uuidv7();
        const first = await catalog.reserveStock(id, [{ productId: p.id, quantity: 4 }]);
        assert.deepEqual(first, {
          ok: true,
          reservationId: id,
          state: 'held',
          lines: [
            {
              productId: p.id,
              quantity: 4,
              sellerId: seller.userId,
              title: 'Teapot',
              priceMinor: 1234,
              currency: 'USD',
            },
          ],
        });
        assert.deepEqual(await catalog.reserveStock(id, [{ productId: p.id, quantity: 4 }]), first);
        assert.equal(await stockOf(p.id), 6);
        await assert.rejects(
          catalog.reserveStock(id, [{ productId: p.id, quantity: 5 }]),
          (err: unknown) => err instanceof AppError && err.code === 'CONFLICT',
        );
        assert.deepEqual(await catalog.confirmReservation(id), { state: 'committed' });
        assert.deepEqual(await catalog.releaseStock(id), { released: true });
        assert.deepEqual(await catalog.releaseStock(id), { released: false });
        assert.equal(await stockOf(p.id), 10);
        const again = await catalog.reserveStock(id, [{ productId: p.id, quantity: 4 }]);
        assert.equal(again.ok, false);
        assert.equal(!again.ok && again.reason, 'released');
        assert.equal(await stockOf(p.id), 10);
      });

      it('when any line is short, then nothing is reserved and every short product is named', async () => {
        const seller = await signIn('seller');
        const a = await product(seller, { stock: 3 });
        const b = await product(seller, { stock: 1 });
        const draft = await product(seller, { stock: 9, status: 'draft' });
        const catalog = createCatalogService(t.platform);
        const res = await catalog.reserveStock(uuidv7(), [
          { productId: a.id, quantity: 3 },
          { productId: b.id, quantity: 2 },
        ]);
        assert.deepEqual(res.ok ? null : res.shortages, [
          { productId: b.id, requested: 2, available: 1, reason: 'out_of_stock' },
        ]);
        assert.deepEqual([await stockOf(a.id), await stockOf(b.id)], [3, 1]);
        const unpublished = await catalog.reserveStock(uuidv7(), [{ productId: draft.id, quantity: 1 }]);
        assert.equal(!unpublished.ok && unpublished.reason, 'unavailable');
        const released = uuidv7();
        assert.deepEqual(
          await catalog.releaseStock(released),
          { released: false },
          'unknown id: a tombstone',
        );
        const late = await catalog.reserveStock(released, [{ productId: a.id, quantity: 1 }]);
        assert.equal(!late.ok && late.reason, 'released', 'a reserve after its release holds nothing');
        assert.equal(await stockOf(a.id), 3);
      });

      it('when products are published or changed, then catalog.outbox gets product.published / product.updated', async () => {
        const seller = await signIn('seller');
        const draft = await product(seller, { status: 'draft' });
        const live = await product(seller, { title: 'Kettle' });
        const patch = (id: string, body: object) =>
          t.app.inject({
            method: 'PATCH',
            url: `/api/products/${id}`,
            headers: { cookie: seller.cookie },
            payload: body,
          });
        assert.equal((await patch(draft.id, { priceMinor: 10 })).statusCode, 200);
        assert.equal((await patch(draft.id, { status: 'published' })).statusCode, 200);
        assert.equal((await patch(live.id, { priceMinor: 2500 })).statusCode, 200);
        const events = await q(sql<{ type: string; key: string; payload: Record<string, unknown> }>`
          select type, key, payload from catalog.outbox where key in (${draft.id}, ${live.id}) order by id`);
        assert.deepEqual(
          events.map((e) => [e.type, e.key]),
          [
            ['product.published', live.id],
            ['product.published', draft.id],
            ['product.updated', live.id],
          ],
        );
        assert.deepEqual(events[2]!.payload, {
          productId: live.id,
          sellerId: seller.userId,
          categoryId: KITCHEN,
          title: 'Kettle',
          priceMinor: 2500,
          currency: 'USD',
          status: 'published',
        });
      });
    });
  });
}
