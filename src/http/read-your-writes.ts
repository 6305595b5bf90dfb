/**
 * Read-your-writes at the HTTP edge. Every request runs in a read context (read-context.ts).
 * When a request wrote to a domain table, the response carries a cookie `bazaar_rw` holding the
 * primary's WAL position right after the write and when that stickiness ends (`ttlMs` later).
 * The client's next requests bring it back; until a replica has replayed that position their
 * reads go to the primary (see platform/sql/router/read-driver.ts). A cookie, not the session, so anonymous
 * writers are covered too and no extra write is made per request.
 *
 * Error responses (status 400 and up) carry no cookie: what such a request wrote is rolled back
 * or bookkeeping (a failed login counted against the account), and a cookie there would tell a
 * wrong password (counted) from an unknown email (nothing to count).
 *
 * The cookie is not signed: it can only make its holder's own reads go to the primary, which a
 * client can also get by writing. It is bounded all the same: an expiry further than `ttlMs`
 * ahead, or a position beyond what the primary has written (plus 64 MiB for the poll interval),
 * is ignored.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { formatLsn, parseLsn } from '../platform/sql/router/lsn.ts';
import { newReadContext, type ReadContext, runInReadContext } from '../platform/sql/router/read-context.ts';
import { routerOf } from '../platform/sql/router/replicated-sql.ts';
import type { SqlPort } from '../platform/sql/sql.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** This request's read context (http/read-your-writes.ts); null without replicas. */
    readContext: ReadContext | null;
  }
}

export const RYW_COOKIE = 'bazaar_rw';
const SLACK = 64n * 1024n * 1024n;

export type ReadYourWritesOptions = Readonly<{
  ttlMs: number;
  /** Whether the cookie is Secure for this request (the session cookie's rule). */
  secure?: (request: FastifyRequest) => boolean;
}>;

/** Adds the hooks; does nothing when `sql` has no replicas. Register after the cookies (cookies.ts). */
export function registerReadYourWrites(
  app: FastifyInstance,
  sql: SqlPort,
  options: ReadYourWritesOptions,
): void {
  const router = routerOf(sql);
  if (!router) return;
  app.decorateRequest('readContext', null);

  app.addHook('onRequest', (request, _reply, done) => {
    const ctx = newReadContext(
      minLsnFrom(request.cookies[RYW_COOKIE], router.knownPrimaryLsn(), options.ttlMs),
    );
    request.readContext = ctx;
    runInReadContext(ctx, done);
  });

  // Callback style: most responses wrote nothing and pass straight through, without a promise.
  app.addHook('onSend', (request, reply, payload, done) => {
    const ctx = request.readContext;
    if (!ctx?.wrote || reply.statusCode >= 400) return done(null, payload);
    router
      .primaryLsn()
      .then((lsn) => {
        const until = Date.now() + options.ttlMs;
        reply.setCookie(RYW_COOKIE, `${formatLsn(lsn)}~${until}`, {
          path: '/',
          httpOnly: true,
          sameSite: 'lax',
          secure: options.secure?.(request) ?? false,
          maxAge: Math.ceil(options.ttlMs / 1000),
        });
      })
      .catch((err: unknown) => {
        request.log.warn({ err }, 'read-your-writes: could not read the primary WAL position');
      })
      .then(() => done(null, payload));
  });
}

/** The position a cookie asks for, or undefined when absent, expired or implausible. */
export function minLsnFrom(
  cookie: string | undefined,
  knownPrimary: bigint | undefined,
  ttlMs: number,
  now = Date.now(),
): bigint | undefined {
  if (!cookie) return undefined;
  const [lsnText, untilText] = cookie.split('~');
  const lsn = parseLsn(lsnText);
  const until = Number(untilText);
  if (lsn === undefined || !Number.isSafeInteger(until)) return undefined;
  if (until <= now || until > now + ttlMs + 60_000) return undefined;
  if (knownPrimary !== undefined && lsn > knownPrimary + SLACK) return undefined;
  return lsn;
}
