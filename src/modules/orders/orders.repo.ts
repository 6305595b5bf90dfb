/**
 * The orders module's queries (Kysely). Every query on a buyer-owned table (idempotency keys,
 * orders, order lines) names `buyer_id`, the shard key; the seller's projection is read by
 * `seller_id`, its own key. Each function takes the handle to run on, so the service decides
 * transaction boundaries.
 */
import { type Kysely, type Selectable, sql } from 'kysely';
import type {
  KeyState,
  OrderLinesTable,
  OrderStatus,
  OrdersDb,
  OrdersTable,
  SellerLineRow,
  SellerOrdersTable,
} from './orders.tables.ts';

export type Db = Kysely<OrdersDb>;
export type OrderRow = Selectable<OrdersTable>;
export type OrderLineRow = Selectable<OrderLinesTable>;
export type SellerOrderRow = Selectable<SellerOrdersTable>;

export type KeyRecord = Readonly<{
  buyerId: string;
  key: string;
  requestHash: string;
  orderId: string;
  state: KeyState;
  leaseToken: string;
  lockedUntil: Date;
}>;

export const KEY_COLUMNS = [
  'buyer_id',
  'key',
  'request_hash',
  'order_id',
  'state',
  'lease_token',
  'locked_until',
] as const;

export function toKey(row: {
  buyer_id: string;
  key: string;
  request_hash: string;
  order_id: string;
  state: KeyState;
  lease_token: string;
  locked_until: Date;
}): KeyRecord {
  return {
    buyerId: row.buyer_id,
    key: row.key,
    requestHash: row.request_hash,
    orderId: row.order_id,
    state: row.state,
    leaseToken: row.lease_token,
    lockedUntil: row.locked_until,
  };
}

export async function findKey(db: Db, buyerId: string, key: string): Promise<KeyRecord | undefined> {
  const row = await db
    .selectFrom('idempotency_keys')
    .select(KEY_COLUMNS)
    .where('buyer_id', '=', buyerId)
    .where('key', '=', key)
    .executeTakeFirst();
  return row ? toKey(row) : undefined;
}

/** The key of the buyer's checkout that chose `orderId`, if it is still recorded. */
export async function findKeyByOrder(
  db: Db,
  buyerId: string,
  orderId: string,
): Promise<KeyRecord | undefined> {
  const row = await db
    .selectFrom('idempotency_keys')
    .select(KEY_COLUMNS)
    .where('buyer_id', '=', buyerId)
    .where('order_id', '=', orderId)
    .executeTakeFirst();
  return row ? toKey(row) : undefined;
}

/** Claims a key for a new checkout; undefined when the key is already recorded (by anyone). */
export async function claimKey(
  db: Db,
  values: { buyerId: string; key: string; requestHash: string; orderId: string; leaseToken: string },
  at: Date,
  lockedUntil: Date,
): Promise<KeyRecord | undefined> {
  const row = await db
    .insertInto('idempotency_keys')
    .values({
      buyer_id: values.buyerId,
      key: values.key,
      request_hash: values.requestHash,
      order_id: values.orderId,
      state: 'pending',
      lease_token: values.leaseToken,
      locked_until: lockedUntil,
      created_at: at,
      completed_at: null,
    })
    .onConflict((oc) => oc.columns(['buyer_id', 'key']).doNothing())
    .returning(KEY_COLUMNS)
    .executeTakeFirst();
  return row ? toKey(row) : undefined;
}

/**
 * Moves a key to `state` with a new lease, only if it is still as `expected` says (its token and
 * state): a compare-and-set, so exactly one of several contenders wins. Returns the new record.
 */
export async function moveKey(
  db: Db,
  expected: Pick<KeyRecord, 'buyerId' | 'key' | 'leaseToken' | 'state'>,
  next: { state: KeyState; leaseToken: string; lockedUntil: Date; completedAt?: Date },
): Promise<KeyRecord | undefined> {
  const row = await db
    .updateTable('idempotency_keys')
    .set({
      state: next.state,
      lease_token: next.leaseToken,
      locked_until: next.lockedUntil,
      ...(next.completedAt !== undefined ? { completed_at: next.completedAt } : {}),
    })
    .where('buyer_id', '=', expected.buyerId)
    .where('key', '=', expected.key)
    .where('lease_token', '=', expected.leaseToken)
    .where('state', '=', expected.state)
    .returning(KEY_COLUMNS)
    .executeTakeFirst();
  return row ? toKey(row) : undefined;
}

