/** Clickstream → roll-up → the talks' example questions, checked against a known data set. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAnalyticsService } from '../src/modules/analytics/index.ts';
import { createCatalogSeeder, createCatalogService } from '../src/modules/catalog/index.ts';
import { uuidv7 } from '../src/shared/ids.ts';
import { BACKENDS, type Backend, redis } from './support/engines.ts';
import { redisForTest } from './support/redis.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

// The clickstream on each SQL backend's own stream table, and once on Redis Streams
// (STREAM_STORE=redis, what the fleet runs), rolled up into the same analytics tables.
const SUBJECTS: readonly {
  name: string;
  backend: Backend;
  stream: 'sql' | 'redis';
  skip: string | undefined;
}[] = [
  ...BACKENDS.map((backend) => ({ name: backend.name, backend, stream: 'sql' as const, skip: backend.skip })),
  {
    name: `${BACKENDS[0]!.name}, clickstream on Redis Streams`,
    backend: BACKENDS[0]!,
    stream: 'redis',
    skip: BACKENDS[0]!.skip ?? redis.skip,
  },
];

for (const { name, backend, stream, skip } of SUBJECTS) {
  describe(`analytics on ${name}`, { skip }, () => {
    let t: TestApp;
    let redisKeys: Awaited<ReturnType<typeof redisForTest>> | undefined;
    let sellerCookie: string;
    let buyerCookie: string;
    let sellerId: string;
    let otherSellerCookie: string;
    let productIds: string[];
    let otherProductId: string;
    let category: { id: string; slug: string; parent: { id: string; slug: string } };
    const today = new Date().toISOString().slice(0, 10);

    before(async () => {
      if (stream === 'redis') {
        redisKeys = await redisForTest();
        t = await startTestApp(backend, {
          REDIS_URL: redis.url!,
          STREAM_STORE: 'redis',
          STREAM_PREFIX: `${redisKeys.prefix}stream:`,
        });
        assert.equal(t.platform.stream.store, 'redis');
      } else {
        t = await startTestApp(backend);
      }
      sellerId = uuidv7();
      sellerCookie = `bazaar_session=${(await t.platform.sessions.create({ userId: sellerId, data: { role: 'seller' } })).id}`;
      buyerCookie = `bazaar_session=${(await t.platform.sessions.create({ userId: uuidv7(), data: { role: 'buyer' } })).id}`;
      const otherSellerId = uuidv7();
      otherSellerCookie = `bazaar_session=${(await t.platform.sessions.create({ userId: otherSellerId, data: { role: 'seller' } })).id}`;
      const catalog = createCatalogService(t.platform);
      const tree = await catalog.listCategories();
      const top = tree[0]!;
      const child = top.children[0]!;
      category = { id: child.id, slug: child.slug, parent: { id: top.id, slug: top.slug } };
      productIds = [uuidv7(), uuidv7()];
      await createCatalogSeeder(t.platform).insertProducts(
        productIds.map((id, i) => ({
          id,
          sellerId,
          categoryId: child.id,
          title: i === 0 ? 'Speckled stoneware mug' : 'Brass desk lamp',
          priceMinor: 1000 + i,
          status: 'published' as const,
        })),
      );
      // Another seller's product, in another top-level category.
      otherProductId = uuidv7();
      await createCatalogSeeder(t.platform).insertProducts([
        {
          id: otherProductId,
          sellerId: otherSellerId,
          categoryId: tree[1]!.children[0]!.id,
          title: 'Walnut chess set',
          priceMinor: 5000,
          status: 'published' as const,
        },
      ]);
    });
    after(async () => {
      await t?.close();
      await redisKeys?.teardown();
    });

    const as = (ua: string, url: string) => t.app.inject({ url, headers: { 'user-agent': ua } });

    it('when visitors search, list and view, then the roll-up answers the example questions', async () => {
      // Three visitors (told apart by user agent: anonymous, no cookie).
      for (const ua of ['v1', 'v2', 'v3'])
        assert.equal((await as(ua, '/api/products?q=mug')).statusCode, 200);
      await as('v1', '/api/products?q=Mug%20'); // same query, normalised
      await as('v2', '/api/products?q=lamp');
      await as('v1', `/api/products?category=${category.slug}`);
      await as('v1', `/api/products?category=${category.id}`); // same visitor again
      await as('v2', `/api/products/${productIds[0]}`); // a view counts for the child and its parent
      await as('v3', `/api/products/${productIds[0]}`);
      await as('v3', `/api/products/${productIds[1]}`);
      await as('v3', `/api/products?q=mug&cursor=ignored-page-2`); // a later page is not a new search (400 anyway)
      await as('v1', `/api/products/${otherProductId}`); // another seller's product, another category

      await t.platform.clickstream.flush();
      const analytics = createAnalyticsService(t.platform);
      assert.equal(await analytics.rollup({ settleMs: 0 }), 11);
      assert.equal(await analytics.rollup({ settleMs: 0 }), 0, 'nothing is rolled up twice');
      assert.equal(
        (await t.platform.stream.read('clickstream', null, { limit: 100, settleMs: 0 })).length,
        11,
        'rolled-up records stay for the retention',
      );
      await analytics.rollup({ settleMs: 0, retentionMs: 0 });
      assert.deepEqual(
        await t.platform.stream.read('clickstream', null, { limit: 100, settleMs: 0 }),
        [],
        'past the retention they are trimmed',
      );

      const top = await t.app.inject({
        url: '/api/analytics/top-searches?period=day&limit=5',
        headers: { cookie: sellerCookie },
      });
      assert.equal(top.statusCode, 200, top.body);
      assert.deepEqual(top.json().items, [
        { query: 'mug', searches: 4 },
        { query: 'lamp', searches: 1 },
      ]);
      const week = await t.app.inject({
        url: '/api/analytics/top-searches?period=week&limit=1',
        headers: { cookie: sellerCookie },
      });
      assert.deepEqual(week.json().items, [{ query: 'mug', searches: 4 }]);

      const child = await t.app.inject({
        url: `/api/analytics/category-visitors?category=${category.slug}&date=${today}`,
        headers: { cookie: sellerCookie },
      });
      assert.equal(child.statusCode, 200, child.body);
      assert.deepEqual(child.json(), { categoryId: category.id, date: today, visitors: 3 });
      const parent = await t.app.inject({
        url: `/api/analytics/category-visitors?category=${category.parent.id}&date=${today}`,
        headers: { cookie: sellerCookie },
      });
      assert.equal(parent.json().visitors, 2, 'v2 and v3 viewed products of its child');
      const yesterday = await t.app.inject({
        url: `/api/analytics/category-visitors?category=${category.slug}&date=2020-01-01`,
        headers: { cookie: sellerCookie },
      });
      assert.equal(yesterday.json().visitors, 0);

      const views = await t.app.inject({
        url: '/api/analytics/product-views?days=7',
        headers: { cookie: sellerCookie },
      });
      assert.equal(views.statusCode, 200);
      const byProduct = Object.fromEntries(
        views.json().items.map((r: { productId: string; views: number }) => [r.productId, r.views]),
      );
      assert.deepEqual(byProduct, { [productIds[0]!]: 2, [productIds[1]!]: 1 }, 'only their own products');
      assert.ok(views.json().items.every((r: { day: string }) => r.day === today));
      const others = await t.app.inject({
        url: '/api/analytics/product-views',
        headers: { cookie: otherSellerCookie },
      });
      assert.deepEqual(others.json().items, [{ productId: otherProductId, day: today, views: 1 }]);
    });

    it('when a buyer, anonymous visitor or bad input asks, then 403, 401 and 400 problems', async () => {
      const buyer = await t.app.inject({
        url: '/api/analytics/top-searches',
        headers: { cookie: buyerCookie },
      });
      assert.equal(buyer.statusCode, 403);
      assert.equal((await t.app.inject({ url: '/api/analytics/top-searches' })).statusCode, 401);
      for (const url of [
        '/api/analytics/top-searches?period=month',
        '/api/analytics/top-searches?limit=1000',
        `/api/analytics/category-visitors?category=${category.slug}&date=2026-02-30`,
        `/api/analytics/category-visitors?category=${category.slug}&date=yesterday`,
        "/api/analytics/category-visitors?category='%3Bdrop&date=2026-01-01",
        '/api/analytics/product-views?days=0',
      ]) {
        const res = await t.app.inject({ url, headers: { cookie: sellerCookie } });
        assert.equal(res.statusCode, 400, `${url}: ${res.body}`);
        assert.match(String(res.headers['content-type']), /problem\+json/);
      }
      const unknown = await t.app.inject({
        url: `/api/analytics/category-visitors?category=no-such-category&date=${today}`,
        headers: { cookie: sellerCookie },
      });
      assert.equal(unknown.statusCode, 404);
    });
  });
}
