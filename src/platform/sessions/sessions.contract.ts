/**
 * The sessions port's contract. Every adapter runs it (test/sessions.test.ts): the SQL adapter on
 * PGlite always and on PostgreSQL whenever a server is reachable; Redis and DynamoDB later. It
 * uses only the SessionStore interface, plus two things the subject supplies: a store built on a
 * test clock, and a text dump of everything the backend holds (to prove ids are not kept).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_SESSION_DATA_BYTES, type SessionStore, type SessionTtl } from './sessions.ts';

export type SessionsContractSubject = Readonly<{
  name: string;
  skip: string | undefined;
  /** A fresh, empty backend and a store on it with these TTLs, reading the time from `now`. */
  setup(options: { ttl: SessionTtl; now: () => number }): Promise<{
    store: SessionStore;
    /** Everything the backend stores for sessions, as text (rows, keys and values). */
    dump(): Promise<string>;
    teardown(): Promise<void>;
  }>;
}>;

const MINUTE = 60_000;
const TTL: SessionTtl = { idleMs: 10 * MINUTE, absoluteMs: 60 * MINUTE };
const ID = /^[A-Za-z0-9_-]{43}$/;
const USER_A = '0190f5d2-7b1c-7a00-8000-00000000000a';
const USER_B = '0190f5d2-7b1c-7a00-8000-00000000000b';

/** A clock the test moves by hand. */
function testClock(start = Date.UTC(2030, 0, 1)) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

