/**
 * Builds the Fastify application: request ids and logging, body and content-type rules,
 * security headers (security-headers.ts), cross-site request protection, problem+json errors, OpenAPI and docs, health and readiness,
 * then every module's routes. No listening here: entry points and tests decide that.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyRequest, LogController } from 'fastify';
import { Type } from 'typebox';
import type { Config } from '../config/config.ts';
import type { WebModule } from '../modules/module.ts';
import type { Platform } from '../platform/platform.ts';
import { routerOf } from '../platform/sql/router/replicated-sql.ts';
import { AppError } from '../shared/errors.ts';
import { LOG_REDACT } from '../shared/log-redact.ts';
import type { ApiApp } from './api-app.ts';
import { cookieSecure, registerAuth, registerSignInSteps } from './auth.ts';
import { registerCookies } from './cookies.ts';
import { registerCors } from './cors.ts';
import { registerObjectRoutes } from './media-serving.ts';
import { registerOpenApi } from './openapi.ts';
import { clientErrorResponse, sendProblem, sendProblemAfterBody } from './problem.ts';
import { registerReadYourWrites } from './read-your-writes.ts';
import { registerRequestCounters } from './request-counters.ts';
import { requestLogger } from './request-logger.ts';
import { ProblemSchema } from './schemas.ts';
import { securityHeaders } from './security-headers.ts';
import { serializersOnFirstUse } from './serialization.ts';
import { registerSpa } from './spa.ts';
import { validatorCompiler } from './validation.ts';

export type AppOptions = Readonly<{
  config: Config;
  platform: Platform;
  modules: readonly WebModule[];
  /** A pino logger to use instead of building one from config (tests pass a silent one). */
  logger?: FastifyBaseLogger;
}>;

export type BuiltApp = Readonly<{
  app: ApiApp;
  /** Readiness turns false; `/readyz` answers 503 from now on. */
  markNotReady(): void;
}>;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Request ids: UUID-shaped, a random prefix per process and a 48-bit counter, so unique across
 * instances without an entropy draw per request; two 24-bit halves keep V8's fast hex path.
 */
