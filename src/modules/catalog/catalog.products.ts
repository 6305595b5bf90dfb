/**
 * The catalog's product rules: who may see and change which product, category placement,
 * listing, search and pagination. Plain typed input and output; the caller says who acts
 * (`Actor`, or null for an anonymous visitor) and never passes a request.
 *
 * Reads that tolerate staleness (public listings, search, categories, anonymous product pages)
 * use the domain's `read` handle; writes, and reads by a product's owner that must see their own
 * latest write, use `write`. Each write is one transaction of this domain, so an outbox row can
 * join it later.
 *
 * With a cache (`platform.cache`), public reads go through it (catalog.cache.ts): product detail,
 * the category tree, first pages of listings and searches. Every write invalidates what it
 * changed before it returns, on this instance and, through the cache's bus, on the others; the
 * `catalog.cache-invalidation` consumer repeats it from the write's event.
 */
import { appendEvents, type NewEvent } from '../../platform/events/outbox.ts';
import type { ObjectStore } from '../../platform/objects/objects.ts';
import type { DomainDb } from '../../platform/sql/sql.ts';
import { type Actor, requireRole } from '../../shared/actor.ts';
import { AppError, forbidden, invalidInput, notFound } from '../../shared/errors.ts';
import { isUuid, uuidv7 } from '../../shared/ids.ts';
import type { CatalogCache, ProductChange } from './catalog.cache.ts';
import { createCategoryDirectory } from './catalog.categories.ts';
import * as repo from './catalog.repo.ts';
import {
  type CategoryTree,
  LIMITS,
  type Product,
  type ProductCreate,
  type ProductListInput,
  type ProductListItem,
  type ProductPage,
  type ProductPhoto,
  type ProductUpdate,
  type SellerProductListInput,
  type Sort,
} from './catalog.schema.ts';
import type { CatalogDb, ProductAttributes, ProductStatus, StoredPhoto } from './catalog.tables.ts';
import { decodeCursor, encodeCursor, type SortKey } from './cursor.ts';
import { toPrefixTsQuery } from './search.ts';

/** Products and categories: public reads, and sellers' (or admins') writes of their own products. */
export interface CatalogProducts {
  /** The category tree: top levels in display order, each with its children. */
  listCategories(): Promise<CategoryTree>;
  /** Published products, filtered, sorted and paginated by keyset; search when `q` has words. */
  listProducts(input: ProductListInput): Promise<ProductPage>;
  /** The actor's own products, drafts included, newest first. Sellers and admins. */
  listSellerProducts(actor: Actor | null, input: SellerProductListInput): Promise<ProductPage>;
  /** One product; a draft only for its owner or an admin (NOT_FOUND to anyone else). */
  getProduct(actor: Actor | null, id: string): Promise<Product>;
  /**
   * What `getProduct(null, id)` answers, when this instance can tell at once from its memory
   * cache: the product (a shared frozen object), or NOT_FOUND thrown; no promise, no database.
   * Undefined otherwise (ask `getProduct`).
   */
  publicProductNow(id: string): Product | undefined;
  /** Published products among `ids` (at most 1000; unknown ids and drafts left out), in no order. Stale-tolerant: read handle. */
  getProducts(ids: readonly string[]): Promise<Product[]>;
  /** Creates a product for the actor, a seller or admin. UNKNOWN_CATEGORY when the category is not. */
  createProduct(actor: Actor | null, input: ProductCreate): Promise<Product>;
  /** Changes the given fields; owner or admin (FORBIDDEN otherwise; NOT_FOUND for others' drafts). */
  updateProduct(actor: Actor | null, id: string, input: ProductUpdate): Promise<Product>;
  /** Deletes a product; owner or admin, as for updates. */
  deleteProduct(actor: Actor | null, id: string): Promise<void>;
}

