import { createPgliteSql } from '../src/platform/sql/pglite/pglite-sql.ts';
import { createPostgresSql } from '../src/platform/sql/postgres/postgres-sql.ts';
import { sqlContract } from '../src/platform/sql/sql.contract.ts';
import { postgres } from './support/engines.ts';

sqlContract({
  name: 'pglite',
  skip: undefined,
  async setup() {
    // One in-memory database: PGlite has a single connection, so "several ports" share it.
    const port = await createPgliteSql();
    let opened = 0;
    return {
      open: async () => {
        opened++;
        return opened === 1 ? port : { ...port, close: async () => {} };
      },
      teardown: () => port.close(),
    };
  },
});

sqlContract({
  name: 'postgres',
  skip: postgres.skip,
  async setup() {
    const db = await postgres.createDatabase();
    return {
      open: () => createPostgresSql({ url: db.url!, poolSize: 4 }),
      teardown: () => db.drop(),
    };
  },
});
