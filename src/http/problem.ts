/**
 * Errors become RFC 9457 problem documents (`application/problem+json`) here and only here:
 * route and hook errors, Fastify's own (parser, limits, router) and the HTTP parser's (a request
 * that never became a request). Every problem has a stable `code`; 5xx problems never carry the
 * internal message.
 */

import type { IncomingMessage } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isNodeFailure } from '../platform/sql/router/failover-errors.ts';
import { AppError, type ErrorCode } from '../shared/errors.ts';

const STATUS: Record<ErrorCode, number> = {
  INVALID_INPUT: 400,
  MALFORMED_JSON: 400,
  MALFORMED_REQUEST: 400,
  MALFORMED_URL: 400,
  REQUEST_TIMEOUT: 408,
  URI_TOO_LONG: 414,
  HEADERS_TOO_LARGE: 431,
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
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
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
    // The router's own errors; their messages echo the path, which the problem's instance carries.
    case 'FST_ERR_BAD_URL':
      return new AppError('MALFORMED_URL', 'the URL path is not validly percent-encoded');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new AppError('URI_TOO_LONG', 'a segment of the URL path is longer than this server accepts');
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    if (err.statusCode === 429) return new AppError('RATE_LIMITED', 'too many requests; slow down');
    if (err.statusCode === 413) return new AppError('PAYLOAD_TOO_LARGE', err.message);
    if (err.statusCode === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE', err.message);
    if (err.statusCode === 414) return new AppError('URI_TOO_LONG', err.message);
    if (err.statusCode === 431) return new AppError('HEADERS_TOO_LARGE', err.message);
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
  return { problem: problemOf(appError, pathOf(request.url), request.id), appError };
}

/** The path of a request target, as a valid URI reference: no query, stray `%` escaped. */
function pathOf(url: string): string {
  return (url.split('?')[0] || '/').replace(/%(?![0-9A-Fa-f]{2})/g, '%25');
}

function problemOf(appError: AppError, instance: string, requestId: string): Problem {
  const status = STATUS[appError.code];
  const hidden = status >= 500;
  return {
    type: `https://bazaar.dev/problems/${appError.code.toLowerCase().replaceAll('_', '-')}`,
    title: TITLE[status] ?? 'Error',
    status,
    code: appError.code,
    detail: hidden
      ? appError.code === 'UNAVAILABLE'
        ? 'the service is temporarily unavailable; retry shortly'
        : 'an unexpected error occurred; it has been logged with the request id'
      : appError.message,
    instance,
    requestId,
    ...(appError.details ?? {}),
  };
}

export function sendProblem(reply: FastifyReply, error: unknown): FastifyReply {
  const { problem, appError } = toProblem(error, reply.request);
  // Router errors reach here before the onRequest hook that sets it.
  reply.header('x-request-id', reply.request.id);
  if (problem.status >= 500) {
    reply.request.log.error({ err: appError.cause ?? appError, code: problem.code }, 'request failed');
  } else {
    reply.request.log.info({ code: problem.code, status: problem.status }, appError.message);
  }
  if (appError.retryAfterSeconds !== undefined)
    reply.header('retry-after', String(appError.retryAfterSeconds));
  return reply.status(problem.status).type('application/problem+json').send(problem);
}

/** How much of a refused request's body is read and thrown away so that the client reads the answer. */
const DISCARD_MAX_BYTES = 16 * 1024 * 1024;
const DISCARD_MAX_MS = 5_000;

/**
 * `sendProblem` for errors that may come before the request's body was read (413 by
 * Content-Length, 415, a refused cross-site request). Closing a connection with unread bytes
 * makes the kernel reset it, and a client still sending its body then never reads the answer;
 * so the rest of the body is read and discarded first, up to DISCARD_MAX_BYTES and
 * DISCARD_MAX_MS, past which the answer goes out with `Connection: close`.
 */
export async function sendProblemAfterBody(reply: FastifyReply, error: unknown): Promise<FastifyReply> {
  const raw = reply.request.raw;
  if (hasUnreadBody(raw)) {
    const drained = await discardBody(raw);
    if (!drained) reply.header('connection', 'close');
  }
  return sendProblem(reply, error);
}

function hasUnreadBody(raw: IncomingMessage): boolean {
  if (raw.readableEnded || raw.destroyed || raw.complete) return false;
  const length = raw.headers['content-length'];
  return raw.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Reads and drops the rest of a body; true when it ended within the bounds. */
function discardBody(raw: IncomingMessage): Promise<boolean> {
  return new Promise((resolve) => {
    let seen = 0;
    const finish = (ended: boolean): void => {
      clearTimeout(timer);
      raw.off('data', onData).off('end', onEnd).off('error', onStop).off('close', onStop);
      resolve(ended);
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen > DISCARD_MAX_BYTES) finish(false);
    };
    const onEnd = (): void => finish(true);
    const onStop = (): void => finish(false);
    const timer = setTimeout(onStop, DISCARD_MAX_MS);
    raw.on('data', onData).on('end', onEnd).on('error', onStop).on('close', onStop);
    raw.resume();
  });
}

/**
 * The whole HTTP response for a request Node's parser refused (headers too large, both
 * Content-Length and Transfer-Encoding, bad syntax, too slow): there is no request object, so
 * it is written to the socket as it stands.
 */
export function clientErrorResponse(err: { code?: string | undefined }, requestId: string): string {
  const appError =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new AppError('HEADERS_TOO_LARGE', 'the request headers are larger than this server accepts')
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new AppError('REQUEST_TIMEOUT', 'the request did not arrive in time')
        : new AppError('MALFORMED_REQUEST', 'the request is not valid HTTP/1.1');
  const problem = problemOf(appError, '/', requestId);
  const body = JSON.stringify(problem);
  return (
    `HTTP/1.1 ${problem.status} ${problem.title}\r\n` +
    'Content-Type: application/problem+json\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Request-Id: ${requestId}\r\n` +
    'X-Content-Type-Options: nosniff\r\n' +
    'Connection: close\r\n\r\n' +
    body
  );
}