export function sessionsContract(subject: SessionsContractSubject): void {
  describe(`sessions port contract: ${subject.name}`, { skip: subject.skip }, () => {
    const withStore = async (
      fn: (
        store: SessionStore,
        clock: ReturnType<typeof testClock>,
        dump: () => Promise<string>,
      ) => Promise<void>,
      ttl: SessionTtl = TTL,
    ) => {
      const clock = testClock();
      const backend = await subject.setup({ ttl, now: clock.now });
      try {
        await fn(backend.store, clock, backend.dump);
      } finally {
        await backend.teardown();
      }
    };

    it('when a session is created, then get returns its user, data and times', () =>
      withStore(async (store, clock) => {
        const data = { role: 'seller', nested: { list: [1, 'two', null], ok: true }, text: 'grüße ✓' };
        const created = await store.create({ userId: USER_A, data });
        assert.match(created.id, ID);
        assert.equal(created.userId, USER_A);
        assert.deepEqual(created.data, data);
        assert.equal(created.createdAt.getTime(), clock.now());
        assert.equal(created.expiresAt.getTime(), clock.now() + TTL.absoluteMs);

        const got = await store.get(created.id);
        assert.ok(got);
        assert.equal(got.id, created.id);
        assert.equal(got.userId, USER_A);
        assert.deepEqual(got.data, data);
        assert.equal(got.createdAt.getTime(), created.createdAt.getTime());
        assert.equal(got.expiresAt.getTime(), created.expiresAt.getTime());
      }));

    it('when an anonymous session is created without data, then it has no user and empty data', () =>
      withStore(async (store) => {
        const created = await store.create({ userId: null });
        const got = await store.get(created.id);
        assert.ok(got);
        assert.equal(got.userId, null);
        assert.deepEqual(got.data, {});
      }));

    it('when many sessions are created, then every id is new, 43 characters of base64url', () =>
      withStore(async (store) => {
        const ids = new Set<string>();
        for (let i = 0; i < 20; i++) {
          const { id } = await store.create({ userId: null });
          assert.match(id, ID);
          ids.add(id);
        }
        assert.equal(ids.size, 20);
      }));

    it('when sessions are stored, then the backend holds no id in clear', () =>
      withStore(async (store, _clock, dump) => {
        const a = await store.create({ userId: USER_A, data: { marker: 'dump-marker-a' } });
        const b = await store.create({ userId: null, data: { marker: 'dump-marker-b' } });
        await store.get(a.id);
        await store.update(b.id, { marker: 'dump-marker-b2' });
        const text = await dump();
        // The dump must really show the stored sessions, or the check below proves nothing.
        assert.ok(
          text.includes('dump-marker-a') && text.includes('dump-marker-b2'),
          'dump shows the sessions',
        );
        assert.ok(!text.includes(a.id), 'the first id is not stored');
        assert.ok(!text.includes(b.id), 'the second id is not stored');
      }));

    it('when an id is malformed, then get returns null, update false, destroy nothing', () =>
      withStore(async (store) => {
        const real = await store.create({ userId: USER_A });
        const malformed = [
          '',
          'short',
          real.id.slice(0, 42),
          `${real.id}A`,
          `${real.id.slice(0, 42)}.`,
          `${real.id.slice(0, 42)}=`,
          "' or '1'='1' --",
          `${real.id.slice(0, 41)}é`,
          'x'.repeat(10_000),
        ];
        for (const id of malformed) {
          assert.equal(await store.get(id), null, `get(${JSON.stringify(id.slice(0, 50))})`);
          assert.equal(await store.update(id, { x: 1 }), false);
          await store.destroy(id);
        }
        assert.ok(await store.get(real.id), 'the real session is untouched');
      }));

    it('when an id is well formed but unknown, then get returns null and update false', () =>
      withStore(async (store) => {
        const unknown = 'A'.repeat(43);
        assert.equal(await store.get(unknown), null);
        assert.equal(await store.update(unknown, { x: 1 }), false);
        await store.destroy(unknown);
      }));

    it('when data is updated, then get returns the new data and nothing else changes', () =>
      withStore(async (store) => {
        const s = await store.create({ userId: USER_A, data: { role: 'buyer', cart: 'c1' } });
        assert.equal(await store.update(s.id, { role: 'buyer', cart: 'c2' }), true);
        const got = await store.get(s.id);
        assert.ok(got);
        assert.deepEqual(got.data, { role: 'buyer', cart: 'c2' });
        assert.equal(got.userId, USER_A);
        assert.equal(got.expiresAt.getTime(), s.expiresAt.getTime());
      }));

    it('when data reaches the size limit, then it is kept; one byte more is refused and changes nothing', () =>
      withStore(async (store) => {
        const padding = (bytes: number) => 'x'.repeat(bytes - JSON.stringify({ p: '' }).length);
        const atLimit = { p: padding(MAX_SESSION_DATA_BYTES) };
        const over = { p: padding(MAX_SESSION_DATA_BYTES + 1) };
        assert.equal(JSON.stringify(atLimit).length, MAX_SESSION_DATA_BYTES);

        const s = await store.create({ userId: null, data: atLimit });
        assert.deepEqual((await store.get(s.id))?.data, atLimit);
        await assert.rejects(store.create({ userId: null, data: over }), RangeError);
        await assert.rejects(store.update(s.id, over), RangeError);
        // Multi-byte characters count as bytes, not characters.
        await assert.rejects(store.update(s.id, { p: 'é'.repeat(MAX_SESSION_DATA_BYTES / 2) }), RangeError);
        assert.deepEqual((await store.get(s.id))?.data, atLimit);
      }));

    it('when a session is destroyed, then it is gone, and destroying it again is fine', () =>
      withStore(async (store) => {
        const s = await store.create({ userId: USER_A });
        const other = await store.create({ userId: USER_A });
        await store.destroy(s.id);
        assert.equal(await store.get(s.id), null);
        assert.equal(await store.update(s.id, { x: 1 }), false);
        await store.destroy(s.id);
        assert.ok(await store.get(other.id), 'other sessions of the user live on');
      }));

    it("when a user's sessions are destroyed, then exactly theirs end and the count says how many", () =>
      withStore(async (store) => {
        const a1 = await store.create({ userId: USER_A });
        const a2 = await store.create({ userId: USER_A });
        const b = await store.create({ userId: USER_B });
        const anonymous = await store.create({ userId: null });
        assert.equal(await store.destroyUser(USER_A), 2);
        assert.equal(await store.get(a1.id), null);
        assert.equal(await store.get(a2.id), null);
        assert.ok(await store.get(b.id));
        assert.ok(await store.get(anonymous.id));
        assert.equal(await store.destroyUser(USER_A), 0);
      }));

    it('when a session is idle for the idle TTL, then it is gone and younger ones live on', () =>
      withStore(async (store, clock) => {
        const s = await store.create({ userId: USER_A });
        clock.advance(TTL.idleMs / 2);
        const younger = await store.create({ userId: null });
        clock.advance(TTL.idleMs / 2);
        assert.equal(await store.get(s.id), null);
        assert.equal(await store.update(s.id, { x: 1 }), false);
        assert.ok(await store.get(younger.id));
      }));

    it('when a session is one millisecond short of its idle TTL, then it is still live', () =>
      withStore(async (store, clock) => {
        const s = await store.create({ userId: USER_A });
        clock.advance(TTL.idleMs - 1);
        assert.ok(await store.get(s.id));
      }));

    it('when a session is used, then its idle deadline moves forward', () =>
      withStore(async (store, clock) => {
        const s = await store.create({ userId: USER_A });
        clock.advance(TTL.idleMs * 0.6);
        assert.ok(await store.get(s.id));
        clock.advance(TTL.idleMs * 0.6); // 1.2 × idle since creation, 0.6 × idle since use
        assert.ok(await store.get(s.id), 'still live after use');
        assert.equal(await store.update(s.id, { still: 'here' }), true);
        clock.advance(TTL.idleMs); // idle for the whole TTL since the last use
        assert.equal(await store.get(s.id), null);
      }));

    it('when a session is used all the time, then it still ends at its absolute expiry', () =>
      withStore(async (store, clock) => {
        const s = await store.create({ userId: USER_A });
        const end = s.expiresAt.getTime();
        while (clock.now() + TTL.idleMs / 2 < end) {
          clock.advance(TTL.idleMs / 2);
          assert.ok(await store.get(s.id), `live at +${clock.now() - s.createdAt.getTime()} ms`);
        }
        clock.advance(end - clock.now() - 1);
        assert.ok(await store.get(s.id), 'live one millisecond before the absolute expiry');
        clock.advance(1);
        assert.equal(await store.get(s.id), null);
        assert.equal(await store.update(s.id, { x: 1 }), false);
      }));

    it('when the idle TTL equals the absolute TTL, then use does not extend the session', () =>
      withStore(
        async (store, clock) => {
          const s = await store.create({ userId: USER_A });
          clock.advance(TTL.idleMs / 2);
          assert.ok(await store.get(s.id));
          clock.advance(TTL.idleMs / 2);
          assert.equal(await store.get(s.id), null);
        },
        { idleMs: TTL.idleMs, absoluteMs: TTL.idleMs },
      ));

    it('when sessions are used concurrently, then each read sees its own session', () =>
      withStore(async (store) => {
        const sessions = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.create({ userId: null, data: { i } })),
        );
        const got = await Promise.all(sessions.map((s) => store.get(s.id)));
        got.forEach((g, i) => {
          assert.deepEqual(g?.data, { i });
        });
      }));
  });
}
