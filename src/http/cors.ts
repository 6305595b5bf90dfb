/**
 * CORS for the origins in ALLOWED_ORIGINS (a SPA hosted on a CDN origin calling this API with
 * the user's cookie). Only those origins get `Access-Control-Allow-Origin` (echoed, never `*`)
 * with credentials; a preflight from one of them is answered 204 here, before routing. Any
 * other origin gets no CORS headers, so browsers keep its scripts from reading answers; the
 * cross-site check in app.ts still refuses its state-changing requests.
 */
import type { ApiApp } from './api-app.ts';

const METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';
const REQUEST_HEADERS = 'content-type, idempotency-key, x-request-id';
const EXPOSED = 'location, retry-after, x-request-id';

export function registerCors(app: ApiApp, allowedOrigins: readonly string[]): void {
  if (allowedOrigins.length === 0) return;
  const allowed = new Set(allowedOrigins);
  app.addHook('onRequest', (request, reply, done) => {
    const origin = request.headers.origin;
    if (origin === undefined || !allowed.has(origin)) return done();
    reply.header('access-control-allow-origin', origin);
    reply.header('access-control-allow-credentials', 'true');
    reply.header('vary', 'Origin');
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
      reply.header('access-control-allow-methods', METHODS);
      reply.header('access-control-allow-headers', REQUEST_HEADERS);
      reply.header('access-control-max-age', '600');
      reply.code(204).send();
      return;
    }
    reply.header('access-control-expose-headers', EXPOSED);
    done();
  });
}
