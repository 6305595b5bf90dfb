/**
 * The catalog's queries (Kysely). Each function takes the handle to run on, so the service
 * decides read (replica-tolerant) versus write (primary) and transaction boundaries. Tables
 * resolve in the `catalog` schema through the domain handle.
 */
import { type Kysely, type RawBuilder, type Selectable, sql } from 'kysely';
import { precompiled, precompiledByShape } from '../../platform/sql/precompiled.ts';
import type { Product, Sort } from './catalog.schema.ts';
import type {
  CatalogDb,
  CategoriesTable,
  ProductAttributes,
  ProductStatus,
  ReservationState,
  ReservedLineRow,
  StoredPhoto,
} from './catalog.tables.ts';
import type { SortKey } from './cursor.ts';
import { SHORT_PREFIX_TAIL } from './search.ts';

export type Db = Kysely<CatalogDb>;
export type Category = Pick<Selectable<CategoriesTable>, 'id' | 'parent_id' | 'top_id' | 'slug' | 'name'>;

/** A product as the service sees it: the wire shape (photos with keys) plus what pagination needs. */
export type ProductRecord = Omit<Product, 'photos'> & {
  photos: StoredPhoto[];
  createdAtDate: Date;
  rank?: number;
};

const PRODUCT_COLUMNS = [
  'id',
  'seller_id',
  'category_id',
  'title',
  'description',
  'price_minor',
  'currency',
  'stock',
  'attributes',
  'status',
  'created_at',
  'updated_at',
  'photos',
] as const;

type ProductRow = {
  id: string;
  seller_id: string;
  category_id: string;
  title: string;
  description: string;
  price_minor: number;
  currency: string;
  stock: number;
  attributes: ProductAttributes;
  status: ProductStatus;
  created_at: Date;
  updated_at: Date;
  photos: StoredPhoto[];
  rank?: number;
};

function toRecord(row: ProductRow): ProductRecord {
  return {
    id: row.id,
    sellerId: row.seller_id,
    categoryId: row.category_id,
    title: row.title,
    description: row.description,
    priceMinor: row.price_minor,
    currency: row.currency,
    stock: row.stock,
    attributes: row.attributes,
    status: row.status,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    photos: row.photos,
    createdAtDate: row.created_at,
    ...(row.rank !== undefined ? { rank: row.rank } : {}),
  };
}

/** Every category, top levels first, then by position. */
export function listCategories(db: Db): Promise<Category[]> {
  return db
    .selectFrom('categories')
    .select(['id', 'parent_id', 'top_id', 'slug', 'name'])
    .orderBy(sql`parent_id is not null`)
    .orderBy('position')
    .orderBy('slug')
    .execute();
}

/** The category with this id or slug; undefined when there is none. */
export function findCategory(db: Db, by: { id: string } | { slug: string }): Promise<Category | undefined> {
  return db
    .selectFrom('categories')
    .select(['id', 'parent_id', 'top_id', 'slug', 'name'])
    .$if('id' in by, (qb) => qb.where('id', '=', (by as { id: string }).id))
    .$if('slug' in by, (qb) => qb.where('slug', '=', (by as { slug: string }).slug))
    .executeTakeFirst();
}

/** The product with this id, any status; `lock` takes a row lock for the enclosing transaction. */
// The product page is the hottest read: compiled once per handle.
const productById = precompiled(
  (db: Db, id: string) => db.selectFrom('products').select(PRODUCT_COLUMNS).where('id', '=', id),
  ['00000000-0000-0000-0000-000000000000'] as [string],
);

export async function findProduct(db: Db, id: string, lock = false): Promise<ProductRecord | undefined> {
  const row = lock
    ? await db
        .selectFrom('products')
        .select(PRODUCT_COLUMNS)
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst()
    : (await productById(db, id))[0];
  return row ? toRecord(row) : undefined;
}

/** The products with these ids, any status, in no order; ids must be UUIDs. */
export async function findProducts(db: Db, ids: readonly string[]): Promise<ProductRecord[]> {
  if (ids.length === 0) return [];
  const rows = await db.selectFrom('products').select(PRODUCT_COLUMNS).where('id', 'in', ids).execute();
  return rows.map(toRecord);
}

