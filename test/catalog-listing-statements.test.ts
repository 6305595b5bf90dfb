/**
 * What a category listing costs the database with CACHE=none, counted by the SQL port's query
 * counter (EXPOSE_COUNTERS=true: `x-db-queries`): one statement per page, the category lookup
 * answered from the rows the process holds, pages by cursor right, an unknown category still 404
 * and a category added after the rows were loaded still found. On PostgreSQL, with one pooled
 * connection, the listing statement is prepared by name and every page runs it (the server's
 * own count of its executions).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { Product } from '../src/modules/catalog/index.ts';
import { uuidv7 } from '../src/shared/ids.ts';
import { BACKENDS } from './support/engines.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

const HOME = '0190a8c0-0000-7000-8000-000000000100';
const KITCHEN = '0190a8c0-0000-7000-8000-000000000101';

type Page = { items: Product[]; nextCursor: string | null };
type Response = Awaited<ReturnType<TestApp['app']['inject']>>;

const queries = (res: Response): number => Number(res.headers['x-db-queries']);

for (const backend of BACKENDS) {
  describe(`category listings with CACHE=none on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    let seller: { userId: string; cookie: string };
    const db = () => t.platform.sql.for('catalog').write;
    const get = (url: string) => t.app.inject({ method: 'GET', url });

    async function listed(url: string): Promise<{ page: Page; statements: number }> {
      const res = await get(url);
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
      return { page: res.json(), statements: queries(res) };
    }

    before(async () => {
      // One pooled connection: the session asked for its prepared statements is the one that ran them.
      t = await startTestApp(backend, { CACHE: 'none', EXPOSE_COUNTERS: 'true', DATABASE_POOL_SIZE: '1' });
      const userId = uuidv7();
      const s = await t.platform.sessions.create({ userId, data: { role: 'seller' } });
      seller = { userId, cookie: `bazaar_session=${s.id}` };
      for (let n = 0; n < 5; n++) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/api/products',
          headers: { cookie: seller.cookie },
          payload: {
            categoryId: KITCHEN,
            title: `Listed mug ${n}`,
            priceMinor: 1000 + (n % 2) * 500,
            status: 'published',
          },
        });
        assert.equal(res.statusCode, 201, res.body);
      }
      // The process loads its category rows once, at its first lookup.
      await listed('/api/products?category=books');
    });
    after(async () => {
      await t?.close();
    });

    it('when a listing page is asked by category slug or id, then it runs exactly one statement', async () => {
      for (const url of [
        '/api/products?category=home-kitchen',
        '/api/products?category=kitchen-dining&sort=price_asc',
        `/api/products?category=${HOME}&sort=price_desc&limit=2`,
        `/api/products?category=${KITCHEN.toUpperCase()}&seller=${seller.userId}`,
      ]) {
        const { page, statements } = await listed(url);
        assert.equal(statements, 1, url);
        assert.equal(page.items.length > 0, true, url);
      }
    });

    it('when the next page is asked by cursor, then it runs one statement and continues in order', async () => {
      for (const sort of ['newest', 'price_asc', 'price_desc'] as const) {
        const whole = (await listed(`/api/products?category=home-kitchen&sort=${sort}&limit=100`)).page.items;
        const first = await listed(`/api/products?category=home-kitchen&sort=${sort}&limit=2`);
        assert.ok(first.page.nextCursor, sort);
        const second = await listed(
          `/api/products?category=home-kitchen&sort=${sort}&limit=2&cursor=${first.page.nextCursor}`,
        );
        assert.equal(second.statements, 1, sort);
        assert.deepEqual(
          [...first.page.items, ...second.page.items].map((p) => p.id),
          whole.slice(0, 4).map((p) => p.id),
          sort,
        );
      }
    });

    it('when the category is unknown, then 404; when one is added after the rows were loaded, then it is found', async () => {
      const unknown = await get('/api/products?category=no-such-category');
      assert.equal(unknown.statusCode, 404, unknown.body);
      const id = uuidv7();
      await sql`insert into catalog.categories (id, parent_id, slug, name)
                values (${id}, ${HOME}, 'added-later', 'Added later')`.execute(db());
      const byId = await listed(`/api/products?category=${id}`);
      assert.deepEqual(byId.page.items, []);
      const bySlug = await listed('/api/products?category=added-later');
      assert.deepEqual(bySlug.page.items, []);
      assert.equal(bySlug.statements, 1, 'found once, then held');
    });

    it('when listings run on PostgreSQL, then the listing statement is prepared by name and runs once per page', {
      skip: backend.name === 'postgres' ? undefined : 'PGlite does not prepare by name',
    }, async () => {
      const executions = async () => {
        const { rows } = await sql<{ statement: string; runs: number }>`
          select statement, (generic_plans + custom_plans)::int as runs from pg_prepared_statements
          where name like 'bazaar\\_%' and statement like '%top_category_id" = $1%'
            and statement like '%order by "created_at" desc%' and statement not like '%created_at", "id") <%'
        `.execute(t.platform.sql.for('catalog').read);
        assert.equal(rows.length, 1, JSON.stringify(rows));
        return rows[0]!.runs;
      };
      await listed('/api/products?category=home-kitchen');
      const before = await executions();
      for (let n = 0; n < 3; n++) await listed('/api/products?category=home-kitchen');
      assert.equal((await executions()) - before, 3);
    });
  });
}
