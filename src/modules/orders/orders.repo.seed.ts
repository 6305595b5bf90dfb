/**
 * The orders module's queries for seeding only (orders.seed.ts): bulk writes for batched
 * checkouts, a few statements per batch. Rows travel as one array parameter per column,
 * unnested by the server: a statement of any size has a dozen parameters, cheap to send, parse
 * and plan. Same handles and sharding rules as orders.repo.ts (every query names `buyer_id`).
 */
import { sql } from 'kysely';
import { type Db, KEY_COLUMNS, type KeyRecord, type NewOrder, toKey } from './orders.repo.ts';
import type { OrderStatus, SellerLineRow } from './orders.tables.ts';

/** `select * from unnest($1::type[], …)`: rows given column by column. */
function unnestRows(columns: readonly (readonly [values: readonly unknown[], type: string])[]) {
  return sql`select * from unnest(${sql.join(columns.map(([values, type]) => sql`${values}::${sql.raw(type)}[]`))})`;
}

export type KeyRef = Readonly<{ buyerId: string; key: string }>;

/** The (buyer id, key) pairs as a subquery, for `(buyer_id, key) in (…)`. */
const keyRows = (refs: readonly KeyRef[]) =>
  sql<[string, string]>`(${unnestRows([
    [refs.map((r) => r.buyerId), 'uuid'],
    [refs.map((r) => r.key), 'text'],
  ])})`;

/** Claims many keys at once (state `pending`); keys already recorded are left as they are. */
export async function claimKeysMany(
  db: Db,
  claims: readonly Readonly<{
    buyerId: string;
    key: string;
    requestHash: string;
    orderId: string;
    leaseToken: string;
    createdAt: Date;
    lockedUntil: Date;
  }>[],
): Promise<void> {
  if (claims.length === 0) return;
  await db
    .insertInto('idempotency_keys')
    .columns([...KEY_COLUMNS, 'created_at'])
    .expression(
      unnestRows([
        [claims.map((c) => c.buyerId), 'uuid'],
        [claims.map((c) => c.key), 'text'],
        [claims.map((c) => c.requestHash), 'text'],
        [claims.map((c) => c.orderId), 'uuid'],
        [claims.map(() => 'pending'), 'text'],
        [claims.map((c) => c.leaseToken), 'uuid'],
        [claims.map((c) => c.lockedUntil), 'timestamptz'],
        [claims.map((c) => c.createdAt), 'timestamptz'],
      ]),
    )
    .onConflict((oc) => oc.columns(['buyer_id', 'key']).doNothing())
    .execute();
}

/** The recorded keys among `refs`, with when each was claimed. */
export async function findKeysMany(
  db: Db,
  refs: readonly KeyRef[],
): Promise<(KeyRecord & { createdAt: Date })[]> {
  if (refs.length === 0) return [];
  const rows = await db
    .selectFrom('idempotency_keys')
    .select([...KEY_COLUMNS, 'created_at'])
    .where((eb) => eb(eb.refTuple('buyer_id', 'key'), 'in', keyRows(refs)))
    .execute();
  return rows.map((row) => ({ ...toKey(row), createdAt: row.created_at }));
}

/** Marks pending keys completed (their orders were inserted in the same transaction). */
export async function completeKeysMany(db: Db, refs: readonly KeyRef[], at: Date): Promise<void> {
  if (refs.length === 0) return;
  await db
    .updateTable('idempotency_keys')
    .set({ state: 'completed', completed_at: at })
    .where((eb) => eb(eb.refTuple('buyer_id', 'key'), 'in', keyRows(refs)))
    .where('state', '=', 'pending')
    .execute();
}

/** Frees pending keys that got no order (nothing could be reserved). */
export async function dropKeysMany(db: Db, refs: readonly KeyRef[]): Promise<void> {
  if (refs.length === 0) return;
  await db
    .deleteFrom('idempotency_keys')
    .where((eb) => eb(eb.refTuple('buyer_id', 'key'), 'in', keyRows(refs)))
    .where('state', '=', 'pending')
    .execute();
}

/** An order inserted in its final state: what happened after checkout is given, not replayed. */
export type SettledOrder = NewOrder &
  Readonly<{
    status: OrderStatus;
    shippedAt: Date | null;
    deliveredAt: Date | null;
    cancelledAt: Date | null;
  }>;

/**
 * Inserts many orders with their lines and seller-projection rows, one statement per table;
 * orders that exist already (same buyer and id) are skipped with their lines. A cancelled
 * order's stock counts as released at its cancellation. Returns how many orders were inserted.
 */