function requestIds(): () => string {
  const hex = crypto
    .getRandomValues(new Uint8Array(10))
    .reduce((s, b) => s + b.toString(16).padStart(2, '0'), '');
  const head = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-`;
  const HALF = 0x1000000; // 2^24: HALF + x has 7 hex digits, the first a 1, for 0 <= x < HALF
  let high = 0;
  let low = 0;
  return () => {
    const id = head + (HALF + high).toString(16).slice(1) + (HALF + low).toString(16).slice(1);
    if (++low === HALF) {
      low = 0;
      high = (high + 1) % HALF;
    }
    return id;
  };
}
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export async function buildApp(options: AppOptions): Promise<BuiltApp> {
  const { config, platform, modules } = options;
  const nextRequestId = requestIds();
  const security = securityHeaders(config);
  let ready = true;
  let migrationsCurrent = false;

  const fastify = Fastify({
    ...(options.logger
      ? { loggerInstance: options.logger }
      : { logger: { level: config.logLevel, redact: { paths: LOG_REDACT, censor: '[redacted]' } } }),
    bodyLimit: config.bodyLimitBytes,
    schemaController: { compilersFactory: { buildSerializer: serializersOnFirstUse } },
    trustProxy: config.trustProxy,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : nextRequestId();
    },
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    childLoggerFactory: requestLogger,
    // Our own 503 while closing (below): a problem document, like every other error.
    return503OnClosing: false,
    routerOptions: { maxParamLength: 200, ignoreTrailingSlash: false },
    // The router's errors (bad percent-encoding, over-long path segments) and the HTTP parser's
    // are problem documents too.
    frameworkErrors: (error, _request, reply) => sendProblem(reply, error),
    clientErrorHandler(err, socket) {
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || socket.destroyed) return;
      if (socket.writable) socket.end(clientErrorResponse(err as NodeJS.ErrnoException, nextRequestId()));
      // The parser will read nothing more; a client that keeps sending is cut off shortly.
      setTimeout(() => socket.destroy(), 1000).unref();
    },
  });
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>() as unknown as ApiApp;

  app.setValidatorCompiler(validatorCompiler());
  app.addSchema(ProblemSchema);

  // JSON only: a browser can send text/plain or a form cross-site without a preflight, so such
  // bodies are refused (415) before any handler runs.
  app.removeContentTypeParser(['text/plain']);

  // From app.close() on, a request that still arrives (on a kept-alive connection) is refused
  // with a 503 problem and `Connection: close`, so the client retries elsewhere.
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });

  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    reply.headers(security.all);
    if (closing) {
      reply.header('connection', 'close');
      return done(new AppError('UNAVAILABLE', 'this instance is shutting down', { retryAfterSeconds: 1 }));
    }
    if (!UNSAFE.has(request.method)) return done();
    try {
      rejectCrossSite(request, config);
      done();
    } catch (err) {
      done(err as Error);
    }
  });

  registerCors(app, config.allowedOrigins);

  app.setErrorHandler((error, _request, reply) => sendProblemAfterBody(reply, error));
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      new AppError('ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`),
    ),
  );

  registerCookies(app);
  registerRequestCounters(app, platform.telemetry, { exposeHeaders: config.exposeCounters });
  registerAuth(app, platform.sessions, { storeIsDatabase: config.sessionStore === 'sql' });
  registerSignInSteps(
    app,
    modules.flatMap((m) => (m.onSignIn ? [m.onSignIn({ config, platform })] : [])),
  );
  registerReadYourWrites(app, platform.sql, {
    ttlMs: config.readYourWritesTtlMs,
    secure: (request) => cookieSecure(request, config),
  });
  const onCreated = modules.flatMap((m) =>
    m.onObjectCreated ? [m.onObjectCreated({ config, platform })] : [],
  );
  await registerObjectRoutes(app, {
    objects: platform.objects,
    uploadTokens: platform.uploadTokens,
    onUploaded: async (key) => {
      for (const handle of onCreated) await handle(key);
    },
  });

  await registerOpenApi(app, { docsCsp: security.docs });

  app.get(
    '/healthz',
    {
      schema: {
        tags: ['ops'],
        operationId: 'getLiveness',
        summary: 'Liveness',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  const sets = modules.map((m) => m.migrations);
  app.get(
    '/readyz',
    {
      schema: {
        tags: ['ops'],
        operationId: 'getReadiness',
        summary: 'Readiness: database reachable and migrations applied',
        response: {
          200: Type.Object({
            status: Type.Literal('ready'),
            database: Type.String(),
            nodes: Type.Optional(
              Type.Array(
                Type.Object({
                  name: Type.String(),
                  role: Type.String(),
                  healthy: Type.Boolean(),
                  lagMs: Type.Union([Type.Number(), Type.Null()]),
                  lsn: Type.Union([Type.String(), Type.Null()]),
                  reason: Type.Union([Type.String(), Type.Null()]),
                  host: Type.Optional(Type.String()),
                }),
              ),
            ),
          }),
          503: Type.Ref('Problem'),
        },
      },
    },
    async (_request, reply) => {
      if (!ready) throw new AppError('UNAVAILABLE', 'shutting down');
      try {
        await platform.sql.ping();
        if (!migrationsCurrent) {
          const pending = await platform.sql.pending(sets);
          if (pending.length > 0) {
            throw new AppError(
              'UNAVAILABLE',
              `migrations pending: ${pending.join(', ')}; run bazaar migrate`,
            );
          }
          migrationsCurrent = true;
        }
      } catch (err) {
        reply.request.log.warn({ err }, 'not ready');
        throw err instanceof AppError
          ? err
          : new AppError('UNAVAILABLE', 'database unreachable', { cause: err });
      }
      const nodes = routerOf(platform.sql)?.status();
      return { status: 'ready' as const, database: platform.sql.backend, ...(nodes ? { nodes } : {}) };
    },
  );

  for (const module of modules) {
    if (module.routes)
      await app.register(async (scope) => module.routes!(scope as ApiApp, { config, platform }));
  }
  if (config.serveWeb) registerSpa(app, { csp: security.spa });

  return {
    app,
    markNotReady() {
      ready = false;
    },
  };
}

/**
 * A browser attaches cookies to cross-site requests it may send without a preflight. Refuse
 * state-changing requests a browser marks as cross-site, or whose Origin is neither this site
 * nor an allowed origin. Non-browser clients send neither header and are not affected.
 */
function rejectCrossSite(request: FastifyRequest, config: Config): void {
  const site = request.headers['sec-fetch-site'];
  const origin = request.headers.origin;
  if (origin !== undefined) {
    if (origin === ownOrigin(request) || config.allowedOrigins.includes(origin)) return;
    throw new AppError('CROSS_SITE_REQUEST', `requests from ${origin} may not change anything here`);
  }
  if (site === 'cross-site') {
    throw new AppError('CROSS_SITE_REQUEST', 'cross-site requests may not change anything here');
  }
}

/** This site's origin as a browser writes it (no default port). */
function ownOrigin(request: FastifyRequest): string | undefined {
  try {
    return new URL(`${request.protocol}://${request.host}`).origin;
  } catch {
    return undefined;
  }
}
