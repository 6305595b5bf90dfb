/**
 * The Fastify instance type every route file and edge plugin registers on: Fastify's defaults
 * with the TypeBox type provider, so route handlers see their schemas' types. A file of its own
 * so that app.ts (which builds the app) and the plugins it registers do not import each other.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';

export type ApiApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;
