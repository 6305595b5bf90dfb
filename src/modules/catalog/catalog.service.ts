/**
 * The catalog's rules: who may see and change which product, category placement, listing,
 * search and pagination. Plain typed input and output; the caller says who acts (`Actor`, or
 * null for an anonymous visitor) and never passes a request.
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
import type { Kysely } from 'kysely';
import { Compile } from 'typebox/compile';
import type { Cache } from '../../platform/cache/cache.ts';
import { appendEvents, type NewEvent } from '../../platform/events/outbox.ts';
import type { ObjectStore } from '../../platform/objects/objects.ts';
import type { SqlPort } from '../../platform/sql/sql.ts';
import { type Actor, requireRole } from '../../shared/actor.ts';
import { AppError, forbidden, invalidInput, notFound } from '../../shared/errors.ts';
import { isUuid, uuidv7 } from '../../shared/ids.ts';
import { createCatalogCache, type ProductChange } from './catalog.cache.ts';
import * as repo from './catalog.repo.ts';
import {
  type CategoryTree,
  LIMITS,
  type Product,
  type ProductCreate,
  ProductCreateBody,
  type ProductListInput,
  type ProductListItem,
  type ProductPage,
  type ProductPhoto,
  type ProductUpdate,
  type SellerProductListInput,
  type Sort,
} from './catalog.schema.ts';
import type {
  CatalogDb,
  ProductAttributes,
  ProductStatus,
  ReservedLineRow,
  StoredPhoto,
} from './catalog.tables.ts';
import { decodeCursor, encodeCursor, type SortKey } from './cursor.ts';
import { toPrefixTsQuery } from './search.ts';

/** A product for `insertProducts`: the create body plus what a trusted caller may fix. */
export type ProductSeed = ProductCreate & {
  sellerId: string;
  id?: string;
  /** Millisecond precision (a JS Date); defaults to now. */
  createdAt?: Date;
};

/** One line to reserve: a product and how many units. */
export type StockLine = Readonly<{ productId: string; quantity: number }>;

/** A reserved line with the price snapshot taken when its stock was held. */
export type ReservedLine = Readonly<ReservedLineRow>;

/** Why a line could not be reserved: the product is short, or gone / unpublished. */
export type StockShortage = Readonly<{
  productId: string;
  requested: number;
  /** Units in stock now; 0 for an unavailable product. */
  available: number;
  reason: 'out_of_stock' | 'unavailable';
}>;

/** A held reservation as `listHeldReservations` gives it. */
export type HeldReservation = Readonly<{ reservationId: string; holderId: string; createdAt: Date }>;

export type ReserveResult =
  | Readonly<{ ok: true; reservationId: string; state: 'held' | 'committed'; lines: ReservedLine[] }>
  | Readonly<{
      ok: false;
      reservationId: string;
      /** `unavailable` when any line's product is gone or unpublished; `released`: this id was released. */
      reason: 'out_of_stock' | 'unavailable' | 'released';
      shortages: StockShortage[];
    }>;

