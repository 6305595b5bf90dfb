/**
 * The checkout saga: cart lines → an order, across two domains that will live in different
 * databases (catalog holds the stock, orders holds the order), so there is no transaction
 * spanning both. Each step is idempotent and the failure of any step after the stock is held
 * puts the stock back. Steps, for one buyer and Idempotency-Key:
 *
 *   (a) claim the key in orders: insert (buyer, key, hash of the lines, a new order id, a lease
 *       token) … on conflict do nothing. The row is the lock: exactly one request runs the saga;
 *       the others poll it until it completes (then answer with the same order), give up after
 *       `waitMs` with 409 IN_PROGRESS + Retry-After, or take it over once its lease has expired
 *       (the holder died). A different hash for the same key is 422 IDEMPOTENCY_KEY_REUSED.
 *   (b) reserve the stock in catalog under the reservation id = the claimed order id, so every
 *       retry of the key reuses the same reservation (reserveStock is idempotent by id).
 *   (c) in ONE orders transaction: mark the key completed (fenced by the lease token), insert the
 *       order, its lines, the seller projection rows and the `order.placed` outbox event.
 *   (d) on a failure after (b): mark the key `compensating`, release the reservation, drop the
 *       key. If that fails too, the key stays `compensating`, and the next request with the key
 *       finishes the release once the lease has expired.
 *   (e) after (c): confirm the reservation; the caller then clears the cart. Both best effort:
 *       the order exists; a retry with the same key repeats them (for an order cancelled
 *       meanwhile, it finishes the cancel's release instead of confirming).
 *   (f) reconciliation (`reconcile`, run periodically by the worker), for holds whose buyer never
 *       retries: every reservation still `held` after the lease is settled through its key,
 *       found by (buyer = the reservation's holder, order id): completed → (e); pending or
 *       compensating with an expired lease → taken over (fenced, as a retry would) and released,
 *       key dropped; no key → released (without a key no checkout can turn it into an order);
 *       a live lease → left to the request that holds it.
 */
import { createHash } from 'node:crypto';
import { appendEvents } from '../../platform/events/outbox.ts';
import type { DomainDb } from '../../platform/sql/sql.ts';
import { AppError, invalidInput } from '../../shared/errors.ts';
import { isUuid, uuidv7 } from '../../shared/ids.ts';
import type { CatalogService, HeldReservation, ReservedLine } from '../catalog/index.ts';
import * as repo from './orders.repo.ts';
import { IDEMPOTENCY_KEY_PATTERN, LIMITS } from './orders.schema.ts';
import type { OrdersDb } from './orders.tables.ts';

/** A cart line as the cart module gives it. */
export type CheckoutLine = Readonly<{ productId: string; quantity: number }>;

/** The catalog operations the saga needs (the catalog service provides them). */
export type StockService = Pick<
  CatalogService,
  'reserveStock' | 'releaseStock' | 'confirmReservation' | 'listHeldReservations'
>;

/**
 * Failure injection for tests: each hook runs at its step and may throw (that step fails) or
 * never settle (the process died there). `createOrder` runs inside the orders transaction after
 * the order rows and event are written, before commit (a process dying there rolls it back,
 * which leaves what dying at `reserved` leaves).
 */
export type CheckoutFaults = Readonly<{
  /** After the key is claimed (or taken over), before the stock is reserved. */
  claimed?: (orderId: string) => void | Promise<void>;
  /** After the stock is held, before the order transaction. */
  reserved?: (orderId: string) => void | Promise<void>;
  createOrder?: (orderId: string) => void | Promise<void>;
  /** After the order committed, before the reservation is confirmed (a throw: the confirm failed). */
  placed?: (orderId: string) => void | Promise<void>;
  /** In a compensation, after the key moved to `compensating`, before the release. */
  compensating?: (orderId: string) => void | Promise<void>;
}>;

export type CheckoutDeps = Readonly<{
  db: DomainDb<OrdersDb>;
  stock: StockService;
  now: () => Date;
  /** How long a claim is exclusive before another request may take the checkout over. */
  leaseMs: number;
  /** How long a request waits for a concurrent request with its key before 409 IN_PROGRESS. */
  waitMs: number;
  pollMs: number;
  faults: CheckoutFaults;
  /** Reports a best-effort step that failed (the request itself still succeeds or fails as said). */
  onError: (err: unknown, step: string) => void;
}>;

