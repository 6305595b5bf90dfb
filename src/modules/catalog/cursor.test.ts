import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../shared/errors.ts';
import { decodeCursor, encodeCursor, type SortKey } from './cursor.ts';

const id = '0190a8c0-0000-7000-8000-000000000101';
const invalid = (err: unknown) => err instanceof AppError && err.code === 'INVALID_INPUT';

describe('pagination cursors', () => {
  it('when a key is encoded, then it decodes to the same key for the same sort', () => {
    const keys: SortKey[] = [
      { sort: 'newest', key: new Date('2024-05-01T12:00:00.123Z'), id },
      { sort: 'price_asc', key: 0, id },
      { sort: 'price_desc', key: 99_999_999, id },
      { sort: 'relevance', key: 0.0607927, id },
      { sort: 'relevance', key: 0, id },
    ];
    for (const key of keys) {
      const cursor = encodeCursor(key);
      assert.match(cursor, /^[A-Za-z0-9_-]+$/);
      assert.deepEqual(decodeCursor(cursor, key.sort), key);
    }
  });

  it('when a cursor is decoded for another sort, then INVALID_INPUT', () => {
    const cursor = encodeCursor({ sort: 'price_asc', key: 5, id });
    assert.throws(() => decodeCursor(cursor, 'price_desc'), invalid);
  });

  it('when a cursor is altered, even where base64 would not notice, then INVALID_INPUT', () => {
    const cursor = encodeCursor({ sort: 'price_asc', key: 5, id });
    for (const bad of [`${cursor}A`, cursor.slice(1), '', '!!!!', cursor.toUpperCase()]) {
      assert.throws(() => decodeCursor(bad, 'price_asc'), invalid, bad);
    }
  });

  it('when a cursor holds a key no row could have, then INVALID_INPUT', () => {
    const raw = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const cases: [string, Parameters<typeof decodeCursor>[1]][] = [
      [raw({ s: 'relevance', k: 1e300, id }), 'relevance'],
      [raw({ s: 'relevance', k: 1e-300, id }), 'relevance'],
      [raw({ s: 'relevance', k: -0.5, id }), 'relevance'],
      [raw({ s: 'price_asc', k: 1e9, id }), 'price_asc'],
      [raw({ s: 'price_asc', k: '5', id }), 'price_asc'],
      [raw({ s: 'newest', k: '2024-02-30T00:00:00.000Z', id }), 'newest'],
      [raw({ s: 'newest', k: 1714564800000, id }), 'newest'],
      [raw({ s: 'newest', k: '2024-05-01T12:00:00.000Z', id: 'x' }), 'newest'],
      [raw({ k: 5, id, s: 'price_asc' }), 'price_asc'],
    ];
    for (const [cursor, sort] of cases) {
      assert.throws(() => decodeCursor(cursor, sort), invalid, cursor);
    }
  });
});
