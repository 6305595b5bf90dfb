/** catalog: categories, products, listing and search. Other modules import only this file. */
import { fileURLToPath } from 'node:url';
import type { WebModule } from '../../http/app.ts';
import { cacheInvalidationConsumer } from './catalog.invalidation.ts';
import { photoProjectionConsumer } from './catalog.photos.ts';
import { catalogRoutes } from './catalog.routes.ts';
import { createCatalogService } from './catalog.service.ts';

export const catalogModule: WebModule = {
  name: 'catalog',
  migrations: {
    domain: 'catalog',
    dir: fileURLToPath(new URL('../../../migrations/catalog/', import.meta.url)),
  },
  routes: (app, { platform }) => catalogRoutes(app, createCatalogService(platform), platform.clickstream),
  consumers: (deps) => [photoProjectionConsumer(deps), cacheInvalidationConsumer(deps)],
};

/** How many results relevance-ordered search pages reach in all (docs/modules/catalog.md, "Search"). */
export { SEARCH_CANDIDATES } from './catalog.repo.ts';
export type {
  CategoryTree,
  Product,
  ProductCreate,
  ProductListItem,
  ProductPage,
  ProductPhoto,
  ProductUpdate,
  Sort,
} from './catalog.schema.ts';
export {
  type BatchReservation,
  type BatchReserved,
  type CatalogBulkStock,
  type CatalogService,
  type CatalogServiceOptions,
  createCatalogBulkStock,
  createCatalogService,
  type HeldReservation,
  type ProductSeed,
  type ReservedLine,
  type ReserveResult,
  type StockLine,
  type StockShortage,
} from './catalog.service.ts';
export type { ProductAttributes, ProductStatus } from './catalog.tables.ts';
