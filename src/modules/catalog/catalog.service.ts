/**
 * The catalog's service as other modules and apps see it: the product rules (catalog.products.ts)
 * and the stock reservations of checkout (catalog.stock.ts), over one domain handle, clock and
 * cache. Seeding in bulk is apart, in catalog.seed.ts.
 */
import type { Cache } from '../../platform/cache/cache.ts';
import type { ObjectStore } from '../../platform/objects/objects.ts';
import type { SqlPort } from '../../platform/sql/sql.ts';
import { createCatalogCache } from './catalog.cache.ts';
import { type CatalogProducts, createCatalogProducts } from './catalog.products.ts';
import { type CatalogStock, createCatalogStock } from './catalog.stock.ts';
import type { CatalogDb } from './catalog.tables.ts';

export interface CatalogService extends CatalogProducts, CatalogStock {}

export type CatalogServiceOptions = Readonly<{ now?: () => Date }>;

export function createCatalogService(
  /**
   * `objects` builds photo URLs; without it products carry no photos (for callers that show none).
   * `cache`: public reads go through it and writes invalidate it; without it every read is a query.
   */
  platform: Readonly<{ sql: SqlPort; objects?: Pick<ObjectStore, 'publicUrl'>; cache?: Cache }>,
  options: CatalogServiceOptions = {},
): CatalogService {
  const db = platform.sql.for<CatalogDb>('catalog');
  const now = options.now ?? (() => new Date());
  const cached = createCatalogCache(platform.cache, db);
  return {
    ...createCatalogProducts({ db, now, cached, objects: platform.objects }),
    ...createCatalogStock({ db, now, cached }),
  };
}
