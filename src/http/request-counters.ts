/**
 * Per-request counters at the HTTP edge: every request runs in its own counts
 * (platform/telemetry/request-counters.ts), added to the process totals (`Telemetry`) when the response is sent.
 * With `exposeHeaders` (EXPOSE_COUNTERS=true) each response carries them, so a benchmark behind
 * a load balancer can add them up: `x-db-queries: 2` and `x-cache: hit=1 miss=0 stale=0`.
 * Counts are taken when the headers are written; work after that (a buffered clickstream flush)
 * is not in them.
 */
import type { FastifyInstance } from 'fastify';
import {
  newRequestCounts,
  type RequestCounts,
  runWithRequestCounts,
} from '../platform/telemetry/request-counters.ts';
import type { Telemetry } from '../platform/telemetry/telemetry.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** This request's counts (http/request-counters.ts); null before its first hook ran. */
    requestCounts: RequestCounts | null;
  }
}

export function registerRequestCounters(
  app: FastifyInstance,
  telemetry: Telemetry,
  options: Readonly<{ exposeHeaders: boolean }>,
): void {
  // A request property (declared up front, so every request object keeps one shape), not a
  // WeakMap entry per request for the garbage collector to trace.
  app.decorateRequest('requestCounts', null);

  app.addHook('onRequest', (request, _reply, done) => {
    const counts = newRequestCounts();
    request.requestCounts = counts;
    runWithRequestCounts(counts, done);
  });

  if (options.exposeHeaders) {
    // Callback style: an async hook costs every response a promise.
    app.addHook('onSend', (request, reply, payload, done) => {
      const c = request.requestCounts;
      if (c) {
        reply.header('x-db-queries', String(c.dbQueries));
        reply.header('x-cache', `hit=${c.cacheHits} miss=${c.cacheMisses} stale=${c.cacheStale}`);
      }
      done(null, payload);
    });
  }

  app.addHook('onResponse', (request, _reply, done) => {
    const c = request.requestCounts;
    if (c) telemetry.requestEnded(c);
    done();
  });
}
