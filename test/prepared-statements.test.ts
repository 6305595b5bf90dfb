/**
 * Precompiled queries reach PostgreSQL as named prepared statements (parsed and planned once per
 * connection), except behind PgBouncer in transaction mode, where they stay unnamed; a query
 * precompiled by shape is compiled once per shape and named only for the shapes it asks. One pool
 * connection, so the session that ran the query is the one asked for its prepared statements.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type Kysely, sql } from 'kysely';
import { createPostgresSql } from '../src/platform/sql/postgres/postgres-sql.ts';
import { precompiled, precompiledByShape } from '../src/platform/sql/precompiled.ts';
import { postgres } from './support/engines.ts';

type Prepared = { name: string; statement: string };

describe('prepared statements on postgres', { skip: postgres.skip }, () => {
  const drops: (() => Promise<void>)[] = [];
  after(async () => {
    for (const drop of drops) await drop();
  });

  const plusOne = precompiled(
    (db: Kysely<unknown>, n: number) => db.selectNoFrom(sql<number>`${n}::int + 1`.as('v')),
    [0] as [number],
  );

  for (const pooler of ['none', 'pgbouncer-transaction'] as const) {
    it(`when a precompiled query runs with pooler ${pooler}, then it is ${pooler === 'none' ? 'prepared by name once per connection' : 'sent unnamed'} and answers each time`, async () => {
      const db = await postgres.createDatabase();
      drops.push(db.drop);
      const port = await createPostgresSql({ url: db.url!, poolSize: 1, pooler });
      try {
        const handle = port.for<unknown>('catalog').write;
        for (const n of [41, 1, 99]) assert.deepEqual(await plusOne(handle, n), [{ v: n + 1 }]);
        const { rows } = await sql<Prepared>`select name, statement from pg_prepared_statements`.execute(
          handle,
        );
        const ours = rows.filter((r) => r.name.startsWith('bazaar_'));
        if (pooler === 'none') {
          assert.equal(ours.length, 1, JSON.stringify(rows));
          assert.match(ours[0]!.statement, /\$1::int \+ 1/);
        } else {
          assert.deepEqual(ours, []);
        }
      } finally {
        await port.close();
      }
    });
  }

  type Shape = { plus: boolean; named: boolean };
  const shaped = precompiledByShape(
    (db: Kysely<unknown>, shape: Shape, v: { n: number; m: number }) =>
      db.selectNoFrom(
        shape.plus
          ? sql<number>`${v.n}::int + ${v.m}::int + ${sql.lit(shape.named ? 0 : 1)}`.as('v')
          : sql<number>`${v.n}::int - ${v.m}::int + ${sql.lit(shape.named ? 0 : 1)}`.as('v'),
      ),
    { keyOf: (s) => `${s.plus}:${s.named}`, prepare: (s) => s.named },
  );

  it('when a shaped query runs in several shapes, then each is compiled with its own text, prepared by name only when asked, and answers with the values given', async () => {
    const db = await postgres.createDatabase();
    drops.push(db.drop);
    const port = await createPostgresSql({ url: db.url!, poolSize: 1, pooler: 'none' });
    try {
      const handle = port.for<unknown>('catalog').write;
      assert.deepEqual(await shaped(handle, { plus: true, named: true }, { n: 40, m: 2 }), [{ v: 42 }]);
      assert.deepEqual(await shaped(handle, { plus: true, named: true }, { n: 1, m: 2 }), [{ v: 3 }]);
      assert.deepEqual(await shaped(handle, { plus: false, named: true }, { n: 1, m: 2 }), [{ v: -1 }]);
      assert.deepEqual(await shaped(handle, { plus: true, named: false }, { n: 1, m: 2 }), [{ v: 4 }]);
      const { rows } = await sql<Prepared>`select name, statement from pg_prepared_statements`.execute(
        handle,
      );
      const ours = rows.filter((r) => r.name.startsWith('bazaar_')).map((r) => r.statement);
      assert.equal(ours.length, 2, JSON.stringify(rows));
      assert.ok(ours.some((t) => /\$1::int \+ \$2::int \+ 0/.test(t)));
      assert.ok(ours.some((t) => /\$1::int - \$2::int \+ 0/.test(t)));
      await assert.rejects(
        shaped(handle, { plus: true, named: true }, { n: 1 } as { n: number; m: number }),
        /query shape true:true: no value for m/,
      );
      const constant = precompiledByShape(
        (d: Kysely<unknown>, _shape: null, v: { n: number }) =>
          d.selectNoFrom(sql`${v.n}::int + ${1}`.as('v')),
        { keyOf: () => 'constant' },
      );
      await assert.rejects(
        constant(handle, null, { n: 1 }),
        /query shape constant: parameter \$2 is not one of the values/,
      );
    } finally {
      await port.close();
    }
  });
});
