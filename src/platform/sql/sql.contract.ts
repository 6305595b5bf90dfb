/**
 * The SQL port's contract. Every adapter runs it (test/sql.test.ts): PGlite always, PostgreSQL
 * whenever a server is reachable. Fixture domains ('alpha', 'beta', 'broken') stand in for
 * business domains so the suite does not depend on any module's schema.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Generated, sql } from 'kysely';
import type { Domain, MigrationSet, SqlPort } from './sql.ts';

const fixture = (name: string): MigrationSet => ({
  domain: name as Domain,
  dir: fileURLToPath(new URL(`../../../test/fixtures/migrations/${name}/`, import.meta.url)),
});

type AlphaDb = {
  items: {
    id: number;
    name: string;
    n: Generated<number>;
    doc: unknown;
    at: Generated<Date>;
    note: string | null;
  };
  counter: { id: number; value: number };
};
type BetaDb = { items: { id: number; name: string } };

export type SqlContractSubject = Readonly<{
  name: string;
  skip: string | undefined;
  /** A fresh empty database; `open` may be called several times to get independent ports on it. */
  setup(): Promise<{ open(): Promise<SqlPort>; teardown(): Promise<void> }>;
}>;

export function sqlContract(subject: SqlContractSubject): void {
  describe(`SQL port contract: ${subject.name}`, { skip: subject.skip }, () => {
    const withPort = async (fn: (port: SqlPort, open: () => Promise<SqlPort>) => Promise<void>) => {
      const db = await subject.setup();
      const port = await db.open();
      try {
        await fn(port, db.open);
      } finally {
        await port.close();
        await db.teardown();
      }
    };

    it('when migrations run twice, then each applies once and none is pending', () =>
      withPort(async (port) => {
        const sets = [fixture('alpha'), fixture('beta')];
        assert.deepEqual(await port.pending(sets), [
          'alpha/0001_items',
          'alpha/0002_more',
          'beta/0001_items',
        ]);
        const first = await port.migrate(sets);
        assert.deepEqual(
          first.map((r) => [r.domain, r.applied]),
          [
            ['alpha', ['0001_items', '0002_more']],
            ['beta', ['0001_items']],
          ],
        );
        const second = await port.migrate(sets);
        assert.deepEqual(
          second.map((r) => r.applied),
          [[], []],
        );
        assert.deepEqual(await port.pending(sets), []);
      }));

    it('when several ports migrate the same database at once, then every migration applies exactly once', () =>
      withPort(async (port, open) => {
        const others = [await open(), await open()];
        try {
          const reports = await Promise.all([port, ...others].map((p) => p.migrate([fixture('alpha')])));
          const applied = reports.flatMap((r) => r[0]!.applied).sort();
          assert.deepEqual(applied, ['0001_items', '0002_more']);
          const rows = await sql<{
            n: number;
          }>`select count(*)::int as n from alpha.kysely_migration`.execute(
            port.for('alpha' as Domain).write,
          );
          assert.equal(rows.rows[0]!.n, 2);
        } finally {
          await Promise.all(others.map((p) => p.close()));
        }
      }));

    it('when a migration fails, then the error names the file and the whole run is rolled back', () =>
      withPort(async (port) => {
        await assert.rejects(port.migrate([fixture('broken')]), /broken\/0002_fails\.sql/);
        assert.deepEqual(await port.pending([fixture('broken')]), ['broken/0001_ok', 'broken/0002_fails']);
        const exists = await sql<{ a: string | null; b: string | null }>`
          select to_regclass('broken.first')::text as a, to_regclass('broken.second')::text as b`.execute(
          port.for('broken' as Domain).write,
        );
        assert.deepEqual(exists.rows[0], { a: null, b: null });
      }));

    it('when two domains have a table of the same name, then each handle reaches only its own', () =>
      withPort(async (port) => {
        await port.migrate([fixture('alpha'), fixture('beta')]);
        const alpha = port.for<AlphaDb>('alpha' as Domain);
        const beta = port.for<BetaDb>('beta' as Domain);
        await alpha.write.insertInto('items').values({ id: 1, name: 'from alpha', n: 7 }).execute();
        await beta.write.insertInto('items').values({ id: 1, name: 'from beta' }).execute();
        assert.equal(
          (await alpha.read.selectFrom('items').select('name').executeTakeFirstOrThrow()).name,
          'from alpha',
        );
        assert.equal(
          (await beta.read.selectFrom('items').select('name').executeTakeFirstOrThrow()).name,
          'from beta',
        );
        assert.equal(port.for('alpha' as Domain), alpha, 'the same handle object for a domain');
      }));

    it('when values round-trip, then int8, jsonb and timestamptz come back as number, object and Date', () =>
      withPort(async (port) => {
        await port.migrate([fixture('alpha')]);
        const db = port.for<AlphaDb>('alpha' as Domain).write;
        const doc = { colour: 'red', sizes: [1, 2], nested: { ok: true } };
        await db
          .insertInto('items')
          .values({ id: 2, name: 'x', n: 2 ** 40, doc: JSON.stringify(doc) })
          .execute();
        const row = await db.selectFrom('items').selectAll().where('id', '=', 2).executeTakeFirstOrThrow();
        assert.equal(row.n, 2 ** 40);
        assert.deepEqual(row.doc, doc);
        assert.ok(row.at instanceof Date);
        const count = await db
          .selectFrom('items')
          .select((eb) => eb.fn.countAll<number>().as('c'))
          .executeTakeFirstOrThrow();
        assert.equal(count.c, 1);
      }));

    it('when a transaction throws, then none of its writes remain; when it returns, all do', () =>
      withPort(async (port) => {
        await port.migrate([fixture('alpha')]);
        const db = port.for<AlphaDb>('alpha' as Domain).write;
        await assert.rejects(
          db.transaction().execute(async (trx) => {
            await trx.insertInto('items').values({ id: 10, name: 'doomed', n: 0 }).execute();
            throw new Error('boom');
          }),
          /boom/,
        );
        assert.equal(
          await db.selectFrom('items').select('id').where('id', '=', 10).executeTakeFirst(),
          undefined,
        );
        await db.transaction().execute(async (trx) => {
          await trx.insertInto('items').values({ id: 11, name: 'kept', n: 0 }).execute();
          await trx.insertInto('items').values({ id: 12, name: 'kept too', n: 0 }).execute();
        });
        const ids = await db.selectFrom('items').select('id').orderBy('id').execute();
        assert.deepEqual(
          ids.map((r) => r.id),
          [11, 12],
        );
      }));

    it('when 20 transactions increment one counter concurrently, then none is lost and none interleaves', () =>
      withPort(async (port) => {
        await port.migrate([fixture('alpha')]);
        const db = port.for<AlphaDb>('alpha' as Domain).write;
        await Promise.all(
          Array.from({ length: 20 }, () =>
            db.transaction().execute(async (trx) => {
              const { value } = await trx
                .selectFrom('counter')
                .select('value')
                .where('id', '=', 1)
                .forUpdate()
                .executeTakeFirstOrThrow();
              await trx
                .updateTable('counter')
                .set({ value: value + 1 })
                .where('id', '=', 1)
                .execute();
            }),
          ),
        );
        const { value } = await db.selectFrom('counter').select('value').executeTakeFirstOrThrow();
        assert.equal(value, 20);
      }));

    it('when a query is malformed, then it rejects with the database error and the port keeps working', () =>
      withPort(async (port) => {
        const db = port.for('alpha' as Domain).write;
        await assert.rejects(sql`select * from no_such_table`.execute(db), /no_such_table/);
        await port.ping();
      }));

    it('when work runs as idempotent, then its transaction commits once and its answer or error comes back as is', () =>
      withPort(async (port) => {
        await port.migrate([fixture('beta')]);
        const db = port.for<BetaDb>('beta' as Domain).write;
        const inserted = await port.idempotent(() =>
          db.transaction().execute(async (trx) => {
            await trx.insertInto('items').values({ id: 7, name: 'once' }).execute();
            return 'done';
          }),
        );
        assert.equal(inserted, 'done');
        assert.equal(
          port.idempotent(() => 42),
          42,
          'a synchronous answer stays synchronous',
        );
        await assert.rejects(
          port.idempotent(async () => {
            throw new Error('refused');
          }),
          /refused/,
        );
        const rows = await db.selectFrom('items').select(['id', 'name']).execute();
        assert.deepEqual(rows, [{ id: 7, name: 'once' }]);
      }));

    it('when closed twice, then the second close resolves too', () =>
      withPort(async (port) => {
        await port.ping();
        await port.close();
        await port.close();
      }));
  });
}
