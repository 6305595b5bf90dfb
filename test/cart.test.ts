/**
 * Carts over HTTP on every SQL backend: anonymous carts by session cookie, the merge into the
 * buyer's cart at sign-in (once, even when requests race), limits and bad input that must be a
 * 4xx and change nothing, one cart per buyer, and the service the orders module uses.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { type Cart, createCartService } from '../src/modules/cart/index.ts';
import { createCatalogSeeder, createCatalogService, type ProductSeed } from '../src/modules/catalog/index.ts';
import { uuidv7 } from '../src/shared/ids.ts';
import { BACKENDS } from './support/engines.ts';
import { replicasCaughtUp, sessionCookie, startTestApp, type TestApp } from './support/test-app.ts';

const KITCHEN = '0190a8c0-0000-7000-8000-000000000101';
const PASSWORD = 'correct horse battery';
let seq = 0;
const uniqueEmail = () => `cart-${process.pid}-${++seq}@example.com`;

for (const backend of BACKENDS) {
  describe(`cart on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    const sellerId = uuidv7();
    /** 102 published products (prices 100, 101, …) and one draft. */
    const published: string[] = [];
    let draft: string;

    before(async () => {
      t = await startTestApp(backend);
      const seeds: ProductSeed[] = Array.from({ length: 102 }, (_, i) => ({
        id: uuidv7(),
        sellerId,
        categoryId: KITCHEN,
        title: `Cart product ${i}`,
        priceMinor: 100 + i,
        stock: 50,
        status: 'published',
      }));
      draft = uuidv7();
      seeds.push({
        id: draft,
        sellerId,
        categoryId: KITCHEN,
        title: 'Draft',
        priceMinor: 5,
        status: 'draft',
      });
      await createCatalogSeeder(t.platform).insertProducts(seeds);
      published.push(...seeds.slice(0, 102).map((s) => s.id!));
    });
    after(async () => {
      await t?.close();
    });

    const p = (i: number) => published[i]!;

    function getCart(cookie?: string) {
      return t.app.inject({ method: 'GET', url: '/api/cart', headers: cookie ? { cookie } : {} });
    }
    function put(productId: string, payload: unknown, cookie?: string, headers: Record<string, string> = {}) {
      return t.app.inject({
        method: 'PUT',
        url: `/api/cart/items/${productId}`,
        payload: payload as object,
        headers: { ...headers, ...(cookie ? { cookie } : {}) },
      });
    }
    function del(productId: string, cookie?: string) {
      return t.app.inject({
        method: 'DELETE',
        url: `/api/cart/items/${productId}`,
        headers: cookie ? { cookie } : {},
      });
    }

    async function cartOf(cookie?: string): Promise<Cart> {
      const res = await getCart(cookie);
      assert.equal(res.statusCode, 200, res.body);
      return res.json();
    }
    const lines = (cart: Cart) => cart.items.map((i) => [i.productId, i.quantity]);

    async function setQty(productId: string, quantity: number, cookie: string): Promise<Cart> {
      const res = await put(productId, { quantity }, cookie);
      assert.equal(res.statusCode, 200, res.body);
      return res.json();
    }

    /** A buyer signed in through a session made directly (no password hashing). */
    async function buyer(): Promise<{ userId: string; cookie: string }> {
      const userId = uuidv7();
      const s = await t.platform.sessions.create({ userId, data: { role: 'buyer' } });
      return { userId, cookie: `bazaar_session=${s.id}` };
    }

    /** Starts an anonymous cart with its first line; returns the new session cookie. */
    async function anonymousCart(productId: string, quantity: number): Promise<string> {
      const res = await put(productId, { quantity });
      assert.equal(res.statusCode, 200, res.body);
      return sessionCookie(res);
    }

    function assertProblem(res: LightMyRequestResponse, status: number, code?: string) {
      assert.equal(res.statusCode, status, res.body);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      if (code) assert.equal(res.json().code, code, res.body);
    }

    describe('anonymous visitors', () => {
      it('when a visitor without a cookie reads the cart, then it is empty and no session is made', async () => {
        const res = await getCart();
        assert.equal(res.statusCode, 200);
        assert.deepEqual(res.json(), { items: [], totalMinor: 0, currency: null });
        assert.equal(res.headers['set-cookie'], undefined);
        assert.equal(res.headers['cache-control'], 'private, no-store');
      });

      it('when a visitor adds products, then the cart follows their cookie across requests', async () => {
        const first = await put(p(0), { quantity: 2 });
        assert.equal(first.statusCode, 200, first.body);
        const cookie = sessionCookie(first);
        assert.match(String(first.headers['set-cookie']), /HttpOnly/i);

        await setQty(p(1), 1, cookie);
        const cart = await setQty(p(0), 3, cookie);
        assert.deepEqual(lines(cart), [
          [p(0), 3],
          [p(1), 1],
        ]);
        const again = await cartOf(cookie);
        assert.deepEqual(again, cart);
        assert.deepEqual(again.items[0]?.product, {
          title: 'Cart product 0',
          priceMinor: 100,
          currency: 'USD',
          stock: 50,
          sellerId,
          available: true,
        });
        assert.equal(again.totalMinor, 3 * 100 + 101);
        assert.equal(again.currency, 'USD');
        assert.deepEqual(lines(await cartOf()), [], 'another visitor sees an empty cart');
      });

      it('when a visitor has an anonymous session without a cart, then the cart joins that session', async () => {
        const s = await t.platform.sessions.create({ userId: null, data: { theme: 'dark' } });
        const cookie = `bazaar_session=${s.id}`;
        const res = await put(p(2), { quantity: 1 }, cookie);
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.headers['set-cookie'], undefined, 'the same session is kept');
        const data = (await t.platform.sessions.get(s.id))?.data;
        assert.equal(data?.['theme'], 'dark');
        assert.equal(typeof data?.['cartId'], 'string');
        assert.deepEqual(lines(await cartOf(cookie)), [[p(2), 1]]);
      });

      it("when an anonymous cart's TTL passes, then it reads as empty", async () => {
        const cookie = await anonymousCart(p(3), 1);
        const id = cookie.split('=')[1]!;
        const cartId = (await t.platform.sessions.get(id))?.data['cartId'] as string;
        const stored = await t.platform.kv.get(`cart:anon:${cartId}`);
        assert.ok(stored, 'the cart is stored under its anonymous key');
        const short = createCartService(t.platform, { anonymousTtlMs: 1, now: () => Date.now() });
        await short.setQuantity({ kind: 'anonymous', cartId }, p(3), 2);
        await new Promise((r) => setTimeout(r, 20));
        assert.deepEqual(lines(await cartOf(cookie)), []);
      });
    });

    describe('signing in', () => {
      it('when a visitor with a cart logs in, then it merges into the buyer cart once, summed and capped', async () => {
        const email = uniqueEmail();
        const signup = await t.app.inject({
          method: 'POST',
          url: '/api/auth/signup',
          payload: { email, password: PASSWORD, name: 'Cart Buyer', role: 'buyer' },
        });
        assert.equal(signup.statusCode, 201, signup.body);
        const buyerCookie = sessionCookie(signup);
        await setQty(p(0), 5, buyerCookie);
        await setQty(p(1), 3, buyerCookie);
        await t.app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie: buyerCookie } });

        const anon = await anonymousCart(p(0), 2);
        await setQty(p(1), 98, anon);
        await setQty(p(4), 1, anon);
        const cartId = (await t.platform.sessions.get(anon.split('=')[1]!))?.data['cartId'] as string;

        const login = await t.app.inject({
          method: 'POST',
          url: '/api/auth/login',
          payload: { email, password: PASSWORD },
          headers: { cookie: anon },
        });
        assert.equal(login.statusCode, 200, login.body);
        const cookie = sessionCookie(login);

        // Two cart requests race right after sign-in: the merge still happens exactly once.
        const [a, b] = await Promise.all([cartOf(cookie), cartOf(cookie)]);
        const expected = [
          [p(0), 7],
          [p(1), 99],
          [p(4), 1],
        ];
        assert.deepEqual(lines(a), expected);
        assert.deepEqual(lines(b), expected);
        assert.deepEqual(lines(await cartOf(cookie)), expected, 'a later request merges nothing more');

        assert.equal(await t.platform.kv.get(`cart:anon:${cartId}`), null, 'the anonymous cart is gone');
        const session = await t.platform.sessions.get(cookie.split('=')[1]!);
        assert.equal(session?.data['cartId'], undefined, 'the session no longer names it');
        assert.equal(session?.data['role'], 'buyer');
      });

      it('when a visitor signs up with a cart, then the new account starts with it', async () => {
        const anon = await anonymousCart(p(5), 4);
        const signup = await t.app.inject({
          method: 'POST',
          url: '/api/auth/signup',
          payload: { email: uniqueEmail(), password: PASSWORD, name: 'New Buyer', role: 'buyer' },
          headers: { cookie: anon },
        });
        assert.equal(signup.statusCode, 201, signup.body);
        const cookie = sessionCookie(signup);
        const userId = signup.json().user.id as string;
        await setQty(p(6), 1, cookie);
        assert.deepEqual(lines(await cartOf(cookie)), [
          [p(5), 4],
          [p(6), 1],
        ]);
        assert.deepEqual(await createCartService(t.platform).getCartLines(userId), [
          { productId: p(5), quantity: 4 },
          { productId: p(6), quantity: 1 },
        ]);
      });

      /** Places the order of whoever holds `cookie`; returns its lines as [productId, quantity]. */
      async function checkout(cookie: string) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/api/orders',
          headers: { cookie, 'idempotency-key': uuidv7() },
        });
        assert.equal(res.statusCode, 201, res.body);
        return (res.json().lines as { productId: string; quantity: number }[]).map((l) => [
          l.productId,
          l.quantity,
        ]);
      }

      /** A buyer account with a password, signed out again; optionally with a cart of its own first. */
      async function accountWithCart(cart: readonly [string, number][]): Promise<string> {
        const email = uniqueEmail();
        const signup = await t.app.inject({
          method: 'POST',
          url: '/api/auth/signup',
          payload: { email, password: PASSWORD, name: 'Checkout Buyer', role: 'buyer' },
        });
        assert.equal(signup.statusCode, 201, signup.body);
        const own = sessionCookie(signup);
        for (const [productId, quantity] of cart) await setQty(productId, quantity, own);
        await t.app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie: own } });
        return email;
      }

      function logIn(email: string, cookie: string) {
        return t.app.inject({
          method: 'POST',
          url: '/api/auth/login',
          payload: { email, password: PASSWORD },
          headers: { cookie },
        });
      }

      it('when a visitor adds an item, logs in and checks out at once, then the order holds that item', async () => {
        const email = await accountWithCart([]);
        const anon = await anonymousCart(p(10), 2);
        const login = await logIn(email, anon);
        assert.equal(login.statusCode, 200, login.body);
        assert.deepEqual(await checkout(sessionCookie(login)), [[p(10), 2]]);
      });

      it('when a buyer with an older cart adds an item signed out, logs in and checks out, then the order holds both', async () => {
        const email = await accountWithCart([[p(11), 1]]);
        const anon = await anonymousCart(p(12), 3);
        const login = await logIn(email, anon);
        assert.equal(login.statusCode, 200, login.body);
        const cookie = sessionCookie(login);
        assert.deepEqual(await checkout(cookie), [
          [p(11), 1],
          [p(12), 3],
        ]);
        assert.deepEqual(lines(await cartOf(cookie)), [], 'nothing is left behind in the cart');
      });

      it('when a visitor adds an item, signs up and checks out at once, then the order holds that item', async () => {
        const anon = await anonymousCart(p(13), 1);
        const signup = await t.app.inject({
          method: 'POST',
          url: '/api/auth/signup',
          payload: { email: uniqueEmail(), password: PASSWORD, name: 'Quick Buyer', role: 'buyer' },
          headers: { cookie: anon },
        });
        assert.equal(signup.statusCode, 201, signup.body);
        const cookie = sessionCookie(signup);
        const session = await t.platform.sessions.get(cookie.split('=')[1]!);
        assert.equal(session?.data['cartId'], undefined, 'the sign-up merged the cart itself');
        assert.deepEqual(await checkout(cookie), [[p(13), 1]]);
      });

      it('when a merge would pass 100 lines, then the buyer keeps 100 and the merge still happens once', async () => {
        const { userId, cookie: buyerCookie } = await buyer();
        for (let i = 0; i < 99; i++) await setQty(p(i), 1, buyerCookie);
        const anon = await anonymousCart(p(0), 1);
        await setQty(p(100), 1, anon);
        await setQty(p(101), 1, anon);
        const cartId = (await t.platform.sessions.get(anon.split('=')[1]!))?.data['cartId'] as string;
        const service = createCartService(t.platform);
        const results = await Promise.all([
          service.mergeAnonymousCart(cartId, userId),
          service.mergeAnonymousCart(cartId, userId),
          service.mergeAnonymousCart(cartId, userId),
        ]);
        assert.equal(results.filter((r) => r.merged).length, 1);
        const merged = await service.getCartLines(userId);
        assert.equal(merged.length, 100);
        assert.deepEqual(merged[0], { productId: p(0), quantity: 2 });
        assert.deepEqual(merged[99], { productId: p(100), quantity: 1 });
      });
    });

    describe('limits and bad input', () => {
      it('when a quantity is out of range or not an integer, then 400 and the cart is unchanged', async () => {
        const { cookie } = await buyer();
        const before = await setQty(p(0), 2, cookie);
        for (const body of [
          { quantity: 0 },
          { quantity: 100 },
          { quantity: 1000 },
          { quantity: -1 },
          { quantity: 1.5 },
          { quantity: '2' },
          { quantity: null },
          {},
          { quantity: 1, extra: true },
        ]) {
          assertProblem(await put(p(0), body, cookie), 400, 'INVALID_INPUT');
        }
        assertProblem(await put('not-a-uuid', { quantity: 1 }, cookie), 400, 'INVALID_INPUT');
        assert.deepEqual(await cartOf(cookie), before);
      });

      it('when an anonymous visitor sends a bad quantity, then no session or cart is made', async () => {
        const res = await put(p(0), { quantity: 1000 });
        assertProblem(res, 400, 'INVALID_INPUT');
        assert.equal(res.headers['set-cookie'], undefined);
      });

      it('when the product is unknown or a draft, then 404 and nothing changes', async () => {
        const { cookie } = await buyer();
        const before = await setQty(p(0), 1, cookie);
        const unknown = await put(uuidv7(), { quantity: 1 }, cookie);
        assertProblem(unknown, 404, 'NOT_FOUND');
        assertProblem(await put(draft, { quantity: 1 }, cookie), 404, 'NOT_FOUND');
        assert.deepEqual(await cartOf(cookie), before);
        const anonymous = await put(draft, { quantity: 1 });
        assertProblem(anonymous, 404, 'NOT_FOUND');
        assert.equal(anonymous.headers['set-cookie'], undefined, 'a refused change makes no session');
      });

      it('when a seller adds their own product, then 422 OWN_PRODUCT and the cart stays as it was', async () => {
        const s = await t.platform.sessions.create({ userId: sellerId, data: { role: 'seller' } });
        const cookie = `bazaar_session=${s.id}`;
        assertProblem(await put(p(0), { quantity: 1 }, cookie), 422, 'OWN_PRODUCT');
        assert.deepEqual((await put(p(1), { quantity: 2 }, cookie)).json().productIds, [p(1)]);
        assert.deepEqual(lines(await cartOf(cookie)), []);
      });

      it('when a 101st product is added, then 409 CART_FULL and the 100 lines stay as they were', async () => {
        const { cookie } = await buyer();
        for (let i = 0; i < 100; i++) await setQty(p(i), 1, cookie);
        const before = await cartOf(cookie);
        assert.equal(before.items.length, 100);
        assertProblem(await put(p(100), { quantity: 1 }, cookie), 409, 'CART_FULL');
        assert.deepEqual(await cartOf(cookie), before);
        const changed = await setQty(p(99), 5, cookie);
        assert.equal(changed.items[99]?.quantity, 5, 'lines already in a full cart can still change');
      });

      it('when a change comes cross-site, then 403 and nothing changes', async () => {
        const { cookie } = await buyer();
        await setQty(p(0), 1, cookie);
        const res = await put(p(0), { quantity: 9 }, cookie, { origin: 'https://evil.example' });
        assertProblem(res, 403, 'CROSS_SITE_REQUEST');
        assert.deepEqual(lines(await cartOf(cookie)), [[p(0), 1]]);
      });
    });

    describe('removing and reading', () => {
      it('when a line is deleted twice, then both answers are the cart without it', async () => {
        const { cookie } = await buyer();
        await setQty(p(0), 1, cookie);
        await setQty(p(1), 2, cookie);
        const first = await del(p(0), cookie);
        assert.equal(first.statusCode, 200, first.body);
        assert.deepEqual(lines(first.json()), [[p(1), 2]]);
        const second = await del(p(0), cookie);
        assert.equal(second.statusCode, 200);
        assert.deepEqual(second.json(), first.json());
        const none = await del(p(0));
        assert.equal(none.statusCode, 200);
        assert.deepEqual(lines(none.json()), []);
        assert.equal(none.headers['set-cookie'], undefined);
      });

      it('when two buyers fill carts, then each sees only their own', async () => {
        const one = await buyer();
        const two = await buyer();
        await setQty(p(0), 1, one.cookie);
        await setQty(p(1), 2, two.cookie);
        assert.deepEqual(lines(await cartOf(one.cookie)), [[p(0), 1]]);
        assert.deepEqual(lines(await cartOf(two.cookie)), [[p(1), 2]]);
      });

      it('when a product is unpublished or short of stock, then the cart shows it so', async () => {
        const catalog = createCatalogService(t.platform);
        const [gone, short] = [uuidv7(), uuidv7()];
        await createCatalogSeeder(t.platform).insertProducts([
          {
            id: gone,
            sellerId,
            categoryId: KITCHEN,
            title: 'Gone',
            priceMinor: 10,
            stock: 5,
            status: 'published',
          },
          {
            id: short,
            sellerId,
            categoryId: KITCHEN,
            title: 'Short',
            priceMinor: 10,
            stock: 2,
            status: 'published',
          },
        ]);
        const { cookie } = await buyer();
        await setQty(gone, 1, cookie);
        await setQty(short, 3, cookie);
        const admin = { userId: uuidv7(), role: 'admin' as const };
        await catalog.updateProduct(admin, gone, { status: 'draft' });
        await replicasCaughtUp(t); // the buyer is not the writer: they may read the replicas' past
        const cart = await cartOf(cookie);
        assert.equal(cart.items[0]?.product, null);
        assert.equal(cart.items[1]?.product?.available, false);
        assert.equal(cart.totalMinor, 30, 'the total counts the lines whose product exists');
      });
    });

    describe('the service for orders', () => {
      it('when a checkout clears its lines, then lines raised meanwhile stay and a repeat changes nothing', async () => {
        const { userId, cookie } = await buyer();
        await setQty(p(0), 2, cookie);
        await setQty(p(1), 1, cookie);
        await setQty(p(2), 4, cookie);
        const service = createCartService(t.platform);
        const checkedOut = await service.getCartLines(userId);
        await setQty(p(2), 6, cookie); // raised during checkout
        await service.clearCart(userId, checkedOut);
        await service.clearCart(userId, checkedOut);
        assert.deepEqual(await service.getCartLines(userId), [{ productId: p(2), quantity: 6 }]);
        await service.clearCart(userId);
        assert.deepEqual(await service.getCartLines(userId), []);
        assert.deepEqual(await service.getCartLines(uuidv7()), [], 'a buyer without a cart has no lines');
      });

      it('when 10 changes to one cart race, then none is lost', async () => {
        const { userId, cookie } = await buyer();
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => put(p(i), { quantity: i + 1 }, cookie)),
        );
        for (const r of results) assert.equal(r.statusCode, 200, r.body);
        const got = await createCartService(t.platform).getCartLines(userId);
        assert.deepEqual(
          got.map((l) => l.quantity).sort((a, b) => a - b),
          Array.from({ length: 10 }, (_, i) => i + 1),
        );
      });
    });
  });
}