export type ProductValues = {
  id: string;
  sellerId: string;
  categoryId: string;
  topCategoryId: string;
  title: string;
  description: string;
  priceMinor: number;
  currency: string;
  stock: number;
  attributes: ProductAttributes;
  status: ProductStatus;
  createdAt: Date;
  updatedAt: Date;
};

/** A product's values as its table row. */
export function toRow(v: ProductValues) {
  return {
    id: v.id,
    seller_id: v.sellerId,
    category_id: v.categoryId,
    top_category_id: v.topCategoryId,
    title: v.title,
    description: v.description,
    price_minor: v.priceMinor,
    currency: v.currency,
    stock: v.stock,
    attributes: JSON.stringify(v.attributes),
    status: v.status,
    created_at: v.createdAt,
    updated_at: v.updatedAt,
  };
}

export async function insertProduct(db: Db, values: ProductValues): Promise<ProductRecord> {
  const row = await db
    .insertInto('products')
    .values(toRow(values))
    .returning(PRODUCT_COLUMNS)
    .executeTakeFirstOrThrow();
  return toRecord(row);
}

export type ProductChanges = Partial<Omit<ProductValues, 'id' | 'sellerId' | 'createdAt'>> & {
  updatedAt: Date;
};

export async function updateProduct(db: Db, id: string, changes: ProductChanges): Promise<ProductRecord> {
  const { attributes, ...rest } = changes;
  const row = await db
    .updateTable('products')
    .set({
      ...(rest.categoryId !== undefined ? { category_id: rest.categoryId } : {}),
      ...(rest.topCategoryId !== undefined ? { top_category_id: rest.topCategoryId } : {}),
      ...(rest.title !== undefined ? { title: rest.title } : {}),
      ...(rest.description !== undefined ? { description: rest.description } : {}),
      ...(rest.priceMinor !== undefined ? { price_minor: rest.priceMinor } : {}),
      ...(rest.currency !== undefined ? { currency: rest.currency } : {}),
      ...(rest.stock !== undefined ? { stock: rest.stock } : {}),
      ...(rest.status !== undefined ? { status: rest.status } : {}),
      ...(attributes !== undefined ? { attributes: JSON.stringify(attributes) } : {}),
      updated_at: rest.updatedAt,
    })
    .where('id', '=', id)
    .returning(PRODUCT_COLUMNS)
    .executeTakeFirstOrThrow();
  return toRecord(row);
}

export async function deleteProduct(db: Db, id: string): Promise<void> {
  await db.deleteFrom('products').where('id', '=', id).execute();
}

export type ProductFilter = Readonly<{
  /** Only this status; undefined for any (the owner's own listing). */
  status?: ProductStatus;
  /** A child category: its own products. */
  categoryId?: string;
  /** A top-level category: its products and its children's. */
  topCategoryId?: string;
  sellerId?: string;
  /** A `to_tsquery('english', …)` text, built by search.ts; passed as a parameter. */
  tsquery?: string;
}>;

/**
 * How many matches a relevance-ordered search ranks: the newest this many (by `created_at`, then
 * id), found in an order an index serves. Ranking every match made a broad word cost as much as
 * reading the whole catalog; ranking a bounded set keeps the work of any query near constant.
 * Relevance pages therefore end after this many results (other sorts are not bounded).
 */
export const SEARCH_CANDIDATES = 200;

/**
 * One page in keyset order: rows after `after` in the order of `sort`, at most `limit`. Every
 * order ends with the id, so it is total and a row is never skipped or repeated between pages.
 * All keys of an order run in one direction, so a row comparison `(key, id) < (…)` finds the
 * page start and the matching index serves it. Relevance ranks only the newest
 * `SEARCH_CANDIDATES` matches (`candidates` to change that, for tests).
 */
export async function listProducts(
  db: Db,
  filter: ProductFilter,
  sort: Sort,
  after: SortKey | undefined,
  limit: number,
  candidates = SEARCH_CANDIDATES,
): Promise<ProductRecord[]> {
  if (sort === 'relevance') return listByRelevance(db, filter, after, limit, candidates);
  const shape: ListingShape = {
    sort,
    status: filter.status,
    category: filter.categoryId !== undefined,
    topCategory: filter.topCategoryId !== undefined,
    seller: filter.sellerId !== undefined,
    tsquery: filter.tsquery !== undefined,
    after: after?.sort === sort,
  };
  const rows = await listingByShape(db, shape, {
    categoryId: filter.categoryId,
    topCategoryId: filter.topCategoryId,
    sellerId: filter.sellerId,
    tsquery: filter.tsquery,
    afterKey: after?.key,
    afterId: after?.id,
    limit,
  });
  return rows.map(toRecord);
}

