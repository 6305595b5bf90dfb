/**
 * Per-request counters: how many SQL statements and cache lookups one HTTP request caused. The
 * HTTP edge runs each request in its own counts (`runWithRequestCounts`, http/request-counters.ts); the
 * SQL port's query counter (src/platform/sql/query-counter.ts) and the cache port add to the
 * running request's counts through AsyncLocalStorage. A cache loader shared by concurrent
 * requests (single flight) is counted in the request that ran it. Work outside a request
 * (worker, CLI, timers armed outside requests) appears only in the totals.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export type RequestCounts = {
  /** SQL statements run through a domain handle that completed (transaction begin/commit excluded). */
  dbQueries: number;
  /** Cache lookups answered from the cache, fresh. */
  cacheHits: number;
  /** Cache lookups that ran (or waited for) a load and got its value or its error. */
  cacheMisses: number;
  /** Cache lookups answered with an expired value because the loader failed (within grace). */
  cacheStale: number;
};

const storage = new AsyncLocalStorage<RequestCounts>();

export function newRequestCounts(): RequestCounts {
  return { dbQueries: 0, cacheHits: 0, cacheMisses: 0, cacheStale: 0 };
}

/** Runs `fn` (and everything it starts) counting into `counts`. */
export function runWithRequestCounts<T>(counts: RequestCounts, fn: () => T): T {
  return storage.run(counts, fn);
}

/** The running request's counts, or undefined outside a request. */
export function currentRequestCounts(): RequestCounts | undefined {
  return storage.getStore();
}

/** Adds one cache outcome to the running request's counts (no-op outside a request). */
export function countCache(outcome: 'hit' | 'miss' | 'stale'): void {
  const counts = storage.getStore();
  if (!counts) return;
  if (outcome === 'hit') counts.cacheHits++;
  else if (outcome === 'miss') counts.cacheMisses++;
  else counts.cacheStale++;
}
