/**
 * The OpenAPI document (`/openapi.json`, `/docs`) and the rules every documented route follows,
 * applied here once instead of in each route:
 * - every operation states its security: the session cookie when its schema says so, else none
 *   (`[]`); a route where a session is optional says `[{}, { session: [] }]` itself;
 * - error responses are problem documents in `application/problem+json`, and the problems any
 *   route of its shape can answer are declared for it (POST, PUT, PATCH, DELETE: 400, 403, 413,
 *   415, from the body rules and the cross-site guard; params, querystring or headers: 400; params
 *   also 414 (a segment longer than the router accepts); a
 *   required session: 401; always `5XX`);
 * - a query parameter with a default is optional in the document (the server fills it in).
 * The responses are added to the route's own schema, so that Fastify serializes what the
 * document says. `npm run lint` checks the result with Redocly's recommended rules.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { RouteOptions } from 'fastify';
import { type TSchema, Type } from 'typebox';
import type { ApiApp } from './api-app.ts';
import { TITLE } from './problem.ts';

type Security = ReadonlyArray<Readonly<Record<string, readonly string[]>>>;

/** For routes that answer anyone, and a signed-in user differently. */
export const OPTIONAL_SESSION_SECURITY: Security = [{}, { session: [] }];

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const TAGS = [
  { name: 'auth', description: 'Accounts and the session cookie' },
  { name: 'catalog', description: 'Categories and products' },
  { name: 'media', description: 'Product photos: direct uploads and their processing' },
  { name: 'cart', description: "The visitor's cart, anonymous or signed in" },
  { name: 'orders', description: 'Checkout and the life of an order, for buyers and sellers' },
  { name: 'analytics', description: 'Reports for sellers and admins, from the clickstream' },
  { name: 'leaderboards', description: 'Best-selling products and top sellers' },
  { name: 'ops', description: 'Liveness and readiness for load balancers and orchestrators' },
];

type QueryParameter = { in?: string; required?: boolean; schema?: { default?: unknown } };
type ResponseEntry = TSchema | { description: string; content: Record<string, { schema: TSchema }> };

/** A problem response as the document states it: RFC 9457 JSON in its own media type. */
function problemResponse(status: string): ResponseEntry {
  const title = TITLE[Number(status)] ?? (status.startsWith('5') ? 'Server error' : 'Client error');
  return {
    description: `${title}: a problem document with a stable \`code\``,
    content: { 'application/problem+json': { schema: Type.Ref('Problem') } },
  };
}

const requiresSession = (security: Security) =>
  security.length > 0 && security.every((s) => Object.keys(s).includes('session'));

/** Adds what the module leaves implicit to a documented route's schema (see the header). */
function completeRoute(route: RouteOptions): void {
  const schema = route.schema;
  if (!schema || schema.hide) return;
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const security: Security = schema.security ?? [];
  const common: string[] = [];
  if (methods.some((m) => UNSAFE.has(m))) common.push('400', '403', '413', '415');
  if (schema.params || schema.querystring || schema.headers) common.push('400');
  // A path parameter longer than the router accepts is refused by the router (URI_TOO_LONG).
  if (schema.params) common.push('414');
  if (requiresSession(security)) common.push('401');
  common.push('5xx'); // Fastify's spelling of a range; the document says 5XX

  const response: Record<string, ResponseEntry> = {
    ...((schema.response as Record<string, ResponseEntry> | undefined) ?? {}),
  };
  // Every error is a problem document, whatever schema a route gave it.
  for (const status of [...Object.keys(response), ...common]) {
    if (/^[45]/.test(status)) response[status] = problemResponse(status);
  }
  route.schema = { ...schema, security, response };
}

/** Registers the document, `/openapi.json` and `/docs`; call before any documented route. */
/** `docsCsp`: the Content-Security-Policy of the Swagger UI under /docs (security-headers.ts). */
export async function registerOpenApi(app: ApiApp, options: Readonly<{ docsCsp: string }>): Promise<void> {
  app.addHook('onRoute', completeRoute);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Bazaar API',
        version: '0.1.0',
        description:
          'Marketplace API. Errors are application/problem+json (RFC 9457) with a stable `code`. ' +
          'Authentication is a session cookie set by POST /api/auth/login.',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      servers: [{ url: '/', description: 'The server that serves this document' }],
      tags: TAGS,
      components: {
        securitySchemes: {
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: 'bazaar_session',
            description: 'Set by POST /api/auth/signup and /api/auth/login (HttpOnly, SameSite=Lax)',
          },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => String(json.$id ?? `def-${i}`) },
    transformObject: (document) => {
      if (!('openapiObject' in document)) return document.swaggerObject;
      const doc = document.openapiObject;
      // A query parameter with a default is filled in by the server: a client need not send it.
      for (const item of Object.values(doc.paths ?? {})) {
        for (const op of Object.values(item ?? {})) {
          const params = (op as { parameters?: QueryParameter[] } | undefined)?.parameters ?? [];
          for (const p of params) {
            if (p.in === 'query' && p.required && p.schema?.default !== undefined) p.required = false;
          }
        }
      }
      return doc;
    },
  });
  // BaseLayout: without the top bar, whose logo carries an inline <style> a strict policy refuses.
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: options.docsCsp,
    uiConfig: { layout: 'BaseLayout' },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
