/** Demo data: believable, idempotent, usable through the API like any other data. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { seedDemo } from '../src/apps/seed.ts';
import { DEMO_PASSWORD } from '../src/apps/seed-data.ts';
import { BACKENDS } from './support/engines.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

for (const backend of BACKENDS) {
  describe(`demo seed on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend);
    });
    after(() => t?.close());

    it('when seeded twice with the same totals, then the second run adds nothing', async () => {
      const progress: number[] = [];
      const first = await seedDemo(t.platform, t.config, {
        products: 120,
        sellers: 3,
        buyers: 2,
        onProgress: (done) => progress.push(done),
      });
      assert.deepEqual(first, {
        sellers: 3,
        buyers: 2,
        productsAdded: 120,
        productsTotal: 120,
        photosAdded: 0,
      });
      assert.equal(progress.at(-1), 120);
      const second = await seedDemo(t.platform, t.config, { products: 120, sellers: 3, buyers: 2 });
      assert.equal(second.productsAdded, 0);
      assert.equal(second.productsTotal, 120);
      const more = await seedDemo(t.platform, t.config, { products: 150, sellers: 3, buyers: 2 });
      assert.equal(more.productsAdded, 30);
    });

    it('when a demo seller signs in, then their products are listed and published ones are public', async () => {
      const login = await t.app.inject({
        method: 'POST',
        url: '/api/auth/login',
        payload: { email: 'seller1@bazaar.test', password: DEMO_PASSWORD },
      });
      assert.equal(login.statusCode, 200);
      assert.equal(login.json().user.role, 'seller');
      const mine = await t.app.inject({
        url: '/api/seller/products?limit=100',
        cookies: Object.fromEntries(login.cookies.map((c) => [c.name, c.value])),
      });
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
  });
}
