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
import { Compile } from 'typebox/compile';
import type { Actor } from '../../http/auth.ts';
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
  type ProductPage,
  type ProductUpdate,
  type SellerProductListInput,
  type Sort,
} from './catalog.schema.ts';
import type { CatalogDb, ProductAttributes, ProductStatus } from './catalog.tables.ts';
import { decodeCursor, encodeCursor, type SortKey } from './cursor.ts';
import { toPrefixTsQuery } from './search.ts';

/** A product for `insertProducts`: the create body plus what a trusted caller may fix. */
export type ProductSeed = ProductCreate & {
  sellerId: string;
  id?: string;
  /** Millisecond precision (a JS Date); defaults to now. */
  createdAt?: Date;
};

export interface CatalogService {
  /** The category tree: top levels in display order, each with its children. */
  listCategories(): Promise<CategoryTree>;
  /** Published products, filtered, sorted and paginated by keyset; search when `q` has words. */
  listProducts(input: ProductListInput): Promise<ProductPage>;
  /** The actor's own products, drafts included, newest first. Sellers and admins. */
  listSellerProducts(actor: Actor | null, input: SellerProductListInput): Promise<ProductPage>;
  /** One product; a draft only for its owner or an admin (NOT_FOUND to anyone else). */
  getProduct(actor: Actor | null, id: string): Promise<Product>;
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
}

export type CatalogServiceOptions = Readonly<{ now?: () => Date }>;

const checkCreate = Compile(ProductCreateBody);

export function createCatalogService(
  platform: Readonly<{ sql: SqlPort }>,
  options: CatalogServiceOptions = {},
): CatalogService {
  const db = platform.sql.for<CatalogDb>('catalog');
  const now = options.now ?? (() => new Date());

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
    return { items: items.map(toProduct), nextCursor };
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

    async createProduct(actor, input) {
      const seller = requireSeller(actor);
      const at = now();
      const values = newProductValues(input, { sellerId: seller.userId, createdAt: at });
      return db.write.transaction().execute(async (trx) => {
        const top = await topCategoryOf(trx, values.categoryId);
        return toProduct(await repo.insertProduct(trx, { ...values, topCategoryId: top }));
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
        return toProduct(await repo.updateProduct(trx, id, changes));
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
  };
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

function toProduct(p: repo.ProductRecord): Product {
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
