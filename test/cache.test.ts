/** The cache port's contract: memory only, and memory + Redis with the bus when Redis is reachable. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { cacheContract } from '../src/platform/cache/cache.contract.ts';
import { createCache } from '../src/platform/cache/cache.ts';
import { redisTier } from '../src/platform/cache/redis-tier.ts';
import type { RedisHealth } from '../src/platform/redis-options.ts';
import { redis } from './support/engines.ts';
import { redisForTest } from './support/redis.ts';
import { relay } from './support/redis-relay.ts';

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
    return { instance: () => createCache({ redis: redisTier(redis.url!), prefix }), teardown: r.teardown };
  },
});

describe('cache bus when Redis is down at first use', { skip: redis.skip }, () => {
  it('when a process first uses the cache while Redis is down, then nothing is left unhandled, each connection reports the outage once, and once Redis returns its bus takes invalidations', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    // ioredis prints "[ioredis] Unhandled error event" at every reconnect attempt of a client
    // without an error listener.
    const printed: string[] = [];
    const consoleError = console.error;
    console.error = (...args: unknown[]) => {
      printed.push(args.map(String).join(' '));
    };
    const health: RedisHealth[] = [];
    const r = await redisForTest();
    const prefix = r.prefix.slice(0, -1);
    const link = relay(new URL(redis.url!));
    await link.start();
    await link.cut();
    const a = createCache({ redis: redisTier(link.url()), prefix, onRedisHealth: (h) => health.push(h) });
    const b = createCache({ redis: redisTier(redis.url!), prefix });
    try {
      let loads = 0;
      const load = async () => ({ n: ++loads });
      // First use with Redis unreachable: served by the loader and the memory tier.
      assert.deepEqual(await a.getOrSet('k', load, { ttlMs: 60_000 }), { n: 1 });
      await sleep(1500); // the bus's SUBSCRIBE is refused in this time (one retry, ~200 ms apart)
      assert.deepEqual(unhandled, []);
      // Reconnect attempts come every 200 ms or less: several per connection by now, one report each.
      const reported = (state: string) =>
        health
          .filter((h) => h.state === state)
          .map((h) => h.client)
          .sort();
      assert.deepEqual(reported('down'), ['cache', 'cache-bus#1', 'cache-bus#2']);

      await link.start();
      // Once A's bus has subscribed, B's delete reaches it and A loads again.
      const end = Date.now() + 10_000;
      for (;;) {
        await b.delete('k');
        await sleep(200);
        if ((await a.getOrSet('k', load, { ttlMs: 60_000 })).n > 1) break;
        assert.ok(Date.now() < end, "A's bus never received B's delete after Redis returned");
      }
      assert.deepEqual(unhandled, []);
      // Every connection retries every 200 ms or less: all three are back within a few seconds.
      for (const until = Date.now() + 5000; reported('up').length < 3 && Date.now() < until; )
        await sleep(50);
      assert.deepEqual(reported('up'), ['cache', 'cache-bus#1', 'cache-bus#2']);
      assert.deepEqual(reported('down'), ['cache', 'cache-bus#1', 'cache-bus#2'], 'one report per outage');
      assert.deepEqual(
        printed.filter((line) => line.includes('[ioredis]')),
        [],
        'ioredis printed errors of a connection without a listener',
      );
    } finally {
      console.error = consoleError;
      process.off('unhandledRejection', onUnhandled);
      await a.close();
      await b.close();
      await link.cut();
      await r.teardown();
    }
  });
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

describe('memory tier bounds (CACHE_MEMORY_ITEMS, CACHE_MEMORY_MB)', () => {
  it('when more keys are read than the tier holds, then the least recently used is loaded again', async () => {
    const cache = createCache({ maxMemoryItems: 3 });
    try {
      let loads = 0;
      const read = (key: string) => cache.getOrSet(key, async () => ++loads, { ttlMs: 60_000 });
      for (const key of ['a', 'b', 'c']) await read(key);
      await read('a'); // a is now the most recently used; b the least
      await read('d'); // evicts b
      assert.equal(loads, 4);
      assert.equal(await read('a'), 1);
      assert.equal(await read('b'), 5, 'b was evicted and loaded again');
    } finally {
      await cache.close();
    }
  });

  it('when an entry is evicted, then peek stops answering it; peeks keep an entry recently used', async () => {
    const cache = createCache({ maxMemoryItems: 3 });
    try {
      let loads = 0;
      const read = (key: string) => cache.getOrSet(key, async () => `${key}${++loads}`, { ttlMs: 60_000 });
      const form = (key: string) => {
        const value = cache.peek<string>(key);
        return value === undefined ? undefined : `<${value}>`;
      };
      for (const key of ['a', 'b', 'c']) await read(key);
      assert.equal(form('a'), '<a1>');
      await read('b');
      await read('c'); // a is now the least recently used
      // Then only peeks of a (no getOrSet): they must still count as use, or a would go first.
      for (let i = 0; i < 100; i++) form('a');
      await read('d'); // evicts the least recently used: b
      assert.equal(form('a'), '<a1>', 'a kept');
      assert.equal(form('b'), undefined, 'b evicted');
      await read('e'); // evicts c
      await read('f'); // evicts a unless it was read since: it was not
      assert.equal(form('a'), undefined, 'a evicted');
      assert.equal(await read('a'), 'a7');
      assert.equal(form('a'), '<a7>', 'the reloaded value');
    } finally {
      await cache.close();
    }
  });

  it('when the settings are given, then the configuration takes them, and refuses what is not a count', async () => {
    const { loadConfig, ConfigError } = await import('../src/config/config.ts');
    const base = { DATA_DIR: '/nonexistent-bazaar-test' };
    const config = loadConfig({ ...base, CACHE_MEMORY_ITEMS: '250000', CACHE_MEMORY_MB: '256' });
    assert.equal(config.cacheMemoryItems, 250_000);
    assert.equal(config.cacheMemoryMb, 256);
    assert.deepEqual([loadConfig(base).cacheMemoryItems, loadConfig(base).cacheMemoryMb], [100_000, 64]);
    assert.throws(
      () => loadConfig({ ...base, CACHE_MEMORY_MB: '1.5GB' }),
      (err: Error) => err instanceof ConfigError && /CACHE_MEMORY_MB.*whole number/.test(err.message),
    );
  });
});
