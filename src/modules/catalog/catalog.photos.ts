/**
 * The catalog's copy of a product's ready photos (`catalog.products.photos`), kept from the
 * media domain's events by the consumer `catalog.photo-projection`: `photo.ready` adds or
 * replaces the photo, `photo.deleted` removes it. Sorted by position, one entry per photo id,
 * written with handleOnce on the catalog's write handle, so a redelivery changes nothing. A
 * product deleted meanwhile is skipped. Product reads then need no call to media: detail and
 * listings stay one query. After the change commits, the product's cached detail and listings
 * are invalidated (a published product's; drafts are never cached).
 */

import type { Consumer } from '../../platform/events/events.ts';
import { handleOnce } from '../../platform/events/handle-once.ts';
import type { ModuleDeps } from '../module.ts';
import { createCatalogCache } from './catalog.cache.ts';
import * as repo from './catalog.repo.ts';
import type { CatalogDb, StoredPhoto } from './catalog.tables.ts';

type PhotoEvent = Readonly<{
  photoId: string;
  productId: string;
  position?: number;
  variants?: StoredPhoto['variants'];
}>;

export function photoProjectionConsumer({ platform }: Pick<ModuleDeps, 'platform'>): Consumer {
  const handle = platform.sql.for<CatalogDb>('catalog');
  const db = handle.write;
  const cached = createCatalogCache(platform.cache, handle);
  return {
    name: 'catalog.photo-projection',
    types: ['photo.ready', 'photo.deleted'],
    async handle(event, { consumer }) {
      const p = event.payload as PhotoEvent;
      let changed: { sellerId: string; categoryId: string; status: string } | undefined;
      await handleOnce(db, { consumer, eventId: event.id }, async (trx) => {
        const product = await repo.lockProductPhotos(trx, p.productId);
        if (product === undefined) return;
        changed = product;
        const others = product.photos.filter((x) => x.id !== p.photoId);
        const next =
          event.type === 'photo.ready'
            ? [...others, { id: p.photoId, position: p.position ?? 0, variants: p.variants ?? [] }]
            : others;
        next.sort((a, b) => a.position - b.position || (a.id < b.id ? -1 : 1));
        await repo.setProductPhotos(trx, p.productId, next);
      });
      if (changed?.status === 'published') {
        await cached.productChanged({
          productId: p.productId,
          sellerId: changed.sellerId,
          categoryIds: [changed.categoryId],
          leftPublic: false,
        });
      }
    },
  };
}