/** Which clauses a listing has: everything of its SQL text but the parameter values. */
type ListingShape = Readonly<{
  sort: Exclude<Sort, 'relevance'>;
  /** Written into the text (a literal), so it is part of the shape. */
  status: ProductStatus | undefined;
  category: boolean;
  topCategory: boolean;
  seller: boolean;
  tsquery: boolean;
  after: boolean;
}>;

type ListingValues = Readonly<{
  categoryId: string | undefined;
  topCategoryId: string | undefined;
  sellerId: string | undefined;
  tsquery: string | undefined;
  afterKey: Date | number | undefined;
  afterId: string | undefined;
  limit: number;
}>;

const KEYSET = {
  newest: { key: 'created_at', direction: 'desc', after: '<' },
  price_asc: { key: 'price_minor', direction: 'asc', after: '>' },
  price_desc: { key: 'price_minor', direction: 'desc', after: '<' },
} as const;

// Listings are the hottest reads after the product page: built and compiled once per shape.
const listingByShape = precompiledByShape(
  (db: Db, shape: ListingShape, v: ListingValues) => {
    const filter: ProductFilter = {
      ...(shape.status !== undefined ? { status: shape.status } : {}),
      ...(shape.category ? { categoryId: v.categoryId! } : {}),
      ...(shape.topCategory ? { topCategoryId: v.topCategoryId! } : {}),
      ...(shape.seller ? { sellerId: v.sellerId! } : {}),
    };
    const match = shape.tsquery ? textMatch(v.tsquery) : undefined;
    const order = KEYSET[shape.sort];
    return filtered(db, filter, match?.lookup)
      .$if(match !== undefined, (q) => q.where(match!.tested))
      .select(PRODUCT_COLUMNS)
      .$if(shape.after, (q) =>
        q.where(({ eb, refTuple, tuple }) =>
          eb(refTuple(order.key, 'id'), order.after, tuple(v.afterKey!, v.afterId!)),
        ),
      )
      .orderBy(order.key, order.direction)
      .orderBy('id', order.direction)
      .limit(v.limit);
  },
  {
    keyOf: (s) =>
      `${s.sort}:${s.status ?? '*'}:${+s.category}${+s.topCategory}${+s.seller}${+s.tsquery}${+s.after}`,
    // A search's best plan depends on its words, which a generic plan cannot know: planned per query.
    prepare: (s) => !s.tsquery,
  },
);

/**
 * A search text (`toPrefixTsQuery`'s) as the GIN index can serve it: `full` is the whole query,
 * `lookup` what the index looks up and `tested` what is checked on the rows it finds. A short last
 * prefix is tested, never looked up: the index would merge the lists of every word it starts.
 * Stop words alone look up the whole query. Written in SQL from the one parameter, so the
 * statement is the same for every text.
 */
function textMatch(text: unknown) {
  const full = sql`to_tsquery('english', ${text})`;
  const tail = sql.lit(SHORT_PREFIX_TAIL);
  const words = sql`to_tsquery('english', regexp_replace(${text}::text, ${tail}, ''))`;
  return {
    full,
    lookup: sql`(case when numnode(${words}) = 0 then ${full} else ${words} end)`,
    tested: sql<boolean>`(${text}::text !~ ${tail} or ts_match_vq(search, ${full}))`,
  };
}

/** The products the filter admits (`tsquery`: a `to_tsquery` expression), unordered. */
function filtered(db: Db, filter: ProductFilter, tsquery: RawBuilder<unknown> | undefined) {
  return (
    db
      .selectFrom('products')
      // A literal, not a parameter, so the planner matches the partial indexes' predicate.
      .$if(filter.status !== undefined, (q) => q.where('status', '=', sql.lit(filter.status!)))
      .$if(filter.categoryId !== undefined, (q) => q.where('category_id', '=', filter.categoryId!))
      .$if(filter.topCategoryId !== undefined, (q) => q.where('top_category_id', '=', filter.topCategoryId!))
      .$if(filter.sellerId !== undefined, (q) => q.where('seller_id', '=', filter.sellerId!))
      .$if(tsquery !== undefined, (q) => q.where(sql<boolean>`search @@ ${tsquery}`))
  );
}

