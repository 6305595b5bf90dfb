/**
 * Seeding the catalog, for trusted bulk callers only (the demo seeder, tests and benchmarks that
 * need many products or orders fast): products inserted in batches, and the stock operations of
 * a batched checkout (orders.seed.ts). Kept out of the service so that no request path reaches
 * them; they keep the service's rules (the create route's validation, reservations by id, no
 * oversell) with a constant number of statements per batch.
 */
import { sql } from 'kysely';
import { Compile } from 'typebox/compile';
import type { Cache } from '../../platform/cache/cache.ts';
import type { SqlPort } from '../../platform/sql/sql.ts';
import { invalidInput } from '../../shared/errors.ts';
import { isUuid } from '../../shared/ids.ts';
import { createCatalogCache } from './catalog.cache.ts';
import { newProductValues, unknownCategory } from './catalog.products.ts';
import * as seedRepo from './catalog.repo.seed.ts';
import * as repo from './catalog.repo.ts';
import { type ProductCreate, ProductCreateBody } from './catalog.schema.ts';
import type { CatalogServiceOptions } from './catalog.service.ts';
import { checkStockLines, type ReservedLine, type StockLine } from './catalog.stock.ts';
import type { CatalogDb } from './catalog.tables.ts';

/** A product for `insertProducts`: the create body plus what a trusted caller may fix. */
export type ProductSeed = ProductCreate & {
  sellerId: string;
  id?: string;
  /** Millisecond precision (a JS Date); defaults to now. */
  createdAt?: Date;
};

/** One reservation of a batch. `hold` takes the stock; without it (an order cancelled long ago) only the snapshot is recorded, as released. */
export type BatchReservation = Readonly<{
  reservationId: string;
  lines: readonly StockLine[];
  hold: boolean;
}>;

/** What a batch reservation recorded: `none` when no line could be reserved (nothing is kept then). */
export type BatchReserved = Readonly<{
  state: 'held' | 'committed' | 'released' | 'none';
  lines: readonly ReservedLine[];
}>;

/**
 * Stock operations on many reservations at once, for trusted bulk callers (the demo seeder's
 * batched checkout). They keep the rules of `reserveStock`/`confirmReservation` (ids are the
 * order ids, idempotent by id, products locked in id order, no oversell, price snapshots) with a
 * constant number of statements per batch instead of several per order.
 */
export interface CatalogBulkStock {
  /**
   * Ids of published products with stock, in id order after `after` (keyset pages of at most
   * `limit`); with `sellerIds`, only those sellers' products.
   */
  listInStockProductIds(
    after: string | undefined,
    limit: number,
    sellerIds?: readonly string[],
  ): Promise<string[]>;
  /**
   * Reserves a batch in ONE catalog transaction. A reservation id already recorded answers what
   * was recorded (its stock is not taken again). For a new id, each line whose product is
   * published and, when holding, still has the quantity (after the batch's earlier requests) is
   * reserved; other lines are left out (sold out or unpublished), as are lines in a currency other
   * than the first reserved line's. `soldOut` lists products found short or left at zero.
   */
  reserveStockBatch(requests: readonly BatchReservation[]): Promise<{
    reserved: Map<string, BatchReserved>;
    soldOut: string[];
  }>;
  /** Marks held reservations committed (their orders exist), in one statement; returns how many moved. */
  confirmReservations(reservationIds: readonly string[]): Promise<number>;
}

/** The catalog's seeding operations: bulk products, and the bulk stock of batched checkouts. */
export interface CatalogSeeder extends CatalogBulkStock {
  /**
   * Bulk insert for trusted callers (the demo seeder): validates every row as the create route
   * does, then inserts all in one transaction, in batches. Returns how many rows were inserted.
   */
  insertProducts(rows: readonly ProductSeed[]): Promise<number>;
  /** How many products exist, drafts included (seeding decides from it how many to add). */
  countProducts(): Promise<number>;
  /** Planner statistics for what a bulk load added: autovacuum may get there only after the first queries. */
  analyze(): Promise<void>;
}

const checkCreate = Compile(ProductCreateBody);

