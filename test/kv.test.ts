/** The kv port's contract on the SQL adapter (PGlite, PostgreSQL) and on the Redis adapter. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kvContract } from '../src/platform/kv/kv.contract.ts';
import { createRedisKv } from '../src/platform/kv/redis/redis-kv.ts';
import { createSqlKv } from '../src/platform/kv/sql/sql-kv.ts';
import { BACKENDS, openPlatformSql, redis } from './support/engines.ts';
import { redisForTest } from './support/redis.ts';

for (const backend of BACKENDS) {
  kvContract({
    name: `sql on ${backend.name}`,
    skip: backend.skip,
    async setup({ now }) {
      const { port, teardown } = await openPlatformSql(backend, 8);
      return { kv: createSqlKv(port, { now }), teardown };
    },
  });

  describe(`SQL kv adapter on ${backend.name}`, { skip: backend.skip }, () => {
    it('when expired keys are purged, then exactly the expired rows go', async () => {
      const { port, teardown } = await openPlatformSql(backend, 8);
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
