/**
 * Judged relevance: on a small fixed catalog (demo products from the seeder's generator, plus
 * products written for the judgement, older than all of them), each query names the products
 * that must be on its first page and those that must not be. Also: while a query has at most
 * SEARCH_CANDIDATES matches, its pages are exactly the order of `ts_rank` over every match (the
 * ranking of a bounded candidate set loses nothing then); past that, relevance pages end after
 * SEARCH_CANDIDATES results, the newest matches, without a repeat. Runs on every SQL backend.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { demoProduct, prng } from '../src/apps/seed-data.ts';
import {
  createCatalogSeeder,
  type Product,
  type ProductSeed,
  SEARCH_CANDIDATES,
} from '../src/modules/catalog/index.ts';
import { toPrefixTsQuery } from '../src/modules/catalog/search.ts';
import { BACKENDS } from './support/engines.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

const KITCHEN = '0190a8c0-0000-7000-8000-000000000101';
const WOMENS = '0190a8c0-0000-7000-8000-000000000201';
const SHOES = '0190a8c0-0000-7000-8000-000000000203';
const NONFICTION = '0190a8c0-0000-7000-8000-000000000402';
const CAMPING = '0190a8c0-0000-7000-8000-000000000501';
const SELLER = '01900000-0000-7000-8000-00000000beef';
const T0 = Date.UTC(2024, 0, 1);

const id = (group: number, n: number) => `01900000-0000-7000-8${group}00-${String(n).padStart(12, '0')}`;

/** The judged products: [key, title, description, category]. */
const JUDGED: [string, string, string, string][] = [
  ['stoneware-mug', 'Hand-thrown stoneware mug', 'A mug for slow mornings, glazed inside', KITCHEN],
  ['teapot', 'Teapot', 'Pairs well with our stoneware mug', KITCHEN],
  ['ocean-scarf', 'Ocean blue linen scarf', 'Light linen, dyed deep blue', WOMENS],
  ['trail-shoes', 'Trail running shoes', 'Grippy soles for muddy trails', SHOES],
  ['espresso', 'Espresso cups, set of two', 'Small porcelain cups', KITCHEN],
  ['journal', 'Leather travel journal', 'A notebook bound in leather, for the road', NONFICTION],
  ['wool-socks', 'Wool socks', 'Warm socks, red and grey stripes', WOMENS],
  ['red-mug', 'Red enamel mug', 'Camp mug, chip-resistant', CAMPING],
  ['quokka-plush', 'Quokka plush', 'A soft toy', CAMPING],
];
const key = new Map(JUDGED.map(([k, title]) => [title, k]));

/** Query → keys that must be on the first page (20 results), and keys that must not be. */
const JUDGEMENTS: { q: string; must: string[]; mustNot?: string[]; before?: [string, string][] }[] = [
  { q: 'stoneware mug', must: ['stoneware-mug', 'teapot'], before: [['stoneware-mug', 'teapot']] },
  { q: 'mug', must: ['stoneware-mug'], mustNot: ['secret'] },
  { q: 'ocean blue scarf', must: ['ocean-scarf'] },
  { q: 'RUNNING SHOE', must: ['trail-shoes'] },
  { q: 'espr', must: ['espresso'] },
  { q: 'travel journal', must: ['journal'] },
  { q: 'leather journal', must: ['journal'] },
  { q: 'wool socks', must: ['wool-socks'] },
  { q: 'the wool socks', must: ['wool-socks'] },
  { q: 'socks zebra', must: [], mustNot: ['wool-socks'] },
  { q: 'red mu', must: ['red-mug'], mustNot: ['wool-socks'] },
  { q: 'red m', must: ['red-mug', 'wool-socks'] },
  { q: 'quokka pl', must: ['quokka-plush'] },
];

const judgedRows: ProductSeed[] = JUDGED.map(([, title, description, categoryId], i) => ({
  id: id(1, i + 1),
  sellerId: SELLER,
  categoryId,
  title,
  description,
  priceMinor: 1000,
  status: 'published' as const,
  createdAt: new Date(T0 + i * 1000),
}));
const draft: ProductSeed = {
  id: id(1, 99),
  sellerId: SELLER,
  categoryId: KITCHEN,
  title: 'Secret stoneware mug',
  priceMinor: 100,
};
key.set('Secret stoneware mug', 'secret');

/** The seeder's demo products, all newer than the judged ones: competition for every query. */
const random = prng(7);
const leaves = [KITCHEN, WOMENS, SHOES, NONFICTION, CAMPING].map((categoryId, i) => ({
  id: categoryId,
  name: ['Kitchen & Dining', "Women's Clothing", 'Shoes', 'Non-fiction', 'Camping & Hiking'][i]!,
}));
const fillerRows: ProductSeed[] = Array.from({ length: 300 }, (_, i) => ({
  ...demoProduct(random, leaves[i % leaves.length]!),
  id: id(2, i + 1),
  sellerId: SELLER,
  status: 'published' as const,
  createdAt: new Date(T0 + 86_400_000 + i * 1000),
}));

/**
 * More "okapi" matches than relevance ranks, all older than every other product: a query rare
 * among the newest products, whose candidates come from the whole index.
 */