export function createCatalogSeeder(
  /**
   * With `cache`, listings and searches are invalidated after products are inserted, and the
   * detail entries of products whose stock moved after each batch reservation.
   */
  platform: Readonly<{ sql: SqlPort; cache?: Cache }>,
  options: CatalogServiceOptions = {},
): CatalogSeeder {
  const db = platform.sql.for<CatalogDb>('catalog');
  const now = options.now ?? (() => new Date());
  const cached = createCatalogCache(platform.cache, db);
  return {
    countProducts: () => seedRepo.countProducts(db.write),
    analyze: async () => {
      await sql`analyze catalog.products, catalog.stock_reservations`.execute(db.write);
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
      const inserted = await db.write.transaction().execute(async (trx) => {
        const tops = await seedRepo.categoryTops(trx);
        const values = rows.map((row) => {
          const top = tops.get(row.categoryId);
          if (top === undefined) throw unknownCategory(row.categoryId);
          return { ...row, topCategoryId: top };
        });
        return seedRepo.insertProducts(trx, values);
      });
      await cached.productsInserted().catch(() => {});
      return inserted;
    },

    listInStockProductIds: (after, limit, sellerIds) =>
      seedRepo.listInStockProductIds(db.write, after, limit, sellerIds),

    async reserveStockBatch(requests) {
      const wanted = requests.map((r) => ({
        id: r.reservationId.toLowerCase(),
        hold: r.hold,
        lines: checkStockLines(r.reservationId, r.lines),
      }));
      if (new Set(wanted.map((w) => w.id)).size !== wanted.length) {
        throw invalidInput('a batch names a reservation id twice');
      }
      const result = await db.write.transaction().execute(async (trx) => {
        const at = now();
        const reserved = new Map<string, BatchReserved>();
        const fresh = await seedRepo.insertReservationsMany(
          trx,
          wanted.map((w) => w.id),
          at,
        );
        for (const found of await seedRepo.findReservationsMany(
          trx,
          wanted.filter((w) => !fresh.has(w.id)).map((w) => w.id),
        )) {
          reserved.set(found.id, {
            state: found.lines.length > 0 ? found.state : 'none',
            lines: found.lines,
          });
        }
        const todo = wanted.filter((w) => fresh.has(w.id));
        const products = new Map(
          (await repo.lockProductsForStock(trx, [...new Set(todo.flatMap((w) => [...w.lines.keys()]))])).map(
            (p) => [p.id, { ...p }],
          ),
        );
        const taken = new Map<string, number>();
        const soldOut = new Set<string>();
        const records: { id: string; state: 'held' | 'released'; lines: ReservedLine[] }[] = [];
        const empty: string[] = [];
        for (const w of todo) {
          const lines: ReservedLine[] = [];
          for (const [productId, quantity] of w.lines) {
            const p = products.get(productId);
            if (p?.status !== 'published') continue;
            if (lines.length > 0 && p.currency !== lines[0]!.currency) continue;
            if (w.hold) {
              if (p.stock < quantity) {
                soldOut.add(productId);
                continue;
              }
              p.stock -= quantity;
              taken.set(productId, (taken.get(productId) ?? 0) + quantity);
              if (p.stock === 0) soldOut.add(productId);
            }
            lines.push({
              productId,
              quantity,
              sellerId: p.seller_id,
              title: p.title,
              priceMinor: p.price_minor,
              currency: p.currency,
            });
          }
          if (lines.length === 0) {
            empty.push(w.id);
            reserved.set(w.id, { state: 'none', lines });
          } else {
            const state = w.hold ? ('held' as const) : ('released' as const);
            records.push({ id: w.id, state, lines });
            reserved.set(w.id, { state, lines });
          }
        }
        const takes = [...taken].map(([productId, quantity]) => ({ productId, quantity }));
        // Rows are locked and counted above; the conditional update still refuses an oversell.
        if ((await seedRepo.takeStockMany(trx, takes, at)) !== takes.length) {
          throw new Error('stock changed under a row lock during a batch reservation');
        }
        await seedRepo.setReservationsMany(trx, records, at);
        await seedRepo.deleteReservationsMany(trx, empty);
        return { reserved, soldOut: [...soldOut], moved: [...taken.keys()] };
      });
      // After the commit; a failed invalidation leaves the entries to their TTL.
      await cached.stockChanged(result.moved).catch(() => {});
      return { reserved: result.reserved, soldOut: result.soldOut };
    },

    confirmReservations: (ids) =>
      seedRepo.commitReservationsMany(
        db.write,
        ids.map((id) => id.toLowerCase()),
        now(),
      ),
  };
}
