/**
 * The orders module's rules: checkout (the saga in checkout.ts), the buyer's orders, cancelling,
 * and the seller's side (their orders, shipping their lines). Plain typed input and output; the
 * caller passes the acting user (`Actor`), never a request.
 *
 * Sharding (BRIEF rule 3): every query on a buyer-owned table names the buyer. A buyer reaches an
 * order by (their id, order id); a seller reaches it through the `seller_orders` projection,
 * keyed by seller, which names the buyer, and then by (that buyer, order id). All reads use the
 * `write` handle: a buyer reads their own latest writes.
 *
 * Multi-seller orders: each seller ships their own lines; the order turns `shipped` when every
 * line has shipped. Once any line has shipped the buyer can no longer cancel.
 */
import { appendEvents, type NewEvent } from '../../platform/events/outbox.ts';
import type { SqlPort } from '../../platform/sql/sql.ts';
import { type Actor, requireRole } from '../../shared/actor.ts';
import { AppError, notFound } from '../../shared/errors.ts';
import { type CatalogService, createCatalogService } from '../catalog/index.ts';
import {
  type CheckoutFaults,
  type CheckoutLine,
  createCheckout,
  type Reconciled,
  type StockService,
} from './checkout.ts';
import * as repo from './orders.repo.ts';
import type {
  Order,
  OrderListInput,
  OrderPage,
  SellerOrder,
  SellerOrderListInput,
  SellerOrderPage,
} from './orders.schema.ts';
import type { OrdersDb } from './orders.tables.ts';

/** What checkout needs of the cart module (its service provides exactly this). */
export type CartLines = Readonly<{
  getCartLines(buyerId: string): Promise<CheckoutLine[]>;
  /** Removes the checked-out lines (all lines when `expectedLines` is not given). */
  clearCart(buyerId: string, expectedLines?: readonly CheckoutLine[]): Promise<void>;
}>;

/** A placed (or replayed) order and whether this call created it (201) or found it (200). */
export type PlaceResult = Readonly<{ order: Order; created: boolean }>;

export interface OrdersService {
  /**
   * Turns the actor's cart into an order under `idempotencyKey` (see checkout.ts for the saga),
   * then clears the cart. Same key + same cart → the same order (created: false). Runs as the SQL
   * port's idempotent work: after a failover its transactions may run again.
   */
  checkout(actor: Actor | null, idempotencyKey: string): Promise<PlaceResult>;
  /** The saga on given lines, without the cart (what `checkout` runs after reading it). */
  placeOrder(buyerId: string, idempotencyKey: string, lines: readonly CheckoutLine[]): Promise<PlaceResult>;
  /** The actor's orders, newest first, keyset-paginated by order id. */
  listOrders(actor: Actor | null, input: OrderListInput): Promise<OrderPage>;
  /** One of the actor's own orders; anyone else's id is NOT_FOUND. */
  getOrder(actor: Actor | null, id: string): Promise<Order>;
  /**
   * Cancels the actor's order before any line has shipped and puts its stock back once.
   * Idempotent: cancelling a cancelled order answers it again (and retries a failed release).
   * CONFLICT once shipped or delivered.
   */
  cancelOrder(actor: Actor | null, id: string): Promise<Order>;
  /** The buyer confirms receipt of a shipped order. Idempotent; CONFLICT unless shipped. */
  deliverOrder(actor: Actor | null, id: string): Promise<Order>;
  /** Orders holding the actor's products (their lines only), newest first. Sellers and admins. */
  listSellerOrders(actor: Actor | null, input: SellerOrderListInput): Promise<SellerOrderPage>;
  /**
   * Ships the actor's lines of an order (NOT_FOUND when they have none in it). Idempotent;
   * CONFLICT for a cancelled order. The order turns `shipped` when all its lines have.
   */
  shipOrder(actor: Actor | null, orderId: string): Promise<SellerOrder>;
  /**
   * Settles checkouts cut short (a crash, a buyer who never retried): confirms the stock held for
   * orders that exist and releases holds older than the lease that have no order (checkout.ts,
   * step f). Idempotent; run periodically by the worker. Returns what it did.
   */
  reconcileCheckouts(): Promise<Reconciled>;
}

export type OrdersServiceOptions = Readonly<{
  /** The cart; `checkout` needs it, `placeOrder` does not. */
  cart?: CartLines;
  /** The catalog's stock operations; the catalog service by default. */
  stock?: StockService;
  now?: () => Date;
  /** A checkout claim's lease (default 30 s): after it another request may take over. */
  leaseMs?: number;
  /** How long a request waits for a concurrent one with its key (default 10 s) before 409 IN_PROGRESS. */
  waitMs?: number;
  pollMs?: number;
  /** Test seam: failures injected at saga steps. */
  faults?: CheckoutFaults;
  /** Where failed best-effort steps (confirm, cart clearing, compensation, reconciliation) are reported. */
  onError?: (err: unknown, step: string) => void;
}>;

