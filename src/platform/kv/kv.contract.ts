/**
 * The kv port's contract. Every adapter runs it (test/kv.test.ts): the SQL adapter on PGlite
 * always and on PostgreSQL whenever a server is reachable; Redis and DynamoDB later. It uses only
 * the Kv interface, plus a fresh, empty backend built on a test clock that the suite moves.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KV_LIMITS, type Kv } from './kv.ts';

export type KvContractSubject = Readonly<{
  name: string;
  skip: string | undefined;
  /** A fresh, empty backend and a kv on it reading the time from `now`. */
  setup(options: { now: () => number }): Promise<{ kv: Kv; teardown(): Promise<void> }>;
}>;

const SECOND = 1000;

function testClock(start = Date.UTC(2030, 0, 1)) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

type Clock = ReturnType<typeof testClock>;

export function kvContract(subject: KvContractSubject): void {
  describe(`kv port contract: ${subject.name}`, { skip: subject.skip }, () => {
    const withKv = async (fn: (kv: Kv, clock: Clock) => Promise<void>) => {
      const clock = testClock();
      const backend = await subject.setup({ now: clock.now });
      try {
        await fn(backend.kv, clock);
      } finally {
        await backend.teardown();
      }
    };

    describe('keys', () => {
      it('when a key was never written, then get returns null', () =>
        withKv(async (kv) => {
          assert.equal(await kv.get('nothing:here'), null);
        }));

      it('when JSON values are put, then get returns them with version 1', () =>
        withKv(async (kv) => {
          const values = [
            { lines: [{ productId: 'p1', quantity: 2 }], nested: { ok: true, none: null } },
            [1, 'two', null, false, 3.5],
            'grüße ✓',
            42,
            -0.25,
            true,
            null,
          ];
          for (const [i, value] of values.entries()) {
            assert.deepEqual(await kv.put(`v:${i}`, value), { ok: true, version: 1 });
          }
          for (const [i, value] of values.entries()) {
            assert.deepEqual(await kv.get(`v:${i}`), { value, version: 1 }, `value ${i}`);
          }
        }));

      it('when a key is written again, then its version goes up by one each time', () =>
        withKv(async (kv) => {
          assert.deepEqual(await kv.put('k', { n: 1 }), { ok: true, version: 1 });
          assert.deepEqual(await kv.put('k', { n: 2 }), { ok: true, version: 2 });
          assert.deepEqual(await kv.put('k', { n: 3 }, { ifVersion: 2 }), { ok: true, version: 3 });
          assert.deepEqual(await kv.get('k'), { value: { n: 3 }, version: 3 });
        }));

      it('when ifVersion is 0, then the write happens only if the key is absent', () =>
        withKv(async (kv) => {
          assert.deepEqual(await kv.put('once', 'first', { ifVersion: 0 }), { ok: true, version: 1 });
          assert.deepEqual(await kv.put('once', 'second', { ifVersion: 0 }), { ok: false });
          assert.deepEqual(await kv.get('once'), { value: 'first', version: 1 });
        }));

      it('when ifVersion is stale or the key absent, then nothing is written and the result is a conflict', () =>
        withKv(async (kv) => {
          await kv.put('k', 'a');
          await kv.put('k', 'b');
          assert.deepEqual(await kv.put('k', 'stale', { ifVersion: 1 }), { ok: false });
          assert.deepEqual(await kv.put('k', 'future', { ifVersion: 3 }), { ok: false });
          assert.deepEqual(await kv.get('k'), { value: 'b', version: 2 });
          assert.deepEqual(await kv.put('absent', 'x', { ifVersion: 1 }), { ok: false });
          assert.equal(await kv.get('absent'), null);
        }));

      it('when a key is deleted, then it reads as absent and is created again at version 1', () =>
        withKv(async (kv) => {
          await kv.put('k', 1);
          await kv.put('k', 2);
          assert.equal(await kv.delete('k'), true);
          assert.equal(await kv.get('k'), null);
          assert.equal(await kv.delete('k'), false, 'deleting again is fine and says nothing was there');
          assert.deepEqual(await kv.put('k', 3, { ifVersion: 0 }), { ok: true, version: 1 });
        }));

      it('when a delete names a version, then only that version is deleted', () =>
        withKv(async (kv) => {
          await kv.put('k', 'a');
          await kv.put('k', 'b');
          assert.equal(await kv.delete('k', { ifVersion: 1 }), false);
          assert.deepEqual(await kv.get('k'), { value: 'b', version: 2 });
          assert.equal(await kv.delete('k', { ifVersion: 0 }), false);
          assert.equal(await kv.delete('k', { ifVersion: 2 }), true);
          assert.equal(await kv.get('k'), null);
        }));

      it('when keys differ only in case or trailing space, then they are different keys', () =>
        withKv(async (kv) => {
          await kv.put('Cart', 1);
          await kv.put('cart', 2);
          await kv.put('cart ', 3);
          assert.equal((await kv.get('Cart'))?.value, 1);
          assert.equal((await kv.get('cart'))?.value, 2);
          assert.equal((await kv.get('cart '))?.value, 3);
        }));
    });

    describe('counters', () => {
      it('when a counter is incremented, then it starts from 0 and returns each new value', () =>
        withKv(async (kv) => {
          assert.equal(await kv.incr('c', 1), 1);
          assert.equal(await kv.incr('c', 5), 6);
          assert.equal(await kv.incr('c', -10), -4);
          assert.deepEqual(await kv.get('c'), { value: -4, version: 3 });
        }));

      it('when a counter was put as a number, then incr adds to it', () =>
        withKv(async (kv) => {
          await kv.put('c', 40);
          assert.equal(await kv.incr('c', 2), 42);
        }));

      it('when the key holds something other than an integer, then incr rejects and changes nothing', () =>
        withKv(async (kv) => {
          for (const value of ['12', 1.5, { n: 1 }, [1], true, null]) {
            await kv.put('x', value);
            await assert.rejects(kv.incr('x', 1), TypeError, JSON.stringify(value));
            assert.deepEqual((await kv.get('x'))?.value, value);
          }
        }));

      it('when 50 increments run concurrently, then the total is exact', () =>
        withKv(async (kv) => {
          const results = await Promise.all(Array.from({ length: 50 }, () => kv.incr('hits', 1)));
          assert.deepEqual(
            [...results].sort((a, b) => a - b),
            Array.from({ length: 50 }, (_, i) => i + 1),
            'each increment saw a distinct value',
          );
          assert.deepEqual(await kv.get('hits'), { value: 50, version: 50 });
        }));
    });

    describe('optimistic concurrency', () => {
      it('when 20 writers put with the same ifVersion concurrently, then exactly one wins', () =>
        withKv(async (kv) => {
          await kv.put('doc', { writer: -1 });
          const results = await Promise.all(
            Array.from({ length: 20 }, (_, i) => kv.put('doc', { writer: i }, { ifVersion: 1 })),
          );
          const winners = results.flatMap((r, i) => (r.ok ? [i] : []));
          assert.equal(winners.length, 1, JSON.stringify(results));
          assert.deepEqual(await kv.get('doc'), { value: { writer: winners[0] }, version: 2 });
        }));

      it('when 20 writers create the same key with ifVersion 0 concurrently, then exactly one wins', () =>
        withKv(async (kv) => {
          const results = await Promise.all(
            Array.from({ length: 20 }, (_, i) => kv.put('new', { writer: i }, { ifVersion: 0 })),
          );
          const winners = results.flatMap((r, i) => (r.ok ? [i] : []));
          assert.equal(winners.length, 1, JSON.stringify(results));
          assert.deepEqual(await kv.get('new'), { value: { writer: winners[0] }, version: 1 });
        }));

      it('when 20 deletes name the same version concurrently, then exactly one deletes', () =>
        withKv(async (kv) => {
          await kv.put('doc', 1);
          const results = await Promise.all(
            Array.from({ length: 20 }, () => kv.delete('doc', { ifVersion: 1 })),
          );
          assert.equal(results.filter(Boolean).length, 1);
        }));
    });

    describe('expiry', () => {
      it('when a key reaches its TTL, then it reads as absent; one millisecond before, it is live', () =>
        withKv(async (kv, clock) => {
          await kv.put('t', 'v', { ttlMs: 10 * SECOND });
          await kv.put('forever', 'v');
          clock.advance(10 * SECOND - 1);
          assert.deepEqual(await kv.get('t'), { value: 'v', version: 1 });
          clock.advance(1);
          assert.equal(await kv.get('t'), null);
          assert.deepEqual(await kv.get('forever'), { value: 'v', version: 1 });
        }));

      it('when a key has expired, then writes treat it as absent', () =>
        withKv(async (kv, clock) => {
          await kv.put('t', 'old', { ttlMs: SECOND });
          await kv.put('t', 'old2', { ttlMs: SECOND });
          clock.advance(SECOND);
          assert.deepEqual(await kv.put('t', 'x', { ifVersion: 2 }), { ok: false }, 'its version is gone');
          assert.equal(await kv.delete('t'), false, 'nothing live to delete');
          await kv.put('u', 'old', { ttlMs: SECOND });
          await kv.put('w', 'old', { ttlMs: SECOND });
          await kv.put('c', 7, { ttlMs: SECOND });
          clock.advance(SECOND);
          assert.deepEqual(await kv.put('u', 'new', { ifVersion: 0 }), { ok: true, version: 1 });
          assert.deepEqual(await kv.put('w', 'new'), { ok: true, version: 1 });
          assert.equal(await kv.incr('c', 1), 1, 'an expired counter starts from 0');
        }));

      it('when a key is put again without a TTL, then it no longer expires; with one, the TTL restarts', () =>
        withKv(async (kv, clock) => {
          await kv.put('a', 1, { ttlMs: SECOND });
          await kv.put('a', 2);
          await kv.put('b', 1, { ttlMs: SECOND });
          clock.advance(SECOND / 2);
          await kv.put('b', 2, { ttlMs: SECOND });
          clock.advance(SECOND * 0.75);
          assert.equal((await kv.get('a'))?.value, 2);
          assert.equal((await kv.get('b'))?.value, 2);
          clock.advance(SECOND / 4);
          assert.equal(await kv.get('b'), null);
        }));

      it('when incr has a TTL, then it applies when the counter is created and is kept after', () =>
        withKv(async (kv, clock) => {
          assert.equal(await kv.incr('window', 1, { ttlMs: 10 * SECOND }), 1);
          clock.advance(6 * SECOND);
          assert.equal(await kv.incr('window', 1, { ttlMs: 10 * SECOND }), 2);
          clock.advance(4 * SECOND);
          assert.equal(await kv.get('window'), null, 'the first TTL holds');
          assert.equal(await kv.incr('window', 1, { ttlMs: 10 * SECOND }), 1);
        }));
    });

    describe('sorted sets', () => {
      it('when members are added and incremented, then scores add up and zscore reads them', () =>
        withKv(async (kv) => {
          assert.equal(await kv.zincr('s', 'a', 2), 2);
          assert.equal(await kv.zincr('s', 'a', 3), 5);
          assert.equal(await kv.zincr('s', 'a', -1.5), 3.5);
          await kv.zadd('s', 'b', 10);
          await kv.zadd('s', 'b', 7);
          assert.equal(await kv.zscore('s', 'a'), 3.5);
          assert.equal(await kv.zscore('s', 'b'), 7);
          assert.equal(await kv.zscore('s', 'c'), null);
          assert.equal(await kv.zscore('other', 'a'), null);
        }));

      it('when the top is asked, then highest scores come first and ties go by member ascending', () =>
        withKv(async (kv) => {
          await kv.zadd('s', 'pear', 5);
          await kv.zadd('s', 'apple', 5);
          await kv.zadd('s', 'Zebra', 5);
          await kv.zadd('s', 'fig', 9);
          await kv.zadd('s', 'kiwi', -1);
          await kv.zadd('s', 'banana', 0);
          const top = await kv.ztop('s', 10);
          assert.deepEqual(top, [
            { member: 'fig', score: 9 },
            { member: 'Zebra', score: 5 }, // bytewise: 'Z' < 'a'
            { member: 'apple', score: 5 },
            { member: 'pear', score: 5 },
            { member: 'banana', score: 0 },
            { member: 'kiwi', score: -1 },
          ]);
          assert.deepEqual(await kv.ztop('s', 2), top.slice(0, 2));
          assert.deepEqual(await kv.ztop('s', 0), []);
          assert.deepEqual(await kv.ztop('empty', 5), []);
          for (const [i, { member }] of top.entries()) {
            assert.equal(await kv.zrank('s', member), i, member);
          }
          assert.equal(await kv.zrank('s', 'mango'), null);
        }));

      it('when a set and a key share a name, then they do not affect each other', () =>
        withKv(async (kv) => {
          await kv.put('shared', { doc: true });
          await kv.zadd('shared', 'm', 1);
          assert.deepEqual(await kv.get('shared'), { value: { doc: true }, version: 1 });
          assert.equal(await kv.delete('shared'), true);
          assert.deepEqual(await kv.ztop('shared', 5), [{ member: 'm', score: 1 }]);
        }));

      it('when 50 increments of one member run concurrently, then the score is exact', () =>
        withKv(async (kv) => {
          await Promise.all(Array.from({ length: 50 }, (_, i) => kv.zincr('lb', `m${i % 2}`, 1)));
          assert.deepEqual(await kv.ztop('lb', 5), [
            { member: 'm0', score: 25 },
            { member: 'm1', score: 25 },
          ]);
        }));
    });

    describe('limits', () => {
      it('when names, values, scores or arguments are out of range, then the call rejects and writes nothing', () =>
        withKv(async (kv) => {
          const long = 'k'.repeat(KV_LIMITS.nameMaxBytes + 1);
          await assert.rejects(kv.put('', 1), RangeError);
          await assert.rejects(kv.put(long, 1), RangeError);
          await assert.rejects(kv.put('nul\u0000', 1), RangeError);
          await assert.rejects(kv.get(long), RangeError);
          await kv.put('k'.repeat(KV_LIMITS.nameMaxBytes), 'at the limit');
          await assert.rejects(kv.put('big', 'x'.repeat(KV_LIMITS.valueMaxBytes)), RangeError);
          await assert.rejects(kv.put('nulvalue', { a: 'x\u0000y' }), RangeError);
          await assert.rejects(kv.put('nan', Number.NaN), RangeError);
          await assert.rejects(kv.put('undef', undefined as never), TypeError);
          await assert.rejects(kv.put('k', 1, { ifVersion: -1 }), RangeError);
          await assert.rejects(kv.put('k', 1, { ttlMs: 0 }), RangeError);
          await assert.rejects(kv.incr('c', 1.5), RangeError);
          await assert.rejects(kv.zincr('s', 'm', Number.POSITIVE_INFINITY), RangeError);
          await assert.rejects(kv.zadd('s', '', 1), RangeError);
          await assert.rejects(kv.ztop('s', KV_LIMITS.topMax + 1), RangeError);
          await assert.rejects(kv.ztop('s', -1), RangeError);
          for (const key of ['big', 'nulvalue', 'nan', 'undef', 'c']) assert.equal(await kv.get(key), null);
          assert.deepEqual(await kv.ztop('s', 10), []);
        }));
    });
  });
}
