/**
 * /api/categories, /api/products, /api/seller/products. Thin: the schema validates, the service
 * decides (including who may do what), this file maps to HTTP.
 */
import { Type } from 'typebox';
import type { ApiApp } from '../../http/api-app.ts';
import { currentActor, publicActor, withoutSession } from '../../http/auth.ts';
import { frozenJson } from '../../http/fast-path.ts';
import { OPTIONAL_SESSION_SECURITY } from '../../http/openapi.ts';
import { IdParams, problems } from '../../http/schemas.ts';
import { visitorId } from '../../http/visitor.ts';
import {
  CategoryTreeSchema,
  type Product,
  ProductCreateBody,
  ProductListQuery,
  ProductPageSchema,
  ProductSchema,
  ProductUpdateBody,
  SellerProductListQuery,
} from './catalog.schema.ts';
import type { CatalogService } from './catalog.service.ts';

const tags = ['catalog'];
const session = [{ session: [] }];

/** Where the catalog's clickstream goes (the analytics module reads it): never waits, never throws. */
export type Clicks = { add(stream: string, record: Record<string, unknown>): void };

/** The clickstream the catalog writes: product views, category listings and searches. */
export const CLICKSTREAM = 'clickstream';

export function catalogRoutes(app: ApiApp, catalog: CatalogService, clicks: Clicks): void {
  // Cached pages and products come back as shared frozen objects: their JSON is made once each.
  const pageJson = frozenJson();
  const productJson = frozenJson();

  app.get(
    '/api/categories',
    {
      schema: {
        tags,
        operationId: 'listCategories',
        summary: 'The category tree (two levels)',
        response: { 200: CategoryTreeSchema },
      },
    },
    () => catalog.listCategories(),
  );

  app.get(
    '/api/products',
    {
      schema: {
        tags,
        operationId: 'listProducts',
        summary: 'List or search published products',
        description:
          'Keyset pagination: pass nextCursor as cursor for the next page. With q, the words must ' +
          'all match (the last, from 3 characters, as a prefix) and the default order is relevance, ' +
          'which ranks the newest 200 matches: its pages end after 200 results.',
        querystring: ProductListQuery,
        response: { 200: ProductPageSchema, ...problems(400, 404) },
      },
    },
    async (request, reply) => {
      const page = await catalog.listProducts(request.query);
      const { q, category, cursor } = request.query;
      if (!cursor && (q?.trim() || category)) {
        const visitor = visitorId(request);
        if (q?.trim()) clicks.add(CLICKSTREAM, { t: 'search', q, results: page.items.length, visitor });
        if (category) clicks.add(CLICKSTREAM, { t: 'list', category, visitor });
      }
      return pageJson(reply, page);
    },
  );

  app.get(
    '/api/products/:id',
    {
      schema: {
        tags,
        operationId: 'getProduct',
        security: OPTIONAL_SESSION_SECURITY,
        summary: 'One product (a draft only for its seller)',
        params: IdParams,
        response: { 200: ProductSchema, ...problems(400, 404) },
      },
    },
    (request, reply) => {
      const viewed = (product: Pick<Product, 'id' | 'sellerId' | 'categoryId'>) =>
        clicks.add(CLICKSTREAM, {
          t: 'view',
          productId: product.id,
          sellerId: product.sellerId,
          categoryId: product.categoryId,
          visitor: visitorId(request),
        });
      // The most common request of the site, a visitor without a session asking for a product
      // this instance holds in memory, is answered at once: no promise, no session store, no
      // database, and the JSON made once per cached product.
      const known = withoutSession(request) ? catalog.publicProductNow(request.params.id) : undefined;
      if (known) {
        viewed(known);
        productJson(reply, known);
        return;
      }
      return publicActor(request)
        .then((actor) => catalog.getProduct(actor, request.params.id))
        .then((product) => {
          viewed(product);
          productJson(reply, product);
        });
    },
  );

  app.post(
    '/api/products',
    {
      schema: {
        tags,
        operationId: 'createProduct',
        summary: 'Create a product (sellers)',
        security: session,
        body: ProductCreateBody,
        response: { 201: ProductSchema, ...problems(400, 401, 403, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      const product = await catalog.createProduct(await currentActor(request), request.body);
      return reply.status(201).header('location', `/api/products/${product.id}`).send(product);
    },
  );

  app.patch(
    '/api/products/:id',
    {
      schema: {
        tags,
        operationId: 'updateProduct',
        summary: 'Change a product (its seller or an admin)',
        security: session,
        params: IdParams,
        body: ProductUpdateBody,
        response: { 200: ProductSchema, ...problems(400, 401, 403, 404, 413, 415, 422) },
      },
    },
    async (request) => catalog.updateProduct(await currentActor(request), request.params.id, request.body),
  );

  app.delete(
    '/api/products/:id',
    {
      schema: {
        tags,
        operationId: 'deleteProduct',
        summary: 'Delete a product (its seller or an admin)',
        security: session,
        params: IdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...problems(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await catalog.deleteProduct(await currentActor(request), request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/seller/products',
    {
      schema: {
        tags,
        operationId: 'listSellerProducts',
        summary: "The signed-in seller's own products, drafts included, newest first",
        security: session,
        querystring: SellerProductListQuery,
        response: { 200: ProductPageSchema, ...problems(400, 401, 403) },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'private, no-store');
      return catalog.listSellerProducts(await currentActor(request), request.query);
    },
  );
}