const okapiRows: ProductSeed[] = Array.from({ length: SEARCH_CANDIDATES + 40 }, (_, i) => ({
  id: id(4, i + 1),
  sellerId: SELLER,
  categoryId: CAMPING,
  title: `Okapi lantern ${i + 1}`,
  priceMinor: 2500,
  status: 'published' as const,
  createdAt: new Date(T0 - 86_400_000 + i * 1000),
}));

/** More "quokka" matches than relevance ranks, all newer than the judged "Quokka plush". */
const quokkaRows: ProductSeed[] = Array.from({ length: SEARCH_CANDIDATES + 25 }, (_, i) => ({
  id: id(3, i + 1),
  sellerId: SELLER,
  categoryId: CAMPING,
  title: `Camp mug ${i + 1}`,
  description: 'Seen on a quokka trip',
  priceMinor: 1500,
  status: 'published' as const,
  createdAt: new Date(T0 + 2 * 86_400_000 + i * 1000),
}));

for (const backend of BACKENDS) {
  describe(`search relevance on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend);
      await createCatalogSeeder(t.platform).insertProducts([...judgedRows, draft, ...fillerRows]);
    });
    after(async () => {
      await t?.close();
    });

    async function page(query: string): Promise<{ items: Product[]; nextCursor: string | null }> {
      const res = await t.app.inject({ method: 'GET', url: `/api/products?${query}` });
      assert.equal(res.statusCode, 200, res.body);
      return res.json();
    }

    async function all(query: string, limit: number): Promise<string[]> {
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const p = await page(`${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
        ids.push(...p.items.map((x) => x.id));
        cursor = p.nextCursor;
      } while (cursor);
      return ids;
    }

    it('when a search is sorted by newest or price, then it admits exactly the products the whole query matches', async () => {
      for (const q of ['red mu', 'red m', 'quokka pl', 'wool socks', 'the mu']) {
        const tsquery = toPrefixTsQuery(q)!;
        const r = await sql<{ id: string }>`
          select id from catalog.products
          where status = 'published' and search @@ to_tsquery('english', ${tsquery})`.execute(
          t.platform.sql.for('catalog').read,
        );
        const expected = r.rows.map((x) => x.id).sort();
        for (const sort of ['newest', 'price_asc']) {
          const got = await all(`q=${encodeURIComponent(q)}&sort=${sort}`, 50);
          assert.deepEqual([...got].sort(), expected, `${q}, ${sort}`);
        }
      }
    });

    it('when a judged query is searched, then its products are on the first page and the unwanted are not', async () => {
      for (const j of JUDGEMENTS) {
        const { items } = await page(`q=${encodeURIComponent(j.q)}`);
        const keys = items.map((p) => key.get(p.title) ?? 'demo');
        for (const k of j.must) assert.ok(keys.includes(k), `${j.q}: ${k} missing from ${keys.join(', ')}`);
        for (const k of j.mustNot ?? []) assert.ok(!keys.includes(k), `${j.q}: ${k} is there`);
        for (const [a, b] of j.before ?? []) {
          assert.ok(keys.indexOf(a) < keys.indexOf(b), `${j.q}: ${a} after ${b}`);
        }
      }
    });

    it('when a query has at most SEARCH_CANDIDATES matches, then its pages are ts_rank over every match', async () => {
      for (const q of [
        'mug',
        'wool',
        'ocean blue',
        'stoneware mug',
        'gift',
        'travel journal',
        'red mu',
        'quokka',
      ]) {
        const tsquery = toPrefixTsQuery(q)!;
        const r = await sql<{ id: string }>`
          select id from catalog.products
          where status = 'published' and search @@ to_tsquery('english', ${tsquery})
          order by ts_rank(search, to_tsquery('english', ${tsquery})) desc, id desc`.execute(
          t.platform.sql.for('catalog').read,
        );
        assert.ok(r.rows.length > 0 && r.rows.length <= SEARCH_CANDIDATES, `${q}: ${r.rows.length} matches`);
        const expected = r.rows.map((x) => x.id);
        assert.deepEqual(await all(`q=${encodeURIComponent(q)}`, 7), expected, q);
      }
    });

    it('when a query has more matches than SEARCH_CANDIDATES, then relevance pages hold the newest that many, each once', async () => {
      await createCatalogSeeder(t.platform).insertProducts([...quokkaRows]);
      for (const limit of [100, 30]) {
        const got = await all('q=quokka', limit);
        assert.equal(got.length, SEARCH_CANDIDATES, `limit ${limit}`);
        assert.equal(new Set(got).size, got.length, 'no product twice');
        const newest = quokkaRows.slice(-SEARCH_CANDIDATES).map((r) => r.id!);
        assert.deepEqual([...got].sort(), [...newest].sort(), 'the newest matches');
      }
      // The bound is relevance's only: the older title match is reached by another order.
      const byNewest = await all('q=quokka&sort=newest', 100);
      assert.equal(byNewest.length, quokkaRows.length + 1);
      assert.equal(byNewest.at(-1), judgedRows.at(-1)!.id);
    });

    it('when a query matches none of the newest products but many older ones, then relevance pages hold the newest that many', async () => {
      await createCatalogSeeder(t.platform).insertProducts([...okapiRows]);
      const got = await all('q=okapi', 100);
      assert.equal(new Set(got).size, SEARCH_CANDIDATES);
      const newest = okapiRows.slice(-SEARCH_CANDIDATES).map((r) => r.id!);
      assert.deepEqual([...got].sort(), [...newest].sort());
    });
  });
}
