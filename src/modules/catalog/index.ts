/** catalog: categories, products, listing and search. Other modules import only this file. */
import { fileURLToPath } from 'node:url';
import type { WebModule } from '../module.ts';
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
/** Seeding in bulk (the demo seeder, tests, benchmarks); never on a request path. */
export {
  type BatchReservation,
  type BatchReserved,
  type CatalogBulkStock,
  type CatalogSeeder,
  createCatalogSeeder,
  type ProductSeed,
} from './catalog.seed.ts';
export { type CatalogService, type CatalogServiceOptions, createCatalogService } from './catalog.service.ts';
export type {
  HeldReservation,
  ReservedLine,
  ReserveResult,
  StockLine,
  StockShortage,
} from './catalog.stock.ts';
export type { ProductAttributes, ProductStatus } from './catalog.tables.ts';