export async function insertOrdersMany(db: Db, orders: readonly SettledOrder[]): Promise<number> {
  if (orders.length === 0) return 0;
  const inserted = new Set(
    (
      await db
        .insertInto('orders')
        .columns([
          'buyer_id',
          'id',
          'status',
          'currency',
          'total_minor',
          'item_count',
          'placed_at',
          'first_shipped_at',
          'shipped_at',
          'delivered_at',
          'cancelled_at',
          'stock_released_at',
        ])
        .expression(
          unnestRows([
            [orders.map((o) => o.buyerId), 'uuid'],
            [orders.map((o) => o.id), 'uuid'],
            [orders.map((o) => o.status), 'text'],
            [orders.map((o) => o.currency), 'text'],
            [orders.map((o) => o.totalMinor), 'bigint'],
            [orders.map((o) => o.itemCount), 'int'],
            [orders.map((o) => o.placedAt), 'timestamptz'],
            [orders.map((o) => o.shippedAt), 'timestamptz'],
            [orders.map((o) => o.shippedAt), 'timestamptz'],
            [orders.map((o) => o.deliveredAt), 'timestamptz'],
            [orders.map((o) => o.cancelledAt), 'timestamptz'],
            [orders.map((o) => o.cancelledAt), 'timestamptz'],
          ]),
        )
        .onConflict((oc) => oc.columns(['buyer_id', 'id']).doNothing())
        .returning('id')
        .execute()
    ).map((r) => r.id),
  );
  const fresh = orders.filter((o) => inserted.has(o.id));
  const lines = fresh.flatMap((o) => o.lines.map((l) => ({ o, l })));
  if (lines.length > 0) {
    await db
      .insertInto('order_lines')
      .columns([
        'buyer_id',
        'order_id',
        'product_id',
        'seller_id',
        'title',
        'price_minor',
        'quantity',
        'shipped_at',
      ])
      .expression(
        unnestRows([
          [lines.map(({ o }) => o.buyerId), 'uuid'],
          [lines.map(({ o }) => o.id), 'uuid'],
          [lines.map(({ l }) => l.productId), 'uuid'],
          [lines.map(({ l }) => l.sellerId), 'uuid'],
          [lines.map(({ l }) => l.title), 'text'],
          [lines.map(({ l }) => l.priceMinor), 'int'],
          [lines.map(({ l }) => l.quantity), 'int'],
          [lines.map(({ o }) => o.shippedAt), 'timestamptz'],
        ]),
      )
      .execute();
  }
  const parts = fresh.flatMap((o) => {
    const bySeller = new Map<string, SellerLineRow[]>();
    for (const l of o.lines) {
      const list = bySeller.get(l.sellerId) ?? [];
      list.push({ productId: l.productId, title: l.title, priceMinor: l.priceMinor, quantity: l.quantity });
      bySeller.set(l.sellerId, list);
    }
    return [...bySeller].map(([sellerId, sellerLines]) => ({ o, sellerId, sellerLines }));
  });
  if (parts.length > 0) {
    await db
      .insertInto('seller_orders')
      .columns([
        'seller_id',
        'order_id',
        'buyer_id',
        'status',
        'currency',
        'subtotal_minor',
        'lines',
        'placed_at',
        'shipped_at',
      ])
      .expression(
        unnestRows([
          [parts.map((p) => p.sellerId), 'uuid'],
          [parts.map((p) => p.o.id), 'uuid'],
          [parts.map((p) => p.o.buyerId), 'uuid'],
          [parts.map((p) => p.o.status), 'text'],
          [parts.map((p) => p.o.currency), 'text'],
          [parts.map((p) => p.sellerLines.reduce((sum, l) => sum + l.priceMinor * l.quantity, 0)), 'bigint'],
          [parts.map((p) => JSON.stringify(p.sellerLines)), 'jsonb'],
          [parts.map((p) => p.o.placedAt), 'timestamptz'],
          [parts.map((p) => p.o.shippedAt), 'timestamptz'],
        ]),
      )
      .execute();
  }
  return inserted.size;
}

/** How many orders the given buyers have, together (one query naming them all). */
export async function countOrders(db: Db, buyerIds: readonly string[]): Promise<number> {
  if (buyerIds.length === 0) return 0;
  const row = await db
    .selectFrom('orders')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('buyer_id', '=', sql<string>`any(${[...buyerIds]}::uuid[])`)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
