/**
 * `catalog.cache-invalidation`: invalidates the cached product and the listings of its
 * categories (before and after a move) and seller on `product.published`, `product.updated` and
 * `product.deleted` (and searches when it left the public catalog). The writing instance already
 * invalidated before answering; this repeats it from the event, in the worker, so an
 * invalidation lost there (a crash after commit, Redis unreachable for a moment) still happens,
 * with the jobs port's retries. Deleting is idempotent: no dedup record needed. (With read
 * replicas the cache port repeats every delete after the replicas' allowed lag: see
 * `repeatDeletesAfterMs` in src/platform/cache/cache.ts.)
 */

import type { Consumer } from '../../platform/events/events.ts';
import type { ModuleDeps } from '../module.ts';
import { createCatalogCache, type ProductChange } from './catalog.cache.ts';
import type { CatalogDb } from './catalog.tables.ts';

type ProductEvent = Readonly<{
  productId: string;
  sellerId: string;
  categoryId: string;
  previousCategoryId?: string;
  status?: string;
}>;

const PRODUCT_EVENT_TYPES = ['product.published', 'product.updated', 'product.deleted'] as const;

export function cacheInvalidationConsumer({ platform }: Pick<ModuleDeps, 'platform'>): Consumer {
  const cached = createCatalogCache(platform.cache, platform.sql.for<CatalogDb>('catalog'));
  return {
    name: 'catalog.cache-invalidation',
    types: PRODUCT_EVENT_TYPES,
    concurrency: 4,
    async handle(event) {
      const p = event.payload as ProductEvent;
      const change: ProductChange = {
        productId: p.productId,
        sellerId: p.sellerId,
        categoryIds: [p.previousCategoryId, p.categoryId],
        leftPublic: event.type === 'product.deleted' || p.status !== 'published',
      };
      await cached.productChanged(change);
    },
  };
}
