import { fileURLToPath } from 'node:url';
import { createPgliteSql } from '../src/platform/sql/pglite/pglite-sql.ts';
import { createPostgresSql } from '../src/platform/sql/postgres/postgres-sql.ts';
import type { SqlPort } from '../src/platform/sql/sql.ts';
import { createSqlStream } from '../src/platform/stream/sql/sql-stream.ts';
import { streamContract } from '../src/platform/stream/stream.contract.ts';
import { BACKENDS } from './support/engines.ts';

const platformMigrations = {
  domain: 'platform' as const,
  dir: fileURLToPath(new URL('../migrations/platform/', import.meta.url)),
};

for (const backend of BACKENDS) {
  streamContract({
    name: `sql on ${backend.name}`,
    skip: backend.skip,
    async setup(now) {
      const database = await backend.createDatabase();
      const sql: SqlPort = database.url
        ? await createPostgresSql({ url: database.url, poolSize: 4 })
        : await createPgliteSql();
      await sql.migrate([platformMigrations]);
      return {
        stream: createSqlStream(sql, { now }),
        async teardown() {
          await sql.close();
          await database.drop();
        },
      };
    },
  });
}
