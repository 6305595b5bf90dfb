/**
 * The "done when", end to end in one process on a real engine: a buyer fills a cart
 * anonymously, signs up, checks out and receives the confirmation email file; the seller sees
 * the order and ships it; both show on the leaderboards; analytics answers its two questions.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningWorker } from '../src/apps/worker-runtime.ts';
import { createAnalyticsService } from '../src/modules/analytics/index.ts';
import { BACKENDS } from './support/engines.ts';
import { replicasCaughtUp, startTestApp, type TestApp } from './support/test-app.ts';
import { startTestWorker } from './support/worker.ts';

const cookieOf = (res: { cookies: { name: string; value: string }[] }): string | undefined => {
  const c = res.cookies.find((x) => x.name === 'bazaar_session');
  return c ? `bazaar_session=${c.value}` : undefined;
};

async function mailTo(dir: string, address: string): Promise<string[]> {
  const files = (await readdir(join(dir, 'mail')).catch(() => [])).filter((f) => f.endsWith('.eml')).sort();
  const out: string[] = [];
  for (const f of files) {
    const text = await readFile(join(dir, 'mail', f), 'utf8');
    if (new RegExp(`^To:.*${address.replace('.', '\\.')}`, 'mi').test(text)) out.push(text);
  }
  return out;
}

for (const backend of BACKENDS) {
  describe(`buyer and seller journey on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    let worker: RunningWorker;
    let dataDir: string;

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'bazaar-journey-'));
      t = await startTestApp(backend, { DATA_DIR: dataDir, MAIL_TRANSPORT: 'file' });
      worker = await startTestWorker(t);
    });
    after(async () => {
      await worker?.stop();
      await t?.close();
      await rm(dataDir, { recursive: true, force: true });
    });

    it('when a buyer checks out and the seller ships, then mails, leaderboards and analytics follow', async () => {
      const json = { 'content-type': 'application/json' };
      // A seller with a published product.
      const seller = await t.app.inject({
        method: 'POST',
        url: '/api/auth/signup',
        headers: json,
        payload: { email: 'potter@example.com', password: 'a-long-password', name: 'Potter', role: 'seller' },
      });
      assert.equal(seller.statusCode, 201, seller.body);
      const sellerCookie = cookieOf(seller)!;
      const categories = (await t.app.inject({ url: '/api/categories' })).json();
      const created = await t.app.inject({
        method: 'POST',
        url: '/api/products',
        headers: { ...json, cookie: sellerCookie },
        payload: {
          categoryId: categories[0].children[0].id,
          title: 'Speckled stoneware mug',
          priceMinor: 2400,
          stock: 10,
          status: 'published',
        },
      });
      assert.equal(created.statusCode, 201, created.body);
      const product = created.json();

      // An anonymous visitor searches, looks, and fills a cart (with replicas, once they have the product).
      await replicasCaughtUp(t);
      const ua = { 'user-agent': 'journey-browser' };
      assert.equal(
        (await t.app.inject({ url: '/api/products?q=stonew', headers: ua })).json().items[0].id,
        product.id,
      );
      await t.app.inject({ url: `/api/products/${product.id}`, headers: ua });
      const put = await t.app.inject({
        method: 'PUT',
        url: `/api/cart/items/${product.id}`,
        headers: { ...json, ...ua },
        payload: { quantity: 2 },
      });
      assert.equal(put.statusCode, 200, put.body);
      const anonCookie = cookieOf(put)!;

      // … signs up, keeping the cart, and checks out.
      const buyer = await t.app.inject({
        method: 'POST',
        url: '/api/auth/signup',
        headers: { ...json, ...ua, cookie: anonCookie },
        payload: { email: 'ada@example.com', password: 'another-long-one', name: 'Ada', role: 'buyer' },
      });
      assert.equal(buyer.statusCode, 201, buyer.body);
      const buyerCookie = cookieOf(buyer)!;
      const cart = await t.app.inject({ url: '/api/cart', headers: { ...ua, cookie: buyerCookie } });
      assert.deepEqual(
        cart.json().items.map((i: { productId: string; quantity: number }) => [i.productId, i.quantity]),
        [[product.id, 2]],
      );
      const order = await t.app.inject({
        method: 'POST',
        url: '/api/orders',
        headers: { ...ua, cookie: buyerCookie, 'idempotency-key': 'journey-1' },
      });
      assert.equal(order.statusCode, 201, order.body);
      const orderId = order.json().id;

      await worker.drain();
      const confirmations = await mailTo(dataDir, 'ada@example.com');
      assert.equal(confirmations.filter((m) => m.includes(orderId)).length, 1, 'one order confirmation');
      assert.equal(
        (await mailTo(dataDir, 'potter@example.com')).filter((m) => m.includes(orderId)).length,
        1,
      );
      assert.ok(
        (await mailTo(dataDir, 'ada@example.com')).some((m) => /welcome/i.test(m)),
        'a welcome mail',
      );

      // The seller sees and ships it.
      const sellerOrders = await t.app.inject({
        url: '/api/seller/orders',
        headers: { cookie: sellerCookie },
      });
      assert.equal(sellerOrders.statusCode, 200);
      assert.ok(sellerOrders.json().items.some((o: { orderId: string }) => o.orderId === orderId));
      const shipped = await t.app.inject({
        method: 'POST',
        url: `/api/seller/orders/${orderId}/ship`,
        headers: { cookie: sellerCookie },
      });
      assert.equal(shipped.statusCode, 200, shipped.body);
      await worker.drain();
      assert.equal((await mailTo(dataDir, 'ada@example.com')).filter((m) => /shipped/i.test(m)).length, 1);

      // Leaderboards.
      for (const period of ['week', 'all']) {
        const products = (await t.app.inject({ url: `/api/leaderboards/products?period=${period}` })).json();
        assert.deepEqual(products.items[0], {
          rank: 1,
          productId: product.id,
          title: product.title,
          unitsSold: 2,
        });
        const sellers = (await t.app.inject({ url: `/api/leaderboards/sellers?period=${period}` })).json();
        assert.deepEqual(sellers.items[0], {
          rank: 1,
          sellerId: seller.json().user.id,
          name: 'Potter',
          unitsSold: 2,
        });
      }

      // Analytics' two questions.
      await t.platform.clickstream.flush();
      await createAnalyticsService(t.platform).rollup({ settleMs: 0 });
      const top = await t.app.inject({
        url: '/api/analytics/top-searches?period=day',
        headers: { cookie: sellerCookie },
      });
      assert.deepEqual(top.json().items, [{ query: 'stonew', searches: 1 }]);
      const today = new Date().toISOString().slice(0, 10);
      const visitors = await t.app.inject({
        url: `/api/analytics/category-visitors?category=${categories[0].children[0].slug}&date=${today}`,
        headers: { cookie: sellerCookie },
      });
      assert.equal(visitors.json().visitors, 1);
    });

    it('when an order is cancelled, then the leaderboards take its units back', async () => {
      const json = { 'content-type': 'application/json' };
      const buyer = await t.app.inject({
        method: 'POST',
        url: '/api/auth/signup',
        headers: json,
        payload: { email: 'grace@example.com', password: 'yet-another-one', name: 'Grace', role: 'buyer' },
      });
      const cookie = cookieOf(buyer)!;
      await replicasCaughtUp(t);
      const before = (await t.app.inject({ url: '/api/leaderboards/products?period=all' })).json().items[0];
      await t.app.inject({
        method: 'PUT',
        url: `/api/cart/items/${before.productId}`,
        headers: { ...json, cookie },
        payload: { quantity: 3 },
      });
      const order = await t.app.inject({
        method: 'POST',
        url: '/api/orders',
        headers: { cookie, 'idempotency-key': 'journey-2' },
      });
      assert.equal(order.statusCode, 201, order.body);
      await worker.drain();
      assert.equal(
        (await t.app.inject({ url: '/api/leaderboards/products?period=all' })).json().items[0].unitsSold,
        before.unitsSold + 3,
      );
      const cancel = await t.app.inject({
        method: 'POST',
        url: `/api/orders/${order.json().id}/cancel`,
        headers: { cookie },
      });
      assert.equal(cancel.statusCode, 200, cancel.body);
      await worker.drain();
      assert.equal(
        (await t.app.inject({ url: '/api/leaderboards/products?period=all' })).json().items[0].unitsSold,
        before.unitsSold,
      );
    });
  });
}