/** What placing an order answered: the order id and whether this request created it. */
export type Placed = Readonly<{ orderId: string; created: boolean }>;

/**
 * What one reconciliation pass did with the holds older than the lease: `confirmed` (their order
 * exists), `released` (no order), `running` (left to a request holding the key), `failed`
 * (reported through `onError`; the next pass tries again).
 */
export type Reconciled = { confirmed: number; released: number; running: number; failed: number };

const KEY = new RegExp(IDEMPOTENCY_KEY_PATTERN);
const MAX_ROUNDS = 20;

class LeaseLost extends Error {}

export function createCheckout(deps: CheckoutDeps) {
  const { db, stock, now } = deps;
  const later = (ms: number) => new Date(now().getTime() + ms);

  async function compensate(lease: repo.KeyRecord): Promise<void> {
    try {
      const held = await repo.moveKey(db.write, lease, {
        state: 'compensating',
        leaseToken: lease.leaseToken,
        lockedUntil: later(deps.leaseMs),
      });
      if (!held) return; // another request took the checkout over; it decides
      await deps.faults.compensating?.(lease.orderId);
      await stock.releaseStock(lease.orderId);
      await repo.dropKey(db.write, held);
    } catch (err) {
      deps.onError(err, 'checkout.compensate');
    }
  }

  /** Steps (b) to (d) for a key this request holds; 'retry' when the key must be looked at again. */
  async function run(lease: repo.KeyRecord, lines: readonly CheckoutLine[]): Promise<Placed | 'retry'> {
    const orderId = lease.orderId;
    let reserved: Awaited<ReturnType<StockService['reserveStock']>>;
    try {
      await deps.faults.claimed?.(orderId);
      reserved = await stock.reserveStock(orderId, lines, lease.buyerId);
    } catch (err) {
      // The reservation may or may not have committed: release by id (idempotent, and it leaves
      // a tombstone so a late reserve with this id holds nothing).
      await compensate(lease);
      throw err;
    }
    if (!reserved.ok) {
      await repo.dropKey(db.write, lease);
      if (reserved.reason === 'released') return 'retry';
      const ids = reserved.shortages.map((s) => s.productId).join(', ');
      if (reserved.reason === 'unavailable') {
        throw new AppError('PRODUCT_UNAVAILABLE', `no longer for sale: ${ids}; remove it from the cart`, {
          details: { shortages: reserved.shortages },
        });
      }
      throw new AppError('OUT_OF_STOCK', `not enough stock for ${ids}`, {
        details: { shortages: reserved.shortages },
      });
    }
    const currencies = [...new Set(reserved.lines.map((l) => l.currency))];
    if (currencies.length > 1) {
      await compensate(lease);
      throw new AppError(
        'MIXED_CURRENCIES',
        `the cart mixes currencies (${currencies.join(', ')}); one order takes one currency`,
      );
    }
    const own = reserved.lines.filter((l) => l.sellerId === lease.buyerId).map((l) => l.productId);
    if (own.length > 0) {
      // Refused, not just left off the leaderboards: a self-purchase would skew every sales figure.
      await compensate(lease);
      throw new AppError(
        'OWN_PRODUCT',
        `you sell ${own.join(', ')}; sellers cannot buy their own products: remove ${own.length === 1 ? 'it' : 'them'} from the cart`,
        { details: { productIds: own } },
      );
    }
    try {
      await deps.faults.reserved?.(orderId);
      await db.write.transaction().execute(async (trx) => {
        const at = now();
        const done = await repo.moveKey(trx, lease, {
          state: 'completed',
          leaseToken: lease.leaseToken,
          lockedUntil: lease.lockedUntil,
          completedAt: at,
        });
        if (!done) throw new LeaseLost();
        const order = newOrder(lease.buyerId, orderId, reserved.lines, at);
        await repo.insertOrder(trx, order);
        await appendEvents(trx, [
          {
            type: 'order.placed',
            key: order.buyerId,
            payload: {
              orderId,
              buyerId: order.buyerId,
              lines: order.lines.map((l) => ({
                productId: l.productId,
                sellerId: l.sellerId,
                title: l.title,
                quantity: l.quantity,
                priceMinor: l.priceMinor,
              })),
              totalMinor: order.totalMinor,
              currency: order.currency,
              placedAt: order.placedAt.toISOString(),
            },
          },
        ]);
        await deps.faults.createOrder?.(orderId);
      });
    } catch (err) {
      if (err instanceof LeaseLost) return 'retry';
      await compensate(lease);
      throw err;
    }
    try {
      await deps.faults.placed?.(orderId);
      await stock.confirmReservation(orderId);
    } catch (err) {
      deps.onError(err, 'checkout.confirm');
    }
    return { orderId, created: true };
  }

  /** Step (e) for a completed key: confirm its hold, or finish the release of an order cancelled meanwhile. */
  async function settleCompleted(key: repo.KeyRecord): Promise<'confirmed' | 'released' | 'none'> {
    const order = await repo.findOrder(db.write, key.buyerId, key.orderId);
    if (order?.status === 'cancelled') {
      if (order.stock_released_at !== null) return 'none';
      const { released } = await stock.releaseStock(key.orderId);
      await repo.setOrder(db.write, key.buyerId, key.orderId, { stock_released_at: now() });
      return released ? 'released' : 'none';
    }
    const { state } = await stock.confirmReservation(key.orderId);
    return state === 'committed' ? 'confirmed' : 'none';
  }

  /** Step (f) for one hold older than the lease. */
  async function settleHold(hold: HeldReservation): Promise<'confirmed' | 'released' | 'running' | 'none'> {
    const key = await repo.findKeyByOrder(db.write, hold.holderId, hold.reservationId);
    if (key?.state === 'completed') return settleCompleted(key);
    if (key) {
      if (key.lockedUntil.getTime() > now().getTime()) return 'running';
      const taken = await repo.moveKey(db.write, key, {
        state: 'compensating',
        leaseToken: uuidv7(),
        lockedUntil: later(deps.leaseMs),
      });
      if (!taken) return 'running'; // a retry (or another worker) took it over just now
      const { released } = await stock.releaseStock(taken.orderId);
      await repo.dropKey(db.write, taken);
      return released ? 'released' : 'none';
    }
    const { released } = await stock.releaseStock(hold.reservationId);
    return released ? 'released' : 'none';
  }

  return {
    /**
     * Runs the saga for `lines` under (buyer, key). The same key with the same lines answers the
     * same order (created: false); after the order exists, an empty cart also counts as the same
     * (the order consumed it). Errors: INVALID_INPUT, CART_EMPTY, IDEMPOTENCY_KEY_REUSED,
     * IN_PROGRESS, OUT_OF_STOCK, PRODUCT_UNAVAILABLE, MIXED_CURRENCIES, OWN_PRODUCT.
     */
    async placeOrder(buyerId: string, key: string, input: readonly CheckoutLine[]): Promise<Placed> {
      if (!KEY.test(key)) throw invalidInput('Idempotency-Key must be 1–100 characters of A-Z a-z 0-9 _ -');
      const lines = normalise(input);
      const hash = hashLines(lines);
      const giveUpAt = now().getTime() + deps.waitMs;
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const found = await repo.findKey(db.write, buyerId, key);
        if (!found) {
          if (lines.length === 0) throw new AppError('CART_EMPTY', 'the cart is empty; add products first');
          const at = now();
          const claimed = await repo.claimKey(
            db.write,
            { buyerId, key, requestHash: hash, orderId: uuidv7(at.getTime()), leaseToken: uuidv7() },
            at,
            later(deps.leaseMs),
          );
          if (!claimed) continue;
          const placed = await run(claimed, lines);
          if (placed !== 'retry') return placed;
          continue;
        }
        if (found.requestHash !== hash && !(found.state === 'completed' && lines.length === 0)) {
          throw new AppError(
            'IDEMPOTENCY_KEY_REUSED',
            'this Idempotency-Key was used for a different cart; use a new key for a new order',
          );
        }
        if (found.state === 'completed') {
          try {
            await settleCompleted(found);
          } catch (err) {
            deps.onError(err, 'checkout.confirm');
          }
          return { orderId: found.orderId, created: false };
        }
        if (found.lockedUntil.getTime() > now().getTime()) {
          if (now().getTime() >= giveUpAt) {
            throw new AppError('IN_PROGRESS', 'a checkout with this Idempotency-Key is still running', {
              retryAfterSeconds: 1,
            });
          }
          await new Promise((resolve) => setTimeout(resolve, deps.pollMs));
          continue;
        }
        // The holder's lease expired (it died or stalled): take the checkout over, fenced.
        const taken = await repo.moveKey(db.write, found, {
          state: found.state,
          leaseToken: uuidv7(),
          lockedUntil: later(deps.leaseMs),
        });
        if (!taken) continue;
        if (taken.state === 'pending') {
          const placed = await run(taken, lines);
          if (placed !== 'retry') return placed;
        } else {
          await stock.releaseStock(taken.orderId);
          await repo.dropKey(db.write, taken);
        }
      }
      throw new AppError('IN_PROGRESS', 'the checkout did not settle; retry with the same key', {
        retryAfterSeconds: 1,
      });
    },

    /**
     * Step (f): settles every reservation still held after the lease, oldest first, up to `max`
     * per pass, in pages of `pageSize`. Idempotent and safe in several workers at once (every
     * move is fenced by the key's lease token or idempotent by reservation id).
     */
    async reconcile({ pageSize = 100, max = 1000 } = {}): Promise<Reconciled> {
      const done: Reconciled = { confirmed: 0, released: 0, running: 0, failed: 0 };
      const olderThan = new Date(now().getTime() - deps.leaseMs);
      let after: HeldReservation | undefined;
      for (let seen = 0; seen < max; ) {
        const limit = Math.min(pageSize, max - seen);
        const page = await stock.listHeldReservations({ olderThan, limit, ...(after ? { after } : {}) });
        for (const hold of page) {
          try {
            const outcome = await settleHold(hold);
            if (outcome !== 'none') done[outcome]++;
          } catch (err) {
            done.failed++;
            deps.onError(err, 'checkout.reconcile');
          }
        }
        seen += page.length;
        if (page.length < limit) break;
        after = page.at(-1);
      }
      return done;
    },
  };
}

