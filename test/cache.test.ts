/** The cache port's contract: memory only, and memory + Redis with the bus when Redis is reachable. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { cacheContract } from '../src/platform/cache/cache.contract.ts';
import { createCache } from '../src/platform/cache/cache.ts';
import { redis } from './support/engines.ts';
import { redisForTest } from './support/redis.ts';

cacheContract({
  name: 'memory',
  skip: undefined,
  shared: false,
  async setup() {
    return { instance: () => createCache(), teardown: async () => {} };
  },
});

cacheContract({
  name: 'memory + redis',
  skip: redis.skip,
  shared: true,
  async setup() {
    const r = await redisForTest();
    const prefix = r.prefix.slice(0, -1);
    return { instance: () => createCache({ redisUrl: redis.url!, prefix }), teardown: r.teardown };
  },
});

describe('cache deletes repeated for read replicas', () => {
  it('when a key is refilled between a delete and its repeat, then the repeat drops the refill', async () => {
    const cache = createCache({ repeatDeletesAfterMs: 100 });
    try {
      const opts = { ttlMs: 60_000, tags: ['product:r1'] };
      await cache.getOrSet('product:r1', async () => 'v1', opts);
      await cache.deleteByTag('product:r1');
      // A refill from a replica that had not replayed the write yet.
      assert.equal(
        await cache.getOrSet('product:r1', async () => 'v1 from a lagging replica', opts),
        'v1 from a lagging replica',
      );
      await sleep(250);
      assert.equal(await cache.getOrSet('product:r1', async () => 'v2', opts), 'v2');
    } finally {
      await cache.close();
    }
  });
});