export function createOrdersService(
  platform: Readonly<{ sql: SqlPort }>,
  options: OrdersServiceOptions = {},
): OrdersService {
  const db = platform.sql.for<OrdersDb>('orders');
  const stock: StockService = options.stock ?? (createCatalogService(platform) as CatalogService);
  const now = options.now ?? (() => new Date());
  const onError = options.onError ?? (() => {});
  const saga = createCheckout({
    db,
    stock,
    now,
    leaseMs: options.leaseMs ?? 30_000,
    waitMs: options.waitMs ?? 10_000,
    pollMs: options.pollMs ?? 20,
    faults: options.faults ?? {},
    onError,
  });

  async function ownOrder(buyerId: string, id: string): Promise<Order> {
    const row = await repo.findOrder(db.write, buyerId, id);
    if (!row) throw notFound(`order ${id}`);
    return toOrder(row, await repo.linesOf(db.write, buyerId, [id]));
  }

  async function placeOrder(buyerId: string, key: string, lines: readonly CheckoutLine[]) {
    const placed = await saga.placeOrder(buyerId, key, lines);
    return { order: await ownOrder(buyerId, placed.orderId), created: placed.created };
  }

  async function sellerOrder(sellerId: string, orderId: string): Promise<SellerOrder> {
    const row = await repo.findSellerOrder(db.write, sellerId, orderId);
    if (!row) throw notFound(`order ${orderId}`);
    return toSellerOrder(row);
  }

  return {
    // Idempotent by its key: the router may run its transactions again after a failover.
    checkout: (actor, key) =>
      platform.sql.idempotent(async () => {
        const buyer = requireRole(actor);
        if (!options.cart) throw new AppError('INTERNAL', 'checkout needs the cart service');
        const lines = await options.cart.getCartLines(buyer.userId);
        const result = await placeOrder(buyer.userId, key, lines);
        // The order consumed these lines (a replay clears what an earlier attempt failed to
        // clear); lines added meanwhile stay.
        if (lines.length > 0) {
          try {
            await options.cart.clearCart(buyer.userId, lines);
          } catch (err) {
            onError(err, 'checkout.clearCart');
          }
        }
        return result;
      }),

    placeOrder,

    reconcileCheckouts: () => saga.reconcile(),

    async listOrders(actor, input) {
      const buyer = requireRole(actor);
      const rows = await repo.listOrders(
        db.write,
        buyer.userId,
        input.cursor?.toLowerCase(),
        input.limit + 1,
      );
      const page = rows.slice(0, input.limit);
      const lines = await repo.linesOf(
        db.write,
        buyer.userId,
        page.map((o) => o.id),
      );
      return {
        items: page.map((o) =>
          toOrder(
            o,
            lines.filter((l) => l.order_id === o.id),
          ),
        ),
        nextCursor: rows.length > input.limit ? page.at(-1)!.id : null,
      };
    },

    async getOrder(actor, id) {
      return ownOrder(requireRole(actor).userId, id.toLowerCase());
    },

    async cancelOrder(actor, rawId) {
      const buyerId = requireRole(actor).userId;
      const id = rawId.toLowerCase();
      const order = await db.write.transaction().execute(async (trx) => {
        const found = await repo.findOrder(trx, buyerId, id, true);
        if (!found) throw notFound(`order ${id}`);
        if (found.status === 'cancelled') return found;
        if (found.status !== 'placed' || found.first_shipped_at !== null) {
          throw new AppError('CONFLICT', `order ${id} has shipped; it can no longer be cancelled`);
        }
        const lines = await repo.linesOf(trx, buyerId, [id]);
        const at = now();
        await repo.setOrder(trx, buyerId, id, { status: 'cancelled', cancelled_at: at });
        await repo.setSellerOrders(trx, sellersOf(lines), id, { status: 'cancelled' });
        await appendEvents(trx, [orderEvent('order.cancelled', found, lines)]);
        return found;
      });
      if (order.stock_released_at === null) {
        // Not in the orders transaction: the stock belongs to catalog. Released by reservation
        // id (= order id), once, however often this runs.
        await stock.releaseStock(id);
        await repo.setOrder(db.write, buyerId, id, { stock_released_at: now() });
      }
      return ownOrder(buyerId, id);
    },

    async deliverOrder(actor, rawId) {
      const buyerId = requireRole(actor).userId;
      const id = rawId.toLowerCase();
      await db.write.transaction().execute(async (trx) => {
        const found = await repo.findOrder(trx, buyerId, id, true);
        if (!found) throw notFound(`order ${id}`);
        if (found.status === 'delivered') return;
        if (found.status !== 'shipped') {
          throw new AppError(
            'CONFLICT',
            `order ${id} is ${found.status}; only a shipped order can be delivered`,
          );
        }
        const lines = await repo.linesOf(trx, buyerId, [id]);
        await repo.setOrder(trx, buyerId, id, { status: 'delivered', delivered_at: now() });
        await repo.setSellerOrders(trx, sellersOf(lines), id, { status: 'delivered' });
        await appendEvents(trx, [orderEvent('order.delivered', found, lines)]);
      });
      return ownOrder(buyerId, id);
    },

    async listSellerOrders(actor, input) {
      const seller = requireRole(actor, 'seller');
      const rows = await repo.listSellerOrders(
        db.write,
        seller.userId,
        {
          ...(input.status !== undefined ? { status: input.status } : {}),
          ...(input.cursor !== undefined ? { before: input.cursor.toLowerCase() } : {}),
        },
        input.limit + 1,
      );
      const page = rows.slice(0, input.limit);
      return {
        items: page.map(toSellerOrder),
        nextCursor: rows.length > input.limit ? page.at(-1)!.order_id : null,
      };
    },

    async shipOrder(actor, rawId) {
      const sellerId = requireRole(actor, 'seller').userId;
      const orderId = rawId.toLowerCase();
      // The projection names the buyer, the shard key of the order.
      const part = await repo.findSellerOrder(db.write, sellerId, orderId);
      if (!part) throw notFound(`order ${orderId}`);
      const buyerId = part.buyer_id;
      await db.write.transaction().execute(async (trx) => {
        const order = await repo.findOrder(trx, buyerId, orderId, true);
        if (!order) throw notFound(`order ${orderId}`);
        if (order.status === 'cancelled') {
          throw new AppError('CONFLICT', `order ${orderId} was cancelled; there is nothing to ship`);
        }
        const at = now();
        const { shipped, remaining } = await repo.shipSellerLines(trx, buyerId, orderId, sellerId, at);
        if (shipped === 0) return; // this seller's lines shipped already
        const complete = remaining === 0;
        await repo.setOrder(trx, buyerId, orderId, {
          first_shipped_at: order.first_shipped_at ?? at,
          ...(complete ? { status: 'shipped' as const, shipped_at: at } : {}),
        });
        await repo.setSellerOrders(trx, [sellerId], orderId, { status: 'shipped', shippedAt: at });
        await appendEvents(trx, [
          {
            type: 'order.shipped',
            key: buyerId,
            payload: {
              orderId,
              buyerId,
              sellerId,
              lines: part.lines.map((l) => ({
                productId: l.productId,
                title: l.title,
                quantity: l.quantity,
              })),
              orderShipped: complete,
            },
          },
        ]);
      });
      return sellerOrder(sellerId, orderId);
    },
  };
}

