/**
 * This process's counters for tests and benchmarks (a later issue exports them as metrics):
 * HTTP requests answered, the SQL statements they caused, every SQL statement, and the cache's
 * counters (hits, misses, stale served, loads by key family). Per-request counts come from
 * request-counters.ts; the edge adds each finished request here (http/request-counters.ts).
 */
import type { Cache, CacheStats } from '../cache/cache.ts';
import { queryCountOf } from '../sql/query-counter.ts';
import type { SqlPort } from '../sql/sql.ts';
import type { RequestCounts } from './request-counters.ts';

export type TelemetryCounters = Readonly<{
  /** HTTP requests answered since start (or the last reset). */
  requests: number;
  /** SQL statements run on behalf of those requests (dbQueries / requests = queries per request). */
  dbQueries: number;
  /** Every SQL statement through the domain handles, in requests or not (worker, timers). */
  dbQueriesTotal: number;
  cache: CacheStats;
}>;

export interface Telemetry {
  /** The counters now; a copy. */
  counters(): TelemetryCounters;
  /** Starts every counter (the cache's included) from zero, e.g. between a warm-up and a measurement. */
  reset(): void;
  /** Adds a finished request's counts to the totals (the HTTP edge calls it once per request). */
  requestEnded(counts: RequestCounts): void;
}

export function createTelemetry(deps: Readonly<{ sql: SqlPort; cache: Cache }>): Telemetry {
  let requests = 0;
  let dbQueries = 0;
  let queriesAtReset = 0;
  let cacheAtReset: CacheStats = { hits: 0, misses: 0, staleServed: 0, loads: {} };
  return {
    counters: () => ({
      requests,
      dbQueries,
      dbQueriesTotal: queryCountOf(deps.sql) - queriesAtReset,
      cache: cacheSince(cacheAtReset, deps.cache.stats()),
    }),
    reset() {
      requests = 0;
      dbQueries = 0;
      queriesAtReset = queryCountOf(deps.sql);
      cacheAtReset = deps.cache.stats();
    },
    requestEnded(counts) {
      requests++;
      dbQueries += counts.dbQueries;
    },
  };
}

/** The cache's counters between two readings of its (monotonic) `stats()`. */
function cacheSince(before: CacheStats, now: CacheStats): CacheStats {
  const loads: Record<string, number> = {};
  for (const [family, n] of Object.entries(now.loads)) {
    const delta = n - (before.loads[family] ?? 0);
    if (delta > 0) loads[family] = delta;
  }
  return {
    hits: now.hits - before.hits,
    misses: now.misses - before.misses,
    staleServed: now.staleServed - before.staleServed,
    loads,
  };
}
