/**
 * The catalog's queries for seeding only (catalog.seed.ts): bulk product inserts and the stock
 * operations of batched checkouts, one statement per batch. Same handles and tables as
 * catalog.repo.ts, whose row shapes they share.
 */
import { type RawBuilder, sql } from 'kysely';
import { type Db, type ProductValues, type ReservationRecord, toRow } from './catalog.repo.ts';
import type { ReservationState, ReservedLineRow } from './catalog.tables.ts';

/** How many products exist, drafts included. */
export async function countProducts(db: Db): Promise<number> {
  const row = await db
    .selectFrom('products')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** id → top-level category id, for every category (a few dozen rows). */
export async function categoryTops(db: Db): Promise<Map<string, string>> {
  const rows = await db.selectFrom('categories').select(['id', 'top_id']).execute();
  return new Map(rows.map((r) => [r.id, r.top_id]));
}

/** Inserts rows in statements of at most `batch` rows (bound parameters stay far below 65,535). */
export async function insertProducts(db: Db, rows: readonly ProductValues[], batch = 1000): Promise<number> {
  let inserted = 0;
  for (let i = 0; i < rows.length; i += batch) {
    const result = await db
      .insertInto('products')
      .values(rows.slice(i, i + batch).map(toRow))
      .executeTakeFirst();
    inserted += Number(result.numInsertedOrUpdatedRows ?? 0);
  }
  return inserted;
}

/** A derived table `(values (…), …) as alias(columns)` of typed rows, for UPDATE … FROM. */
function valuesTable<A extends string>(rows: readonly RawBuilder<unknown>[], alias: A, columns: string) {
  return sql`(values ${sql.join(rows)})`.as<A>(sql.raw(`${alias}(${columns})`));
}

/** Ids of published products with stock (of the given sellers only, if any), in id order after `after`: what an order may still buy. */
export async function listInStockProductIds(
  db: Db,
  after: string | undefined,
  limit: number,
  sellerIds?: readonly string[],
): Promise<string[]> {
  const rows = await db
    .selectFrom('products')
    .select('id')
    .where('status', '=', 'published')
    .where('stock', '>', 0)
    .$if(sellerIds !== undefined, (q) =>
      q.where('seller_id', '=', sql<string>`any(${[...sellerIds!]}::uuid[])`),
    )
    .$if(after !== undefined, (q) => q.where('id', '>', after!))
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}

/** Inserts reservations (state `held`, no lines) for the ids that have none; returns those ids. */
export async function insertReservationsMany(db: Db, ids: readonly string[], at: Date): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .insertInto('stock_reservations')
    .values(ids.map((id) => ({ id, state: 'held' as const, lines: '[]', created_at: at, updated_at: at })))
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id')
    .execute();
  return new Set(rows.map((r) => r.id));
}

export function findReservationsMany(db: Db, ids: readonly string[]): Promise<ReservationRecord[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('stock_reservations')
    .select(['id', 'state', 'lines'])
    .where('id', 'in', [...ids])
    .execute();
}

/**
 * Takes units from many published products in one `UPDATE … FROM (VALUES …)`, each only where
 * enough is left; `lines` name distinct products. Returns how many products were updated.
 */
export async function takeStockMany(
  db: Db,
  lines: readonly Readonly<{ productId: string; quantity: number }>[],
  at: Date,
): Promise<number> {
  if (lines.length === 0) return 0;
  const v = valuesTable(
    lines.map((l) => sql`(${l.productId}::uuid, ${l.quantity}::int)`),
    'v',
    'product_id, quantity',
  );
  const result = await db
    .updateTable('products')
    .from(v)
    .set({ stock: sql`stock - v.quantity`, updated_at: at })
    .whereRef('id', '=', sql.ref('v.product_id'))
    .where('status', '=', 'published')
    .where('stock', '>=', sql.ref<number>('v.quantity'))
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Sets the state and lines of many reservations in one `UPDATE … FROM (VALUES …)`. */
export async function setReservationsMany(
  db: Db,
  rows: readonly Readonly<{ id: string; state: ReservationState; lines: readonly ReservedLineRow[] }>[],
  at: Date,
): Promise<void> {
  if (rows.length === 0) return;
  const v = valuesTable(
    rows.map((r) => sql`(${r.id}::uuid, ${r.state}::text, ${JSON.stringify(r.lines)}::jsonb)`),
    'v',
    'id, state, lines',
  );
  await db
    .updateTable('stock_reservations')
    .from(v)
    .set({ state: sql`v.state`, lines: sql`v.lines`, updated_at: at })
    .whereRef('stock_reservations.id', '=', sql.ref('v.id'))
    .execute();
}

export async function deleteReservationsMany(db: Db, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .deleteFrom('stock_reservations')
    .where('id', 'in', [...ids])
    .execute();
}

/** Moves the given held reservations to `committed`; others are left as they are. Returns how many moved. */
export async function commitReservationsMany(db: Db, ids: readonly string[], at: Date): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await db
    .updateTable('stock_reservations')
    .set({ state: 'committed', updated_at: at })
    .where('id', 'in', [...ids])
    .where('state', '=', 'held')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