const sellersOf = (lines: readonly repo.OrderLineRow[]): string[] => [
  ...new Set(lines.map((l) => l.seller_id)),
];

function orderEvent(
  type: 'order.cancelled' | 'order.delivered',
  order: repo.OrderRow,
  lines: readonly repo.OrderLineRow[],
): NewEvent {
  return {
    type,
    key: order.buyer_id,
    payload: {
      orderId: order.id,
      buyerId: order.buyer_id,
      lines: lines.map((l) => ({
        productId: l.product_id,
        sellerId: l.seller_id,
        title: l.title,
        quantity: l.quantity,
        priceMinor: l.price_minor,
      })),
      totalMinor: order.total_minor,
      currency: order.currency,
      placedAt: order.placed_at.toISOString(),
    },
  };
}

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

function toOrder(row: repo.OrderRow, lines: readonly repo.OrderLineRow[]): Order {
  return {
    id: row.id,
    buyerId: row.buyer_id,
    status: row.status,
    currency: row.currency,
    totalMinor: Number(row.total_minor),
    itemCount: row.item_count,
    lines: lines.map((l) => ({
      productId: l.product_id,
      sellerId: l.seller_id,
      title: l.title,
      priceMinor: l.price_minor,
      quantity: l.quantity,
      lineTotalMinor: l.price_minor * l.quantity,
      shippedAt: iso(l.shipped_at),
    })),
    placedAt: row.placed_at.toISOString(),
    shippedAt: iso(row.shipped_at),
    deliveredAt: iso(row.delivered_at),
    cancelledAt: iso(row.cancelled_at),
  };
}

function toSellerOrder(row: repo.SellerOrderRow): SellerOrder {
  return {
    orderId: row.order_id,
    buyerId: row.buyer_id,
    status: row.status,
    currency: row.currency,
    subtotalMinor: Number(row.subtotal_minor),
    lines: row.lines,
    placedAt: row.placed_at.toISOString(),
    shippedAt: iso(row.shipped_at),
  };
}
