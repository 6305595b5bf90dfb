/**
 * The catalog's cache-aside (through the cache port only): what is cached, under which key and
 * tags, for how long, and what a change invalidates. docs/modules/catalog.md, "Cache", says the
 * same for operators.
 *
 * | key                                               | value                                | TTL    | tags                                                        |
 * |---------------------------------------------------|--------------------------------------|--------|-------------------------------------------------------------|
 * | `product:<id>`                                    | the public product, or null          | 5 min  | none: a change expires the key itself                       |
 * | `categories`                                      | every category row, for the tree     | 1 h    | `categories`                                                |
 * | `listing:<category>:<seller>:<sort>:<limit>`      | first page of a listing              | 60 s   | `listings`, `listing:category:<id>` / `listing:seller:<id>` / `listing:all` |
 * | `search:<category>:<seller>:<sort>:<limit>:<tsquery>` | first page of a search          | 30 s   | `search`                                                    |
 *
 * Only what an anonymous visitor may see is cached: a product entry holds a published product or
 * null (drafts and unknown ids alike), listings and searches hold published products. An owner's
 * or admin's own product reads, and the seller's own listing, never go through the cache. Every
 * entry may be served stale for `GRACE_MS` after expiry or invalidation when its loader fails
 * (the database is down). Pages after the first (a cursor) are not cached: their keys are as
 * many as the cursors a client can make, and they are read far less. Listings look their category
 * up in the rows the catalog holds in process (catalog.categories.ts), which the first lookup
 * loads through the `categories` entry and every tree read refreshes from it.
 */
import type { Cache } from '../../platform/cache/cache.ts';
import type { DomainDb } from '../../platform/sql/sql.ts';
import * as repo from './catalog.repo.ts';
import type { Product, ProductPage, Sort } from './catalog.schema.ts';
import type { CatalogDb } from './catalog.tables.ts';

/** Fresh lifetimes in ms, before the cache port's jitter (up to +10%). */
export const CACHE_TTL_MS = {
  /** Invalidated on every change of the product, stock taken or returned by checkout included. */
  product: 5 * 60_000,
  /** Invalidated on product changes in the category or by the seller; stock moved by checkout waits for the TTL. */
  listing: 60_000,
  /** Not invalidated by edits (only when a product leaves the public catalog): short. */
  search: 30_000,
  /** Categories change only by migration. */
  categories: 60 * 60_000,
} as const;

/** How long after expiry or invalidation an entry may still be served when the database fails. */
export const GRACE_MS = 60 * 60_000;

/** The key of a product's detail entry. Untagged: every read of a tagged key also reads its tags' invalidation times, and a product's only dependant is this one key, so a change expires it directly. */
export const productKey = (id: string): string => `product:${id.toLowerCase()}`;

/** What changed, for invalidation: the product and every category it was or is in. */
export type ProductChange = Readonly<{
  productId: string;
  sellerId: string;
  /** Its category before and after (the same twice, or one, when it did not move). */
  categoryIds: readonly (string | undefined)[];
  /** It was public and is not any more (unpublished or deleted): also drop it from searches and remove its detail entry outright, grace included. */
  leftPublic: boolean;
}>;

export type ListingScope = Readonly<{
  categoryId: string | undefined;
  sellerId: string | undefined;
  sort: Sort;
  limit: number;
  /** The search's tsquery text; undefined for a plain listing. */
  tsquery: string | undefined;
}>;

export type CatalogCache = Readonly<{
  /** The public product with this id, or null (unknown or draft). */
  product(id: string, load: () => Promise<Product | null>): Promise<Product | null>;
  /** What `product(id)` would answer at once from this instance's memory (Cache.peek); undefined when it has to look further. */
  productNow(id: string): Product | null | undefined;
  /** Every category row (a few dozen), for the tree and for invalidation's category parents. */
  categories(): Promise<repo.Category[]>;
  /** The first page of a listing or search. */
  firstPage(scope: ListingScope, load: () => Promise<ProductPage>): Promise<ProductPage>;
  /** Invalidates what the change affects, on every instance (through the bus with Redis). */
  productChanged(change: ProductChange): Promise<void>;
  /** Stock moved (checkout): the products' detail entries. */
  stockChanged(productIds: readonly string[]): Promise<void>;
  /** Many products arrived at once (bulk insert): every listing and search. */
  productsInserted(): Promise<void>;
}>;

/** The catalog's cache over `cache`; without one, every read goes to the loader and invalidation does nothing. */
export function createCatalogCache(cache: Cache | undefined, db: DomainDb<CatalogDb>): CatalogCache {
  const loadCategories = () => repo.listCategories(db.read);
  if (!cache) {
    return {
      product: (_id, load) => load(),
      productNow: () => undefined,
      categories: loadCategories,
      firstPage: (_scope, load) => load(),
      productChanged: async () => {},
      stockChanged: async () => {},
      productsInserted: async () => {},
    };
  }

  const categories = () =>
    cache.getOrSet('categories', loadCategories, {
      ttlMs: CACHE_TTL_MS.categories,
      graceMs: GRACE_MS,
      tags: ['categories'],
    });

  const PRODUCT_OPTIONS = { ttlMs: CACHE_TTL_MS.product, graceMs: GRACE_MS } as const;

  return {
    product: (id, load) => cache.getOrSet(productKey(id), load, PRODUCT_OPTIONS),
    productNow: (id) => cache.peek<Product | null>(productKey(id)),

    categories,

    firstPage(scope, load) {
      const category = scope.categoryId ?? '-';
      const seller = scope.sellerId?.toLowerCase() ?? '-';
      const shape = `${category}:${seller}:${scope.sort}:${scope.limit}`;
      if (scope.tsquery !== undefined) {
        return cache.getOrSet(`search:${shape}:${scope.tsquery}`, load, {
          ttlMs: CACHE_TTL_MS.search,
          graceMs: GRACE_MS,
          tags: ['search'],
        });
      }
      const tags = ['listings'];
      if (scope.categoryId !== undefined) tags.push(`listing:category:${scope.categoryId}`);
      if (scope.sellerId !== undefined) tags.push(`listing:seller:${seller}`);
      if (tags.length === 1) tags.push('listing:all');
      return cache.getOrSet(`listing:${shape}`, load, {
        ttlMs: CACHE_TTL_MS.listing,
        graceMs: GRACE_MS,
        tags,
      });
    },

    async productChanged(change) {
      const tags = ['listing:all', `listing:seller:${change.sellerId}`];
      try {
        const rows = await categories();
        for (const id of new Set(change.categoryIds)) {
          if (id === undefined) continue;
          const row = rows.find((c) => c.id === id.toLowerCase());
          tags.push(`listing:category:${id.toLowerCase()}`);
          if (row && row.top_id !== row.id) tags.push(`listing:category:${row.top_id}`);
          else if (!row) tags.push('listings');
        }
      } catch {
        tags.push('listings'); // categories unknown (database down): every listing
      }
      if (change.leftPublic) {
        tags.push('search');
        await cache.delete(productKey(change.productId));
      } else {
        await cache.expire(productKey(change.productId), { graceMs: GRACE_MS });
      }
      await cache.deleteByTag(tags);
    },

    async stockChanged(productIds) {
      for (const id of new Set(productIds)) await cache.expire(productKey(id), { graceMs: GRACE_MS });
    },

    async productsInserted() {
      await cache.deleteByTag(['listings', 'search']);
    },
  };
}
