/**
 * Carts on the kv port. A buyer's cart is the key `cart:user:<buyerId>` (the buyer id is the
 * shard key, BRIEF rule 3); an anonymous visitor's is `cart:anon:<cartId>`, with a TTL, the id
 * kept in the visitor's session. Every change is a read, a pure rule (cart-lines.ts) and a write
 * conditional on the version read, retried on conflict: concurrent requests never lose a line
 * and never apply a merge twice. Products come from the catalog's public service only.
 */
import type { Platform } from '../../platform/platform.ts';
import { AppError, invalidInput } from '../../shared/errors.ts';
import { isUuid } from '../../shared/ids.ts';
import { type CatalogService, createCatalogService, type Product } from '../catalog/index.ts';
import {
  CART_LIMITS,
  type CartDoc,
  mergeCarts,
  parseCart,
  removeCheckedOut,
  removeLine,
  setLine,
  toJson,
} from './cart-lines.ts';

/** Whose cart: a signed-in buyer's, or an anonymous visitor's (by the id in their session). */
export type CartOwner =
  | Readonly<{ kind: 'buyer'; buyerId: string }>
  | Readonly<{ kind: 'anonymous'; cartId: string }>;

/** A line's product as it is now; `available` when published and in stock for the quantity. */
export type CartProduct = Readonly<{
  title: string;
  priceMinor: number;
  currency: string;
  stock: number;
  sellerId: string;
  available: boolean;
}>;

export type CartItem = Readonly<{
  productId: string;
  quantity: number;
  addedAt: string;
  /** Null when the product no longer exists or is no longer published. */
  product: CartProduct | null;
}>;

export type Cart = Readonly<{
  items: CartItem[];
  /** Sum of price × quantity over items with a product; null when their currencies differ. */
  totalMinor: number | null;
  /** The items' one currency; null for an empty cart or mixed currencies. */
  currency: string | null;
}>;

export interface CartService {
  /** The owner's cart with current product data; an empty cart when there is none. */
  getCart(owner: CartOwner): Promise<Cart>;
  /**
   * Sets a product's quantity (1..99), adding the line when new. NOT_FOUND for an unknown or
   * unpublished product, CART_FULL for a 101st line, INVALID_INPUT for a bad quantity,
   * OWN_PRODUCT for a signed-in seller's own product (checkout refuses it too).
   */
  setQuantity(owner: CartOwner, productId: string, quantity: number): Promise<Cart>;
  /** Removes a product's line; idempotent (no line, no change). */
  removeItem(owner: CartOwner, productId: string): Promise<Cart>;
  /**
   * Merges the anonymous cart `cartId` into the buyer's cart (quantities summed, capped at 99
   * per line and 100 lines) and deletes it. Exactly once, even when called concurrently or
   * again later: the buyer's cart remembers merged ids. `merged` says whether this call did it.
   */
  mergeAnonymousCart(cartId: string, buyerId: string): Promise<{ merged: boolean }>;
  /** The signed-in buyer's cart lines, in the order added (no product data, no pending merge). */
  getCartLines(buyerId: string): Promise<{ productId: string; quantity: number }[]>;
  /**
   * Removes checked-out lines from the buyer's cart: all of them without `expectedLines`; with
   * them, each line whose product is listed with at least its current quantity (a line raised
   * since checkout stays). Idempotent; for the orders module after a successful checkout.
   */
  clearCart(
    buyerId: string,
    expectedLines?: readonly { productId: string; quantity: number }[],
  ): Promise<void>;
}

export type CartServiceOptions = Readonly<{
  /** Milliseconds since the epoch (for `addedAt`); tests pass their own clock. */
  now?: () => number;
  /** How long an anonymous cart lives after its last change. Default 30 days. */
  anonymousTtlMs?: number;
}>;

export const ANONYMOUS_CART_TTL_MS = 30 * 86_400_000;
const WRITE_ATTEMPTS = 20;

const keyOf = (owner: CartOwner): string =>
  owner.kind === 'buyer' ? `cart:user:${owner.buyerId}` : `cart:anon:${owner.cartId}`;

function checkOwner(owner: CartOwner): CartOwner {
  const id = owner.kind === 'buyer' ? owner.buyerId : owner.cartId;
  if (!isUuid(id)) throw invalidInput(`${owner.kind === 'buyer' ? 'buyer' : 'cart'} id must be a UUID`);
  return owner.kind === 'buyer'
    ? { kind: 'buyer', buyerId: id.toLowerCase() }
    : { kind: 'anonymous', cartId: id.toLowerCase() };
}

function checkProductId(productId: string): string {
  if (!isUuid(productId)) {
    throw invalidInput('productId must be a UUID', {
      errors: [{ location: 'params', path: '/productId', message: 'must be a UUID' }],
    });
  }
  return productId.toLowerCase();
}