export interface CatalogService {
  /** The category tree: top levels in display order, each with its children. */
  listCategories(): Promise<CategoryTree>;
  /** Published products, filtered, sorted and paginated by keyset; search when `q` has words. */
  listProducts(input: ProductListInput): Promise<ProductPage>;
  /** The actor's own products, drafts included, newest first. Sellers and admins. */
  listSellerProducts(actor: Actor | null, input: SellerProductListInput): Promise<ProductPage>;
  /** One product; a draft only for its owner or an admin (NOT_FOUND to anyone else). */
  getProduct(actor: Actor | null, id: string): Promise<Product>;
  /**
   * A lookup of what `getProduct(null, id)` answers, when this instance can tell at once from its
   * memory cache (fresh): the product in the caller's `form` (made once per cached product and
   * kept with it until it changes, e.g. its JSON), or NOT_FOUND thrown; no promise, no database.
   * Undefined otherwise (ask `getProduct`). `form` must depend on the product only.
   */
  publicProductsNow<D>(form: (product: Product) => D): (id: string) => D | undefined;
  /** Published products among `ids` (at most 1000; unknown ids and drafts left out), in no order. Stale-tolerant: read handle. */
  getProducts(ids: readonly string[]): Promise<Product[]>;
  /** Creates a product for the actor, a seller or admin. UNKNOWN_CATEGORY when the category is not. */
  createProduct(actor: Actor | null, input: ProductCreate): Promise<Product>;
  /** Changes the given fields; owner or admin (FORBIDDEN otherwise; NOT_FOUND for others' drafts). */
  updateProduct(actor: Actor | null, id: string, input: ProductUpdate): Promise<Product>;
  /** Deletes a product; owner or admin, as for updates. */
  deleteProduct(actor: Actor | null, id: string): Promise<void>;
  /**
   * Bulk insert for trusted callers (the demo seeder): validates every row as the create route
   * does, then inserts all in one transaction, in batches. Returns how many rows were inserted.
   */
  insertProducts(rows: readonly ProductSeed[]): Promise<number>;
  /** How many products exist, drafts included (seeding decides from it how many to add). */
  countProducts(): Promise<number>;
  /**
   * Holds stock for `lines` under `reservationId` (a UUID chosen by the caller), all or nothing,
   * in one catalog transaction: products are locked in id order, each line takes its units with
   * a conditional update (published, enough stock). Idempotent: a repeat with the same id returns
   * the recorded result (the same snapshot) without taking stock again; a repeat with other lines
   * is CONFLICT. A failure holds nothing and records nothing, except for an id already released
   * (`reason: 'released'`). Lines must name distinct products, quantities ≥ 1. `holderId` (a
   * UUID: orders passes the buyer) is recorded and listed by `listHeldReservations`.
   */
  reserveStock(reservationId: string, lines: readonly StockLine[], holderId?: string): Promise<ReserveResult>;
  /**
   * Puts a held or committed reservation's stock back, once. Idempotent; an unknown id is
   * recorded as released, so a reserve arriving late with that id holds nothing. Returns whether
   * this call put stock back.
   */
  releaseStock(reservationId: string): Promise<{ released: boolean }>;
  /**
   * Reservations still `held` that were taken with a holder before `olderThan`, oldest first, at
   * most `limit` (≤ 1000), after the page ending at `after`: what a holder's reconciliation must
   * settle (confirm or release). Reads the primary.
   */
  listHeldReservations(input: {
    olderThan: Date;
    after?: HeldReservation;
    limit: number;
  }): Promise<HeldReservation[]>;
  /** Marks a held reservation committed (its order exists). Idempotent; returns the state after. */
  confirmReservation(
    reservationId: string,
  ): Promise<{ state: 'held' | 'committed' | 'released' | 'unknown' }>;
}

export type CatalogServiceOptions = Readonly<{ now?: () => Date }>;

const checkCreate = Compile(ProductCreateBody);
/** A product cached as not public (a draft, or none), in `publicProductsNow`'s forms. */
const NOT_PUBLIC: unique symbol = Symbol('not public');

