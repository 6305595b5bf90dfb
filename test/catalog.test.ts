/**
 * The catalog over HTTP on every SQL backend: categories, product CRUD with ownership, drafts,
 * listings with keyset pagination, and bad input that must be a 4xx and write nothing.
 * Sellers and buyers are sessions made directly (the users module is not needed here).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createCatalogSeeder, type Product, type ProductSeed } from '../src/modules/catalog/index.ts';
import { uuidv7 } from '../src/shared/ids.ts';
import { BACKENDS } from './support/engines.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

const HOME = '0190a8c0-0000-7000-8000-000000000100';
const KITCHEN = '0190a8c0-0000-7000-8000-000000000101';
const FURNITURE = '0190a8c0-0000-7000-8000-000000000102';
const FICTION = '0190a8c0-0000-7000-8000-000000000401';

type Who = Readonly<{ userId: string; cookie: string }>;
type Page = { items: Product[]; nextCursor: string | null };

for (const backend of BACKENDS) {
  describe(`catalog on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend);
    });
    after(async () => {
      await t?.close();
    });

    async function signIn(role: 'buyer' | 'seller' | 'admin'): Promise<Who> {
      const userId = uuidv7();
      const s = await t.platform.sessions.create({ userId, data: { role } });
      return { userId, cookie: `bazaar_session=${s.id}` };
    }

    const db = () => t.platform.sql.for('catalog').write;

    async function countProducts(): Promise<number> {
      const r = await sql<{ n: number }>`select count(*)::int as n from catalog.products`.execute(db());
      return r.rows[0]!.n;
    }

    function request(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, who?: Who, payload?: unknown) {
      return t.app.inject({
        method,
        url,
        headers: who ? { cookie: who.cookie } : {},
        ...(payload !== undefined ? { payload: payload as object } : {}),
      });
    }

    async function createProduct(who: Who, body: Record<string, unknown> = {}): Promise<Product> {
      const res = await request('POST', '/api/products', who, {
        categoryId: KITCHEN,
        title: 'Speckled mug',
        priceMinor: 1200,
        ...body,
      });
      assert.equal(res.statusCode, 201, res.body);
      return res.json();
    }

    async function list(query: string, who?: Who): Promise<Page> {
      const res = await request('GET', `/api/products?${query}`, who);
      assert.equal(res.statusCode, 200, res.body);
      return res.json();
    }

    /** Follows nextCursor to the end; fails on a repeated id or a runaway walk. */
    async function walk(query: string, limit: number): Promise<Product[]> {
      const seen: Product[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 100; pages++) {
        const page: Page = await list(
          `${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        assert.ok(page.items.length <= limit);
        seen.push(...page.items);
        cursor = page.nextCursor;
        if (!cursor) break;
        assert.equal(page.items.length, limit, 'only the last page may be short');
      }
      assert.equal(new Set(seen.map((p) => p.id)).size, seen.length, 'no product appears twice');
      return seen;
    }

    function assertProblem(res: { statusCode: number; headers: Record<string, unknown>; body: string }) {
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${res.statusCode} ${res.body}`);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      return JSON.parse(res.body) as { code: string; status: number; detail: string };
    }

    describe('categories', () => {
      it('when the tree is requested, then top levels come with their children and fixed ids', async () => {
        const res = await request('GET', '/api/categories');
        assert.equal(res.statusCode, 200);
        const tree = res.json() as {
          id: string;
          slug: string;
          name: string;
          children: { id: string; slug: string }[];
        }[];
        assert.ok(tree.length >= 6 && tree.length <= 8, `${tree.length} top-level categories`);
        for (const top of tree) {
          assert.ok(top.children.length >= 3 && top.children.length <= 5, top.slug);
        }
        const home = tree.find((c) => c.slug === 'home-kitchen');
        assert.equal(home?.id, HOME);
        assert.equal(home?.name, 'Home & Kitchen');
        assert.equal(home?.children[0]?.id, KITCHEN);
        const slugs = tree.flatMap((c) => [c.slug, ...c.children.map((x) => x.slug)]);
        assert.equal(new Set(slugs).size, slugs.length, 'slugs are unique');
      });

      it('when a category is put under a child category, then the database refuses a third level', async () => {
        await assert.rejects(
          sql`insert into catalog.categories (id, parent_id, slug, name)
              values (${uuidv7()}, ${KITCHEN}, 'too-deep', 'Too deep')`.execute(db()),
          /categories_parent_is_top_level/,
        );
      });
    });

    describe('creating, changing and deleting products', () => {
      it('when a seller creates a product, then 201 with defaults and a Location, and it reads back', async () => {
        const seller = await signIn('seller');
        const res = await request('POST', '/api/products', seller, {
          categoryId: KITCHEN,
          title: '  Speckled mug  ',
          priceMinor: 1250,
          attributes: { colour: 'sand', handmade: true, capacityMl: 350 },
        });
        assert.equal(res.statusCode, 201, res.body);
        const p = res.json() as Product;
        assert.equal(res.headers['location'], `/api/products/${p.id}`);
        assert.equal(p.sellerId, seller.userId);
        assert.equal(p.title, 'Speckled mug');
        assert.deepEqual([p.description, p.currency, p.stock, p.status], ['', 'USD', 0, 'draft'], 'defaults');
        assert.deepEqual(p.attributes, { colour: 'sand', handmade: true, capacityMl: 350 });
        assert.equal(p.createdAt, p.updatedAt);
        assert.match(p.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        const back = await request('GET', `/api/products/${p.id}`, seller);
        assert.equal(back.statusCode, 200);
        assert.deepEqual(back.json(), p);
      });

      it('when a buyer or an anonymous visitor creates a product, then 403 or 401 and nothing is written', async () => {
        const before = await countProducts();
        const body = { categoryId: KITCHEN, title: 'Nope', priceMinor: 1 };
        const buyer = await signIn('buyer');
        assert.equal(assertProblem(await request('POST', '/api/products', buyer, body)).code, 'FORBIDDEN');
        assert.equal(assertProblem(await request('POST', '/api/products', undefined, body)).status, 401);
        const unknownSession = { userId: uuidv7(), cookie: 'bazaar_session=not-a-session' };
        assert.equal(assertProblem(await request('POST', '/api/products', unknownSession, body)).status, 401);
        assert.equal(await countProducts(), before);
      });

      it('when the owner changes some fields, then only those change and updatedAt moves on', async () => {
        const seller = await signIn('seller');
        const p = await createProduct(seller, { description: 'Glazed', stock: 3 });
        await new Promise((r) => setTimeout(r, 5));
        const res = await request('PATCH', `/api/products/${p.id}`, seller, {
          priceMinor: 999,
          status: 'published',
          attributes: { size: 'L' },
        });
        assert.equal(res.statusCode, 200, res.body);
        const q = res.json() as Product;
        assert.deepEqual(
          { ...q, updatedAt: p.updatedAt },
          { ...p, priceMinor: 999, status: 'published', attributes: { size: 'L' } },
        );
        assert.ok(q.updatedAt > p.updatedAt, 'updatedAt advanced');
        assert.equal(q.createdAt, p.createdAt);
      });

      it("when another seller or a buyer changes or deletes someone's published product, then 403 and it is unchanged", async () => {
        const owner = await signIn('seller');
        const p = await createProduct(owner, { status: 'published' });
        for (const who of [await signIn('seller'), await signIn('buyer')]) {
          const patch = await request('PATCH', `/api/products/${p.id}`, who, { priceMinor: 1 });
          assert.equal(assertProblem(patch).code, 'FORBIDDEN');
          const del = await request('DELETE', `/api/products/${p.id}`, who);
          assert.equal(assertProblem(del).code, 'FORBIDDEN');
        }
        assert.equal(
          assertProblem(await request('PATCH', `/api/products/${p.id}`, undefined, { stock: 1 })).status,
          401,
        );
        assert.equal(assertProblem(await request('DELETE', `/api/products/${p.id}`)).status, 401);
        assert.deepEqual((await request('GET', `/api/products/${p.id}`)).json(), p);
      });

      it("when another seller changes someone's draft, then 404 as if it did not exist", async () => {
        const owner = await signIn('seller');
        const p = await createProduct(owner);
        const other = await signIn('seller');
        assert.equal(
          assertProblem(await request('PATCH', `/api/products/${p.id}`, other, { stock: 9 })).code,
          'NOT_FOUND',
        );
        assert.equal(
          assertProblem(await request('DELETE', `/api/products/${p.id}`, other)).code,
          'NOT_FOUND',
        );
        assert.equal((await request('GET', `/api/products/${p.id}`, owner)).json().stock, 0);
      });

      it("when an admin changes or deletes a seller's product, then it is allowed", async () => {
        const owner = await signIn('seller');
        const admin = await signIn('admin');
        const p = await createProduct(owner);
        assert.equal(
          (await request('GET', `/api/products/${p.id}`, admin)).statusCode,
          200,
          'admins see drafts',
        );
        const res = await request('PATCH', `/api/products/${p.id}`, admin, { title: 'Renamed by admin' });
        assert.equal(res.statusCode, 200);
        assert.equal(res.json().sellerId, owner.userId, 'the seller stays');
        assert.equal((await request('DELETE', `/api/products/${p.id}`, admin)).statusCode, 204);
      });

      it('when the owner deletes a product, then 204, and it is gone for everyone', async () => {
        const seller = await signIn('seller');
        const p = await createProduct(seller, { status: 'published' });
        const before = await countProducts();
        const res = await request('DELETE', `/api/products/${p.id}`, seller);
        assert.equal(res.statusCode, 204);
        assert.equal(res.body, '');
        assert.equal(await countProducts(), before - 1);
        assert.equal(assertProblem(await request('GET', `/api/products/${p.id}`)).code, 'NOT_FOUND');
        assert.equal(
          assertProblem(await request('DELETE', `/api/products/${p.id}`, seller)).code,
          'NOT_FOUND',
        );
      });

      it('when an unknown product is changed, deleted or read, then 404', async () => {
        const seller = await signIn('seller');
        const id = uuidv7();
        assert.equal(
          assertProblem(await request('PATCH', `/api/products/${id}`, seller, { stock: 1 })).status,
          404,
        );
        assert.equal(assertProblem(await request('DELETE', `/api/products/${id}`, seller)).status, 404);
        assert.equal(assertProblem(await request('GET', `/api/products/${id}`)).status, 404);
      });

      it('when a product moves to a category under another parent, then parent listings follow it', async () => {
        const seller = await signIn('seller');
        const p = await createProduct(seller, { status: 'published' });
        const inHome = async () => (await list(`seller=${seller.userId}&category=home-kitchen`)).items.length;
        const inBooks = async () => (await list(`seller=${seller.userId}&category=books`)).items.length;
        assert.deepEqual([await inHome(), await inBooks()], [1, 0]);
        const res = await request('PATCH', `/api/products/${p.id}`, seller, { categoryId: FICTION });
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual([await inHome(), await inBooks()], [0, 1]);
      });
    });

    describe('drafts', () => {
      it('when a product is a draft, then only its seller sees it; once published, everyone does', async () => {
        const seller = await signIn('seller');
        const other = await signIn('seller');
        const p = await createProduct(seller);
        assert.equal((await request('GET', `/api/products/${p.id}`)).statusCode, 404);
        assert.equal((await request('GET', `/api/products/${p.id}`, other)).statusCode, 404);
        assert.equal((await request('GET', `/api/products/${p.id}`, seller)).statusCode, 200);
        assert.deepEqual((await list(`seller=${seller.userId}`)).items, []);
        assert.deepEqual(
          (await list(`seller=${seller.userId}`, seller)).items,
          [],
          'public lists omit drafts',
        );

        const own = await request('GET', '/api/seller/products', seller);
        assert.equal(own.statusCode, 200);
        assert.deepEqual(
          own.json().items.map((x: Product) => x.id),
          [p.id],
        );
        assert.deepEqual((await request('GET', '/api/seller/products', other)).json().items, []);

        await request('PATCH', `/api/products/${p.id}`, seller, { status: 'published' });
        assert.equal((await request('GET', `/api/products/${p.id}`)).statusCode, 200);
        assert.deepEqual(
          (await list(`seller=${seller.userId}`)).items.map((x) => x.id),
          [p.id],
        );
      });

      it("when the seller's own listing is filtered or paged, then drafts and published come newest first", async () => {
        const seller = await signIn('seller');
        const made: Product[] = [];
        for (let i = 0; i < 5; i++) {
          made.push(
            await createProduct(seller, { status: i % 2 ? 'published' : 'draft', title: `Own ${i}` }),
          );
        }
        const first = await request('GET', '/api/seller/products?limit=3', seller);
        const page1 = first.json() as Page;
        assert.equal(page1.items.length, 3);
        assert.ok(page1.nextCursor);
        const second = await request(
          'GET',
          `/api/seller/products?limit=3&cursor=${page1.nextCursor}`,
          seller,
        );
        const all = [...page1.items, ...(second.json() as Page).items];
        assert.deepEqual(
          all.map((x) => x.id),
          made.map((x) => x.id).reverse(),
        );
        const drafts = (await request('GET', '/api/seller/products?status=draft', seller)).json() as Page;
        assert.deepEqual(
          drafts.items.map((x) => x.title),
          ['Own 4', 'Own 2', 'Own 0'],
        );
      });

      it('when a buyer or anonymous visitor asks for seller products, then 403 or 401', async () => {
        assert.equal(
          assertProblem(await request('GET', '/api/seller/products', await signIn('buyer'))).status,
          403,
        );
        assert.equal(assertProblem(await request('GET', '/api/seller/products')).status, 401);
      });
    });

    describe('listing', () => {
      let seller: string;
      let rows: ProductSeed[];

      before(async () => {
        // 23 published products with ties on price and on creation time, plus drafts that must
        // never appear, inserted through the seeder's bulk path.
        seller = uuidv7();
        const base = Date.parse('2024-05-01T12:00:00.000Z');
        const categories = [KITCHEN, FURNITURE, HOME, FICTION];
        rows = Array.from({ length: 23 }, (_, i) => ({
          id: uuidv7(),
          sellerId: seller,
          categoryId: categories[i % categories.length]!,
          title: `Listing item ${i}`,
          priceMinor: [500, 100, 500, 2500, 100][i % 5]!,
          status: 'published' as const,
          createdAt: new Date(base + Math.floor(i / 3) * 1000),
        }));
        const drafts: ProductSeed[] = [0, 1, 2].map((i) => ({
          sellerId: seller,
          categoryId: KITCHEN,
          title: `Draft ${i}`,
          priceMinor: 300,
        }));
        const seeder = createCatalogSeeder(t.platform);
        assert.equal(await seeder.insertProducts([...rows, ...drafts]), 26);
      });

      const byKey =
        (key: (r: ProductSeed) => number, dir: 1 | -1) =>
        (a: ProductSeed, b: ProductSeed): number =>
          (key(a) - key(b)) * dir || (a.id! < b.id! ? -dir : a.id! > b.id! ? dir : 0);
      const expected: Record<string, (a: ProductSeed, b: ProductSeed) => number> = {
        newest: byKey((r) => r.createdAt!.getTime(), -1),
        price_asc: byKey((r) => r.priceMinor, 1),
        price_desc: byKey((r) => r.priceMinor, -1),
      };

      for (const sort of ['newest', 'price_asc', 'price_desc']) {
        it(`when every page of sort=${sort} is followed, then the products come in order, each once`, async () => {
          const want = [...rows].sort(expected[sort]).map((r) => r.id);
          for (const limit of [1, 4, 7, 23, 100]) {
            const got = await walk(`seller=${seller}&sort=${sort}`, limit);
            assert.deepEqual(
              got.map((p) => p.id),
              want,
              `limit ${limit}`,
            );
          }
        });
      }

      it('when no sort is given, then newest first is the default', async () => {
        const page = await list(`seller=${seller}&limit=100`);
        assert.deepEqual(
          page.items.map((p) => p.id),
          [...rows].sort(expected['newest']).map((r) => r.id),
        );
        assert.equal(page.nextCursor, null);
      });

      it('when a child category is listed by id or slug, then only its products come', async () => {
        const want = rows.filter((r) => r.categoryId === KITCHEN).sort(expected['price_asc']);
        for (const category of [KITCHEN, KITCHEN.toUpperCase(), 'kitchen-dining']) {
          const got = await walk(`seller=${seller}&category=${category}&sort=price_asc`, 2);
          assert.deepEqual(
            got.map((p) => p.id),
            want.map((r) => r.id),
            category,
          );
        }
      });

      it('when a top-level category is listed, then its own and its children’s products come', async () => {
        const want = rows.filter((r) => r.categoryId !== FICTION).sort(expected['newest']);
        for (const category of [HOME, 'home-kitchen']) {
          const got = await walk(`seller=${seller}&category=${category}`, 5);
          assert.deepEqual(
            got.map((p) => p.id),
            want.map((r) => r.id),
          );
        }
      });

      it('when the category does not exist, then 404', async () => {
        for (const category of ['no-such-category', uuidv7()]) {
          assert.equal(
            assertProblem(await request('GET', `/api/products?category=${category}`)).code,
            'NOT_FOUND',
          );
        }
      });

      it('when the page size is out of range, then 400, and the default is 20', async () => {
        for (const limit of ['101', '0', '-1', 'ten', '2.5']) {
          assert.equal(
            assertProblem(await request('GET', `/api/products?limit=${limit}`)).code,
            'INVALID_INPUT',
          );
        }
        const page = await list(`seller=${seller}`);
        assert.equal(page.items.length, 20);
        assert.ok(page.nextCursor);
        assert.equal((await list(`seller=${seller}&limit=100`)).items.length, 23);
      });

      it('when the cursor is tampered with or belongs to another sort, then 400 INVALID_INPUT', async () => {
        const page = await list(`seller=${seller}&limit=2&sort=price_asc`);
        const good = page.nextCursor!;
        const b64 = (v: unknown) =>
          Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
        const decoded = JSON.parse(Buffer.from(good, 'base64url').toString()) as Record<string, unknown>;
        const id = decoded['id'];
        const bad = [
          good.slice(0, -3),
          `${good}x`,
          'AAAA',
          b64('not json'),
          b64('[]'),
          b64('null'),
          b64({ ...decoded, k: '1' }),
          b64({ ...decoded, k: -1 }),
          b64({ ...decoded, k: 1e12 }),
          b64({ ...decoded, k: 1.5 }),
          b64({ ...decoded, id: "1' or '1'='1" }),
          b64({ ...decoded, extra: 1 }),
          b64({ s: 'newest', k: 'yesterday', id }),
          b64({ s: 'newest', k: '2024-13-45T99:99:99.999Z', id }),
          b64({ s: 'relevance', k: 1e300, id }),
          'a'.repeat(600),
          '%00',
        ];
        for (const cursor of bad) {
          const res = await request(
            'GET',
            `/api/products?seller=${seller}&sort=price_asc&cursor=${encodeURIComponent(cursor)}`,
          );
          assert.equal(assertProblem(res).code, 'INVALID_INPUT', cursor);
        }
        const otherSort = await request('GET', `/api/products?seller=${seller}&sort=newest&cursor=${good}`);
        assert.equal(assertProblem(otherSort).code, 'INVALID_INPUT');
        const relevance = await request('GET', `/api/products?sort=relevance&q=mug&cursor=${good}`);
        assert.equal(assertProblem(relevance).code, 'INVALID_INPUT');
      });

      it('when the query is not understood, then 400', async () => {
        for (const query of [
          'sort=cheapest',
          'sort=relevance',
          'seller=not-a-uuid',
          'category=Bad%20Slug',
          'colour=red',
          `q=${'x'.repeat(201)}`,
        ]) {
          assert.equal(
            assertProblem(await request('GET', `/api/products?${query}`)).code,
            'INVALID_INPUT',
            query,
          );
        }
      });
    });

    describe('bad input', () => {
      let seller: Who;
      let existing: Product;
      before(async () => {
        seller = await signIn('seller');
        existing = await createProduct(seller, { status: 'published' });
      });

      const valid = { categoryId: KITCHEN, title: 'Valid', priceMinor: 100 };
      const attrs = (n: number, len = 1) =>
        Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v'.repeat(len)]));
      const badBodies: [string, unknown, string][] = [
        ['price as a string', { ...valid, priceMinor: '100' }, 'INVALID_INPUT'],
        ['price as a fraction', { ...valid, priceMinor: 1.5 }, 'INVALID_INPUT'],
        ['a negative price', { ...valid, priceMinor: -1 }, 'INVALID_INPUT'],
        ['a price over the maximum', { ...valid, priceMinor: 100_000_000 }, 'INVALID_INPUT'],
        ['an unknown field', { ...valid, sellerId: uuidv7() }, 'INVALID_INPUT'],
        ['a missing title', { categoryId: KITCHEN, priceMinor: 1 }, 'INVALID_INPUT'],
        ['an empty title', { ...valid, title: '' }, 'INVALID_INPUT'],
        ['a blank title', { ...valid, title: '   ' }, 'INVALID_INPUT'],
        ['a title of 201 characters', { ...valid, title: 't'.repeat(201) }, 'INVALID_INPUT'],
        ['a NUL in the title', { ...valid, title: 'a\u0000b' }, 'INVALID_INPUT'],
        ['a description of 5001 characters', { ...valid, description: 'd'.repeat(5001) }, 'INVALID_INPUT'],
        ['a lower-case currency', { ...valid, currency: 'usd' }, 'INVALID_INPUT'],
        ['a four-letter currency', { ...valid, currency: 'USDT' }, 'INVALID_INPUT'],
        ['a negative stock', { ...valid, stock: -1 }, 'INVALID_INPUT'],
        ['a stock over the maximum', { ...valid, stock: 1_000_001 }, 'INVALID_INPUT'],
        ['an unknown status', { ...valid, status: 'archived' }, 'INVALID_INPUT'],
        ['31 attributes', { ...valid, attributes: attrs(31) }, 'INVALID_INPUT'],
        ['attributes over 4 KB', { ...valid, attributes: attrs(30, 140) }, 'INVALID_INPUT'],
        ['a nested attribute', { ...valid, attributes: { a: { b: 1 } } }, 'INVALID_INPUT'],
        ['an array attribute', { ...valid, attributes: { a: [1] } }, 'INVALID_INPUT'],
        ['a null attribute', { ...valid, attributes: { a: null } }, 'INVALID_INPUT'],
        ['a NUL in an attribute key', { ...valid, attributes: { 'a\u0000': 'x' } }, 'INVALID_INPUT'],
        ['attributes as an array', { ...valid, attributes: [] }, 'INVALID_INPUT'],
        ['a category id that is not a UUID', { ...valid, categoryId: 'kitchen-dining' }, 'INVALID_INPUT'],
        ['an unknown category id', { ...valid, categoryId: uuidv7() }, 'UNKNOWN_CATEGORY'],
        ['an array body', [valid], 'INVALID_INPUT'],
      ];

      for (const [what, body, code] of badBodies) {
        it(`when a product is created with ${what}, then ${code} and nothing is written`, async () => {
          const before = await countProducts();
          const res = await request('POST', '/api/products', seller, body);
          assert.equal(assertProblem(res).code, code, res.body);
          assert.equal(await countProducts(), before);
        });
      }

      it('when an update carries bad input, then 4xx and the product is unchanged', async () => {
        const bodies: [unknown, string][] = [
          [{}, 'INVALID_INPUT'],
          [{ priceMinor: '5' }, 'INVALID_INPUT'],
          [{ priceMinor: -5 }, 'INVALID_INPUT'],
          [{ title: '   ' }, 'INVALID_INPUT'],
          [{ sellerId: uuidv7() }, 'INVALID_INPUT'],
          [{ id: uuidv7() }, 'INVALID_INPUT'],
          [{ currency: 'eur' }, 'INVALID_INPUT'],
          [{ attributes: attrs(30, 140) }, 'INVALID_INPUT'],
          [{ categoryId: uuidv7(), title: 'Moved' }, 'UNKNOWN_CATEGORY'],
        ];
        for (const [body, code] of bodies) {
          const res = await request('PATCH', `/api/products/${existing.id}`, seller, body);
          assert.equal(assertProblem(res).code, code, JSON.stringify(body));
        }
        assert.deepEqual((await request('GET', `/api/products/${existing.id}`)).json(), existing);
      });

      it('when the body is not JSON, is empty or is not declared as JSON, then 400 or 415 and nothing is written', async () => {
        const before = await countProducts();
        const send = (payload: string, contentType: string) =>
          t.app.inject({
            method: 'POST',
            url: '/api/products',
            headers: { cookie: seller.cookie, 'content-type': contentType },
            payload,
          });
        assert.equal(assertProblem(await send('{"title": ', 'application/json')).code, 'MALFORMED_JSON');
        assert.equal(assertProblem(await send('', 'application/json')).status, 400);
        assert.equal(assertProblem(await send(JSON.stringify(valid), 'text/plain')).status, 415);
        assert.equal(assertProblem(await send('title=x', 'application/x-www-form-urlencoded')).status, 415);
        assert.equal(await countProducts(), before);
      });

      it('when the id in the path is not a UUID, then 400', async () => {
        for (const id of ['123', 'not-a-uuid', `${existing.id}0`, "1'%20or%20'1'='1"]) {
          assert.equal(assertProblem(await request('GET', `/api/products/${id}`)).code, 'INVALID_INPUT');
          assert.equal(
            assertProblem(await request('PATCH', `/api/products/${id}`, seller, { stock: 1 })).code,
            'INVALID_INPUT',
          );
          assert.equal(
            assertProblem(await request('DELETE', `/api/products/${id}`, seller)).code,
            'INVALID_INPUT',
          );
        }
      });

      it('when the bulk insert gets an invalid row or an unknown category, then it inserts none of them', async () => {
        const seeder = createCatalogSeeder(t.platform);
        const before = await countProducts();
        const good = { sellerId: uuidv7(), categoryId: KITCHEN, title: 'Bulk', priceMinor: 1 };
        await assert.rejects(
          seeder.insertProducts([good, { ...good, priceMinor: -1 }]),
          (err: Error & { code?: string }) => err.code === 'INVALID_INPUT',
        );
        await assert.rejects(
          seeder.insertProducts([good, { ...good, categoryId: uuidv7() }]),
          (err: Error & { code?: string }) => err.code === 'UNKNOWN_CATEGORY',
        );
        assert.equal(await countProducts(), before);
      });
    });
  });
}
