import { type Static, Type } from 'typebox';
import { UUID_PATTERN } from '../../shared/ids.ts';

export const TopSearchesQuery = Type.Object(
  {
    period: Type.Optional(Type.Union([Type.Literal('day'), Type.Literal('week')], { default: 'day' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 5 })),
  },
  { additionalProperties: false },
);
export type TopSearchesInput = Static<typeof TopSearchesQuery>;

export const TopSearches = Type.Object({
  period: Type.String(),
  from: Type.String({ format: 'date' }),
  to: Type.String({ format: 'date' }),
  items: Type.Array(Type.Object({ query: Type.String(), searches: Type.Integer() })),
});
export type TopSearches = Static<typeof TopSearches>;

export const CategoryVisitorsQuery = Type.Object(
  {
    category: Type.String({
      maxLength: 64,
      pattern: `^(?:${UUID_PATTERN.slice(1, -1)}|[a-z0-9]+(?:-[a-z0-9]+)*)$`,
      description: 'A category id or slug',
    }),
    date: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'UTC day, YYYY-MM-DD' }),
  },
  { additionalProperties: false },
);
export type CategoryVisitorsInput = Static<typeof CategoryVisitorsQuery>;

export const CategoryVisitors = Type.Object({
  categoryId: Type.String(),
  date: Type.String(),
  visitors: Type.Integer({
    description: 'Distinct visitors who listed the category or viewed one of its products',
  }),
});
export type CategoryVisitors = Static<typeof CategoryVisitors>;

export const ProductViewsQuery = Type.Object(
  { days: Type.Optional(Type.Integer({ minimum: 1, maximum: 90, default: 30 })) },
  { additionalProperties: false },
);
export type ProductViewsInput = Static<typeof ProductViewsQuery>;

export const ProductViews = Type.Object({
  from: Type.String(),
  to: Type.String(),
  items: Type.Array(Type.Object({ productId: Type.String(), day: Type.String(), views: Type.Integer() })),
});
export type ProductViews = Static<typeof ProductViews>;
