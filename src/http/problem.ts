/**
 * Errors become RFC 9457 problem documents (`application/problem+json`) here and only here.
 * Every problem has a stable `code`; 5xx problems never carry the internal message.
 */

import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isNodeFailure } from '../platform/sql/router/failover-errors.ts';
import { AppError, type ErrorCode } from '../shared/errors.ts';

const STATUS: Record<ErrorCode, number> = {
  INVALID_INPUT: 400,
  MALFORMED_JSON: 400,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  SESSIONS_UNAVAILABLE: 401,
  FORBIDDEN: 403,
  CROSS_SITE_REQUEST: 403,
  UPLOAD_URL_INVALID: 403,
  RANGE_NOT_SATISFIABLE: 416,
  NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  EMAIL_TAKEN: 409,
  CART_FULL: 409,
  TOO_MANY_PHOTOS: 409,
  UPLOAD_MISSING: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE: 422,
  UNKNOWN_CATEGORY: 422,
  OUT_OF_STOCK: 409,
  PRODUCT_UNAVAILABLE: 409,
  IN_PROGRESS: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  CART_EMPTY: 422,
  MIXED_CURRENCIES: 422,
  OWN_PRODUCT: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
};

/** The `title` of a problem by status (also the document's description of problem responses). */
export const TITLE: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export type Problem = {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  instance: string;
  requestId: string;
  [extension: string]: unknown;
};

/** Translates Fastify's own errors (validation, parser, limits) into AppErrors. */
function fromFastify(err: FastifyError): AppError | undefined {
  if (err.validation) {
    const errors = err.validation.map((v) => ({
      location: err.validationContext ?? 'request',
      path: v.instancePath || '/',
      message: describeValidation(v),
    }));
    return new AppError(
      'INVALID_INPUT',
      `${err.validationContext ?? 'request'} is invalid: ${errors[0]?.path} ${errors[0]?.message}`,
      {
        details: { errors },
      },
    );
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('MALFORMED_JSON', 'the request body is not valid JSON');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('PAYLOAD_TOO_LARGE', 'the request body is larger than this server accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
    case 'FST_ERR_CTP_INVALID_TYPE':
      return new AppError('INVALID_INPUT', 'the Content-Type header is not valid');
    case 'FST_ERR_RATE_LIMIT':
      return new AppError('RATE_LIMITED', err.message);
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    if (err.statusCode === 429) return new AppError('RATE_LIMITED', 'too many requests; slow down');
    if (err.statusCode === 413) return new AppError('PAYLOAD_TOO_LARGE', err.message);
    if (err.statusCode === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE', err.message);
    return new AppError('INVALID_INPUT', err.message);
  }
  return undefined;
}

function describeValidation(v: {
  keyword: string;
  message?: string | undefined;
  params: Record<string, unknown>;
}): string {
  if (v.keyword === 'additionalProperties')
    return `has an unknown field "${String(v.params['additionalProperty'])}"`;
  if (v.keyword === 'required') return `is missing the field "${String(v.params['missingProperty'])}"`;
  return v.message ?? v.keyword;
}

export function toProblem(error: unknown, request: FastifyRequest): { problem: Problem; appError: AppError } {
  const appError =
    error instanceof AppError
      ? error
      : (fromFastify(error as FastifyError) ??
        (isNodeFailure(error)
          ? // The database (or the node serving this request) is down or restarting: the request
            // was fine, so 503 with Retry-After tells clients and load balancers to come back.
            new AppError('UNAVAILABLE', 'the database is unavailable', { cause: error, retryAfterSeconds: 2 })
          : new AppError('INTERNAL', 'an unexpected error occurred', { cause: error })));
  const status = STATUS[appError.code];
  const hidden = status >= 500;
  const problem: Problem = {
    type: `https://bazaar.dev/problems/${appError.code.toLowerCase().replaceAll('_', '-')}`,
    title: TITLE[status] ?? 'Error',
    status,
    code: appError.code,
    detail: hidden
      ? appError.code === 'UNAVAILABLE'
        ? 'the service is temporarily unavailable; retry shortly'
        : 'an unexpected error occurred; it has been logged with the request id'
      : appError.message,
    instance: request.url.split('?')[0] ?? '/',
    requestId: request.id,
    ...(appError.details ?? {}),
  };
  return { problem, appError };
}

export function sendProblem(reply: FastifyReply, error: unknown): FastifyReply {
  const { problem, appError } = toProblem(error, reply.request);
  if (problem.status >= 500) {
    reply.request.log.error({ err: appError.cause ?? appError, code: problem.code }, 'request failed');
  } else {
    reply.request.log.info({ code: problem.code, status: problem.status }, appError.message);
  }
  if (appError.retryAfterSeconds !== undefined)
    reply.header('retry-after', String(appError.retryAfterSeconds));
  return reply.status(problem.status).type('application/problem+json').send(problem);
}