export function createCatalogProducts(
  deps: Readonly<{
    db: DomainDb<CatalogDb>;
    now: () => Date;
    /** Public reads go through it and writes invalidate it. */
    cached: CatalogCache;
    /** Builds photo URLs; without it products carry no photos (for callers that show none). */
    objects: Pick<ObjectStore, 'publicUrl'> | undefined;
  }>,
): CatalogProducts {
  const { db, now, cached } = deps;
  const categories = createCategoryDirectory({
    loadAll: () => cached.categories(),
    findOne: (by) => repo.findCategory(db.read, by),
  });
  // After a commit: a failed invalidation must not fail a write that happened. The
  // cache-invalidation consumer repeats it from the event (with retries); the TTL bounds the rest.
  const invalidate = (change: ProductChange) => cached.productChanged(change).catch(() => {});
  // Photo URLs are built per response from keys, so a new MEDIA_BASE_URL needs no data migration.
  const objects = deps.objects;
  const toPhoto = (p: StoredPhoto, urlOf: (key: string) => string): ProductPhoto => ({
    id: p.id,
    variants: p.variants.map((v) => ({
      width: v.width,
      height: v.height,
      format: v.format,
      url: urlOf(v.key),
    })),
  });
  const toProduct = (p: repo.ProductRecord): Product => ({
    ...productFields(p),
    photos: objects ? p.photos.map((photo) => toPhoto(photo, (k) => objects.publicUrl(k))) : [],
  });
  const toListItem = (p: repo.ProductRecord): ProductListItem => ({
    ...productFields(p),
    photo: objects && p.photos[0] ? toPhoto(p.photos[0], (k) => objects.publicUrl(k)) : null,
  });

  async function page(
    handle: repo.Db,
    filter: repo.ProductFilter,
    sort: Sort,
    after: SortKey | undefined,
    limit: number,
  ): Promise<ProductPage> {
    const rows = await repo.listProducts(handle, filter, sort, after, limit + 1);
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    const nextCursor = rows.length > limit && last ? encodeCursor(sortKeyOf(last, sort)) : null;
    return { items: items.map(toListItem), nextCursor };
  }

  return {
    async listCategories() {
      const rows = await cached.categories();
      categories.hold(rows);
      const tops = rows.filter((c) => c.parent_id === null);
      return tops.map((top) => ({
        id: top.id,
        slug: top.slug,
        name: top.name,
        children: rows
          .filter((c) => c.parent_id === top.id)
          .map((c) => ({ id: c.id, slug: c.slug, name: c.name })),
      }));
    },

    async listProducts(input) {
      const text = input.q !== undefined && input.q.trim() !== '' ? input.q : undefined;
      const sort: Sort = input.sort ?? (text === undefined ? 'newest' : 'relevance');
      if (sort === 'relevance' && text === undefined) {
        throw invalidInput('sort=relevance needs search words in q', {
          errors: [{ location: 'querystring', path: '/sort', message: 'relevance needs q' }],
        });
      }
      const after = input.cursor === undefined ? undefined : decodeCursor(input.cursor, sort);
      const tsquery = text === undefined ? undefined : toPrefixTsQuery(text);
      if (tsquery === null) return { items: [], nextCursor: null };

      let category: { categoryId?: string; topCategoryId?: string } = {};
      let categoryId: string | undefined;
      if (input.category !== undefined) {
        const by = isUuid(input.category) ? { id: input.category.toLowerCase() } : { slug: input.category };
        const found = await categories.find(by);
        if (!found) throw notFound(`category ${input.category}`);
        categoryId = found.id;
        category = found.parent_id === null ? { topCategoryId: found.id } : { categoryId: found.id };
      }
      const load = () =>
        page(
          db.read,
          {
            status: 'published',
            ...category,
            ...(input.seller !== undefined ? { sellerId: input.seller } : {}),
            ...(tsquery !== undefined ? { tsquery } : {}),
          },
          sort,
          after,
          input.limit,
        );
      if (after !== undefined) return load();
      return cached.firstPage(
        { categoryId, sellerId: input.seller, sort, limit: input.limit, tsquery },
        load,
      );
    },

    async listSellerProducts(actor, input) {
      const seller = requireRole(actor, 'seller');
      const after = input.cursor === undefined ? undefined : decodeCursor(input.cursor, 'newest');
      return page(
        db.write,
        { sellerId: seller.userId, ...(input.status !== undefined ? { status: input.status } : {}) },
        'newest',
        after,
        input.limit,
      );
    },

    async getProduct(actor, id) {
      // The public view (published or null) is what may be cached and shown to anyone.
      const visible = await cached.product(id, async () => {
        const found = await repo.findProduct(db.read, id);
        return found?.status === 'published' ? toProduct(found) : null;
      });
      // The owner (or an admin) may have just written it, or it is their draft: read their own
      // from the primary, never from the cache.
      if (actor && (!visible || visible.sellerId === actor.userId || actor.role === 'admin')) {
        const found = await repo.findProduct(db.write, id);
        if (!found || !canSee(actor, found)) throw notFound(`product ${id}`);
        return toProduct(found);
      }
      if (!visible) throw notFound(`product ${id}`);
      return visible;
    },

    publicProductNow(id) {
      const known = cached.productNow(id);
      if (known === null) throw notFound(`product ${id}`); // cached as not public (a draft, or none)
      return known;
    },

    async getProducts(ids) {
      if (ids.length > 1000) throw invalidInput('ask for at most 1000 products at once');
      const wanted = [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
      if (wanted.length === 0) return [];
      const rows = await repo.findProducts(db.read, wanted);
      return rows.filter((p) => p.status === 'published').map(toProduct);
    },

    async createProduct(actor, input) {
      const seller = requireRole(actor, 'seller');
      const at = now();
      const values = newProductValues(input, { sellerId: seller.userId, createdAt: at });
      const product = await db.write.transaction().execute(async (trx) => {
        const top = await topCategoryOf(trx, values.categoryId);
        const product = toProduct(await repo.insertProduct(trx, { ...values, topCategoryId: top }));
        await appendEvents(trx, productEvents(undefined, product));
        return product;
      });
      if (product.status === 'published') await invalidate(changeOf(undefined, product));
      return product;
    },

    async updateProduct(actor, id, input) {
      const user = requireRole(actor);
      if (Object.keys(input).length === 0) throw invalidInput('send at least one field to change');
      const changes = productChanges(input, now());
      const [existing, product] = await db.write.transaction().execute(async (trx) => {
        const existing = await repo.findProduct(trx, id, true);
        mayChange(user, existing, id);
        if (changes.categoryId !== undefined) {
          changes.topCategoryId = await topCategoryOf(trx, changes.categoryId);
        }
        const product = toProduct(await repo.updateProduct(trx, id, changes));
        await appendEvents(trx, productEvents(existing, product));
        return [existing!, product] as const;
      });
      if (existing.status === 'published' || product.status === 'published') {
        await invalidate(changeOf(existing, product));
      }
      return product;
    },

    async deleteProduct(actor, id) {
      const user = requireRole(actor);
      const existing = await db.write.transaction().execute(async (trx) => {
        const existing = await repo.findProduct(trx, id, true);
        mayChange(user, existing, id);
        await repo.deleteProduct(trx, id);
        if (existing!.status === 'published') {
          await appendEvents(trx, [deletedEvent(existing!)]);
        }
        return existing!;
      });
      if (existing.status === 'published') await invalidate(changeOf(existing, undefined));
    },
  };
}

/**
 * `product.published` when a product becomes published (created so, or its status changed to
 * published); `product.updated` for any other change of a product that was or is published
 * (unpublishing included: the payload's status says so; `previousCategoryId` when it moved).
 * Drafts emit nothing.
 */
function productEvents(
  before: { status: ProductStatus; categoryId: string } | undefined,
  after: Product,
): NewEvent[] {
  const wasPublished = before?.status === 'published';
  if (!wasPublished && after.status !== 'published') return [];
  const type = wasPublished ? 'product.updated' : 'product.published';
  return [
    {
      type,
      key: after.id,
      payload: {
        productId: after.id,
        sellerId: after.sellerId,
        categoryId: after.categoryId,
        ...(before && before.categoryId !== after.categoryId
          ? { previousCategoryId: before.categoryId }
          : {}),
        title: after.title,
        priceMinor: after.priceMinor,
        currency: after.currency,
        status: after.status,
      },
    },
  ];
}

/** `product.deleted`, when a published product is deleted (a draft's deletion emits nothing). */
function deletedEvent(p: { id: string; sellerId: string; categoryId: string }): NewEvent {
  return {
    type: 'product.deleted',
    key: p.id,
    payload: { productId: p.id, sellerId: p.sellerId, categoryId: p.categoryId },
  };
}

type ChangedProduct = { id: string; sellerId: string; categoryId: string; status: ProductStatus };

/** What a write changed in the public catalog, for cache invalidation. */
function changeOf(before: ChangedProduct | undefined, after: ChangedProduct | undefined): ProductChange {
  const p = (after ?? before)!;
  return {
    productId: p.id,
    sellerId: p.sellerId,
    categoryIds: [before?.categoryId, after?.categoryId],
    leftPublic: before?.status === 'published' && after?.status !== 'published',
  };
}

const isOwnerOrAdmin = (actor: Actor | null, p: { sellerId: string }): boolean =>
  actor !== null && (actor.role === 'admin' || actor.userId === p.sellerId);

function canSee(actor: Actor | null, p: { sellerId: string; status: ProductStatus }): boolean {
  return p.status === 'published' || isOwnerOrAdmin(actor, p);
}

/** Others' drafts do not exist for them (NOT_FOUND); others' published products are FORBIDDEN. */
function mayChange(actor: Actor, existing: repo.ProductRecord | undefined, id: string): void {
  if (!existing || !canSee(actor, existing)) throw notFound(`product ${id}`);
  if (!isOwnerOrAdmin(actor, existing)) {
    throw forbidden('only the seller of this product (or an admin) may change it');
  }
}

export function unknownCategory(id: string): AppError {
  return new AppError('UNKNOWN_CATEGORY', `category ${id} does not exist; see GET /api/categories`, {
    details: { errors: [{ location: 'body', path: '/categoryId', message: 'no such category' }] },
  });
}

async function topCategoryOf(db: repo.Db, categoryId: string): Promise<string> {
  const category = await repo.findCategory(db, { id: categoryId.toLowerCase() });
  if (!category) throw unknownCategory(categoryId);
  return category.top_id;
}

/** Rules a JSON schema cannot say: a title is not blank, attributes fit in their byte budget. */
function checkTitle(title: string): string {
  const trimmed = title.trim();
  if (trimmed === '') {
    throw invalidInput('title must not be blank', {
      errors: [{ location: 'body', path: '/title', message: 'must not be blank' }],
    });
  }
  return trimmed;
}

function checkAttributes(attributes: ProductAttributes): ProductAttributes {
  const bytes = Buffer.byteLength(JSON.stringify(attributes));
  if (bytes > LIMITS.attributesMaxBytes) {
    const message = `must be at most ${LIMITS.attributesMaxBytes} bytes as JSON (got ${bytes})`;
    throw invalidInput(`attributes ${message}`, {
      errors: [{ location: 'body', path: '/attributes', message }],
    });
  }
  return attributes;
}

export function newProductValues(
  input: ProductCreate,
  fixed: { sellerId: string; id?: string | undefined; createdAt: Date },
): Omit<repo.ProductValues, 'topCategoryId'> {
  return {
    id: fixed.id ?? uuidv7(),
    sellerId: fixed.sellerId,
    categoryId: input.categoryId.toLowerCase(),
    title: checkTitle(input.title),
    description: input.description ?? '',
    priceMinor: input.priceMinor,
    currency: input.currency ?? 'USD',
    stock: input.stock ?? 0,
    attributes: checkAttributes(input.attributes ?? {}),
    status: input.status ?? 'draft',
    createdAt: fixed.createdAt,
    updatedAt: fixed.createdAt,
  };
}

function productChanges(input: ProductUpdate, at: Date): repo.ProductChanges {
  return {
    ...(input.categoryId !== undefined ? { categoryId: input.categoryId.toLowerCase() } : {}),
    ...(input.title !== undefined ? { title: checkTitle(input.title) } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.priceMinor !== undefined ? { priceMinor: input.priceMinor } : {}),
    ...(input.currency !== undefined ? { currency: input.currency } : {}),
    ...(input.stock !== undefined ? { stock: input.stock } : {}),
    ...(input.attributes !== undefined ? { attributes: checkAttributes(input.attributes) } : {}),
    ...(input.status !== undefined ? { status: input.status } : {}),
    updatedAt: at,
  };
}

function sortKeyOf(p: repo.ProductRecord, sort: Sort): SortKey {
  switch (sort) {
    case 'newest':
      return { sort, key: p.createdAtDate, id: p.id };
    case 'price_asc':
    case 'price_desc':
      return { sort, key: p.priceMinor, id: p.id };
    case 'relevance':
      return { sort, key: p.rank ?? 0, id: p.id };
  }
}

function productFields(p: repo.ProductRecord): Omit<Product, 'photos'> {
  return {
    id: p.id,
    sellerId: p.sellerId,
    categoryId: p.categoryId,
    title: p.title,
    description: p.description,
    priceMinor: p.priceMinor,
    currency: p.currency,
    stock: p.stock,
    attributes: p.attributes,
    status: p.status,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}
