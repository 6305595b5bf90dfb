/**
 * The one error type of the application. Services throw `AppError` with a semantic `code`;
 * only the HTTP edge maps codes to status codes (src/http/problem.ts). Messages of errors that
 * are not AppErrors, and of UNAVAILABLE/INTERNAL ones, never reach clients.
 */
export type ErrorCode =
  | 'INVALID_INPUT'
  | 'MALFORMED_JSON'
  | 'MALFORMED_REQUEST'
  | 'MALFORMED_URL'
  | 'URI_TOO_LONG'
  | 'HEADERS_TOO_LARGE'
  | 'REQUEST_TIMEOUT'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'CROSS_SITE_REQUEST'
  | 'UPLOAD_URL_INVALID'
  | 'RANGE_NOT_SATISFIABLE'
  | 'NOT_FOUND'
  | 'ROUTE_NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'CONFLICT'
  | 'EMAIL_TAKEN'
  | 'CART_FULL'
  | 'TOO_MANY_PHOTOS'
  | 'UPLOAD_MISSING'
  | 'INVALID_CREDENTIALS'
  | 'RATE_LIMITED'
  | 'UNPROCESSABLE'
  | 'UNKNOWN_CATEGORY'
  | 'OUT_OF_STOCK'
  | 'PRODUCT_UNAVAILABLE'
  | 'IN_PROGRESS'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'CART_EMPTY'
  | 'MIXED_CURRENCIES'
  | 'OWN_PRODUCT'
  | 'UNAVAILABLE'
  | 'SESSIONS_UNAVAILABLE'
  | 'INTERNAL';

export type AppErrorOptions = {
  cause?: unknown;
  /** Extra members of the problem document (RFC 9457 extension members), e.g. `errors`. */
  details?: Record<string, unknown>;
  /** Seconds after which a retry may succeed (RATE_LIMITED, UNAVAILABLE). */
  retryAfterSeconds?: number;
};

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export const notFound = (what: string): AppError => new AppError('NOT_FOUND', `${what} was not found`);
export const forbidden = (message: string): AppError => new AppError('FORBIDDEN', message);
export const invalidInput = (message: string, details?: Record<string, unknown>): AppError =>
  new AppError('INVALID_INPUT', message, details ? { details } : {});
