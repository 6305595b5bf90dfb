import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { uuidv7 } from '../../shared/ids.ts';
import { CART_LIMITS, type CartDoc, mergeCarts, parseCart, removeCheckedOut, setLine } from './cart-lines.ts';

const AT = '2030-01-01T00:00:00.000Z';
const ids = Array.from({ length: 102 }, () => uuidv7());
const cart = (...lines: [number, number][]): CartDoc => ({
  lines: lines.map(([i, quantity]) => ({ productId: ids[i]!, quantity, addedAt: AT })),
  mergedCartIds: [],
});
const pairs = (doc: CartDoc) => doc.lines.map((l) => [ids.indexOf(l.productId), l.quantity]);

describe('cart lines', () => {
  it('when a quantity is set, then an existing line keeps its place and a new one goes last', () => {
    const doc = setLine(setLine(cart([0, 1], [1, 1]), ids[0]!, 5, AT), ids[2]!, 2, AT);
    assert.deepEqual(pairs(doc), [
      [0, 5],
      [1, 1],
      [2, 2],
    ]);
  });

  it('when a 101st product is set, then CART_FULL', () => {
    const full = cart(...Array.from({ length: 100 }, (_, i): [number, number] => [i, 1]));
    assert.throws(() => setLine(full, ids[100]!, 1, AT), { code: 'CART_FULL' });
    assert.equal(setLine(full, ids[5]!, 9, AT).lines[5]?.quantity, 9);
  });

  it('when carts merge, then quantities sum up to 99, new lines append up to 100, and only once', () => {
    const target = cart(...Array.from({ length: 99 }, (_, i): [number, number] => [i, 90]));
    const source = cart([0, 20], [1, 2], [100, 1], [101, 1]);
    const merged = mergeCarts(target, source, 'anon-1')!;
    assert.equal(merged.lines.length, CART_LIMITS.maxLines);
    assert.deepEqual(pairs(merged).slice(0, 2), [
      [0, 99],
      [1, 92],
    ]);
    assert.deepEqual(pairs(merged).at(-1), [100, 1]);
    assert.equal(mergeCarts(merged, source, 'anon-1'), null);
  });

  it('when checked-out lines are removed, then raised lines stay and a repeat changes nothing', () => {
    const doc = cart([0, 2], [1, 5], [2, 1]);
    const bought = [
      { productId: ids[0]!, quantity: 2 },
      { productId: ids[1]!, quantity: 3 },
    ];
    const after = removeCheckedOut(doc, bought)!;
    assert.deepEqual(pairs(after), [
      [1, 5],
      [2, 1],
    ]);
    assert.equal(removeCheckedOut(after, bought), null);
    assert.deepEqual(removeCheckedOut(doc)?.lines, []);
  });

  it('when a stored cart is malformed, then bad lines are dropped', () => {
    const doc = parseCart({
      lines: [
        { productId: ids[0], quantity: 1, addedAt: AT },
        { productId: ids[0], quantity: 2, addedAt: AT },
        { productId: 'x', quantity: 1, addedAt: AT },
        { productId: ids[1], quantity: 0, addedAt: AT },
        { productId: ids[2], quantity: 100, addedAt: AT },
        null,
      ],
      mergedCartIds: ['a', 3],
    });
    assert.deepEqual(pairs(doc), [[0, 1]]);
    assert.deepEqual(doc.mergedCartIds, ['a']);
    assert.deepEqual(parseCart(null), { lines: [], mergedCartIds: [] });
  });
});
