/**
 * The cache port's capacity (the memory tier holds a large catalog, not bentocache's default of
 * 1000 entries) and CACHE=none, the pass-through that rules the cache out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCache, createPassThroughCache } from '../src/platform/cache/cache.ts';

describe('cache capacity', () => {
  it('when 5000 products are cached in memory, then the first is still answered without its loader', async () => {
    const cache = createCache();
    try {
      const opts = { ttlMs: 60_000 };
      for (let i = 0; i < 5000; i++) await cache.getOrSet(`product:${i}`, async () => ({ i }), opts);
      const hits = cache.stats().hits;
      assert.deepEqual(await cache.getOrSet('product:0', async () => assert.fail('loaded again'), opts), {
        i: 0,
      });
      assert.equal(cache.stats().hits, hits + 1);
    } finally {
      await cache.close();
    }
  });
});

describe('CACHE=none', () => {
  it('when a key is read twice, then its loader runs twice and both reads count as misses', async () => {
    const cache = createPassThroughCache();
    let loads = 0;
    const load = async () => ++loads;
    assert.equal(await cache.getOrSet('product:1', load, { ttlMs: 60_000 }), 1);
    assert.equal(await cache.getOrSet('product:1', load, { ttlMs: 60_000 }), 2);
    await cache.deleteByTag('product:1');
    assert.deepEqual(cache.stats(), { hits: 0, misses: 2, staleServed: 0, loads: { product: 2 } });
  });

  it('when CACHE=none is configured, then the configuration accepts it', async () => {
    const { loadConfig } = await import('../src/config/config.ts');
    assert.equal(loadConfig({ CACHE: 'none', DATA_DIR: '/nonexistent-bazaar-test' }).cache, 'none');
  });
});
