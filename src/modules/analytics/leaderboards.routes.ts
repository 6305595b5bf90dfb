/** /api/leaderboards/*: public, thin; leaderboards.ts reads the boards. */
import { Type } from 'typebox';
import type { ApiApp } from '../../http/api-app.ts';
import { problems } from '../../http/schemas.ts';
import type { Leaderboards } from './leaderboards.ts';

const LeaderboardQuery = Type.Object(
  {
    period: Type.Optional(Type.Union([Type.Literal('week'), Type.Literal('all')], { default: 'week' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })),
  },
  { additionalProperties: false },
);

const ProductBoard = Type.Object({
  period: Type.String(),
  items: Type.Array(
    Type.Object({
      rank: Type.Integer(),
      productId: Type.String(),
      title: Type.Union([Type.String(), Type.Null()]),
      unitsSold: Type.Integer(),
    }),
  ),
});
const SellerBoard = Type.Object({
  period: Type.String(),
  items: Type.Array(
    Type.Object({
      rank: Type.Integer(),
      sellerId: Type.String(),
      name: Type.Union([Type.String(), Type.Null()]),
      unitsSold: Type.Integer(),
    }),
  ),
});

export function leaderboardRoutes(app: ApiApp, boards: Leaderboards): void {
  app.get(
    '/api/leaderboards/products',
    {
      schema: {
        tags: ['leaderboards'],
        operationId: 'getProductLeaderboard',
        summary: 'Best-selling products this ISO week (UTC) or of all time, by units sold',
        querystring: LeaderboardQuery,
        response: { 200: ProductBoard, ...problems(400) },
      },
    },
    async (request) => boards.products(request.query.period ?? 'week', request.query.limit ?? 10),
  );

  app.get(
    '/api/leaderboards/sellers',
    {
      schema: {
        tags: ['leaderboards'],
        operationId: 'getSellerLeaderboard',
        summary: 'Top sellers this ISO week (UTC) or of all time, by units sold',
        querystring: LeaderboardQuery,
        response: { 200: SellerBoard, ...problems(400) },
      },
    },
    async (request) => boards.sellers(request.query.period ?? 'week', request.query.limit ?? 10),
  );
}
