/** The sessions port's contract on the SQL adapter (PGlite, PostgreSQL) and on the Redis adapter. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { createRedisSessionStore } from '../src/platform/sessions/redis/redis-sessions.ts';
import { sessionsContract } from '../src/platform/sessions/sessions.contract.ts';
import { createSqlSessionStore } from '../src/platform/sessions/sql/sql-sessions.ts';
import { BACKENDS, openPlatformSql, redis } from './support/engines.ts';
import { redisForTest } from './support/redis.ts';

for (const backend of BACKENDS) {
  sessionsContract({
    name: `sql on ${backend.name}`,
    skip: backend.skip,
    async setup({ ttl, now }) {
      const { port, teardown } = await openPlatformSql(backend);
      return {
        store: createSqlSessionStore(port, ttl, { now }),
        async dump() {
          const { rows } = await sql<{
            row: string;
          }>`select row_to_json(s)::text as row from platform.sessions s`.execute(port.for('platform').write);
          return rows.map((r) => r.row).join('\n');
        },
        teardown,
      };
    },
  });

  describe(`SQL sessions adapter on ${backend.name}`, { skip: backend.skip }, () => {
    it('when expired sessions are purged, then exactly the expired rows go', async () => {
      const { port, teardown } = await openPlatformSql(backend);
      try {
        let t = Date.UTC(2030, 0, 1);
        const store = createSqlSessionStore(port, { idleMs: 60_000, absoluteMs: 600_000 }, { now: () => t });
        const old = await store.create({ userId: null });
        t += 30_000;
        const young = await store.create({ userId: null });
        t += 30_000;
        assert.equal(await store.purgeExpired(), 1);
        assert.equal(await store.get(old.id), null);
        assert.ok(await store.get(young.id));
        assert.equal(await store.purgeExpired(), 0);
      } finally {
        await teardown();
      }
    });
  });
}

sessionsContract({
  name: 'redis',
  skip: redis.skip,
  async setup({ ttl, now }) {
    const r = await redisForTest();
    return {
      store: createRedisSessionStore(r.client, ttl, { prefix: r.prefix, now }),
      async dump() {
        const lines: string[] = [];
        for (const key of await r.keys()) {
          const type = await r.client.type(key);
          const value = type === 'hash' ? await r.client.hgetall(key) : await r.client.smembers(key);
          lines.push(`${key} ${JSON.stringify(value)}`);
        }
        return lines.join('\n');
      },
      teardown: r.teardown,
    };
  },
});
