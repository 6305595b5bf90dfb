/** analytics: clickstream roll-ups and the questions sellers ask of them. */
import { fileURLToPath } from 'node:url';
import type { WebModule } from '../module.ts';
import { analyticsRoutes } from './analytics.routes.ts';
import { createAnalyticsService } from './analytics.service.ts';
import { leaderboardRoutes } from './leaderboards.routes.ts';
import { createLeaderboards, leaderboardConsumer } from './leaderboards.ts';

export const analyticsModule: WebModule = {
  name: 'analytics',
  migrations: {
    domain: 'analytics',
    dir: fileURLToPath(new URL('../../../migrations/analytics/', import.meta.url)),
  },
  routes: (app, deps) => {
    analyticsRoutes(app, createAnalyticsService(deps.platform));
    leaderboardRoutes(app, createLeaderboards(deps));
  },
  consumers: (deps) => [leaderboardConsumer(deps)],
  tasks: ({ config, platform }) => {
    const analytics = createAnalyticsService(platform);
    const retentionMs = config.clickstreamRetentionMs;
    return [{ name: 'analytics.rollup', everyMs: 5000, run: () => analytics.rollup({ retentionMs }) }];
  },
};

export { normaliseQuery } from './analytics.rollup.ts';
export { type AnalyticsService, createAnalyticsService } from './analytics.service.ts';
export { isoWeek } from './leaderboards.ts';
