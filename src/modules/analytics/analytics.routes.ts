/** /api/analytics/*: thin; the service decides who may ask. */
import type { ApiApp } from '../../http/api-app.ts';
import { currentActor } from '../../http/auth.ts';
import { problems } from '../../http/schemas.ts';
import {
  CategoryVisitors,
  CategoryVisitorsQuery,
  ProductViews,
  ProductViewsQuery,
  TopSearches,
  TopSearchesQuery,
} from './analytics.schema.ts';
import type { AnalyticsService } from './analytics.service.ts';

const tags = ['analytics'];
const security = [{ session: [] }];

export function analyticsRoutes(app: ApiApp, analytics: AnalyticsService): void {
  app.get(
    '/api/analytics/top-searches',
    {
      schema: {
        tags,
        security,
        operationId: 'getTopSearches',
        summary: 'The most frequent searches today or over the last 7 days (sellers, admins)',
        querystring: TopSearchesQuery,
        response: { 200: TopSearches, ...problems(400, 401, 403) },
      },
    },
    async (request) => analytics.topSearches(await currentActor(request), request.query),
  );
  app.get(
    '/api/analytics/category-visitors',
    {
      schema: {
        tags,
        security,
        operationId: 'getCategoryVisitors',
        summary: 'Distinct visitors who looked at a category on a day (sellers, admins)',
        querystring: CategoryVisitorsQuery,
        response: { 200: CategoryVisitors, ...problems(400, 401, 403, 404) },
      },
    },
    async (request) => analytics.categoryVisitors(await currentActor(request), request.query),
  );
  app.get(
    '/api/analytics/product-views',
    {
      schema: {
        tags,
        security,
        operationId: 'getProductViews',
        summary: "Views per day of the signed-in seller's products",
        querystring: ProductViewsQuery,
        response: { 200: ProductViews, ...problems(400, 401, 403) },
      },
    },
    async (request) => analytics.productViews(await currentActor(request), request.query),
  );
}
