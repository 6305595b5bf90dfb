/** The kv port's contract on the SQL adapter (PGlite, PostgreSQL) and on the Redis adapter. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { kvContract } from '../src/platform/kv/kv.contract.ts';
import { createRedisKv } from '../src/platform/kv/redis/redis-kv.ts';
import { createSqlKv } from '../src/platform/kv/sql/sql-kv.ts';
import { createPgliteSql } from '../src/platform/sql/pglite/pglite-sql.ts';
import { createPostgresSql } from '../src/platform/sql/postgres/postgres-sql.ts';
import type { SqlPort } from '../src/platform/sql/sql.ts';
import { BACKENDS, type Backend, redis } from './support/engines.ts';
import { redisForTest } from './support/redis.ts';

const platformMigrations = {
  domain: 'platform' as const,
  dir: fileURLToPath(new URL('../migrations/platform/', import.meta.url)),
};

async function openSql(backend: Backend): Promise<{ port: SqlPort; teardown(): Promise<void> }> {
  const db = await backend.createDatabase();
  const port = db.url ? await createPostgresSql({ url: db.url, poolSize: 8 }) : await createPgliteSql();
  await port.migrate([platformMigrations]);
  return {
    port,
    async teardown() {
      await port.close();
      await db.drop();
    },
  };
}

for (const backend of BACKENDS) {
  kvContract({
    name: `sql on ${backend.name}`,
    skip: backend.skip,
    async setup({ now }) {
      const { port, teardown } = await openSql(backend);
      return { kv: createSqlKv(port, { now }), teardown };
    },
  });

  describe(`SQL kv adapter on ${backend.name}`, { skip: backend.skip }, () => {
    it('when expired keys are purged, then exactly the expired rows go', async () => {
      const { port, teardown } = await openSql(backend);
      try {
        let t = Date.UTC(2030, 0, 1);
        const kv = createSqlKv(port, { now: () => t });
        await kv.put('old', 1, { ttlMs: 1000 });
        await kv.put('young', 1, { ttlMs: 5000 });
        await kv.put('forever', 1);
        t += 1000;
        assert.equal(await kv.purgeExpired(), 1);
        assert.equal(await kv.get('old'), null);
        assert.ok(await kv.get('young'));
        assert.ok(await kv.get('forever'));
        assert.equal(await kv.purgeExpired(), 0);
      } finally {
        await teardown();
      }
    });
  });
}

kvContract({
  name: 'redis',
  skip: redis.skip,
  async setup({ now }) {
    const r = await redisForTest();
    return { kv: createRedisKv(r.client, { prefix: r.prefix, now }), teardown: r.teardown };
  },
});
