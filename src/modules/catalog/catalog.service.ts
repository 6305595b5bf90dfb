/**
 * The catalog's rules: who may see and change which product, category placement, listing,
 * search and pagination. Plain typed input and output; the caller says who acts (`Actor`, or
 * null for an anonymous visitor) and never passes a request.
 *
 * Reads that tolerate staleness (public listings, search, categories, anonymous product pages)
 * use the domain's `read` handle; writes, and reads by a product's owner that must see their own
 * latest write, use `write`. Each write is one transaction of this domain, so an outbox row can
 * join it later.
 */
import type { Kysely } from 'kysely';
import { Compile } from 'typebox/compile';
import type { Actor } from '../../http/auth.ts';
import { appendEvents, type NewEvent } from '../../platform/events/outbox.ts';
import type { ObjectStore } from '../../platform/objects/objects.ts';
import type { SqlPort } from '../../platform/sql/sql.ts';
import { AppError, forbidden, invalidInput, notFound } from '../../shared/errors.ts';
import { isUuid, uuidv7 } from '../../shared/ids.ts';
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
   * (`reason: 'released'`). Lines must name distinct products, quantities ≥ 1.
   */
  reserveStock(reservationId: string, lines: readonly StockLine[]): Promise<ReserveResult>;
  /**
   * Puts a held or committed reservation's stock back, once. Idempotent; an unknown id is
   * recorded as released, so a reserve arriving late with that id holds nothing. Returns whether
   * this call put stock back.
   */
  releaseStock(reservationId: string): Promise<{ released: boolean }>;
  /** Marks a held reservation committed (its order exists). Idempotent; returns the state after. */
  confirmReservation(
    reservationId: string,
  ): Promise<{ state: 'held' | 'committed' | 'released' | 'unknown' }>;
}

export type CatalogServiceOptions = Readonly<{ now?: () => Date }>;

const checkCreate = Compile(ProductCreateBody);

export function createCatalogService(
  /** `objects` builds photo URLs; without it products carry no photos (for callers that show none). */
  platform: Readonly<{ sql: SqlPort; objects?: Pick<ObjectStore, 'publicUrl'> }>,
  options: CatalogServiceOptions = {},
): CatalogService {
  const db = platform.sql.for<CatalogDb>('catalog');
  const now = options.now ?? (() => new Date());
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
      const rows = await repo.listCategories(db.read);
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
      if (input.category !== undefined) {
        const found = await repo.findCategory(
          db.read,
          isUuid(input.category) ? { id: input.category.toLowerCase() } : { slug: input.category },
        );
        if (!found) throw notFound(`category ${input.category}`);
        category = found.parent_id === null ? { topCategoryId: found.id } : { categoryId: found.id };
      }
      return page(
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
    },

    async listSellerProducts(actor, input) {
      const seller = requireSeller(actor);
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
      let found = await repo.findProduct(db.read, id);
      // The owner (or an admin) may have just written it: read their own from the primary.
      if (actor && (!found || found.sellerId === actor.userId || actor.role === 'admin')) {
        found = await repo.findProduct(db.write, id);
      }
      if (!found || !canSee(actor, found)) throw notFound(`product ${id}`);
      return toProduct(found);
    },

    async getProducts(ids) {
      if (ids.length > 1000) throw invalidInput('ask for at most 1000 products at once');
      const wanted = [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
      if (wanted.length === 0) return [];
      const rows = await repo.findProducts(db.read, wanted);
      return rows.filter((p) => p.status === 'published').map(toProduct);
    },

    async createProduct(actor, input) {
      const seller = requireSeller(actor);
      const at = now();
      const values = newProductValues(input, { sellerId: seller.userId, createdAt: at });
      return db.write.transaction().execute(async (trx) => {
        const top = await topCategoryOf(trx, values.categoryId);
        const product = toProduct(await repo.insertProduct(trx, { ...values, topCategoryId: top }));
        await appendEvents(asOutbox(trx), productEvents(undefined, product));
        return product;
      });
    },

    async updateProduct(actor, id, input) {
      const user = requireUser(actor);
      if (Object.keys(input).length === 0) throw invalidInput('send at least one field to change');
      const changes = productChanges(input, now());
      return db.write.transaction().execute(async (trx) => {
        const existing = await repo.findProduct(trx, id, true);
        mayChange(user, existing, id);
        if (changes.categoryId !== undefined) {
          changes.topCategoryId = await topCategoryOf(trx, changes.categoryId);
        }
        const product = toProduct(await repo.updateProduct(trx, id, changes));
        await appendEvents(asOutbox(trx), productEvents(existing, product));
        return product;
      });
    },

    async deleteProduct(actor, id) {
      const user = requireUser(actor);
      await db.write.transaction().execute(async (trx) => {
        const existing = await repo.findProduct(trx, id, true);
        mayChange(user, existing, id);
        await repo.deleteProduct(trx, id);
      });
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
      return db.write.transaction().execute(async (trx) => {
        const tops = await repo.categoryTops(trx);
        const values = rows.map((row) => {
          const top = tops.get(row.categoryId);
          if (top === undefined) throw unknownCategory(row.categoryId);
          return { ...row, topCategoryId: top };
        });
        return repo.insertProducts(trx, values);
      });
    },

    async reserveStock(reservationId, lines) {
      const wanted = checkStockLines(reservationId, lines);
      try {
        return await db.write.transaction().execute(async (trx) => {
          const at = now();
          if (!(await repo.insertReservation(trx, reservationId, 'held', at))) {
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
      } catch (err) {
        if (!(err instanceof ReservationRefused)) throw err;
        const reason = err.shortages.some((s) => s.reason === 'unavailable') ? 'unavailable' : 'out_of_stock';
        return { ok: false, reservationId, reason, shortages: err.shortages };
      }
    },

    async releaseStock(reservationId) {
      if (!isUuid(reservationId)) throw invalidInput('reservationId must be a UUID');
      return db.write.transaction().execute(async (trx) => {
        const at = now();
        // A tombstone for an unknown id: a reserve still in flight with this id waits on the key
        // and then finds it released.
        if (await repo.insertReservation(trx, reservationId, 'released', at)) return { released: false };
        const found = await repo.findReservation(trx, reservationId, true);
        if (!found || found.state === 'released') return { released: false };
        const lines = [...found.lines].sort((a, b) => (a.productId < b.productId ? -1 : 1));
        for (const line of lines) await repo.returnStock(trx, line.productId, line.quantity, at);
        await repo.setReservation(trx, reservationId, { state: 'released' }, at);
        return { released: true };
      });
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
 * (unpublishing included: the payload's status says so). Drafts emit nothing.
 */
function productEvents(before: { status: ProductStatus } | undefined, after: Product): NewEvent[] {
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
        title: after.title,
        priceMinor: after.priceMinor,
        currency: after.currency,
        status: after.status,
      },
    },
  ];
}

function requireUser(actor: Actor | null): Actor {
  if (!actor) throw new AppError('UNAUTHENTICATED', 'sign in first: this needs a signed-in user');
  return actor;
}

function requireSeller(actor: Actor | null): Actor {
  const user = requireUser(actor);
  if (user.role !== 'seller' && user.role !== 'admin') {
    throw forbidden('this needs the seller role');
  }
  return user;
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
