/**
 * /api/orders (the buyer) and /api/seller/orders (sellers). Thin: the schema validates, the
 * service decides, this file maps to HTTP. Every answer is private to the signed-in user.
 */
import type { ApiApp } from '../../http/api-app.ts';
import { currentActor } from '../../http/auth.ts';
import { IdParams, problems } from '../../http/schemas.ts';
import {
  CheckoutHeaders,
  OrderListQuery,
  OrderPageSchema,
  OrderSchema,
  SellerOrderListQuery,
  SellerOrderPageSchema,
  SellerOrderSchema,
} from './orders.schema.ts';
import type { OrdersService } from './orders.service.ts';

const tags = ['orders'];
const session = [{ session: [] }];

export function ordersRoutes(app: ApiApp, orders: OrdersService): void {
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'private, no-store');
  });

  app.post(
    '/api/orders',
    {
      schema: {
        tags,
        operationId: 'checkout',
        summary: "Check out: turn the signed-in buyer's cart into an order",
        description:
          'Send an Idempotency-Key; a retry with the same key and cart answers the same order (200). ' +
          'The same key with another cart is 422 IDEMPOTENCY_KEY_REUSED; a cart holding the ' +
          "buyer's own products is 422 OWN_PRODUCT. A request whose key is " +
          'being processed waits for it, then answers its order (or 409 IN_PROGRESS with Retry-After). ' +
          'Payment is out of scope: an order is placed without one.',
        security: session,
        headers: CheckoutHeaders,
        response: { 200: OrderSchema, 201: OrderSchema, ...problems(400, 401, 403, 409, 422) },
      },
    },
    async (request, reply) => {
      const actor = await currentActor(request);
      const { order, created } = await orders.checkout(actor, request.headers['idempotency-key']);
      return reply
        .status(created ? 201 : 200)
        .header('location', `/api/orders/${order.id}`)
        .send(order);
    },
  );

  app.get(
    '/api/orders',
    {
      schema: {
        tags,
        operationId: 'listOrders',
        summary: "The signed-in buyer's orders, newest first",
        security: session,
        querystring: OrderListQuery,
        response: { 200: OrderPageSchema, ...problems(400, 401) },
      },
    },
    async (request) => orders.listOrders(await currentActor(request), request.query),
  );

  app.get(
    '/api/orders/:id',
    {
      schema: {
        tags,
        operationId: 'getOrder',
        summary: 'One of the signed-in buyer’s orders',
        security: session,
        params: IdParams,
        response: { 200: OrderSchema, ...problems(400, 401, 404) },
      },
    },
    async (request) => orders.getOrder(await currentActor(request), request.params.id),
  );

  app.post(
    '/api/orders/:id/cancel',
    {
      schema: {
        tags,
        operationId: 'cancelOrder',
        summary: 'Cancel an order before it ships; its stock goes back (idempotent)',
        security: session,
        params: IdParams,
        response: { 200: OrderSchema, ...problems(400, 401, 404, 409) },
      },
    },
    async (request) => orders.cancelOrder(await currentActor(request), request.params.id),
  );

  app.post(
    '/api/orders/:id/deliver',
    {
      schema: {
        tags,
        operationId: 'confirmDelivery',
        summary: 'Confirm receipt of a shipped order (idempotent)',
        security: session,
        params: IdParams,
        response: { 200: OrderSchema, ...problems(400, 401, 404, 409) },
      },
    },
    async (request) => orders.deliverOrder(await currentActor(request), request.params.id),
  );

  app.get(
    '/api/seller/orders',
    {
      schema: {
        tags,
        operationId: 'listSellerOrders',
        summary: "Orders holding the signed-in seller's products (their lines only), newest first",
        security: session,
        querystring: SellerOrderListQuery,
        response: { 200: SellerOrderPageSchema, ...problems(400, 401, 403) },
      },
    },
    async (request) => orders.listSellerOrders(await currentActor(request), request.query),
  );

  app.post(
    '/api/seller/orders/:id/ship',
    {
      schema: {
        tags,
        operationId: 'shipOrder',
        summary: "Ship the signed-in seller's lines of an order (idempotent)",
        security: session,
        params: IdParams,
        response: { 200: SellerOrderSchema, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (request) => orders.shipOrder(await currentActor(request), request.params.id),
  );
}