export function createCatalogService(
  /**
   * `objects` builds photo URLs; without it products carry no photos (for callers that show none).
   * `cache`: public reads go through it and writes invalidate it; without it every read is a query.
   */
  platform: Readonly<{ sql: SqlPort; objects?: Pick<ObjectStore, 'publicUrl'>; cache?: Cache }>,
  options: CatalogServiceOptions = {},
): CatalogService {
  const db = platform.sql.for<CatalogDb>('catalog');
  const now = options.now ?? (() => new Date());
  const cached = createCatalogCache(platform.cache, db);
  // After a commit: a failed invalidation must not fail a write that happened. The
  // cache-invalidation consumer repeats it from the event (with retries); the TTL bounds the rest.
  const invalidate = (change: ProductChange) => cached.productChanged(change).catch(() => {});
  // Photo URLs are built per response from keys, so a new MEDIA_BASE_URL needs no data migration.
  const objects = platform.objects;
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
        const rows = await cached.categories();
        // Not among the cached rows: ask the database (a category added since, or none: 404).
        const found =
          rows.find((c) => ('id' in by ? c.id === by.id : c.slug === by.slug)) ??
          (await repo.findCategory(db.read, by));
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

    publicProductsNow<D>(form: (product: Product) => D) {
      const lookup = cached.productForms((product) => (product === null ? NOT_PUBLIC : form(product)));
      return (id: string): D | undefined => {
        const known = lookup(id);
        if (known === NOT_PUBLIC) throw notFound(`product ${id}`); // cached as not public (a draft, or none)
        return known;
      };
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
        await appendEvents(asOutbox(trx), productEvents(undefined, product));
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
        await appendEvents(asOutbox(trx), productEvents(existing, product));
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
          await appendEvents(asOutbox(trx), [deletedEvent(existing!)]);
        }
        return existing!;
      });
      if (existing.status === 'published') await invalidate(changeOf(existing, undefined));
    },

    async countProducts() {
      const row = await db.write
        .selectFrom('products')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    async insertProducts(seeds) {
      if (seeds.length === 0) return 0;
      const rows = seeds.map((seed, i) => {
        const { sellerId, id, createdAt, ...body } = seed;
        if (!checkCreate.Check(body)) {
          const first = checkCreate.Errors(body)[0];
          throw invalidInput(`product ${i}: ${first?.instancePath || '/'} ${first?.message ?? 'is invalid'}`);
        }
        if (!isUuid(sellerId) || (id !== undefined && !isUuid(id))) {
          throw invalidInput(`product ${i}: sellerId and id must be UUIDs`);
        }
        return newProductValues(body, { sellerId, id, createdAt: createdAt ?? now() });
      });
      const inserted = await db.write.transaction().execute(async (trx) => {
        const tops = await repo.categoryTops(trx);
        const values = rows.map((row) => {
          const top = tops.get(row.categoryId);
          if (top === undefined) throw unknownCategory(row.categoryId);
          return { ...row, topCategoryId: top };
        });
        return repo.insertProducts(trx, values);
      });
      await cached.productsInserted().catch(() => {});
      return inserted;
    },

    async reserveStock(reservationId, lines, holderId) {
      const wanted = checkStockLines(reservationId, lines);
      if (holderId !== undefined && !isUuid(holderId)) throw invalidInput('holderId must be a UUID');
      try {
        const result = await db.write.transaction().execute(async (trx): Promise<ReserveResult> => {
          const at = now();
          if (!(await repo.insertReservation(trx, reservationId, 'held', at, holderId ?? null))) {
            return recordedReservation(await repo.findReservation(trx, reservationId), reservationId, wanted);
          }
          const rows = new Map(
            (await repo.lockProductsForStock(trx, [...wanted.keys()])).map((r) => [r.id, r]),
          );
          const shortages: StockShortage[] = [];
          for (const [productId, quantity] of wanted) {
            const row = rows.get(productId);
            if (row?.status !== 'published') {
              shortages.push({ productId, requested: quantity, available: 0, reason: 'unavailable' });
            } else if (row.stock < quantity) {
              shortages.push({
                productId,
                requested: quantity,
                available: row.stock,
                reason: 'out_of_stock',
              });
            }
          }
          if (shortages.length > 0) throw new ReservationRefused(shortages);
          const reserved: ReservedLine[] = [];
          for (const [productId, quantity] of wanted) {
            // Rows are locked and checked; the conditional update still refuses an oversell.
            if (!(await repo.takeStock(trx, productId, quantity, at))) {
              throw new Error(`stock of product ${productId} changed under a row lock`);
            }
            const row = rows.get(productId)!;
            reserved.push({
              productId,
              quantity,
              sellerId: row.seller_id,
              title: row.title,
              priceMinor: row.price_minor,
              currency: row.currency,
            });
          }
          await repo.setReservation(trx, reservationId, { state: 'held', lines: reserved }, at);
          return { ok: true as const, reservationId, state: 'held' as const, lines: reserved };
        });
        // Detail pages show stock: drop them now (listings show it too and wait for their TTL).
        if (result.ok) await cached.stockChanged([...wanted.keys()]).catch(() => {});
        return result;
      } catch (err) {
        if (!(err instanceof ReservationRefused)) throw err;
        const reason = err.shortages.some((s) => s.reason === 'unavailable') ? 'unavailable' : 'out_of_stock';
        return { ok: false, reservationId, reason, shortages: err.shortages };
      }
    },

    async releaseStock(reservationId) {
      if (!isUuid(reservationId)) throw invalidInput('reservationId must be a UUID');
      const returned = await db.write.transaction().execute(async (trx) => {
        const at = now();
        // A tombstone for an unknown id: a reserve still in flight with this id waits on the key
        // and then finds it released.
        if (await repo.insertReservation(trx, reservationId, 'released', at)) return [];
        const found = await repo.findReservation(trx, reservationId, true);
        if (!found || found.state === 'released') return [];
        const lines = [...found.lines].sort((a, b) => (a.productId < b.productId ? -1 : 1));
        for (const line of lines) await repo.returnStock(trx, line.productId, line.quantity, at);
        await repo.setReservation(trx, reservationId, { state: 'released' }, at);
        return lines.map((l) => l.productId);
      });
      if (returned.length > 0) await cached.stockChanged(returned).catch(() => {});
      return { released: returned.length > 0 };
    },

    async listHeldReservations({ olderThan, after, limit }) {
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        throw invalidInput('limit must be a whole number from 1 to 1000');
      }
      const rows = await repo.listHeldReservations(
        db.write,
        olderThan,
        after && { createdAt: after.createdAt, id: after.reservationId },
        limit,
      );
      return rows.map((r) => ({ reservationId: r.id, holderId: r.holder_id, createdAt: r.created_at }));
    },

    async confirmReservation(reservationId) {
      if (!isUuid(reservationId)) throw invalidInput('reservationId must be a UUID');
      return db.write.transaction().execute(async (trx) => {
        const found = await repo.findReservation(trx, reservationId, true);
        if (!found) return { state: 'unknown' as const };
        if (found.state !== 'held') return { state: found.state };
        await repo.setReservation(trx, reservationId, { state: 'committed' }, now());
        return { state: 'committed' as const };
      });
    },
  };
}

