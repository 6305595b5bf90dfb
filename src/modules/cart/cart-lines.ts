/**
 * A cart as stored in the kv port, and the pure rules that change it: at most 100 lines,
 * quantity 1..99 per line, one line per product in the order they were added. Storage,
 * concurrency and product checks are the service's; these functions only compute the next cart.
 */
import type { Json } from '../../platform/kv/kv.ts';
import { AppError } from '../../shared/errors.ts';
import { isUuid } from '../../shared/ids.ts';

export const CART_LIMITS = {
  maxLines: 100,
  maxQuantity: 99,
  /** Anonymous carts already merged into a buyer's cart, remembered so a merge happens once. */
  mergedIdsKept: 20,
} as const;

export type CartLine = Readonly<{ productId: string; quantity: number; addedAt: string }>;

export type CartDoc = Readonly<{
  lines: readonly CartLine[];
  /** Ids of anonymous carts merged into this one (newest last), so a repeated merge is a no-op. */
  mergedCartIds: readonly string[];
}>;

export type LineInput = Readonly<{ productId: string; quantity: number }>;

export const EMPTY_CART: CartDoc = { lines: [], mergedCartIds: [] };

/** Reads a stored cart defensively: anything malformed is dropped rather than trusted. */
export function parseCart(value: unknown): CartDoc {
  if (typeof value !== 'object' || value === null) return EMPTY_CART;
  const raw = value as { lines?: unknown; mergedCartIds?: unknown };
  const lines: CartLine[] = [];
  const seen = new Set<string>();
  for (const l of Array.isArray(raw.lines) ? raw.lines : []) {
    const line = (typeof l === 'object' && l !== null ? l : {}) as Partial<CartLine>;
    if (
      typeof line.productId === 'string' &&
      isUuid(line.productId) &&
      !seen.has(line.productId) &&
      Number.isInteger(line.quantity) &&
      line.quantity! >= 1 &&
      line.quantity! <= CART_LIMITS.maxQuantity &&
      typeof line.addedAt === 'string' &&
      lines.length < CART_LIMITS.maxLines
    ) {
      seen.add(line.productId);
      lines.push({ productId: line.productId, quantity: line.quantity!, addedAt: line.addedAt });
    }
  }
  const merged = Array.isArray(raw.mergedCartIds)
    ? raw.mergedCartIds.filter((id): id is string => typeof id === 'string')
    : [];
  return { lines, mergedCartIds: merged };
}

export function toJson(doc: CartDoc): Json {
  return {
    lines: doc.lines.map((l) => ({ productId: l.productId, quantity: l.quantity, addedAt: l.addedAt })),
    mergedCartIds: [...doc.mergedCartIds],
  };
}

const cartFull = () =>
  new AppError('CART_FULL', `a cart holds at most ${CART_LIMITS.maxLines} different products`, {
    details: { maxLines: CART_LIMITS.maxLines },
  });

/** Sets a product's quantity, adding the line at the end when new; CART_FULL for a 101st line. */
export function setLine(doc: CartDoc, productId: string, quantity: number, addedAt: string): CartDoc {
  const existing = doc.lines.find((l) => l.productId === productId);
  if (existing) {
    return {
      ...doc,
      lines: doc.lines.map((l) => (l.productId === productId ? { ...l, quantity } : l)),
    };
  }
  if (doc.lines.length >= CART_LIMITS.maxLines) throw cartFull();
  return { ...doc, lines: [...doc.lines, { productId, quantity, addedAt }] };
}

/** The cart without that product's line; null when there is no such line (nothing to write). */
export function removeLine(doc: CartDoc, productId: string): CartDoc | null {
  if (!doc.lines.some((l) => l.productId === productId)) return null;
  return { ...doc, lines: doc.lines.filter((l) => l.productId !== productId) };
}

/**
 * Merges an anonymous cart into a buyer's: quantities of the same product are summed and capped
 * at 99, new products are appended in their order until the cart has 100 lines (the rest are
 * dropped), and the anonymous cart's id is remembered. Null when that id was merged already.
 */
export function mergeCarts(target: CartDoc, source: CartDoc, sourceId: string): CartDoc | null {
  if (target.mergedCartIds.includes(sourceId)) return null;
  const lines = target.lines.map((l) => ({ ...l }));
  const byProduct = new Map(lines.map((l) => [l.productId, l]));
  for (const s of source.lines) {
    const line = byProduct.get(s.productId);
    if (line) {
      line.quantity = Math.min(CART_LIMITS.maxQuantity, line.quantity + s.quantity);
    } else if (lines.length < CART_LIMITS.maxLines) {
      const added = { ...s };
      lines.push(added);
      byProduct.set(s.productId, added);
    }
  }
  return { lines, mergedCartIds: [...target.mergedCartIds, sourceId].slice(-CART_LIMITS.mergedIdsKept) };
}

/**
 * Removes checked-out lines: without `expected`, every line; with it, each line whose product
 * is listed and whose quantity is at most the quantity checked out (a line the buyer raised
 * meanwhile stays whole). Idempotent. Null when nothing changes.
 */
export function removeCheckedOut(doc: CartDoc, expected?: readonly LineInput[]): CartDoc | null {
  if (expected === undefined) return doc.lines.length === 0 ? null : { ...doc, lines: [] };
  const bought = new Map(expected.map((l) => [l.productId, l.quantity]));
  const lines = doc.lines.filter((l) => !(l.quantity <= (bought.get(l.productId) ?? 0)));
  return lines.length === doc.lines.length ? null : { ...doc, lines };
}
