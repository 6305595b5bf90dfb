/**
 * Full-text search over HTTP on every SQL backend, on one fixed data set (fixed ids, so results
 * compare across backends): ranking, prefix matching, pagination by rank, filters, and hostile
 * query text that must never reach SQL as syntax nor cause a 5xx.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createCatalogSeeder, type Product, type ProductSeed } from '../src/modules/catalog/index.ts';
import { BACKENDS } from './support/engines.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

const KITCHEN = '0190a8c0-0000-7000-8000-000000000101';
const HOME_DECOR = '0190a8c0-0000-7000-8000-000000000103';
const FASHION_SHOES = '0190a8c0-0000-7000-8000-000000000203';
const WOMENS = '0190a8c0-0000-7000-8000-000000000201';
const BOOKS_NONFICTION = '0190a8c0-0000-7000-8000-000000000402';
const CAMPING = '0190a8c0-0000-7000-8000-000000000501';
const SELLER = '01900000-0000-7000-8000-00000000beef';

const DATA: [string, string, string, number][] = [
  // title, description, category, price
  ['Red mug', 'A sturdy stoneware mug for coffee', KITCHEN, 1200],
  ['Blue mug', 'Glazed mug, dishwasher safe', KITCHEN, 1200],
  ['Teapot', 'Pairs well with our red mug and saucers', KITCHEN, 3500],
  ['Coffee grinder', 'Burr grinder for espresso and filter coffee', KITCHEN, 6000],
  ['Espresso cups, set of two', 'Small cups for espresso', KITCHEN, 1800],
  ['Mugwort tea', 'Herbal tea, loose leaf', KITCHEN, 900],
  ['Running shoes', 'Lightweight shoes for road running', FASHION_SHOES, 8900],
  ['Trail running shoes', 'Grippy soles for muddy trails', FASHION_SHOES, 9900],
  ['Red scarf', 'Wool scarf in deep red', WOMENS, 2500],
  ['Wool socks', 'Warm socks, red and grey stripes', WOMENS, 900],
  ['Museum poster', 'Print of a red mural', HOME_DECOR, 1500],
  ['Coffee table book', 'Photographs of coffee farms', BOOKS_NONFICTION, 4000],
  ['Ceramic bowl', 'Hand-thrown bowl, matches the red mug', KITCHEN, 2200],
  ['Camping mug', 'Enamel mug for camping trips; light and tough', CAMPING, 1200],
  ['Mug', '', KITCHEN, 800],
  ['Mugs, set of four', 'Four stacking mugs', KITCHEN, 3000],
  ['Café crème cup', 'For café au lait', KITCHEN, 1400],
];

const ROWS: ProductSeed[] = DATA.map(([title, description, categoryId, priceMinor], i) => ({
  id: `01900000-0000-7000-8000-${String(i + 1).padStart(12, '0')}`,
  sellerId: SELLER,
  categoryId,
  title,
  description,
  priceMinor,
  status: 'published' as const,
  createdAt: new Date(Date.UTC(2024, 0, 1, 0, 0, i)),
}));
const DRAFT: ProductSeed = {
  id: '01900000-0000-7000-8000-0000000000ff',
  sellerId: SELLER,
  categoryId: KITCHEN,
  title: 'Secret red mug',
  priceMinor: 100,
};

/** Titles in result order, per backend and query, to compare the backends at the end. */
const seen = new Map<string, Map<string, string[]>>();