/** Frees a key held under `leaseToken` so the next request starts afresh; false if not held so. */
export async function dropKey(
  db: Db,
  expected: Pick<KeyRecord, 'buyerId' | 'key' | 'leaseToken'>,
): Promise<boolean> {
  const result = await db
    .deleteFrom('idempotency_keys')
    .where('buyer_id', '=', expected.buyerId)
    .where('key', '=', expected.key)
    .where('lease_token', '=', expected.leaseToken)
    .where('state', '!=', 'completed')
    .executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

export type NewOrder = Readonly<{
  buyerId: string;
  id: string;
  currency: string;
  totalMinor: number;
  itemCount: number;
  placedAt: Date;
  lines: readonly Readonly<{
    productId: string;
    sellerId: string;
    title: string;
    priceMinor: number;
    quantity: number;
  }>[];
}>;

/** Inserts an order, its lines and one seller-projection row per seller of its lines. */
export async function insertOrder(db: Db, order: NewOrder): Promise<void> {
  await db
    .insertInto('orders')
    .values({
      buyer_id: order.buyerId,
      id: order.id,
      status: 'placed',
      currency: order.currency,
      total_minor: order.totalMinor,
      item_count: order.itemCount,
      placed_at: order.placedAt,
      first_shipped_at: null,
      shipped_at: null,
      delivered_at: null,
      cancelled_at: null,
      stock_released_at: null,
    })
    .execute();
  await db
    .insertInto('order_lines')
    .values(
      order.lines.map((l) => ({
        buyer_id: order.buyerId,
        order_id: order.id,
        product_id: l.productId,
        seller_id: l.sellerId,
        title: l.title,
        price_minor: l.priceMinor,
        quantity: l.quantity,
        shipped_at: null,
      })),
    )
    .execute();
  const bySeller = new Map<string, SellerLineRow[]>();
  for (const l of order.lines) {
    const list = bySeller.get(l.sellerId) ?? [];
    list.push({ productId: l.productId, title: l.title, priceMinor: l.priceMinor, quantity: l.quantity });
    bySeller.set(l.sellerId, list);
  }
  await db
    .insertInto('seller_orders')
    .values(
      [...bySeller].map(([sellerId, lines]) => ({
        seller_id: sellerId,
        order_id: order.id,
        buyer_id: order.buyerId,
        status: 'placed' as const,
        currency: order.currency,
        subtotal_minor: lines.reduce((sum, l) => sum + l.priceMinor * l.quantity, 0),
        lines: JSON.stringify(lines),
        placed_at: order.placedAt,
        shipped_at: null,
      })),
    )
    .execute();
}

export async function findOrder(
  db: Db,
  buyerId: string,
  id: string,
  lock = false,
): Promise<OrderRow | undefined> {
  return db
    .selectFrom('orders')
    .selectAll()
    .where('buyer_id', '=', buyerId)
    .where('id', '=', id)
    .$if(lock, (q) => q.forUpdate())
    .executeTakeFirst();
}

/** A buyer's orders, newest first (ids are UUIDv7), after the order id `before` when given. */
export function listOrders(
  db: Db,
  buyerId: string,
  before: string | undefined,
  limit: number,
): Promise<OrderRow[]> {
  return db
    .selectFrom('orders')
    .selectAll()
    .where('buyer_id', '=', buyerId)
    .$if(before !== undefined, (q) => q.where('id', '<', before!))
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}

/** The lines of some of one buyer's orders, in product id order within each order. */
export function linesOf(db: Db, buyerId: string, orderIds: readonly string[]): Promise<OrderLineRow[]> {
  if (orderIds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('order_lines')
    .selectAll()
    .where('buyer_id', '=', buyerId)
    .where('order_id', 'in', [...orderIds])
    .orderBy('order_id')
    .orderBy('product_id')
    .execute();
}

export async function setOrder(
  db: Db,
  buyerId: string,
  id: string,
  changes: Partial<Omit<OrdersTable, 'buyer_id' | 'id' | 'placed_at'>>,
): Promise<void> {
  await db.updateTable('orders').set(changes).where('buyer_id', '=', buyerId).where('id', '=', id).execute();
}

/** Marks one seller's unshipped lines of an order shipped; returns how many lines of the order remain. */
export async function shipSellerLines(
  db: Db,
  buyerId: string,
  orderId: string,
  sellerId: string,
  at: Date,
): Promise<{ shipped: number; remaining: number }> {
  const result = await db
    .updateTable('order_lines')
    .set({ shipped_at: at })
    .where('buyer_id', '=', buyerId)
    .where('order_id', '=', orderId)
    .where('seller_id', '=', sellerId)
    .where('shipped_at', 'is', null)
    .executeTakeFirst();
  const left = await db
    .selectFrom('order_lines')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('buyer_id', '=', buyerId)
    .where('order_id', '=', orderId)
    .where('shipped_at', 'is', null)
    .executeTakeFirstOrThrow();
  return { shipped: Number(result.numUpdatedRows), remaining: left.n };
}

/** The seller-projection row of one seller and order; undefined when the seller has no lines in it. */
export function findSellerOrder(
  db: Db,
  sellerId: string,
  orderId: string,
): Promise<SellerOrderRow | undefined> {
  return db
    .selectFrom('seller_orders')
    .selectAll()
    .where('seller_id', '=', sellerId)
    .where('order_id', '=', orderId)
    .executeTakeFirst();
}

export function listSellerOrders(
  db: Db,
  sellerId: string,
  filter: { status?: OrderStatus; before?: string },
  limit: number,
): Promise<SellerOrderRow[]> {
  return db
    .selectFrom('seller_orders')
    .selectAll()
    .where('seller_id', '=', sellerId)
    .$if(filter.status !== undefined, (q) => q.where('status', '=', filter.status!))
    .$if(filter.before !== undefined, (q) => q.where('order_id', '<', filter.before!))
    .orderBy('order_id', 'desc')
    .limit(limit)
    .execute();
}

/** Sets the status of the given sellers' projection rows of one order. */
export async function setSellerOrders(
  db: Db,
  sellerIds: readonly string[],
  orderId: string,
  changes: { status: OrderStatus; shippedAt?: Date },
): Promise<void> {
  if (sellerIds.length === 0) return;
  await db
    .updateTable('seller_orders')
    .set({
      status: changes.status,
      ...(changes.shippedAt !== undefined ? { shipped_at: changes.shippedAt } : {}),
    })
    .where('seller_id', 'in', [...sellerIds])
    .where('order_id', '=', orderId)
    .execute();
}
