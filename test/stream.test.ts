import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { createPgliteSql } from '../src/platform/sql/pglite/pglite-sql.ts';
import { createPostgresSql } from '../src/platform/sql/postgres/postgres-sql.ts';
import { createRedisStream } from '../src/platform/stream/redis/redis-stream.ts';
import { createSqlStream } from '../src/platform/stream/sql/sql-stream.ts';
import { streamContract } from '../src/platform/stream/stream.contract.ts';
import { BACKENDS, openPlatformSql, redis } from './support/engines.ts';
import { redisForTest } from './support/redis.ts';

for (const backend of BACKENDS) {
  streamContract({
    name: `sql on ${backend.name}`,
    skip: backend.skip,
    async setup(now) {
      const { port, teardown } = await openPlatformSql(backend);
      return { stream: createSqlStream(port, { now }), teardown };
    },
  });
}

streamContract({
  name: 'redis',
  skip: redis.skip,
  async setup(now) {
    const r = await redisForTest();
    return { stream: createRedisStream(r.client, { prefix: r.prefix, now }), teardown: r.teardown };
  },
});

describe('redis stream with instances whose clocks disagree', { skip: redis.skip }, () => {
  it('when an instance behind the stream top appends, then its batch still lands, after the others', async () => {
    const r = await redisForTest();
    try {
      const ahead = createRedisStream(r.client, { prefix: r.prefix, now: () => 1_800_000_060_000 });
      const behind = createRedisStream(r.client, { prefix: r.prefix, now: () => 1_800_000_000_000 });
      await ahead.append('skew', [{ n: 1 }]);
      await behind.append('skew', [{ n: 2 }]); // its own id would be older than the top: refused, then `*`
      const all = await ahead.read('skew', null, { limit: 10, settleMs: 0 });
      assert.deepEqual(
        all.map((x) => x.data),
        [{ n: 1 }, { n: 2 }],
      );
    } finally {
      await r.teardown();
    }
  });
});

for (const backend of BACKENDS) {
  describe(`stream migration on ${backend.name}`, { skip: backend.skip }, () => {
    it('when records of the row-per-record table exist, then after 0005 they are read from the old positions on', async () => {
      const all = fileURLToPath(new URL('../migrations/platform/', import.meta.url));
      const before = await mkdtemp(join(tmpdir(), 'bazaar-stream-mig-'));
      for (const f of await readdir(all)) if (f < '0005') await copyFile(join(all, f), join(before, f));
      const db = await backend.createDatabase();
      const port = db.url ? await createPostgresSql({ url: db.url, poolSize: 2 }) : await createPgliteSql();
      try {
        await port.migrate([{ domain: 'platform', dir: before }]);
        const old = port.for<Record<string, never>>('platform').write;
        await sql`insert into platform.stream_records (stream, at, data)
          select 'clickstream', now() - interval '1 minute', jsonb_build_object('i', i)
          from generate_series(1, 5) i`.execute(old);
        const seqs = await sql<{
          seq: string;
        }>`select seq::text as seq from platform.stream_records order by seq`.execute(old);
        await port.migrate([{ domain: 'platform', dir: all }]);
        const stream = createSqlStream(port);
        const rest = await stream.read('clickstream', seqs.rows[1]!.seq, { limit: 10, settleMs: 0 });
        assert.deepEqual(
          rest.map((r) => r.data['i']),
          [3, 4, 5],
        );
        await stream.append('clickstream', [{ i: 6 }, { i: 7 }]);
        const next = await stream.read('clickstream', rest.at(-1)!.position, { limit: 10, settleMs: 0 });
        assert.deepEqual(
          next.map((r) => r.data['i']),
          [6, 7],
          'new batches come after the moved records',
        );
      } finally {
        await port.close();
        await db.drop();
        await rm(before, { recursive: true, force: true });
      }
    });
  });
}

for (const backend of BACKENDS) {
  describe(`stream batch compression on ${backend.name}`, { skip: backend.skip }, () => {
    it('when a batch is large enough to be compressed, then it is lz4 where the server has lz4, else pglz', async () => {
      const { port, teardown } = await openPlatformSql(backend);
      try {
        const db = port.for<Record<string, never>>('platform').write;
        const server = await sql<{ lz4: boolean }>`select 'lz4' = any (enumvals) as lz4
          from pg_settings where name = 'default_toast_compression'`.execute(db);
        const stream = createSqlStream(port);
        // 500 view-like records (~90 KB): what a busy second of product views appends.
        await stream.append(
          'clickstream',
          Array.from({ length: 500 }, (_, i) => ({
            t: 'view',
            productId: `01a0644d-92d6-7487-8276-${String(i).padStart(12, '0')}`,
            visitor: `visitor-${i % 37}`,
          })),
        );
        const row = await sql<{ method: string | null }>`select pg_column_compression(records) as method
          from platform.stream_batches order by seq desc limit 1`.execute(db);
        assert.equal(row.rows[0]!.method, server.rows[0]!.lz4 ? 'lz4' : 'pglz');
      } finally {
        await teardown();
      }
    });
  });
}