/**
 * How many of the newest admitted products a relevance query samples before choosing how to find
 * its candidates, and the number of matches among them below which the query counts as rare.
 */
const SEARCH_SAMPLE = 500;
const SEARCH_RARE_BELOW = 2;

/**
 * A relevance page in three steps, so that no step grows with the number of matches:
 * 1. candidates: the newest `candidates` matches, in the order of the `newest` listing, found one
 *    of two ways after counting the matches among the newest `SEARCH_SAMPLE` products:
 *    - a rare query (fewer than `SEARCH_RARE_BELOW` there): every match from the GIN index,
 *      sorted. The planner cannot tell such a query from a common one (it guesses 0.5 % of rows
 *      for any word its statistics lack, and costs a prefix as most of a small vocabulary), and
 *      could walk the whole newest index for it;
 *    - otherwise the planner's choice: walk a newest index testing each row (a broad query) or
 *      take the matches from the GIN index and sort them (a narrow one).
 * 2. ranked: `ts_rank` of the candidates only, the page cut by the cursor `(rank, id)`.
 * 3. the page's rows, read by id.
 * A row's rank depends on its own text alone, never on the other candidates, so a cursor stays
 * valid while the candidates change.
 */
async function listByRelevance(
  db: Db,
  filter: ProductFilter,
  after: SortKey | undefined,
  limit: number,
  candidates: number,
): Promise<ProductRecord[]> {
  if (filter.tsquery === undefined) throw new Error('relevance order needs a tsquery');
  const { full: tsquery, lookup, tested } = textMatch(filter.tsquery);
  const matching = (q: ReturnType<typeof filtered>) => q.where(tested);
  const sampled = filtered(db, filter, undefined)
    .select('search')
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(SEARCH_SAMPLE)
    .as('s');
  // Stops at the count that decides: a broad query reads a few rows of the sample, not all.
  const sampleHits = db
    .selectFrom(sampled)
    .select(sql<number>`1`.as('hit'))
    .where(sql<boolean>`s.search @@ ${tsquery}`)
    .limit(SEARCH_RARE_BELOW)
    .as('h');
  const rare = sql<boolean>`(select hits < ${sql.lit(SEARCH_RARE_BELOW)} from sample)`;
  const walked = matching(filtered(db, filter, lookup))
    .select(['id', 'search'])
    .where(sql<boolean>`not ${rare}`)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(candidates);
  // OFFSET 0 keeps the subquery whole: planned alone, it reads every match from the GIN index
  // instead of walking a newest index to meet the outer order.
  const every = matching(filtered(db, filter, lookup))
    .select(['id', 'search', 'created_at'])
    .offset(0)
    .as('e');
  const sorted = db
    .selectFrom(every)
    .select(['e.id', 'e.search'])
    .where(rare)
    .orderBy('e.created_at', 'desc')
    .orderBy('e.id', 'desc')
    .limit(candidates);
  const matches = db
    .selectFrom(walked.as('w'))
    .select(['w.id', 'w.search'])
    .unionAll(db.selectFrom(sorted.as('g')).select(['g.id', 'g.search']))
    .as('c');
  const rank = sql<number>`ts_rank(c.search, ${tsquery})`;
  const page = db
    .selectFrom(matches)
    .select(['c.id', rank.as('rank')])
    .$if(after?.sort === 'relevance', (q) =>
      q.where(sql<boolean>`(${rank}, c.id) < (${after!.key}::real, ${after!.id}::uuid)`),
    )
    .orderBy('rank', 'desc')
    .orderBy('c.id', 'desc')
    .limit(limit)
    .as('r');
  const rows = await db
    .with(
      (cte) => cte('sample').materialized(),
      (q) => q.selectFrom(sampleHits).select(sql<number>`count(*)`.as('hits')),
    )
    .selectFrom(page)
    .innerJoin('products as p', 'p.id', 'r.id')
    .select([...PRODUCT_COLUMNS.map((c) => `p.${c}` as const), 'r.rank'])
    .orderBy('r.rank', 'desc')
    .orderBy('r.id', 'desc')
    .execute();
  return rows.map(toRecord);
}

