import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isUuid, uuidv7 } from './ids.ts';

const timeOf = (id: string): number => Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16);

describe('uuidv7', () => {
  it('when generated, then it is an RFC 9562 version 7 id carrying the time in milliseconds', () => {
    const t = Date.UTC(2026, 10, 25, 12, 0, 0, 123);
    const id = uuidv7(t);
    assert.ok(isUuid(id));
    assert.equal(id[14], '7', 'version nibble');
    assert.match(id[19]!, /[89ab]/, 'variant bits');
    assert.equal(timeOf(id), t);
  });

  it('when many are generated in the same millisecond, then they still sort in creation order', () => {
    const t = Date.UTC(2030, 0, 1);
    const ids = Array.from({ length: 2000 }, () => uuidv7(t));
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, ids.length);
  });

  it('when given an earlier time than the last one, then the id keeps that earlier time', () => {
    const later = Date.UTC(2031, 0, 1);
    uuidv7(later);
    const earlier = later - 90 * 86_400_000;
    assert.equal(timeOf(uuidv7(earlier)), earlier);
    assert.ok(uuidv7(earlier) < uuidv7(later + 1));
  });
});