for (const backend of BACKENDS) {
  describe(`catalog search on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    const results = new Map<string, string[]>();
    before(async () => {
      t = await startTestApp(backend);
      await createCatalogSeeder(t.platform).insertProducts([...ROWS, DRAFT]);
      seen.set(backend.name, results);
    });
    after(async () => {
      await t?.close();
    });

    async function search(query: string): Promise<{ items: Product[]; nextCursor: string | null }> {
      const res = await t.app.inject({ method: 'GET', url: `/api/products?${query}` });
      assert.equal(res.statusCode, 200, res.body);
      return res.json();
    }

    /** Titles of every result, following cursors with the given page size. */
    async function titles(query: string, limit = 100): Promise<string[]> {
      const out: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await search(`${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
        out.push(...page.items.map((p) => p.title));
        cursor = page.nextCursor;
      } while (cursor);
      results.set(`${query} (limit ${limit})`, out);
      return out;
    }

    async function state(): Promise<{ n: number; table: string | null }> {
      const r = await sql<{ n: number; table: string | null }>`
        select (select count(*)::int from catalog.products) as n,
               to_regclass('catalog.products')::text as table`.execute(t.platform.sql.for('catalog').write);
      return r.rows[0]!;
    }

    it('when a word is in some titles and other descriptions, then title matches rank first', async () => {
      const got = await titles('q=mug');
      // More occurrences rank higher; equal ranks (Camping, Blue, Red) fall back to id, newest first;
      // a prefix match (Mugwort) counts like a word.
      assert.deepEqual(got, [
        'Mugs, set of four',
        'Camping mug',
        'Blue mug',
        'Red mug',
        'Mug',
        'Mugwort tea',
        'Ceramic bowl',
        'Teapot',
      ]);
      const descriptionOnly = ['Ceramic bowl', 'Teapot'];
      const lastTitleMatch = Math.max(
        ...got.filter((x) => !descriptionOnly.includes(x)).map((x) => got.indexOf(x)),
      );
      assert.ok(descriptionOnly.every((x) => got.indexOf(x) > lastTitleMatch));
      assert.ok(!got.includes('Secret red mug'), 'drafts are never found');
    });

    it('when the last word is unfinished, then it matches as a prefix (after other words, from its second character)', async () => {
      const got = await titles('q=red%20mug');
      assert.equal(got[0], 'Red mug');
      assert.deepEqual([...got].sort(), ['Ceramic bowl', 'Red mug', 'Teapot']);
      assert.deepEqual([...(await titles('q=red%20mus'))], ['Museum poster']);
      assert.deepEqual(await titles('q=espr'), ['Espresso cups, set of two', 'Coffee grinder']);
      assert.deepEqual(await titles('q=Caf%C3%A9%20cr%C3%A8'), ['Café crème cup']);
      assert.deepEqual([...(await titles('q=red%20mu'))].sort(), [
        'Ceramic bowl',
        'Museum poster',
        'Red mug',
        'Teapot',
      ]);
      assert.deepEqual(await titles('q=Caf%C3%A9%20cr'), ['Café crème cup']);
      // A single character after other words waits for the next one.
      assert.deepEqual(await titles('q=red%20m'), await titles('q=red'));
      // A lone word of one or two characters is a whole word: 'mu' is no word of this catalog.
      assert.deepEqual(await titles('q=mu'), []);
    });

    it('when words are stemmed or cased differently, then they still match', async () => {
      assert.deepEqual(await titles('q=RUNNING%20SHOE'), ['Running shoes', 'Trail running shoes']);
      assert.deepEqual(await titles('q=the%20coffee'), ['Coffee table book', 'Coffee grinder', 'Red mug']);
    });

    it('when search results are paged, then the pages hold the same results in the same order', async () => {
      for (const q of ['mug', 'red', 'mug%20red', 'coffee']) {
        const all = await titles(`q=${q}`);
        for (const limit of [1, 2, 3]) {
          assert.deepEqual(await titles(`q=${q}`, limit), all, `${q} by ${limit}`);
        }
      }
    });

    it('when ranks are computed, then every match has a positive rank (compared across backends below)', async () => {
      for (const query of ['mug:*', 'red & mug:*', 'coffee:*', 'run:*']) {
        const r = await sql<{ id: string; rank: string }>`
          select id, ts_rank(search, to_tsquery('english', ${query}))::text as rank
          from catalog.products where search @@ to_tsquery('english', ${query}) order by id`.execute(
          t.platform.sql.for('catalog').read,
        );
        assert.ok(r.rows.length > 0 && r.rows.every((x) => Number(x.rank) > 0), query);
        results.set(
          `ts_rank ${query}`,
          r.rows.map((x) => `${x.id} ${x.rank}`),
        );
      }
    });

    it('when search is combined with a category, a seller or a price order, then all apply', async () => {
      assert.deepEqual(await titles(`q=mug&category=camping-hiking`), ['Camping mug']);
      assert.deepEqual(await titles(`q=mug&category=home-kitchen&sort=price_asc`, 2), [
        'Mug',
        'Mugwort tea',
        'Red mug',
        'Blue mug',
        'Ceramic bowl',
        'Mugs, set of four',
        'Teapot',
      ]);
      assert.deepEqual(await titles(`q=red&sort=newest&seller=${SELLER}`, 2), [
        'Ceramic bowl',
        'Museum poster',
        'Wool socks',
        'Red scarf',
        'Teapot',
        'Red mug',
      ]);
      assert.deepEqual(await titles('q=red&seller=01900000-0000-7000-8000-000000000000'), []);
    });

    it('when the query has only stop words or blanks, then stop words find nothing and blanks list everything', async () => {
      assert.deepEqual(await titles('q=the'), []);
      assert.deepEqual(await titles('q=the%20and%20of'), []);
      assert.equal((await titles('q=%20%20')).length, ROWS.length, 'a blank q is no search');
    });

    const hostile = [
      "'",
      '&',
      '|',
      '!',
      ':*',
      '\\',
      "'; drop table catalog.products; --",
      'a & | b',
      '(((',
      ')))',
      'mug:*',
      'mug & !red',
      'mug <-> red',
      'mug:A',
      '"mug"',
      '%',
      '_',
      '🙂 mug 🙂',
      'ж٣ ²',
      '\u202e\u200b',
      'x'.repeat(200),
      Array.from({ length: 60 }, (_, i) => `w${i}`)
        .join(' ')
        .slice(0, 200),
    ];

    it('when the query text is hostile, then 200 with a list, never an error, and nothing changes', async () => {
      const before = await state();
      for (const q of hostile) {
        const res = await t.app.inject({ method: 'GET', url: `/api/products?q=${encodeURIComponent(q)}` });
        assert.equal(res.statusCode, 200, `${JSON.stringify(q)}: ${res.body}`);
        assert.ok(Array.isArray(res.json().items));
      }
      assert.deepEqual(await state(), before);
      assert.equal(before.table, 'catalog.products');
    });

    it('when the query text holds NUL, then 400 problem+json and nothing changes', async () => {
      const before = await state();
      for (const q of ['\u0000', 'mug\u0000red']) {
        const res = await t.app.inject({ method: 'GET', url: `/api/products?q=${encodeURIComponent(q)}` });
        assert.equal(res.statusCode, 400, res.body);
        assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
        assert.equal(res.json().code, 'INVALID_INPUT');
      }
      assert.deepEqual(await state(), before);
    });

    it('when the query text is longer than 200 characters, then 400 problem+json, even at 10 KB', async () => {
      for (const q of ['y'.repeat(201), 'z'.repeat(10 * 1024), "'; drop table x; --".repeat(600)]) {
        const res = await t.app.inject({ method: 'GET', url: `/api/products?q=${encodeURIComponent(q)}` });
        assert.equal(res.statusCode, 400);
        assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
        assert.equal(res.json().code, 'INVALID_INPUT');
      }
      assert.equal((await state()).n, ROWS.length + 1);
    });

    it('when a search cursor is tampered with, then 400', async () => {
      const page = await search('q=mug&limit=2');
      const decoded = JSON.parse(Buffer.from(page.nextCursor!, 'base64url').toString());
      for (const k of [-1, 1e300, 1e-300, 'high', null]) {
        const cursor = Buffer.from(JSON.stringify({ ...decoded, k })).toString('base64url');
        const res = await t.app.inject({ method: 'GET', url: `/api/products?q=mug&cursor=${cursor}` });
        assert.equal(res.statusCode, 400, `k=${k}`);
      }
    });
  });
}

describe('search on every backend', () => {
  it('when the same data is searched on PGlite and PostgreSQL, then the results are identical', (t) => {
    const [a, b] = [seen.get('pglite'), seen.get('postgres')];
    if (!a || !b) {
      t.skip('needs both backends (set DATABASE_URL)');
      return;
    }
    assert.ok(a.size > 10);
    assert.deepEqual([...b.entries()], [...a.entries()]);
  });
});