/** What a stock reservation needs of a product, locked for the enclosing transaction. */
export type StockRow = {
  id: string;
  seller_id: string;
  title: string;
  price_minor: number;
  currency: string;
  stock: number;
  status: ProductStatus;
};

/** Locks the given products in id order (a consistent order, so two reservations never deadlock). */
export function lockProductsForStock(db: Db, ids: readonly string[]): Promise<StockRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('products')
    .select(['id', 'seller_id', 'title', 'price_minor', 'currency', 'stock', 'status'])
    .where('id', 'in', [...ids])
    .orderBy('id')
    .forUpdate()
    .execute();
}

/** Takes `quantity` units of a published product; false when it is gone, unpublished or short. */
export async function takeStock(db: Db, id: string, quantity: number, at: Date): Promise<boolean> {
  const result = await db
    .updateTable('products')
    .set({ stock: sql`stock - ${quantity}`, updated_at: at })
    .where('id', '=', id)
    .where('status', '=', 'published')
    .where('stock', '>=', quantity)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Puts units back (capped at the catalog's stock limit); a deleted product takes nothing back. */
export async function returnStock(db: Db, id: string, quantity: number, at: Date): Promise<void> {
  await db
    .updateTable('products')
    .set({ stock: sql`least(stock + ${quantity}, 1000000)`, updated_at: at })
    .where('id', '=', id)
    .execute();
}

export type ReservationRecord = Readonly<{
  id: string;
  state: ReservationState;
  lines: ReservedLineRow[];
}>;

/** Inserts a reservation unless one with this id exists; true when this call inserted it. */
export async function insertReservation(
  db: Db,
  id: string,
  state: ReservationState,
  at: Date,
  holderId: string | null = null,
): Promise<boolean> {
  const row = await db
    .insertInto('stock_reservations')
    .values({ id, state, lines: '[]', holder_id: holderId, created_at: at, updated_at: at })
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function findReservation(
  db: Db,
  id: string,
  lock = false,
): Promise<ReservationRecord | undefined> {
  return db
    .selectFrom('stock_reservations')
    .select(['id', 'state', 'lines'])
    .where('id', '=', id)
    .$if(lock, (q) => q.forUpdate())
    .executeTakeFirst();
}

/** Held reservations with a holder, created before `olderThan`, oldest first, after the (created_at, id) `after`. */
export async function listHeldReservations(
  db: Db,
  olderThan: Date,
  after: { createdAt: Date; id: string } | undefined,
  limit: number,
): Promise<{ id: string; holder_id: string; created_at: Date }[]> {
  const rows = await db
    .selectFrom('stock_reservations')
    .select(['id', 'holder_id', 'created_at'])
    .where('state', '=', 'held')
    .where('created_at', '<', olderThan)
    .where('holder_id', 'is not', null)
    .$if(after !== undefined, (q) =>
      q.where((eb) => eb(eb.refTuple('created_at', 'id'), '>', eb.tuple(after!.createdAt, after!.id))),
    )
    .orderBy('created_at')
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ id: r.id, holder_id: r.holder_id!, created_at: r.created_at }));
}

export async function setReservation(
  db: Db,
  id: string,
  changes: { state: ReservationState; lines?: ReservedLineRow[] },
  at: Date,
): Promise<void> {
  await db
    .updateTable('stock_reservations')
    .set({
      state: changes.state,
      ...(changes.lines !== undefined ? { lines: JSON.stringify(changes.lines) } : {}),
      updated_at: at,
    })
    .where('id', '=', id)
    .execute();
}

/** The photo projection of a product (with what cache invalidation needs), locked for the enclosing transaction; undefined when the product is gone. */
export async function lockProductPhotos(
  db: Db,
  id: string,
): Promise<
  { photos: StoredPhoto[]; sellerId: string; categoryId: string; status: ProductStatus } | undefined
> {
  const row = await db
    .selectFrom('products')
    .select(['photos', 'seller_id', 'category_id', 'status'])
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
  return (
    row && { photos: row.photos, sellerId: row.seller_id, categoryId: row.category_id, status: row.status }
  );
}

/** Replaces the photo projection of a product (updated_at stays: photos are not the seller's edit). */
export async function setProductPhotos(db: Db, id: string, photos: readonly StoredPhoto[]): Promise<void> {
  await db
    .updateTable('products')
    .set({ photos: JSON.stringify(photos) })
    .where('id', '=', id)
    .execute();
}