/** Rolls a reservation's transaction back and carries why to the caller. */
class ReservationRefused extends Error {
  readonly shortages: StockShortage[];
  constructor(shortages: StockShortage[]) {
    super('stock reservation refused');
    this.shortages = shortages;
  }
}

/** productId → quantity, after checking the input; distinct products in id order. */
function checkStockLines(reservationId: string, lines: readonly StockLine[]): Map<string, number> {
  if (!isUuid(reservationId)) throw invalidInput('reservationId must be a UUID');
  if (lines.length === 0) throw invalidInput('a reservation needs at least one line');
  const wanted = new Map<string, number>();
  for (const line of lines) {
    const id = line.productId.toLowerCase();
    if (!isUuid(id)) throw invalidInput(`product id ${line.productId} is not a UUID`);
    if (!Number.isInteger(line.quantity) || line.quantity < 1 || line.quantity > LIMITS.stockMax) {
      throw invalidInput(`quantity of product ${id} must be a whole number from 1 to ${LIMITS.stockMax}`);
    }
    if (wanted.has(id)) throw invalidInput(`product ${id} appears on two lines`);
    wanted.set(id, line.quantity);
  }
  return new Map([...wanted].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The answer to a repeated reserve: what was recorded, if the lines are the same. */
function recordedReservation(
  found: repo.ReservationRecord | undefined,
  reservationId: string,
  wanted: Map<string, number>,
): ReserveResult {
  if (!found) throw new Error(`reservation ${reservationId} vanished`);
  if (found.state === 'released') return { ok: false, reservationId, reason: 'released', shortages: [] };
  const same =
    found.lines.length === wanted.size && found.lines.every((l) => wanted.get(l.productId) === l.quantity);
  if (!same) {
    throw new AppError('CONFLICT', `reservation ${reservationId} already holds other lines`);
  }
  return { ok: true, reservationId, state: found.state, lines: found.lines };
}

/** The outbox of the catalog handle (or transaction) given. */
const asOutbox = (db: repo.Db): Kysely<unknown> => db as unknown as Kysely<unknown>;

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

function unknownCategory(id: string): AppError {
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

function newProductValues(
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

/** One reservation of a batch. `hold` takes the stock; without it (an order cancelled long ago) only the snapshot is recorded, as released. */
export type BatchReservation = Readonly<{
  reservationId: string;
  lines: readonly StockLine[];
  hold: boolean;
}>;

/** What a batch reservation recorded: `none` when no line could be reserved (nothing is kept then). */
export type BatchReserved = Readonly<{
  state: 'held' | 'committed' | 'released' | 'none';
  lines: readonly ReservedLine[];
}>;

/**
 * Stock operations on many reservations at once, for trusted bulk callers (the demo seeder's
 * batched checkout). They keep the rules of `reserveStock`/`confirmReservation` (ids are the
 * order ids, idempotent by id, products locked in id order, no oversell, price snapshots) with a
 * constant number of statements per batch instead of several per order.
 */
export interface CatalogBulkStock {
  /**
   * Ids of published products with stock, in id order after `after` (keyset pages of at most
   * `limit`); with `sellerIds`, only those sellers' products.
   */
  listInStockProductIds(
    after: string | undefined,
    limit: number,
    sellerIds?: readonly string[],
  ): Promise<string[]>;
  /**
   * Reserves a batch in ONE catalog transaction. A reservation id already recorded answers what
   * was recorded (its stock is not taken again). For a new id, each line whose product is
   * published and, when holding, still has the quantity (after the batch's earlier requests) is
   * reserved; other lines are left out (sold out or unpublished), as are lines in a currency other
   * than the first reserved line's. `soldOut` lists products found short or left at zero.
   */
  reserveStockBatch(requests: readonly BatchReservation[]): Promise<{
    reserved: Map<string, BatchReserved>;
    soldOut: string[];
  }>;
  /** Marks held reservations committed (their orders exist), in one statement; returns how many moved. */
  confirmReservations(reservationIds: readonly string[]): Promise<number>;
}

export function createCatalogBulkStock(
  /** With `cache`, the detail entries of products whose stock moved are invalidated after each batch. */
  platform: Readonly<{ sql: SqlPort; cache?: Cache }>,
  options: CatalogServiceOptions = {},
): CatalogBulkStock {
  const db = platform.sql.for<CatalogDb>('catalog');
  const now = options.now ?? (() => new Date());
  const cached = createCatalogCache(platform.cache, db);
  return {
    listInStockProductIds: (after, limit, sellerIds) =>
      repo.listInStockProductIds(db.write, after, limit, sellerIds),

    async reserveStockBatch(requests) {
      const wanted = requests.map((r) => ({
        id: r.reservationId.toLowerCase(),
        hold: r.hold,
        lines: checkStockLines(r.reservationId, r.lines),
      }));
      if (new Set(wanted.map((w) => w.id)).size !== wanted.length) {
        throw invalidInput('a batch names a reservation id twice');
      }
      const result = await db.write.transaction().execute(async (trx) => {
        const at = now();
        const reserved = new Map<string, BatchReserved>();
        const fresh = await repo.insertReservationsMany(
          trx,
          wanted.map((w) => w.id),
          at,
        );
        for (const found of await repo.findReservationsMany(
          trx,
          wanted.filter((w) => !fresh.has(w.id)).map((w) => w.id),
        )) {
          reserved.set(found.id, {
            state: found.lines.length > 0 ? found.state : 'none',
            lines: found.lines,
          });
        }
        const todo = wanted.filter((w) => fresh.has(w.id));
        const products = new Map(
          (await repo.lockProductsForStock(trx, [...new Set(todo.flatMap((w) => [...w.lines.keys()]))])).map(
            (p) => [p.id, { ...p }],
          ),
        );
        const taken = new Map<string, number>();
        const soldOut = new Set<string>();
        const records: { id: string; state: 'held' | 'released'; lines: ReservedLine[] }[] = [];
        const empty: string[] = [];
        for (const w of todo) {
          const lines: ReservedLine[] = [];
          for (const [productId, quantity] of w.lines) {
            const p = products.get(productId);
            if (p?.status !== 'published') continue;
            if (lines.length > 0 && p.currency !== lines[0]!.currency) continue;
            if (w.hold) {
              if (p.stock < quantity) {
                soldOut.add(productId);
                continue;
              }
              p.stock -= quantity;
              taken.set(productId, (taken.get(productId) ?? 0) + quantity);
              if (p.stock === 0) soldOut.add(productId);
            }
            lines.push({
              productId,
              quantity,
              sellerId: p.seller_id,
              title: p.title,
              priceMinor: p.price_minor,
              currency: p.currency,
            });
          }
          if (lines.length === 0) {
            empty.push(w.id);
            reserved.set(w.id, { state: 'none', lines });
          } else {
            const state = w.hold ? ('held' as const) : ('released' as const);
            records.push({ id: w.id, state, lines });
            reserved.set(w.id, { state, lines });
          }
        }
        const takes = [...taken].map(([productId, quantity]) => ({ productId, quantity }));
        // Rows are locked and counted above; the conditional update still refuses an oversell.
        if ((await repo.takeStockMany(trx, takes, at)) !== takes.length) {
          throw new Error('stock changed under a row lock during a batch reservation');
        }
        await repo.setReservationsMany(trx, records, at);
        await repo.deleteReservationsMany(trx, empty);
        return { reserved, soldOut: [...soldOut], moved: [...taken.keys()] };
      });
      // After the commit; a failed invalidation leaves the entries to their TTL.
      await cached.stockChanged(result.moved).catch(() => {});
      return { reserved: result.reserved, soldOut: result.soldOut };
    },

    confirmReservations: (ids) =>
      repo.commitReservationsMany(
        db.write,
        ids.map((id) => id.toLowerCase()),
        now(),
      ),
  };
}
