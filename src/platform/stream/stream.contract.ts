/**
 * The stream port's contract, run by test/stream.test.ts against every adapter. The subject's
 * clock is injectable so that the settle delay can be crossed without sleeping.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBufferedAppender } from './buffered-appender.ts';
import type { StreamPort } from './stream.ts';

export type StreamContractSubject = Readonly<{
  name: string;
  skip: string | undefined;
  setup(now: () => number): Promise<{ stream: StreamPort; teardown(): Promise<void> }>;
}>;

export function streamContract(subject: StreamContractSubject): void {
  describe(`stream port contract: ${subject.name}`, { skip: subject.skip }, () => {
    const withStream = async (fn: (s: StreamPort, clock: { t: number }) => Promise<void>) => {
      const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
      const { stream, teardown } = await subject.setup(() => clock.t);
      try {
        await fn(stream, clock);
      } finally {
        await teardown();
      }
    };

    it('when records are appended, then they are read back in order, after the settle delay only', () =>
      withStream(async (s, clock) => {
        await s.append('a', [{ n: 1 }, { n: 2 }]);
        await s.append('a', [{ n: 3 }]);
        await s.append('b', [{ n: 100 }]);
        assert.deepEqual(await s.read('a', null, { limit: 10, settleMs: 1000 }), [], 'not settled yet');
        clock.t += 1000;
        const all = await s.read('a', null, { limit: 10, settleMs: 1000 });
        assert.deepEqual(
          all.map((r) => r.data),
          [{ n: 1 }, { n: 2 }, { n: 3 }],
        );
        assert.ok(all.every((r) => r.at instanceof Date));
        const rest = await s.read('a', all[0]!.position, { limit: 1, settleMs: 1000 });
        assert.deepEqual(
          rest.map((r) => r.data),
          [{ n: 2 }],
        );
        const b = await s.read('b', null, { limit: 10, settleMs: 0 });
        assert.deepEqual(
          b.map((r) => r.data),
          [{ n: 100 }],
        );
      }));

    it('when a consumer pages through with positions, then it sees every record exactly once', () =>
      withStream(async (s) => {
        const n = 1234;
        for (let i = 0; i < n; i += 500) {
          await s.append(
            'c',
            Array.from({ length: Math.min(500, n - i) }, (_, j) => ({ i: i + j })),
          );
        }
        const seen: number[] = [];
        let after: string | null = null;
        for (;;) {
          const page = await s.read('c', after, { limit: 100, settleMs: 0 });
          if (page.length === 0) break;
          for (const r of page) seen.push(r.data['i'] as number);
          after = page.at(-1)!.position;
        }
        assert.deepEqual(
          seen,
          Array.from({ length: n }, (_, i) => i),
        );
      }));

    it('when a consumer resumes from any record of a batch, then it reads exactly the records after it', () =>
      withStream(async (s) => {
        await s.append('m', [{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }]);
        await s.append('m', [{ i: 4 }, { i: 5 }]);
        const all = await s.read('m', null, { limit: 100, settleMs: 0 });
        assert.deepEqual(
          all.map((r) => r.data['i']),
          [0, 1, 2, 3, 4, 5],
        );
        assert.equal(new Set(all.map((r) => r.position)).size, 6, 'every record has its own position');
        for (let k = 0; k < all.length; k++) {
          const rest = await s.read('m', all[k]!.position, { limit: 3, settleMs: 0 });
          assert.deepEqual(
            rest.map((r) => r.data['i']),
            [k + 1, k + 2, k + 3].filter((i) => i <= 5),
            `after record ${k}`,
          );
        }
      }));

    it('when given a position it never handed out, then read refuses it', () =>
      withStream(async (s) => {
        await s.append('p', [{ ok: true }]);
        await assert.rejects(s.read('p', 'not-a-position', { limit: 10, settleMs: 0 }), RangeError);
        await assert.rejects(s.read('p', null, { limit: 0, settleMs: 0 }), RangeError);
      }));

    it('when a batch is too large or a record too big, then append refuses it and stores nothing', () =>
      withStream(async (s) => {
        await assert.rejects(
          s.append(
            'd',
            Array.from({ length: 501 }, () => ({})),
          ),
          RangeError,
        );
        await assert.rejects(s.append('d', [{ ok: true }, { big: 'x'.repeat(5000) }]), RangeError);
        // The bound is in UTF-8 bytes: 1,400 characters of 3 bytes each are over it.
        await assert.rejects(s.append('d', [{ big: '€'.repeat(1400) }]), RangeError);
        assert.deepEqual(await s.read('d', null, { limit: 10, settleMs: 0 }), []);
        // 1,300 of them (3,910 bytes with the braces and the key) are not.
        await s.append('d', [{ big: '€'.repeat(1300) }]);
        assert.equal((await s.read('d', null, { limit: 10, settleMs: 0 })).length, 1);
      }));

    it('when trimmed, then records older than the cutoff are gone and newer ones stay', () =>
      withStream(async (s, clock) => {
        await s.append('e', [{ old: true }]);
        clock.t += 60_000;
        await s.append('e', [{ old: false }]);
        assert.equal(await s.trim('e', new Date(clock.t - 1000)), 1);
        const left = await s.read('e', null, { limit: 10, settleMs: 0 });
        assert.deepEqual(
          left.map((r) => r.data),
          [{ old: false }],
        );
      }));

    it('when a buffered appender collects records, then one flush delivers them all in order', () =>
      withStream(async (s) => {
        const appender = createBufferedAppender(s, { flushMs: 60_000 });
        for (let i = 0; i < 700; i++) appender.add('f', { i });
        assert.deepEqual(await s.read('f', null, { limit: 10, settleMs: 0 }), [], 'nothing before the flush');
        await appender.close();
        const got = await s.read('f', null, { limit: 1000, settleMs: 0 });
        assert.equal(got.length, 700);
        assert.deepEqual(
          got.map((r) => r.data['i']),
          Array.from({ length: 700 }, (_, i) => i),
        );
        assert.equal(appender.dropped, 0);
      }));

    it('when records come faster than the flush timer, then full batches go at once and none is dropped', () =>
      withStream(async (s) => {
        const appender = createBufferedAppender(s, { flushMs: 60_000, maxQueued: 1000 });
        for (let i = 0; i < 3000; i++) {
          appender.add('g', { i });
          if (i % 250 === 249) await sleep(20); // requests interleave with I/O
        }
        await sleep(100);
        const before = await s.read('g', null, { limit: 5000, settleMs: 0 });
        assert.ok(before.length >= 2500, `full batches were sent before the timer: ${before.length}`);
        await appender.close();
        assert.equal(appender.dropped, 0);
        const got = await s.read('g', null, { limit: 5000, settleMs: 0 });
        assert.deepEqual(
          got.map((r) => r.data['i']),
          Array.from({ length: 3000 }, (_, i) => i),
        );
      }));
  });
}
