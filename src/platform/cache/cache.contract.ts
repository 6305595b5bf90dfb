/**
 * The cache port's contract, run (test/cache.test.ts) against memory only and, when Redis is
 * reachable, memory + Redis. `setup` gives cache instances that share one backend (for memory
 * only, the cross-instance case is skipped: there is nothing to share).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cache } from './cache.ts';

export type CacheContractSubject = Readonly<{
  name: string;
  skip: string | undefined;
  /** Whether two instances from one `setup` share their data (an invalidation bus). */
  shared: boolean;
  setup(): Promise<{ instance(): Cache; teardown(): Promise<void> }>;
}>;

export function cacheContract(subject: CacheContractSubject): void {
  describe(`cache port contract: ${subject.name}`, { skip: subject.skip }, () => {
    const withCache = async (fn: (make: () => Cache) => Promise<void>) => {
      const backend = await subject.setup();
      const made: Cache[] = [];
      try {
        await fn(() => {
          const c = backend.instance();
          made.push(c);
          return c;
        });
      } finally {
        await sleep(50); // let background L2/bus writes of the last call settle before closing
        for (const c of made) await c.close();
        await backend.teardown();
      }
    };

    it('when 200 concurrent reads hit a cold key, then the loader runs exactly once', () =>
      withCache(async (make) => {
        const cache = make();
        let loads = 0;
        const loader = async () => {
          loads++;
          await sleep(20);
          return { n: 42 };
        };
        const values = await Promise.all(
          Array.from({ length: 200 }, () => cache.getOrSet('product:cold', loader, { ttlMs: 60_000 })),
        );
        assert.equal(loads, 1);
        assert.ok(values.every((v) => v.n === 42));
        assert.equal(cache.stats().loads['product'], 1);
        assert.equal(cache.stats().misses, 1);
      }));

    it('when the loader fails after expiry within grace, then the stale value is served', () =>
      withCache(async (make) => {
        const cache = make();
        const opts = { ttlMs: 50, graceMs: 60_000 };
        assert.equal(await cache.getOrSet('k:grace', async () => 'v1', opts), 'v1');
        await sleep(120);
        const stale = await cache.getOrSet(
          'k:grace',
          async () => {
            throw new Error('database down');
          },
          opts,
        );
        assert.equal(stale, 'v1');
        assert.equal(cache.stats().staleServed, 1);
      }));

    it('when the loader fails and nothing is cached, then getOrSet rejects', () =>
      withCache(async (make) => {
        const cache = make();
        await assert.rejects(
          cache.getOrSet(
            'k:none',
            async () => {
              throw new Error('database down');
            },
            { ttlMs: 1000, graceMs: 1000 },
          ),
        );
      }));

    it("when the loader fails and nothing is cached, then getOrSet rejects with the loader's own error", () =>
      withCache(async (make) => {
        const cache = make();
        const own = new Error('database down');
        await assert.rejects(
          cache.getOrSet(
            'k:own-error',
            async () => {
              throw own;
            },
            { ttlMs: 1000 },
          ),
          (err) => err === own,
        );
      }));

    it('when a graced value is invalidated by tag, then the next read waits for the new value', () =>
      withCache(async (make) => {
        const cache = make();
        const opts = { ttlMs: 60_000, graceMs: 60_000, tags: ['product:p3'] };
        assert.equal(await cache.getOrSet('product:p3', async () => 'old', opts), 'old');
        await cache.deleteByTag(['product:p3', 'other']);
        assert.equal(await cache.getOrSet('product:p3', async () => 'new', opts), 'new');
        assert.equal(cache.stats().staleServed, 0);
      }));

    it('when a value is invalidated by tag and the loader then fails, then the invalidated value is served within grace', () =>
      withCache(async (make) => {
        const cache = make();
        const opts = { ttlMs: 60_000, graceMs: 60_000, tags: ['product:p4'] };
        assert.equal(await cache.getOrSet('product:p4', async () => 'old', opts), 'old');
        await cache.deleteByTag('product:p4');
        const value = await cache.getOrSet(
          'product:p4',
          async () => {
            throw new Error('database down');
          },
          opts,
        );
        assert.equal(value, 'old');
        assert.equal(cache.stats().staleServed, 1);
      }));

    it('when grace is shorter than the TTL, then the value still lives for its whole TTL', () =>
      withCache(async (make) => {
        const cache = make();
        let n = 0;
        // Past the grace, well within the TTL even when a loaded machine stretches the sleep.
        const opts = { ttlMs: 10_000, graceMs: 50 };
        assert.equal(await cache.getOrSet('k:short-grace', async () => ++n, opts), 1);
        await sleep(150);
        assert.equal(await cache.getOrSet('k:short-grace', async () => ++n, opts), 1);
      }));

    it('when a key is expired, then the next read waits for the new value, and within grace a failing loader gets the old one', () =>
      withCache(async (make) => {
        const cache = make();
        const opts = { ttlMs: 60_000, graceMs: 60_000 };
        assert.equal(await cache.getOrSet('product:e1', async () => 'v1', opts), 'v1');
        await cache.expire('product:e1', { graceMs: 60_000 });
        assert.equal(await cache.getOrSet('product:e1', async () => 'v2', opts), 'v2');
        await cache.expire('product:e1', { graceMs: 60_000 });
        const served = await cache.getOrSet(
          'product:e1',
          async () => {
            throw new Error('database down');
          },
          opts,
        );
        assert.equal(served, 'v2');
        assert.equal(cache.stats().staleServed, 1);
      }));

    it('when a key or a tag is deleted, then the next read loads again', () =>
      withCache(async (make) => {
        const cache = make();
        let n = 0;
        const load = async () => ++n;
        const opts = { ttlMs: 60_000, tags: ['product:p1'] };
        assert.equal(await cache.getOrSet('product:p1', load, opts), 1);
        assert.equal(await cache.getOrSet('product:p1', load, opts), 1);
        assert.equal(cache.stats().hits, 1);
        await cache.delete('product:p1');
        assert.equal(await cache.getOrSet('product:p1', load, opts), 2);
        await cache.deleteByTag('product:p1');
        assert.equal(await cache.getOrSet('product:p1', load, opts), 3);
      }));

    it('when a key is peeked, then only a fresh value is answered, as a hit, and anything else is left to getOrSet', () =>
      withCache(async (make) => {
        const cache = make();
        const opts = { ttlMs: 60_000, graceMs: 60_000 };
        assert.equal(cache.peek('product:k1'), undefined, 'absent');
        await cache.getOrSet('product:k1', async () => ({ n: 1 }), opts);
        const hitsBefore = cache.stats().hits;
        assert.deepEqual(cache.peek('product:k1'), { n: 1 });
        assert.equal(cache.stats().hits, hitsBefore + 1);
        await cache.expire('product:k1', { graceMs: 60_000 });
        assert.equal(
          cache.peek('product:k1'),
          undefined,
          'expired: only getOrSet may serve it, within grace',
        );
        assert.deepEqual(await cache.getOrSet('product:k1', async () => ({ n: 2 }), opts), { n: 2 });
        assert.deepEqual(cache.peek('product:k1'), { n: 2 });
        await cache.delete('product:k1');
        assert.equal(cache.peek('product:k1'), undefined, 'deleted');
        await cache.getOrSet('listing:t1', async () => 'tagged', { ttlMs: 60_000, tags: ['listings'] });
        await cache.deleteByTag('listings');
        assert.equal(cache.peek('listing:t1'), undefined, 'invalidated by tag');
        assert.equal(await cache.getOrSet('listing:t1', async () => 'again', { ttlMs: 60_000 }), 'again');
        assert.equal(cache.peek('product:never'), undefined);
      }));

    it('when a key is peeked again and again, then each read is a hit on the one shared value, and it follows every change', () =>
      withCache(async (make) => {
        const cache = make();
        const opts = { ttlMs: 60_000, graceMs: 60_000 };
        const first = await cache.getOrSet('product:d1', async () => ({ n: 1 }), opts);
        const hitsBefore = cache.stats().hits;
        for (let i = 0; i < 100; i++) assert.equal(cache.peek('product:d1'), first, 'the same object');
        assert.equal(cache.stats().hits, hitsBefore + 100, 'each read a hit');
        await cache.expire('product:d1', { graceMs: 60_000 });
        assert.equal(cache.peek('product:d1'), undefined, 'expired: left to getOrSet');
        await cache.getOrSet('product:d1', async () => ({ n: 2 }), opts);
        assert.deepEqual(cache.peek('product:d1'), { n: 2 }, 'the new value');
        await cache.getOrSet('product:d1', async () => assert.fail('fresh'), opts);
        assert.deepEqual(cache.peek('product:d1'), { n: 2 });
        await cache.delete('product:d1');
        assert.equal(cache.peek('product:d1'), undefined, 'deleted');
        await cache.getOrSet('product:d2', async () => null, opts);
        assert.equal(cache.peek('product:d2'), null, 'a cached null is answered as null');
        await cache.getOrSet('product:d4', async () => ({ n: 4 }), { ttlMs: 50 });
        assert.deepEqual(cache.peek('product:d4'), { n: 4 });
        await sleep(120);
        assert.equal(cache.peek('product:d4'), undefined, 'past its TTL');
      }));

    it('when a caller tries to change a cached value, then it throws and the next reader gets the original', () =>
      withCache(async (make) => {
        const cache = make();
        const opts = { ttlMs: 60_000 };
        const first = await cache.getOrSet(
          'product:frozen',
          async () => ({ title: 'Mug', photos: [{ w: 160 }] }),
          opts,
        );
        assert.throws(() => {
          (first as { title: string }).title = 'changed';
        }, TypeError);
        assert.throws(() => {
          first.photos.push({ w: 1200 });
        }, TypeError);
        const again = await cache.getOrSet('product:frozen', async () => assert.fail('loaded again'), opts);
        assert.deepEqual(again, { title: 'Mug', photos: [{ w: 160 }] });
      }));

    it(
      "when another instance reads a value one instance loaded, then it is served from that instance's memory from the second read on",
      { skip: subject.shared ? undefined : 'memory only: instances share nothing' },
      () =>
        withCache(async (make) => {
          const a = make();
          const b = make();
          const opts = { ttlMs: 60_000 };
          await a.getOrSet('product:refill', async () => ({ n: 1 }), opts);
          const fail = async () => assert.fail('loaded again');
          for (let i = 0; i < 3; i++)
            assert.deepEqual(await b.getOrSet('product:refill', fail, opts), { n: 1 });
          assert.equal(b.stats().hits, 3);
        }),
    );

    it(
      'when one instance expires a key, then another instance loads the new value within a second',
      { skip: subject.shared ? undefined : 'memory only: instances share nothing' },
      () =>
        withCache(async (make) => {
          const a = make();
          const b = make();
          const opts = { ttlMs: 60_000, graceMs: 60_000 };
          assert.equal(await a.getOrSet('product:e2', async () => 'old', opts), 'old');
          assert.equal(await b.getOrSet('product:e2', async () => 'unused', opts), 'old');
          await sleep(100); // let both subscribe to the bus
          await a.expire('product:e2', { graceMs: 60_000 });
          const deadline = Date.now() + 1000;
          let seen = '';
          while (Date.now() < deadline) {
            seen = await b.getOrSet('product:e2', async () => 'new', opts);
            if (seen === 'new') break;
            await sleep(20);
          }
          assert.equal(seen, 'new');
        }),
    );

    it(
      "when one instance changes a value, then another instance's peek stops answering it within a second",
      { skip: subject.shared ? undefined : 'memory only: instances share nothing' },
      () =>
        withCache(async (make) => {
          const a = make();
          const b = make();
          const opts = { ttlMs: 60_000 };
          const title = (key: string) => b.peek<{ title: string }>(key)?.title.toUpperCase();
          await a.getOrSet('product:d5', async () => ({ title: 'old' }), opts);
          await b.getOrSet('product:d5', async () => assert.fail('loaded again'), opts);
          assert.equal(title('product:d5'), 'OLD');
          await sleep(100); // let both subscribe to the bus
          await a.delete('product:d5');
          const deadline = Date.now() + 1000;
          while (Date.now() < deadline && title('product:d5') !== undefined) await sleep(20);
          assert.equal(title('product:d5'), undefined, 'dropped on b');
          await b.getOrSet('product:d5', async () => ({ title: 'new' }), opts);
          assert.equal(title('product:d5'), 'NEW');
        }),
    );

    it(
      'when one instance invalidates, then another instance sees it within a second',
      {
        skip: subject.shared ? undefined : 'memory only: instances share nothing',
      },
      () =>
        withCache(async (make) => {
          const a = make();
          const b = make();
          const opts = { ttlMs: 60_000, tags: ['product:p2'] };
          assert.equal(await a.getOrSet('product:p2', async () => 'old', opts), 'old');
          assert.equal(await b.getOrSet('product:p2', async () => 'unused', opts), 'old');
          await sleep(100); // let both subscribe to the bus
          await a.deleteByTag('product:p2');
          const deadline = Date.now() + 1000;
          let seen = '';
          while (Date.now() < deadline) {
            seen = await b.getOrSet('product:p2', async () => 'new', opts);
            if (seen === 'new') break;
            await sleep(20);
          }
          assert.equal(seen, 'new');
        }),
    );
  });
}
