/**
 * The catalog's side of checkout: stock held under a reservation id chosen by the caller (the
 * order id), all or nothing, idempotent by id, released or confirmed once, and listed while held
 * so that the holder can settle what a crash left (docs/modules/catalog.md, "Stock
 * reservations"). Every operation is one transaction of this domain on the primary; detail
 * pages, which show stock, are invalidated after each commit that moved stock.
 */
import type { DomainDb } from '../../platform/sql/sql.ts';
import { AppError, invalidInput } from '../../shared/errors.ts';
import { isUuid } from '../../shared/ids.ts';
import type { CatalogCache } from './catalog.cache.ts';
import * as repo from './catalog.repo.ts';
import { LIMITS } from './catalog.schema.ts';
import type { CatalogDb, ReservedLineRow } from './catalog.tables.ts';

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

/** Stock reservations, for the orders module's checkout saga and its reconciliation. */
export interface CatalogStock {
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

export function createCatalogStock(
  deps: Readonly<{ db: DomainDb<CatalogDb>; now: () => Date; cached: CatalogCache }>,
): CatalogStock {
  const { db, now, cached } = deps;
  return {
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
export function checkStockLines(reservationId: string, lines: readonly StockLine[]): Map<string, number> {
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
