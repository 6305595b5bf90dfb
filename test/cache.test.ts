/** The cache port's contract: memory only, and memory + Redis with the bus when Redis is reachable. */
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
