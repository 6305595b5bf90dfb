/**
 * Sessions in Redis when Redis goes away (SESSION_STORE=redis): a real Redis behind a TCP relay
 * this test can cut and restore. Sessions fail closed with a clear 401 (never served as anonymous
 * or as the user where a session matters), public reads go on as anonymous, no 5xx, and the same
 * sign-in works again once Redis answers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCatalogSeeder, createCatalogService } from '../src/modules/catalog/index.ts';
import { uuidv7 } from '../src/shared/ids.ts';
import { pglite, redis } from './support/engines.ts';
import { relay } from './support/redis-relay.ts';
import { sessionCookie, startTestApp, type TestApp } from './support/test-app.ts';

describe('sessions when Redis is down', { skip: redis.skip }, () => {
  const link = relay(new URL(redis.url ?? 'redis://127.0.0.1:6379'));
  let t: TestApp;
  let cookie: string;
  let productId: string;

  before(async () => {
    await link.start();
    t = await startTestApp(pglite, {
      REDIS_URL: link.url(),
      SESSION_STORE: 'redis',
      CACHE: 'memory',
    });
    const signup = await t.app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      payload: {
        email: `outage-${uuidv7()}@example.com`,
        password: 'a long enough password',
        name: 'O',
        role: 'buyer',
      },
    });
    assert.equal(signup.statusCode, 201, signup.body);
    cookie = sessionCookie(signup);
    const catalog = createCatalogService(t.platform);
    const child = (await catalog.listCategories())[0]!.children[0]!;
    productId = uuidv7();
    await createCatalogSeeder(t.platform).insertProducts([
      {
        id: productId,
        sellerId: uuidv7(),
        categoryId: child.id,
        title: 'Outage mug',
        priceMinor: 900,
        status: 'published',
      },
    ]);
  });
  after(async () => {
    await t?.close();
    await link.cut();
  });

  it('when Redis is cut, then a signed-in request is a 401 SESSIONS_UNAVAILABLE with Retry-After, public reads are 200, nothing is a 5xx; when it returns, the same cookie is signed in again', async () => {
    assert.equal((await t.app.inject({ url: '/api/auth/me', headers: { cookie } })).statusCode, 200);
    await link.cut();

    const me = await t.app.inject({ url: '/api/auth/me', headers: { cookie } });
    assert.equal(me.statusCode, 401, me.body);
    assert.match(me.headers['content-type'] as string, /application\/problem\+json/);
    assert.equal(me.json().code, 'SESSIONS_UNAVAILABLE');
    assert.match(me.json().detail, /still signed in/);
    assert.equal(me.headers['retry-after'], '1');
    assert.equal(me.headers['set-cookie'], undefined, 'the session cookie is kept');

    const orders = await t.app.inject({ url: '/api/orders', headers: { cookie } });
    assert.equal(orders.statusCode, 401);
    assert.equal(orders.json().code, 'SESSIONS_UNAVAILABLE');
    // The cart works without a session, but cannot tell whose it is: the same 401 (documented).
    const cart = await t.app.inject({ url: '/api/cart', headers: { cookie } });
    assert.equal(cart.statusCode, 401, cart.body);
    assert.equal(cart.json().code, 'SESSIONS_UNAVAILABLE');

    for (const url of [
      `/api/products/${productId}`,
      `/api/products/${productId}/photos`,
      '/api/products?limit=5',
      '/api/categories',
    ]) {
      const r = await t.app.inject({ url, headers: { cookie } });
      assert.equal(r.statusCode, 200, `${url} with Redis down: ${r.statusCode} ${r.body}`);
    }

    await link.start();
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await t.app.inject({ url: '/api/auth/me', headers: { cookie } })).statusCode;
      if (status === 200) break;
      await sleep(100);
    }
    assert.equal(status, 200, 'the same sign-in works once Redis answers');
  });
});
