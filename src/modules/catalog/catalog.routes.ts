/**
 * /api/categories, /api/products, /api/seller/products. Thin: the schema validates, the service
 * decides (including who may do what), this file maps to HTTP.
 */
import { Type } from 'typebox';
import type { ApiApp } from '../../http/app.ts';
import { currentActor } from '../../http/auth.ts';
import { IdParams, problems } from '../../http/schemas.ts';
import {
  CategoryTreeSchema,
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

export function catalogRoutes(app: ApiApp, catalog: CatalogService): void {
  app.get(
    '/api/categories',
    {
      schema: {
        tags,
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
        summary: 'List or search published products',
        description:
          'Keyset pagination: pass nextCursor as cursor for the next page. With q, the words must ' +
          'all match (the last as a prefix) and the default order is relevance.',
        querystring: ProductListQuery,
        response: { 200: ProductPageSchema, ...problems(400, 404) },
      },
    },
    (request) => catalog.listProducts(request.query),
  );

  app.get(
    '/api/products/:id',
    {
      schema: {
        tags,
        summary: 'One product (a draft only for its seller)',
        params: IdParams,
        response: { 200: ProductSchema, ...problems(400, 404) },
      },
    },
    async (request) => catalog.getProduct(await currentActor(request), request.params.id),
  );

  app.post(
    '/api/products',
    {
      schema: {
        tags,
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
