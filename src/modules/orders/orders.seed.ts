/**
 * Batched checkouts for trusted bulk callers (the demo seeder): the steps of the checkout saga
 * (checkout.ts) for a whole batch at once, with a constant number of statements per batch:
 *
 *   (a) claim every (buyer, Idempotency-Key) of the batch in orders (the key's order id, chosen
 *       here once, is also the catalog reservation id, so a rerun reuses both);
 *   (b) reserve the stock of every pending key in ONE catalog transaction (reserveStockBatch);
 *       sold-out or unpublished products are left out of an order, and a key with nothing left
 *       gets no order (its claim is dropped);
 *   (c) in ONE orders transaction: insert the orders in their final state, their lines and the
 *       `seller_orders` projection rows, and mark the keys completed;
 *   (d) confirm the held reservations (one catalog statement).
 *
 * Interrupted anywhere, a rerun with the same keys and buyers finishes the batch exactly: claimed
 * keys keep their order ids, recorded reservations are answered again without taking stock
 * twice, and inserts skip what exists. An order seeded as cancelled never keeps stock: its
 * reservation is recorded as released with the price snapshot, and `stock_released_at` is set.
 *
 * No `order.placed` events are written: seeded orders are history, and every event would send
 * a confirmation email to the buyer and each seller. The seller projection is written in the
 * orders transaction, as checkout does, so it needs no event.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Cache } from '../../platform/cache/cache.ts';
import type { DomainDb, SqlPort } from '../../platform/sql/sql.ts';
import { invalidInput } from '../../shared/errors.ts';
import { uuidv7 } from '../../shared/ids.ts';
import { type CatalogBulkStock, createCatalogSeeder } from '../catalog/index.ts';
import { type CheckoutLine, normalise } from './checkout.ts';
import * as seedRepo from './orders.repo.seed.ts';
import type * as repo from './orders.repo.ts';
import { IDEMPOTENCY_KEY_PATTERN } from './orders.schema.ts';
import type { OrderStatus, OrdersDb } from './orders.tables.ts';

/** One order for `seedOrders`: a checkout under a deterministic key, and what became of it. */
export type SeedOrder = Readonly<{
  /** Idempotency-Key under the buyer (e.g. `seed-42`): the same key is the same order on every run. */
  key: string;
  buyerId: string;
  /** Distinct products, quantities 1–99; sold-out products are left out. */
  lines: readonly CheckoutLine[];
  /** When it was placed; a rerun keeps the time recorded by the first claim. */
  placedAt: Date;
  /** Its state now. Shipped, delivered and cancelled each happen `stepMs` after the step before (capped at now). */
  status: OrderStatus;
  stepMs: number;
}>;

export type SeedOrdersResult = Readonly<{
  /** Orders this call created. */
  created: number;
  /** Keys whose order existed already (an earlier run). */
  existing: number;
  /** Keys left without an order: nothing reservable, or the key belongs to a real checkout. */
  skipped: number;
  /** Products found sold out while reserving: stop offering them. */
  soldOut: string[];
}>;

/** Failure injection for tests: the hook runs at its step and may throw (that step fails). */
export type SeedFaults = Readonly<{
  /** Runs inside `seedOrders`' orders transaction, after a batch's rows are written, before commit. */
  seedBatch?: () => void | Promise<void>;
}>;

export interface OrdersSeeder {
  /**
   * Places a batch of orders for trusted bulk callers (the demo seeder), in their final states,
   * with a constant number of statements per batch; idempotent by (buyer, key), resumable after
   * an interruption, no oversell (see above). Writes no events.
   */
  seedOrders(batch: readonly SeedOrder[]): Promise<SeedOrdersResult>;
  /** How many orders the given buyers have, together (for the seeder: orders of the demo buyers). */
  countOrders(buyerIds: readonly string[]): Promise<number>;
  /** Planner statistics for what a bulk load added: autovacuum may get there only after the first queries. */
  analyze(): Promise<void>;
}

export type OrdersSeederOptions = Readonly<{
  /** The catalog's batch stock operations; by default the catalog seeder's on the same platform. */
  stock?: CatalogBulkStock;
  now?: () => Date;
  /** Test seam: failures injected into a batch. */
  faults?: SeedFaults;
}>;

export function createOrdersSeeder(
  /** `cache` goes to the default catalog seeder (detail entries of products whose stock moved). */
  platform: Readonly<{ sql: SqlPort; cache?: Cache }>,
  options: OrdersSeederOptions = {},
): OrdersSeeder {
  const db = platform.sql.for<OrdersDb>('orders');
  const deps = {
    db,
    stock: options.stock ?? createCatalogSeeder(platform),
    now: options.now ?? (() => new Date()),
    faults: options.faults ?? {},
  };
  return {
    seedOrders: (batch) => seedOrders(deps, batch),
    countOrders: (buyerIds) => seedRepo.countOrders(db.write, buyerIds),
    analyze: async () => {
      await sql`analyze orders.orders, orders.order_lines, orders.seller_orders, orders.idempotency_keys`.execute(
        db.write,
      );
    },
  };
}

