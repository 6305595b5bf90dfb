/** Every module the web process serves, in dependency order (migrations run in this order). */
import { fileURLToPath } from 'node:url';
import { analyticsModule } from '../modules/analytics/index.ts';
import { cartModule } from '../modules/cart/index.ts';
import { catalogModule } from '../modules/catalog/index.ts';
import { mediaModule } from '../modules/media/index.ts';
import type { WebModule } from '../modules/module.ts';
import { notificationsModule } from '../modules/notifications/index.ts';
import { ordersModule } from '../modules/orders/index.ts';
import { usersModule } from '../modules/users/index.ts';

/** Platform tables (SQL sessions, later kv and stream) are migrated like a module's. */
export const platformTables: WebModule = {
  name: 'platform',
  migrations: {
    domain: 'platform',
    dir: fileURLToPath(new URL('../../migrations/platform/', import.meta.url)),
  },
};

export const MODULES: readonly WebModule[] = [
  platformTables,
  usersModule,
  catalogModule,
  mediaModule,
  cartModule,
  ordersModule,
  analyticsModule,
  notificationsModule,
];