export function createCartService(
  platform: Pick<Platform, 'kv' | 'sql'>,
  options: CartServiceOptions = {},
): CartService {
  const { kv } = platform;
  const catalog: CatalogService = createCatalogService(platform);
  const now = options.now ?? (() => Date.now());
  const anonymousTtlMs = options.anonymousTtlMs ?? ANONYMOUS_CART_TTL_MS;

  async function read(owner: CartOwner): Promise<CartDoc> {
    return parseCart((await kv.get(keyOf(owner)))?.value);
  }

  /**
   * Applies `change` to the stored cart and writes the result only if nobody wrote in between;
   * re-reads and re-applies otherwise. `change` returns null for "nothing to write".
   */
  async function update(owner: CartOwner, change: (doc: CartDoc) => CartDoc | null): Promise<CartDoc> {
    const key = keyOf(owner);
    const ttl = owner.kind === 'anonymous' ? { ttlMs: anonymousTtlMs } : {};
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const entry = await kv.get(key);
      const doc = parseCart(entry?.value);
      const next = change(doc);
      if (next === null) return doc;
      const written = await kv.put(key, toJson(next), { ifVersion: entry?.version ?? 0, ...ttl });
      if (written.ok) return next;
    }
    throw new AppError('CONFLICT', 'the cart is being changed by other requests right now; retry');
  }

  async function view(doc: CartDoc): Promise<Cart> {
    const products =
      doc.lines.length === 0 ? [] : await catalog.getProducts(doc.lines.map((l) => l.productId));
    const byId = new Map<string, Product>(products.map((p) => [p.id, p]));
    const items = doc.lines.map((line): CartItem => {
      const p = byId.get(line.productId);
      return {
        productId: line.productId,
        quantity: line.quantity,
        addedAt: line.addedAt,
        product: p
          ? {
              title: p.title,
              priceMinor: p.priceMinor,
              currency: p.currency,
              stock: p.stock,
              sellerId: p.sellerId,
              available: p.stock >= line.quantity,
            }
          : null,
      };
    });
    const priced = items.flatMap((i) => (i.product ? [{ ...i.product, quantity: i.quantity }] : []));
    const currencies = new Set(priced.map((p) => p.currency));
    if (currencies.size > 1) return { items, totalMinor: null, currency: null };
    return {
      items,
      totalMinor: priced.reduce((sum, p) => sum + p.priceMinor * p.quantity, 0),
      currency: priced[0]?.currency ?? null,
    };
  }

  return {
    async getCart(owner) {
      return view(await read(checkOwner(owner)));
    },

    async setQuantity(owner, productId, quantity) {
      const who = checkOwner(owner);
      const id = checkProductId(productId);
      if (!Number.isInteger(quantity) || quantity < 1 || quantity > CART_LIMITS.maxQuantity) {
        throw invalidInput(`quantity must be a whole number from 1 to ${CART_LIMITS.maxQuantity}`, {
          errors: [
            { location: 'body', path: '/quantity', message: `must be 1 to ${CART_LIMITS.maxQuantity}` },
          ],
        });
      }
      // Throws NOT_FOUND for an unknown product and for a draft (drafts do not exist for buyers).
      const product = await catalog.getProduct(null, id);
      if (who.kind === 'buyer' && product.sellerId === who.buyerId) throw ownProduct([id]);
      const addedAt = new Date(now()).toISOString();
      return view(await update(who, (doc) => setLine(doc, id, quantity, addedAt)));
    },

    async removeItem(owner, productId) {
      const who = checkOwner(owner);
      const id = checkProductId(productId);
      return view(await update(who, (doc) => removeLine(doc, id)));
    },

    async mergeAnonymousCart(cartId, buyerId) {
      const anonymous = checkOwner({ kind: 'anonymous', cartId }) as { kind: 'anonymous'; cartId: string };
      const buyer = checkOwner({ kind: 'buyer', buyerId });
      const anonKey = keyOf(anonymous);
      const entry = await kv.get(anonKey);
      if (!entry) return { merged: false };
      const source = parseCart(entry.value);
      if (source.lines.length === 0) {
        await kv.delete(anonKey);
        return { merged: false };
      }
      let merged = false;
      await update(buyer, (doc) => {
        const next = mergeCarts(doc, source, anonymous.cartId);
        merged = next !== null;
        return next;
      });
      await kv.delete(anonKey);
      return { merged };
    },

    async getCartLines(buyerId) {
      const doc = await read(checkOwner({ kind: 'buyer', buyerId }));
      return doc.lines.map((l) => ({ productId: l.productId, quantity: l.quantity }));
    },

    async clearCart(buyerId, expectedLines) {
      const expected = expectedLines?.map((l) => ({
        productId: l.productId.toLowerCase(),
        quantity: l.quantity,
      }));
      await update(checkOwner({ kind: 'buyer', buyerId }), (doc) => removeCheckedOut(doc, expected));
    },
  };
}

/** A seller does not buy their own products: such a sale would only inflate their own figures. */
function ownProduct(productIds: readonly string[]): AppError {
  return new AppError(
    'OWN_PRODUCT',
    `you sell ${productIds.length === 1 ? 'this product' : 'these products'} (${productIds.join(', ')}); sellers cannot buy their own products`,
    { details: { productIds } },
  );
}
