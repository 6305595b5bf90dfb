/**
 * Precompiled queries reach PostgreSQL as named prepared statements (parsed and planned once per
 * connection), except behind PgBouncer in transaction mode, where they stay unnamed. One pool
 * connection, so the session that ran the query is the one asked for its prepared statements.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type Kysely, sql } from 'kysely';
import { createPostgresSql } from '../src/platform/sql/postgres/postgres-sql.ts';
import { precompiled } from '../src/platform/sql/precompiled.ts';
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
});
