/** orders: checkout (a saga over catalog stock), the buyer's orders, sellers' shipping. Other modules import only this file. */
import { fileURLToPath } from 'node:url';
import { createCartService } from '../cart/index.ts';
import type { WebModule } from '../module.ts';
import { ordersRoutes } from './orders.routes.ts';
import { createOrdersService } from './orders.service.ts';

export const ordersModule: WebModule = {
  name: 'orders',
  migrations: {
    domain: 'orders',
    dir: fileURLToPath(new URL('../../../migrations/orders/', import.meta.url)),
  },
  routes: (app, { config, platform }) =>
    ordersRoutes(
      app,
      createOrdersService(platform, {
        cart: createCartService(platform),
        leaseMs: config.checkoutLeaseMs,
        onError: (err, step) => app.log.warn({ err, step }, 'best-effort checkout step failed'),
      }),
    ),
  tasks: ({ config, platform, log }) => {
    const orders = createOrdersService(platform, {
      leaseMs: config.checkoutLeaseMs,
      onError: (err, step) => log.error({ err, step }, 'checkout reconciliation: one hold not settled'),
    });
    return [
      {
        name: 'orders.reconcile-checkouts',
        everyMs: config.checkoutReconcileIntervalMs,
        async run() {
          const done = await orders.reconcileCheckouts();
          if (done.confirmed + done.released + done.failed > 0) {
            log.info(
              { task: 'orders.reconcile-checkouts', ...done },
              'checkout reconciliation: confirmed holds of placed orders, released holds with no order',
            );
          }
        },
      },
    ];
  },
};

export type { CheckoutFaults, CheckoutLine, Reconciled, StockService } from './checkout.ts';
export type {
  Order,
  OrderLine,
  OrderPage,
  OrderStatus,
  SellerOrder,
  SellerOrderPage,
} from './orders.schema.ts';
/** Seeding in bulk (the demo seeder, tests); never on a request path. */
export {
  createOrdersSeeder,
  type OrdersSeeder,
  type OrdersSeederOptions,
  type SeedFaults,
  type SeedOrder,
  type SeedOrdersResult,
} from './orders.seed.ts';
export {
  type CartLines,
  createOrdersService,
  type OrdersService,
  type OrdersServiceOptions,
  type PlaceResult,
} from './orders.service.ts';