/** The request hash that marks a key as the seeder's (a real checkout hashes its cart lines). */
const SEED_HASH = createHash('sha256').update('bazaar-seed').digest('hex');
const KEY = new RegExp(IDEMPOTENCY_KEY_PATTERN);

async function seedOrders(
  deps: Readonly<{
    db: DomainDb<OrdersDb>;
    stock: CatalogBulkStock;
    now: () => Date;
    faults: SeedFaults;
  }>,
  batch: readonly SeedOrder[],
): Promise<SeedOrdersResult> {
  const { db, stock, now } = deps;
  const specs = batch.map((o) => {
    if (!KEY.test(o.key)) throw invalidInput(`seed key "${o.key}" is not an Idempotency-Key`);
    return { ...o, lines: normalise(o.lines) };
  });
  const refOf = (o: seedRepo.KeyRef) => `${o.buyerId}/${o.key}`;
  if (new Set(specs.map(refOf)).size !== specs.length) throw invalidInput('a batch names a key twice');

  await seedRepo.claimKeysMany(
    db.write,
    specs.map((o) => ({
      buyerId: o.buyerId,
      key: o.key,
      requestHash: SEED_HASH,
      orderId: uuidv7(o.placedAt.getTime()),
      leaseToken: uuidv7(),
      createdAt: o.placedAt,
      lockedUntil: o.placedAt,
    })),
  );
  const keys = new Map((await seedRepo.findKeysMany(db.write, specs)).map((k) => [refOf(k), k]));
  let existing = 0;
  let skipped = 0;
  const pending: { spec: (typeof specs)[number]; key: repo.KeyRecord & { createdAt: Date } }[] = [];
  for (const spec of specs) {
    const key = keys.get(refOf(spec));
    if (key?.requestHash !== SEED_HASH) skipped++;
    else if (key.state === 'completed') existing++;
    else if (key.state === 'pending') pending.push({ spec, key });
    else skipped++;
  }
  if (pending.length === 0) return { created: 0, existing, skipped, soldOut: [] };

  const { reserved, soldOut } = await stock.reserveStockBatch(
    pending.map(({ spec, key }) => ({
      reservationId: key.orderId,
      lines: spec.lines,
      hold: spec.status !== 'cancelled',
    })),
  );
  const at = now();
  const orders: seedRepo.SettledOrder[] = [];
  const done: seedRepo.KeyRef[] = [];
  const empty: seedRepo.KeyRef[] = [];
  const held: string[] = [];
  for (const { spec, key } of pending) {
    const r = reserved.get(key.orderId);
    if (!r || r.state === 'none') {
      empty.push(key);
      continue;
    }
    // What the catalog recorded decides: a reservation kept as released is a cancelled order.
    const cancelled = r.state === 'released';
    const status: OrderStatus = cancelled
      ? 'cancelled'
      : spec.status === 'cancelled'
        ? 'placed'
        : spec.status;
    const placedAt = key.createdAt;
    const step = (n: number) => new Date(Math.min(placedAt.getTime() + n * spec.stepMs, at.getTime()));
    const shippedAt = status === 'shipped' || status === 'delivered' ? step(1) : null;
    orders.push({
      buyerId: key.buyerId,
      id: key.orderId,
      currency: r.lines[0]!.currency,
      totalMinor: r.lines.reduce((sum, l) => sum + l.priceMinor * l.quantity, 0),
      itemCount: r.lines.reduce((sum, l) => sum + l.quantity, 0),
      placedAt,
      lines: r.lines.map((l) => ({
        productId: l.productId,
        sellerId: l.sellerId,
        title: l.title,
        priceMinor: l.priceMinor,
        quantity: l.quantity,
      })),
      status,
      shippedAt,
      deliveredAt: status === 'delivered' ? step(2) : null,
      cancelledAt: cancelled ? step(1) : null,
    });
    done.push(key);
    if (r.state === 'held') held.push(key.orderId);
  }
  const created = await db.write.transaction().execute(async (trx) => {
    const n = await seedRepo.insertOrdersMany(trx, orders);
    await seedRepo.completeKeysMany(trx, done, at);
    await seedRepo.dropKeysMany(trx, empty);
    await deps.faults.seedBatch?.();
    return n;
  });
  await stock.confirmReservations(held);
  return { created, existing: existing + orders.length - created, skipped: skipped + empty.length, soldOut };
}
