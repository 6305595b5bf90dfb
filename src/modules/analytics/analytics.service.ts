/**
 * Answers the talks' example questions from the daily roll-ups: the top searches of a day or
 * week, the distinct visitors of a category on a day, and views per day of a seller's products.
 * Sellers and admins only. Answers are as fresh as the last roll-up (every few seconds).
 */
import { sql } from 'kysely';
import type { Platform } from '../../platform/platform.ts';
import type { Actor } from '../../shared/actor.ts';
import { AppError, invalidInput, notFound } from '../../shared/errors.ts';
import { type CatalogService, createCatalogService } from '../catalog/index.ts';
import { rollupClickstream } from './analytics.rollup.ts';
import type {
  CategoryVisitors,
  CategoryVisitorsInput,
  ProductViews,
  ProductViewsInput,
  TopSearches,
  TopSearchesInput,
} from './analytics.schema.ts';
import type { AnalyticsDb } from './analytics.tables.ts';

export type AnalyticsService = {
  topSearches(actor: Actor | null, input: TopSearchesInput): Promise<TopSearches>;
  categoryVisitors(actor: Actor | null, input: CategoryVisitorsInput): Promise<CategoryVisitors>;
  productViews(actor: Actor | null, input: ProductViewsInput): Promise<ProductViews>;
  /** Rolls up settled clickstream records; returns how many were consumed. Run by the worker. */
  rollup(options?: { settleMs?: number; retentionMs?: number }): Promise<number>;
};

const DAY = 86_400_000;
const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

function requireAnalyst(actor: Actor | null): Actor {
  if (!actor) throw new AppError('UNAUTHENTICATED', 'sign in first: analytics are for sellers and admins');
  if (actor.role !== 'seller' && actor.role !== 'admin') {
    throw new AppError('FORBIDDEN', 'analytics are for sellers and admins');
  }
  return actor;
}

export function createAnalyticsService(
  platform: Platform,
  options: { catalog?: CatalogService; now?: () => number } = {},
): AnalyticsService {
  const db = platform.sql.for<AnalyticsDb>('analytics').read;
  const catalog = options.catalog ?? createCatalogService(platform);
  const now = options.now ?? (() => Date.now());

  return {
    async topSearches(actor, { period = 'day', limit = 5 }) {
      requireAnalyst(actor);
      const to = day(now());
      const from = period === 'week' ? day(now() - 6 * DAY) : to;
      const rows = await db
        .selectFrom('search_daily')
        .select(['query', (eb) => eb.fn.sum<number>('searches').as('searches')])
        .where('day', '>=', from)
        .where('day', '<=', to)
        .groupBy('query')
        .orderBy('searches', 'desc')
        .orderBy('query')
        .limit(limit)
        .execute();
      return { period, from, to, items: rows.map((r) => ({ query: r.query, searches: Number(r.searches) })) };
    },

    async categoryVisitors(actor, { category, date }) {
      requireAnalyst(actor);
      if (Number.isNaN(Date.parse(`${date}T00:00:00Z`)) || day(Date.parse(`${date}T00:00:00Z`)) !== date) {
        throw invalidInput(`date must be a real day as YYYY-MM-DD, not "${date}"`);
      }
      const tree = await catalog.listCategories();
      const key = category.toLowerCase();
      const found = tree.flatMap((t) => [t, ...t.children]).find((c) => c.id === key || c.slug === key);
      if (!found) throw notFound(`category ${category}`);
      const row = await db
        .selectFrom('category_visitors')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('day', '=', date)
        .where('category_id', '=', found.id)
        .executeTakeFirstOrThrow();
      return { categoryId: found.id, date, visitors: Number(row.n) };
    },

    async productViews(actor, { days = 30 }) {
      const seller = requireAnalyst(actor);
      const to = day(now());
      const from = day(now() - (days - 1) * DAY);
      const rows = await db
        .selectFrom('product_views_daily')
        .select(['product_id', sql<string>`day::text`.as('day'), 'views'])
        .where('seller_id', '=', seller.userId)
        .where('day', '>=', from)
        .where('day', '<=', to)
        .orderBy('day')
        .orderBy('product_id')
        .limit(10_000)
        .execute();
      return { from, to, items: rows.map((r) => ({ productId: r.product_id, day: r.day, views: r.views })) };
    },

    rollup: (opts = {}) =>
      rollupClickstream(platform, {
        ...(opts.settleMs !== undefined ? { settleMs: opts.settleMs } : {}),
        ...(opts.retentionMs !== undefined ? { retentionMs: opts.retentionMs } : {}),
        categories: () => catalog.listCategories(),
      }),
  };
}