/** Distinct products in id order; quantities checked. Cart lines are the cart's concern, so this only guards. */
export function normalise(input: readonly CheckoutLine[]): CheckoutLine[] {
  if (input.length > LIMITS.linesMax) {
    throw new AppError('UNPROCESSABLE', `an order holds at most ${LIMITS.linesMax} lines`);
  }
  const merged = new Map<string, number>();
  for (const line of input) {
    const id = line.productId.toLowerCase();
    if (!isUuid(id)) throw new AppError('UNPROCESSABLE', `cart line ${line.productId} is not a product id`);
    merged.set(id, (merged.get(id) ?? 0) + line.quantity);
  }
  for (const [id, quantity] of merged) {
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > LIMITS.quantityMax) {
      throw new AppError('UNPROCESSABLE', `quantity of ${id} must be from 1 to ${LIMITS.quantityMax}`);
    }
  }
  return [...merged]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([productId, quantity]) => ({ productId, quantity }));
}

/** The request's fingerprint: SHA-256 of the normalised lines. */
function hashLines(lines: readonly CheckoutLine[]): string {
  const text = lines.map((l) => `${l.productId}:${l.quantity}`).join(',');
  return createHash('sha256').update(text).digest('hex');
}

function newOrder(buyerId: string, id: string, lines: readonly ReservedLine[], at: Date): repo.NewOrder {
  return {
    buyerId,
    id,
    currency: lines[0]!.currency,
    totalMinor: lines.reduce((sum, l) => sum + l.priceMinor * l.quantity, 0),
    itemCount: lines.reduce((sum, l) => sum + l.quantity, 0),
    placedAt: at,
    lines: lines.map((l) => ({
      productId: l.productId,
      sellerId: l.sellerId,
      title: l.title,
      priceMinor: l.priceMinor,
      quantity: l.quantity,
    })),
  };
}
